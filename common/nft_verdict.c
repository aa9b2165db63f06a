/* The evaluator: runs a described packet through the base chains of a ruleset model the way the
 * kernel's nft_do_chain() would, with the packet's unknown parts tracked byte by byte in the
 * registers, forking where a rule may or may not match. See nft_verdict.h for the semantics. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h> /* before the linux/ headers, which defer to it */
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_verdict.h"
#include "nft_verdict_private.h"

/* ---- the walk over the base chains ---- */

typedef struct frame {
        const nftr_chain *chain;
        size_t rule;
} frame;

typedef struct walk {
        size_t base;                  /* next index into ctx.bases when depth is 0 */
        const nftr_chain *base_chain; /* the base chain running */
        frame stack[NFT_VERDICT_JUMP_MAX + 1];
        size_t depth;
        nft_verdict_step steps[NFT_VERDICT_STEPS_MAX];
        size_t n_steps;
} walk;

typedef struct ctx {
        const nft_ruleset *rs;
        vpkt pkt;
        const nftr_chain **bases;
        size_t n_bases;
        unsigned paths, rules_left;
        bool overflow;   /* out of paths or of rule budget: the verdict is unknown */
        int error;
        unsigned outcomes;                         /* bit per nft_verdict_kind */
        nft_verdict_result first[_NFT_VERDICT_KIND_MAX]; /* the first path of each outcome */
        char maybe_why[NFT_VERDICT_WHY_MAX];       /* the first fork's reason */
} ctx;

static void label(const ctx *c, const nftr_chain *ch, char *buf, size_t size) {
        const nftr_table *t = &c->rs->tables[ch->table];
        nftv_bprintf(buf, size, "%s %s/%s", nft_ruleset_family_to_string(t->family), t->name,
                        ch->name);
}

static void add_step(walk *w, nft_verdict_kind k, const nftr_chain *rule_chain, uint64_t handle) {
        if (w->n_steps >= NFT_VERDICT_STEPS_MAX)
                return;
        w->steps[w->n_steps++] = (nft_verdict_step){
                .chain = w->base_chain, .verdict = k, .rule_chain = rule_chain, .rule_handle = handle};
}

/* The end of one path. */
static void finish(ctx *c, walk *w, nft_verdict_kind k, const nftr_chain *rule_chain,
                   uint64_t handle, const char *why) {
        nft_verdict_result *r = &c->first[k];

        c->paths++;
        if (c->outcomes & (1u << k))
                return;
        c->outcomes |= 1u << k;
        memset(r, 0, sizeof(*r));
        r->verdict = k;
        r->chain = w->base_chain;
        r->rule_chain = rule_chain;
        r->rule_handle = handle;
        nftv_bprintf(r->why, sizeof(r->why), "%s", why);
        memcpy(r->steps, w->steps, w->n_steps * sizeof(*w->steps));
        r->n_steps = w->n_steps;
}

static void walk_run(ctx *c, walk *w);

/* Follow the other branch on a copy of the walk. */
static void fork_walk(ctx *c, const walk *w, bool skip_rule, const char *why) {
        walk *copy;

        if (c->paths + 1 >= NFT_VERDICT_PATHS_MAX) {
                c->overflow = true;
                return;
        }
        if (!c->maybe_why[0])
                nftv_bprintf(c->maybe_why, sizeof(c->maybe_why), "%s", why);
        copy = malloc(sizeof(*copy));
        if (!copy) {
                c->error = -ENOMEM;
                return;
        }
        *copy = *w;
        if (skip_rule)
                copy->stack[copy->depth - 1].rule++;
        else
                copy->base++; /* skip a device-bound base chain */
        walk_run(c, copy);
        free(copy);
}

/* The packet leaves its base chain accepted: on to the next one. */
static void base_accept(walk *w, const nftr_chain *rule_chain, uint64_t handle) {
        add_step(w, NFT_VERDICT_ACCEPT, rule_chain, handle);
        w->depth = 0;
        w->base++;
}

static void policy(ctx *c, walk *w) {
        char l[NFTR_NAME_MAX * 2 + 16], why[NFT_VERDICT_WHY_MAX];

        if (w->base_chain->policy == NF_ACCEPT) {
                base_accept(w, NULL, 0);
                return;
        }
        label(c, w->base_chain, l, sizeof(l));
        nftv_bprintf(why, sizeof(why), "%s (hook %s, priority %" PRId32 "): no rule decided, policy drop",
                        l, nft_ruleset_hook_to_string(c->rs->tables[w->base_chain->table].family,
                                                      w->base_chain->hooknum),
                        w->base_chain->priority);
        add_step(w, NFT_VERDICT_DROP, NULL, 0);
        finish(c, w, NFT_VERDICT_DROP, NULL, 0, why);
        w->depth = SIZE_MAX; /* path over */
}

