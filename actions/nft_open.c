/* The `nft_open` action: a temporary measure that lets IKE through a local nftables ruleset that
 * drops it — an accept rule for UDP 500, UDP 4500 (and ESP unless esp: false) inserted at the
 * top of every base chain the evaluator (common/nft_verdict.c) finds dropping them, each rule
 * tagged with a comment so the revert deletes exactly those rules and nothing else — and only
 * while each still is the accept rule it made: a tagged rule changed since stops the revert.
 *
 * Every change is one nftables transaction with the generation the decision was made on, so a
 * ruleset changed in between is refused by the kernel rather than overwritten (one fresh retry,
 * then the step fails and the runbook escalates). The plan names the generation too: an approval
 * given for one ruleset does not carry over to another. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <string.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/nft_expr.h"
#include "actions/registry.h"
#include "nft_ruleset.h"
#include "nftnl_lib.h"
#include "netns.h"
#include "nft_verdict.h"

enum { P_NETNS, P_ESP, P_TAG, P_CHECK, _P_MAX };

static const action_param_spec params[] = {
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_ESP] = { "esp", AP_BOOL, false },
        [P_TAG] = { "tag", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [_P_MAX] = { 0 },
};

#define TAG_DEFAULT "ikeheal-open"
#define TARGETS_MAX 16u


static const char *tag_of(const action_params *p) {
        return p->v[P_TAG].set ? p->v[P_TAG].str : TAG_DEFAULT;
}

static bool esp_of(const action_params *p) {
        return !p->v[P_ESP].set || p->v[P_ESP].num;
}

/* The base chains that drop or reject one of our packets. */
static size_t targets(const nft_ruleset *rs, bool esp, const nftr_chain **out, char *why, size_t n) {
        static const uint8_t fams[] = { NFPROTO_IPV4, NFPROTO_IPV6 };
        size_t k = 0;

        why[0] = 0;
        for (size_t f = 0; f < ELEMENTSOF(fams); f++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        nft_verdict_packet pkt;
                        nft_verdict_result res;
                        bool seen = false;
                        if (p == NFT_VERDICT_PROBE_ESP && !esp)
                                continue;
                        nft_verdict_packet_for((nft_verdict_probe) p, fams[f], &pkt);
                        if (nft_verdict_eval(rs, &pkt, &res) < 0 || res.verdict == NFT_VERDICT_ACCEPT || !res.chain)
                                continue;
                        for (size_t i = 0; i < k; i++)
                                seen |= out[i] == res.chain;
                        if (!seen && k < TARGETS_MAX)
                                out[k++] = res.chain;
                        if (!why[0])
                                (void) snprintf(why, n, "%s", res.why);
                }
        return k;
}

static const char *chain_label(const nft_ruleset *rs, const nftr_chain *c, char *buf, size_t n) {
        const nftr_table *t = &rs->tables[c->table];
        (void) snprintf(buf, n, "%s %s %s", nft_ruleset_family_to_string(t->family), t->name, c->name);
        return buf;
}

static int nft_open_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        const nftr_chain *t[TARGETS_MAX];
        char why[NFT_VERDICT_WHY_MAX], label[600];
        int r = nft_ruleset_dump(nft_action_netns(p, env), NULL, NULL, &rs);

        if (r < 0)
                return action_plan_add(out, "  cannot read the nftables ruleset%s%s now: %s", nft_action_netns(p, env) ? " in netns " : "",
                                       nft_action_netns(p, env) ?: "", nftnl_lib_strerror(r));
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables: delete every rule commented \"%s\" (one transaction)", tag_of(p));
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables: UDP 500, UDP 4500%s must be accepted by every input base chain",
                                       esp_of(p) ? " and ESP" : "");
        size_t k = targets(rs, esp_of(p), t, why, sizeof(why));
        if (k == 0)
                return action_plan_add(out, "  nftables (generation %u): nothing drops IKE now, nothing to insert", rs->generation);
        for (size_t i = 0; i < k; i++)
                (void) action_plan_add(out, "  nftables (generation %u): insert at the top of %s: udp dport 500 accept, "
                                       "udp dport 4500 accept%s, comment \"%s\"", rs->generation,
                                       chain_label(rs, t[i], label, sizeof(label)), esp_of(p) ? ", meta l4proto esp accept" : "",
                                       tag_of(p));
        return 0;
}