static tri chain_applies(const ctx *c, const nftr_chain *ch) {
        const nft_verdict_packet *p = c->pkt.p;
        const nftr_table *t = &c->rs->tables[ch->table];
        bool ingress = t->family == NFPROTO_NETDEV || ch->hooknum == NF_INET_INGRESS;

        if (!ingress)
                return TRI_YES;
        if (ch->dev && p->iifname)
                return strcmp(ch->dev, p->iifname) ? TRI_NO : TRI_YES;
        if (ch->dev && !strcmp(ch->dev, "lo"))
                return TRI_NO;
        return TRI_MAYBE;
}

static void walk_run(ctx *c, walk *w) {
        char l[NFTR_NAME_MAX * 2 + 16], l2[NFTR_NAME_MAX * 2 + 16], why[NFT_VERDICT_WHY_MAX];

        for (;;) {
                const nftr_chain *ch, *target;
                const nftr_rule *rule;
                frame *f;
                rule_out o;
                int32_t v;

                if (c->overflow || c->error)
                        return;
                if (w->depth == SIZE_MAX)
                        return;
                if (w->depth == 0) {
                        if (w->base >= c->n_bases) {
                                char all[NFT_VERDICT_WHY_MAX] = "";
                                size_t n = 0;
                                for (size_t i = 0; i < w->n_steps; i++) {
                                        const nft_verdict_step *s = &w->steps[i];
                                        label(c, s->chain, l, sizeof(l));
                                        if (s->rule_chain)
                                                n += (size_t) snprintf(all + n, n < sizeof(all) ? sizeof(all) - n : 0,
                                                                       "%s%s rule handle %" PRIu64, i ? ", " : "", l,
                                                                       s->rule_handle);
                                        else
                                                n += (size_t) snprintf(all + n, n < sizeof(all) ? sizeof(all) - n : 0,
                                                                       "%s%s policy", i ? ", " : "", l);
                                        if (n >= sizeof(all))
                                                break;
                                }
                                if (w->n_steps == 0)
                                        nftv_bprintf(why, sizeof(why),
                                                        "no base chain on the path (ingress, prerouting, input)");
                                else
                                        nftv_bprintf(why, sizeof(why), "accepted by every base chain: %s", all);
                                finish(c, w, NFT_VERDICT_ACCEPT,
                                       w->n_steps ? w->steps[w->n_steps - 1].rule_chain : NULL,
                                       w->n_steps ? w->steps[w->n_steps - 1].rule_handle : 0, why);
                                return;
                        }
                        ch = c->bases[w->base];
                        switch (chain_applies(c, ch)) {
                        case TRI_NO:
                                w->base++;
                                continue;
                        case TRI_MAYBE:
                                label(c, ch, l, sizeof(l));
                                nftv_bprintf(why, sizeof(why),
                                                "%s is bound to device %s, the packet's input interface is unknown",
                                                l, ch->dev ? ch->dev : "(several)");
                                fork_walk(c, w, false, why);
                                break;
                        case TRI_YES:
                                break;
                        }
                        w->base_chain = ch;
                        w->stack[0] = (frame){ch, 0};
                        w->depth = 1;
                }

                f = &w->stack[w->depth - 1];
                if (f->rule >= f->chain->n_rules) {
                        /* a chain's end: back to the caller, or the base chain's policy */
                        if (w->depth == 1)
                                policy(c, w);
                        else
                                w->depth--;
                        continue;
                }
                if (c->rules_left == 0) {
                        c->overflow = true;
                        return;
                }
                c->rules_left--;
                rule = &f->chain->rules[f->rule];
                nftv_eval_rule(c->rs, &c->pkt, f->chain, rule, &o);
                if (!o.unknown && o.match == TRI_NO) {
                        f->rule++;
                        continue;
                }
                /* named only for a rule that matches or may: most do not */
                label(c, f->chain, l, sizeof(l));

                if (o.unknown) {
                        nftv_bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s %s", rule->handle,
                                        l, o.why);
                        add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                        finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                        return;
                }
                v = o.verdict;
                if (!o.reject && (v == NFT_CONTINUE || v == NFT_BREAK)) {
                        f->rule++; /* matched or not, it changes nothing: no fork needed */
                        continue;
                }
                if (o.match == TRI_MAYBE) {
                        nftv_bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s: %s",
                                        rule->handle, l, o.why);
                        fork_walk(c, w, true, why);
                        if (c->overflow || c->error)
                                return;
                }
                f->rule++;

                if (o.reject || (v >= 0 && (v & NF_VERDICT_MASK) == NF_DROP)) {
                        nft_verdict_kind k = o.reject ? NFT_VERDICT_REJECT : NFT_VERDICT_DROP;
                        if (f->chain != w->base_chain) {
                                label(c, w->base_chain, l2, sizeof(l2));
                                nftv_bprintf(why, sizeof(why), "%s rule handle %" PRIu64 " %s (reached from base chain %s)",
                                                l, rule->handle, o.reject ? "rejects" : "drops", l2);
                        } else
                                nftv_bprintf(why, sizeof(why), "%s rule handle %" PRIu64 " %s", l,
                                                rule->handle, o.reject ? "rejects" : "drops");
                        add_step(w, k, f->chain, rule->handle);
                        finish(c, w, k, f->chain, rule->handle, why);
                        return;
                }
                if (v == NF_ACCEPT) {
                        base_accept(w, f->chain, rule->handle);
                        continue;
                }
                switch (v) {
                case NFT_JUMP:
                case NFT_GOTO:
                        target = nft_ruleset_find_chain(c->rs, f->chain->table, o.chain);
                        if (!target || target->base) {
                                nftv_bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s %ss to %s chain %s",
                                                rule->handle, l, v == NFT_JUMP ? "jump" : "goto",
                                                target ? "base" : "missing", o.chain ? o.chain : "?");
                                add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                                finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                                return;
                        }
                        if (v == NFT_GOTO) {
                                *f = (frame){target, 0};
                                continue;
                        }
                        if (w->depth > NFT_VERDICT_JUMP_MAX) {
                                nftv_bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s jumps deeper than %u chains",
                                                rule->handle, l, NFT_VERDICT_JUMP_MAX);
                                add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                                finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                                return;
                        }
                        w->stack[w->depth++] = (frame){target, 0};
                        continue;
                case NFT_RETURN:
                        if (w->depth == 1)
                                policy(c, w);
                        else
                                w->depth--;
                        continue;
                default:
                        nftv_bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s gives verdict %s",
                                        rule->handle, l, nft_ruleset_verdict_to_string(v));
                        add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                        finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                        return;
                }
        }
}

/* ---- base chains in the order the packet meets them ---- */

static int stage(const nft_ruleset *rs, const nftr_chain *ch, uint8_t nfproto) {
        const nftr_table *t = &rs->tables[ch->table];

        if (!ch->base || (t->flags & NFT_TABLE_F_DORMANT))
                return -1;
        if (t->family == NFPROTO_NETDEV)
                return ch->hooknum == NF_NETDEV_INGRESS ? 0 : -1;
        if (t->family != NFPROTO_INET && t->family != nfproto)
                return -1;
        switch (ch->hooknum) {
        case NF_INET_INGRESS:
                return t->family == NFPROTO_INET ? 0 : -1;
        case NF_INET_PRE_ROUTING:
                return 1;
        case NF_INET_LOCAL_IN:
                return 2;
        default:
                return -1;
        }
}

typedef struct order_ctx {
        const nft_ruleset *rs;
        uint8_t nfproto;
} order_ctx;

static int cmp_base(const void *a, const void *b, void *userdata) {
        const order_ctx *o = userdata;
        const nftr_chain *x = *(const nftr_chain *const *) a, *y = *(const nftr_chain *const *) b;
        int sx = stage(o->rs, x, o->nfproto), sy = stage(o->rs, y, o->nfproto), r;

        if (sx != sy)
                return sx < sy ? -1 : 1;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        /* equal priority: the kernel's order is registration order, unknown here; any fixed
         * order gives the same verdict, since every base chain must accept */
        r = strcmp(o->rs->tables[x->table].name, o->rs->tables[y->table].name);
        return r ? r : strcmp(x->name, y->name);
}

void nft_verdict_packet_for(nft_verdict_probe probe, uint8_t nfproto, nft_verdict_packet *ret) {
        *ret = (nft_verdict_packet){.nfproto = nfproto};
        switch (probe) {
        case NFT_VERDICT_PROBE_IKE:
                ret->l4proto = IPPROTO_UDP;
                ret->dport = 500;
                break;
        case NFT_VERDICT_PROBE_NATT:
                ret->l4proto = IPPROTO_UDP;
                ret->dport = 4500;
                break;
        case NFT_VERDICT_PROBE_ESP:
        default:
                ret->l4proto = IPPROTO_ESP;
                break;
        }
}