static struct nftnl_rule *accept_rule(const nft_ruleset *rs, const nftr_chain *c, uint8_t proto, uint16_t port,
                                      const char *tag) {
        const nftr_table *t = &rs->tables[c->table];
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        uint16_t be = htons(port);

        if (!r || !u) {
                nftnl_rule_free(r);
                nftnl_udata_buf_free(u);
                return NULL;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t) t->family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->name);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
        nft_expr_l4proto(r);
        nft_expr_cmp_eq(r, &proto, sizeof(proto));
        if (port) {
                nft_expr_th_dport(r);
                nft_expr_cmp_eq(r, &be, sizeof(be));
        }
        nft_expr_verdict(r, NF_ACCEPT);
        if (nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, tag))
                nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
        nftnl_udata_buf_free(u);
        return r;
}

/* How many rules carry the tag now; -errno if the ruleset cannot be read. */
static int tagged_rules(const action_params *p, const action_call *call) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        int r = nft_ruleset_dump(nft_action_netns(p, action_call_env(call)), NULL, NULL, &rs), n = 0;

        if (r < 0)
                return r;
        for (size_t c = 0; c < rs->n_chains; c++)
                for (size_t i = 0; i < rs->chains[c].n_rules; i++)
                        n += rs->chains[c].rules[i].comment && strcmp(rs->chains[c].rules[i].comment, tag_of(p)) == 0;
        return n;
}

static int add_rule_msg(nft_batch *b, const nft_ruleset *rs, struct nftnl_rule *r, uint16_t type, uint16_t flags,
                        const char *what) {
        char label[700];
        const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
        struct nlmsghdr *nlh;

        (void) snprintf(label, sizeof(label), "%s in %s %s %s", what,
                        nft_ruleset_family_to_string((int) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY)),
                        nftnl_rule_get_str(r, NFTNL_RULE_TABLE), chain);
        nlh = nft_batch_begin_msg(b, type, (uint16_t) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), flags, label);
        if (!nlh) {
                nftnl_rule_free(r);
                return -ENOMEM;
        }
        nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
        return nft_batch_end_msg(b, nlh);
}

/* One attempt: read, decide, commit with that generation. -ERESTART: it changed meanwhile. */
static int open_once(const action_params *p, action_call *call) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        const nftr_chain *t[TARGETS_MAX];
        char why[1024], label[600];
        int r = nft_ruleset_dump(nft_action_netns(p, action_call_env(call)), NULL, NULL, &rs);

        if (r < 0) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        size_t k = targets(rs, esp_of(p), t, why, sizeof(why));
        if (k == 0) {
                action_call_set_detail(call, "nothing drops IKE: no rule inserted");
                return 0;
        }
        if ((r = nft_batch_new(&b, rs->generation)) < 0)
                return r;
        for (size_t i = 0; i < k && r >= 0; i++) {
                const nftr_table *tb = &rs->tables[t[i]->table];
                if (tb->family != NFPROTO_INET && tb->family != NFPROTO_IPV4 && tb->family != NFPROTO_IPV6) {
                        action_call_set_detail(call, "cannot open %s: only inet, ip and ip6 tables are handled",
                                               chain_label(rs, t[i], label, sizeof(label)));
                        return -EOPNOTSUPP;
                }
                r = add_rule_msg(b, rs, accept_rule(rs, t[i], IPPROTO_UDP, 500, tag_of(p)), NFT_MSG_NEWRULE, NLM_F_CREATE,
                                 "insert udp 500 accept");
                if (r >= 0)
                        r = add_rule_msg(b, rs, accept_rule(rs, t[i], IPPROTO_UDP, 4500, tag_of(p)), NFT_MSG_NEWRULE,
                                         NLM_F_CREATE, "insert udp 4500 accept");
                if (r >= 0 && esp_of(p))
                        r = add_rule_msg(b, rs, accept_rule(rs, t[i], IPPROTO_ESP, 0, tag_of(p)), NFT_MSG_NEWRULE,
                                         NLM_F_CREATE, "insert esp accept");
        }
        if (r < 0)
                return r;
        size_t n_msgs = nft_batch_messages(b);
        r = nft_batch_commit(b, nft_action_netns(p, action_call_env(call)), why, sizeof(why));
        /* the answer was lost: the batch is applied whole or not at all, the rules tell which */
        if (r == NFT_BATCH_UNKNOWN)
                r = tagged_rules(p, call) >= (int) n_msgs ? 0 : -EIO;
        if (r < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        size_t w = 0;
        label[0] = 0;
        for (size_t i = 0; i < k; i++) {
                char cl[300];
                int n = snprintf(label + w, sizeof(label) - w, "%s%s", i ? ", " : "", chain_label(rs, t[i], cl, sizeof(cl)));
                if (n > 0 && (size_t) n < sizeof(label) - w)
                        w += (size_t) n;
        }
        action_call_set_detail(call, "accept rules (comment \"%s\") inserted at the top of %s (generation %u)", tag_of(p),
                               label, rs->generation);
        return 0;
}