int nft_verdict_eval(const nft_ruleset *rs, const nft_verdict_packet *p, nft_verdict_result *ret) {
        _cleanup_(freep) const nftr_chain **bases = NULL;
        _cleanup_(freep) ctx *c = NULL;
        _cleanup_(freep) walk *w = NULL;
        order_ctx oc = {.rs = rs};
        nft_verdict_result *r;
        unsigned n_outcomes;

        if (!rs || !p || !ret || (p->nfproto != NFPROTO_IPV4 && p->nfproto != NFPROTO_IPV6))
                return -EINVAL;
        oc.nfproto = p->nfproto;
        c = calloc(1, sizeof(*c));
        w = calloc(1, sizeof(*w));
        bases = calloc(rs->n_chains ? rs->n_chains : 1, sizeof(*bases));
        if (!c || !w || !bases)
                return -ENOMEM;
        c->rs = rs;
        nftv_pkt_init(&c->pkt, p);
        c->rules_left = NFT_VERDICT_RULE_BUDGET;
        for (size_t i = 0; i < rs->n_chains; i++)
                if (stage(rs, &rs->chains[i], p->nfproto) >= 0)
                        bases[c->n_bases++] = &rs->chains[i];
        qsort_r(bases, c->n_bases, sizeof(*bases), cmp_base, &oc);
        c->bases = bases;

        walk_run(c, w);
        if (c->error)
                return c->error;

        n_outcomes = (unsigned) __builtin_popcount(c->outcomes);
        if (c->overflow || c->outcomes == 0) {
                r = &c->first[NFT_VERDICT_UNKNOWN];
                memset(r, 0, sizeof(*r));
                r->verdict = NFT_VERDICT_UNKNOWN;
                if (c->rules_left == 0)
                        nftv_bprintf(r->why, sizeof(r->why),
                                "evaluation did not end within %u rules (a goto loop?)",
                                NFT_VERDICT_RULE_BUDGET);
                else
                        nftv_bprintf(r->why, sizeof(r->why),
                                "more than %u undecided paths to follow; the first: %s",
                                NFT_VERDICT_PATHS_MAX, c->maybe_why[0] ? c->maybe_why : "?");
        } else if (c->outcomes & (1u << NFT_VERDICT_UNKNOWN))
                r = &c->first[NFT_VERDICT_UNKNOWN];
        else if (n_outcomes == 1)
                r = &c->first[__builtin_ctz(c->outcomes)];
        else {
                /* The paths disagree: show where the packet would die, say what decides. */
                nft_verdict_kind shown = c->outcomes & (1u << NFT_VERDICT_DROP) ? NFT_VERDICT_DROP
                                         : c->outcomes & (1u << NFT_VERDICT_REJECT) ? NFT_VERDICT_REJECT
                                                                                  : NFT_VERDICT_ACCEPT;
                char what[64] = "";
                size_t n = 0;

                for (int k = 0; k < NFT_VERDICT_UNKNOWN; k++)
                        if (c->outcomes & (1u << k))
                                n += (size_t) snprintf(what + n, sizeof(what) - n, "%s%s", n ? " or " : "",
                                                       nft_verdict_kind_to_string((nft_verdict_kind) k));
                r = &c->first[shown];
                r->verdict = NFT_VERDICT_UNKNOWN;
                nftv_bprintf(c->maybe_why + strlen(c->maybe_why),
                                sizeof(c->maybe_why) - strlen(c->maybe_why), " (%s)", what);
                nftv_bprintf(r->why, sizeof(r->why), "undecided: %s", c->maybe_why);
        }
        r->n_paths = c->paths;
        *ret = *r;
        return 0;
}

const char *nft_verdict_kind_to_string(nft_verdict_kind k) {
        static const char *const names[] = {
                [NFT_VERDICT_ACCEPT] = "accept",
                [NFT_VERDICT_DROP] = "drop",
                [NFT_VERDICT_REJECT] = "reject",
                [NFT_VERDICT_UNKNOWN] = "unknown",
        };
        return (unsigned) k < ELEMENTSOF(names) ? names[k] : "?";
}

const char *nft_verdict_probe_to_string(nft_verdict_probe p) {
        static const char *const names[] = {
                [NFT_VERDICT_PROBE_IKE] = "udp/500",
                [NFT_VERDICT_PROBE_NATT] = "udp/4500",
                [NFT_VERDICT_PROBE_ESP] = "esp",
        };
        return (unsigned) p < ELEMENTSOF(names) ? names[p] : "?";
}