/* Is this tagged rule still one nft_open made: "meta l4proto X [th dport Y] accept"? A tagged
 * rule that reads otherwise was changed (replaced) by someone: not ours to delete any more. */
static bool ours(const nftr_rule *r) {
        const nftr_expr *last = r->n_exprs ? r->exprs[r->n_exprs - 1] : NULL;
        return (r->n_exprs == 3 || r->n_exprs == 5) && r->exprs[0]->kind == NFTR_EXPR_META && r->exprs[0]->key == NFT_META_L4PROTO &&
               r->exprs[1]->kind == NFTR_EXPR_CMP && (r->n_exprs == 3 || r->exprs[2]->kind == NFTR_EXPR_PAYLOAD) &&
               last->kind == NFTR_EXPR_IMMEDIATE && !last->has_dreg && last->verdict == NF_ACCEPT;
}

static int revert_once(const action_params *p, action_call *call) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        char why[1024];
        int r = nft_ruleset_dump(nft_action_netns(p, action_call_env(call)), NULL, NULL, &rs);

        if (r < 0) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        if ((r = nft_batch_new(&b, rs->generation)) < 0)
                return r;
        for (size_t c = 0; c < rs->n_chains && r >= 0; c++) {
                const nftr_chain *ch = &rs->chains[c];
                const nftr_table *t = &rs->tables[ch->table];
                for (size_t i = 0; i < ch->n_rules && r >= 0; i++) {
                        struct nftnl_rule *nr;
                        if (!ch->rules[i].comment || strcmp(ch->rules[i].comment, tag_of(p)) != 0)
                                continue;
                        if (!ours(&ch->rules[i])) {
                                action_call_set_detail(call, "rule handle %llu in %s %s %s carries the tag \"%s\" but is not an accept "
                                                       "rule this action made: changed since; nothing deleted (a human must decide)",
                                                       (unsigned long long) ch->rules[i].handle, nft_ruleset_family_to_string(t->family),
                                                       t->name, ch->name, tag_of(p));
                                return -EBUSY;
                        }
                        if (!(nr = nftnl_rule_alloc()))
                                return -ENOMEM;
                        nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, (uint32_t) t->family);
                        nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, t->name);
                        nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, ch->name);
                        nftnl_rule_set_u64(nr, NFTNL_RULE_HANDLE, ch->rules[i].handle);
                        r = add_rule_msg(b, rs, nr, NFT_MSG_DELRULE, 0, "delete tagged rule");
                }
        }
        if (r < 0)
                return r;
        size_t n = nft_batch_messages(b);
        r = nft_batch_commit(b, nft_action_netns(p, action_call_env(call)), why, sizeof(why));
        if (r == NFT_BATCH_UNKNOWN)
                r = tagged_rules(p, call) == 0 ? 0 : -EIO;
        if (r < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        action_call_set_detail(call, "%zu rule%s commented \"%s\" deleted", n, n == 1 ? "" : "s", tag_of(p));
        return 0;
}

static int verify_once(const action_params *p, action_call *call) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        const nftr_chain *t[TARGETS_MAX];
        char why[NFT_VERDICT_WHY_MAX];
        int r = nft_ruleset_dump(nft_action_netns(p, action_call_env(call)), NULL, NULL, &rs);

        if (r < 0)
                return r;
        if (targets(rs, esp_of(p), t, why, sizeof(why)) > 0) {
                action_call_set_detail(call, "still dropped: %s", why);
                return -EPROTO;
        }
        action_call_set_detail(call, "IKE accepted by every input base chain");
        return 0;
}

static int nft_open_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        int r = 0;

        /* netlink to the kernel: answered at once, no waiting on the loop */
        for (int attempt = 0; attempt < 2; attempt++) {
                r = op == ACTION_APPLY ? open_once(p, call) : op == ACTION_REVERT ? revert_once(p, call) : verify_once(p, call);
                if (r != -ERESTART)
                        break;
        }
        action_call_done(call, r);
        return 0;
}

static bool nft_open_supports(const action_params *p, action_op op) {
        return true;
}

static int nft_open_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_TAG].set && (strlen(p->v[P_TAG].str) == 0 || strlen(p->v[P_TAG].str) > 64)) {
                (void) snprintf(why, n, "tag: 1 to 64 characters");
                return -EINVAL;
        }
        return 0;
}

const action_ops action_nft_open = {
        .kind = "nft_open",
        .description = "let IKE (and ESP) through the nftables chains that drop it, tagged for revert",
        .params = params,
        .effects = true,
        .measure = true,
        .validate = nft_open_validate,
        .plan = nft_open_plan,
        .start = nft_open_start,
        .supports = nft_open_supports,
};
