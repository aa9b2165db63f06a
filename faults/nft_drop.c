/* The `nft_drop` fault: IKE (UDP 500 and 4500, or the ports given) and optionally ESP dropped on
 * the way in, in the firewall check's namespace, by a table of its own — `inet ikeheal_drill`,
 * never a rule in anybody else's chain — so the revert is one table deletion and cannot touch
 * what the gateway's own ruleset says.
 *
 * The ports and protocols are elements of sets with timeouts: the kernel itself removes them
 * when the drill's deadline comes (`timeout`, what the drill runner has left), so the fault ends
 * on time even if the agent is dead; the empty table left behind drops nothing. All of it is one
 * nftables transaction: there is no moment with the chain and not yet the sets. A table of that
 * name already there (a drill in progress, or the leftovers of one) refuses apply: the operator
 * must revert first rather than have two deadlines in one table. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/nft_batch.h"
#include "actions/nft_expr.h"
#include "duration.h"
#include "faults/faults.h"
#include "netns.h"
#include "nft_ruleset.h"
#include "nftnl_lib.h"

enum { P_UDP_PORTS, P_ESP, P_NETNS, P_CHECK, P_TIMEOUT, _P_MAX };

static const action_param_spec params[] = {
        [P_UDP_PORTS] = { "udp_ports", AP_STRV, false },
        [P_ESP] = { "esp", AP_BOOL, false },
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        /* not required when bound (a drill sets it from fault.expires_in), required at apply */
        [P_TIMEOUT] = { "timeout", AP_DURATION, false, USEC_PER_SEC, 7 * 24 * 3600 * USEC_PER_SEC },
        [_P_MAX] = { 0 },
};

#define TABLE "ikeheal_drill"
#define PORTS_MAX 32u
#define SET_PORTS_ID 1u
#define SET_PROTOS_ID 2u
/* nft's own type numbers (userspace only: how `nft list` shows the keys) */
#define NFT_TYPE_INET_PROTOCOL 12u
#define NFT_TYPE_INET_SERVICE 13u

/* The ports, in order; 0 if one is not a decimal port. */
static size_t ports_of(const action_params *p, uint16_t out[PORTS_MAX]) {
        static const char *const def[] = { "500", "4500", NULL };
        const char *const *v = p->v[P_UDP_PORTS].set ? (const char *const *) p->v[P_UDP_PORTS].strv : def;
        size_t n = 0;

        for (; v[n] && n < PORTS_MAX; n++) {
                char *end;
                unsigned long u = strtoul(v[n], &end, 10);
                if (v[n][0] < '0' || v[n][0] > '9' || *end || u < 1 || u > 65535)
                        return 0;
                out[n] = (uint16_t) u;
        }
        return n;
}

static bool esp_of(const action_params *p) {
        return p->v[P_ESP].set && p->v[P_ESP].num;
}

static const char *ports_text(const uint16_t *ports, size_t n, char *buf, size_t size) {
        size_t w = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && w < size; i++) {
                int k = snprintf(buf + w, size - w, "%s%u", i ? ", " : "", ports[i]);
                w += k > 0 ? (size_t) k : 0;
        }
        return buf;
}

static int nft_drop_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        uint16_t ports[PORTS_MAX];

        if (ports_of(p, ports) == 0) {
                (void) snprintf(why, n, "udp_ports: decimal ports 1 to 65535, at least one");
                return -EINVAL;
        }
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        return 0;
}

static int nft_drop_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        const char *ns = nft_action_netns(p, env);
        uint16_t ports[PORTS_MAX];
        char list[300], t[64];
        size_t n = ports_of(p, ports);

        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables (netns %s): delete table inet " TABLE " if it exists", ns ?: "(ours)");
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables (netns %s): table inet " TABLE " must exist with an element not yet "
                                       "timed out", ns ?: "(ours)");
        if (p->v[P_TIMEOUT].set)
                (void) duration_format(p->v[P_TIMEOUT].num, t, sizeof(t));
        else
                (void) snprintf(t, sizeof(t), "fault.expires_in");
        (void) action_plan_add(out, "  nftables (netns %s), one transaction: add table inet " TABLE " (refused if it exists)",
                               ns ?: "(ours)");
        (void) action_plan_add(out, "    set ports { type inet_service; flags timeout; elements { %s }, each timeout %s }",
                               ports_text(ports, n, list, sizeof(list)), t);
        if (esp_of(p))
                (void) action_plan_add(out, "    set protos { type inet_proto; flags timeout; elements { 50 (esp) } timeout %s }", t);
        (void) action_plan_add(out, "    chain input { type filter hook input priority -300; policy accept; "
                               "udp dport @ports drop;%s }", esp_of(p) ? " meta l4proto @protos drop;" : "");
        return action_plan_add(out, "  the kernel removes the elements after %s: the fault ends then without the agent", t);
}

static struct nftnl_set *new_set(const char *name, uint32_t id, uint32_t key_type, uint32_t key_len) {
        struct nftnl_set *s = nftnl_set_alloc();

        if (!s)
                return NULL;
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
        nftnl_set_set_u32(s, NFTNL_SET_ID, id);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
        return s;
}

/* The set `name` with its elements, each timing out after timeout_ms. */
static int add_set(nft_batch *b, const char *name, uint32_t id, uint32_t key_type, const void *keys, uint32_t key_len,
                   size_t n, uint64_t timeout_ms) {
        struct nftnl_set *s = new_set(name, id, key_type, key_len), *e = new_set(name, id, key_type, key_len);
        char label[64];
        int r;

        (void) snprintf(label, sizeof(label), "add set inet " TABLE " %s", name);
        for (size_t i = 0; e && i < n; i++) {
                struct nftnl_set_elem *el = nftnl_set_elem_alloc();
                if (!el)
                        break;
                nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, (const uint8_t *) keys + i * key_len, key_len);
                nftnl_set_elem_set_u64(el, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
                nftnl_set_elem_add(e, el);
        }
        r = NFT_BATCH_ADD(b, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, label, s, nftnl_set_nlmsg_build_payload, nftnl_set_free);
        (void) snprintf(label, sizeof(label), "add elements to inet " TABLE " %s", name);
        if (r >= 0)
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, label, e, nftnl_set_elems_nlmsg_build_payload,
                            nftnl_set_free);
        else if (e)
                nftnl_set_free(e);
        return r;
}

/* "udp dport @ports drop" (proto 17) or "meta l4proto @protos drop" (proto 0). */
static struct nftnl_rule *drop_rule(uint8_t proto, const char *set, uint32_t id) {
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (!r)
                return NULL;
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "input");
        nft_expr_l4proto(r);
        if (proto) {
                nft_expr_cmp_eq(r, &proto, sizeof(proto));
                nft_expr_th_dport(r);
        }
        nft_expr_lookup(r, set, id);
        nft_expr_verdict(r, NF_DROP);
        return r;
}

static int build(const action_params *p, nft_batch *b) {
        struct nftnl_table *t = nftnl_table_alloc();
        struct nftnl_chain *c = nftnl_chain_alloc();
        uint64_t ms = p->v[P_TIMEOUT].num / USEC_PER_MSEC;
        uint16_t ports[PORTS_MAX], be[PORTS_MAX];
        uint8_t esp = IPPROTO_ESP;
        size_t n = ports_of(p, ports);
        int r;

        if (t) {
                nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        }
        if (c) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
                nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "input");
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -300);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        }
        for (size_t i = 0; i < n; i++)
                be[i] = htons(ports[i]);
        r = NFT_BATCH_ADD(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "add table inet " TABLE, t,
                    nftnl_table_nlmsg_build_payload, nftnl_table_free);
        if (r >= 0)
                r = add_set(b, "ports", SET_PORTS_ID, NFT_TYPE_INET_SERVICE, be, sizeof(be[0]), n, ms);
        if (r >= 0 && esp_of(p))
                r = add_set(b, "protos", SET_PROTOS_ID, NFT_TYPE_INET_PROTOCOL, &esp, 1, 1, ms);
        if (r >= 0)
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, "add chain inet " TABLE " input", c,
                            nftnl_chain_nlmsg_build_payload, nftnl_chain_free);
        else if (c)
                nftnl_chain_free(c);
        if (r >= 0)
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule udp dport @ports drop",
                            drop_rule(IPPROTO_UDP, "ports", SET_PORTS_ID), nftnl_rule_nlmsg_build_payload, nftnl_rule_free);
        if (r >= 0 && esp_of(p))
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule meta l4proto @protos drop",
                            drop_rule(0, "protos", SET_PROTOS_ID), nftnl_rule_nlmsg_build_payload, nftnl_rule_free);
        return r;
}

/* Our table in the ruleset, with how many elements have not timed out yet; -ENOENT: none. */
static int our_table(const char *netns, size_t *ret_elems) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        int r = nft_ruleset_dump(netns, NULL, NULL, &rs);

        if (r < 0)
                return r;
        for (size_t i = 0; i < rs->n_tables; i++) {
                if (rs->tables[i].family != NFPROTO_INET || strcmp(rs->tables[i].name, TABLE) != 0)
                        continue;
                *ret_elems = 0;
                for (size_t s = 0; s < rs->n_sets; s++)
                        if (rs->sets[s].table == i)
                                *ret_elems += rs->sets[s].n_elems; /* the kernel dumps no expired element */
                return 0;
        }
        return -ENOENT;
}

static int apply(const action_params *p, action_call *call, const char *ns) {
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        uint16_t ports[PORTS_MAX];
        char why[1024], list[300], t[64];
        size_t elems = 0;
        int r;

        if (!p->v[P_TIMEOUT].set) {
                action_call_set_detail(call, "no timeout: the element timeout comes from the drill's fault.expires_in");
                return -EINVAL;
        }
        r = nftnl_lib_load();
        if (r < 0) {
                action_call_set_detail(call, "%s", nftnl_lib_error());
                return r;
        }
        r = our_table(ns, &elems);
        if (r >= 0) {
                action_call_set_detail(call, "table inet " TABLE " exists already (%zu element(s) left): a drill in progress, "
                                       "or the leftovers of one; revert it first", elems);
                return -EEXIST;
        }
        if ((r = nft_batch_new(&b, 0)) < 0 || (r = build(p, b)) < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        if (r == NFT_BATCH_UNKNOWN && our_table(ns, &elems) < 0) /* the answer was lost: what did it do? */
                r = -EIO;
        if (r < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        (void) duration_format(p->v[P_TIMEOUT].num, t, sizeof(t));
        action_call_set_detail(call, "table inet " TABLE " added%s%s: udp dport { %s }%s dropped; the kernel removes the "
                               "elements after %s", ns ? " in netns " : "", ns ?: "",
                               ports_text(ports, ports_of(p, ports), list, sizeof(list)), esp_of(p) ? " and esp" : "", t);
        return 0;
}

static int revert(action_call *call, const char *ns) {
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        struct nftnl_table *t;
        char why[1024];
        size_t elems = 0;
        int r = our_table(ns, &elems);

        if (r == -ENOENT) {
                action_call_set_detail(call, "no table inet " TABLE ": nothing to remove");
                return 0;
        }
        if (r < 0 || (r = nft_batch_new(&b, 0)) < 0) {
                if (nftnl_lib_error())
                        action_call_set_detail(call, "%s", nftnl_lib_error());
                return r;
        }
        if ((t = nftnl_table_alloc())) {
                nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        }
        if ((r = NFT_BATCH_ADD(b, NFT_MSG_DELTABLE, 0, "delete table inet " TABLE, t, nftnl_table_nlmsg_build_payload,
                         nftnl_table_free)) < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        if (r == NFT_BATCH_UNKNOWN) /* the answer was lost: gone is what counts */
                r = our_table(ns, &elems) == -ENOENT ? 0 : -EIO;
        if (r < 0 && r != -ENOENT) { /* gone meanwhile: as good */
                action_call_set_detail(call, "%s", why);
                return r;
        }
        action_call_set_detail(call, "table inet " TABLE " deleted (%zu element(s) had not timed out)", elems);
        return 0;
}

static int nft_drop_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const char *ns = nft_action_netns(p, action_call_env(call));
        size_t elems = 0;
        int r;

        /* netlink to the kernel: answered at once, no waiting on the loop */
        if (op == ACTION_APPLY)
                r = apply(p, call, ns);
        else if (op == ACTION_REVERT)
                r = revert(call, ns);
        else {
                r = our_table(ns, &elems);
                action_call_set_detail(call, r == -ENOENT ? "no table inet " TABLE
                                             : r < 0      ? "cannot read the ruleset"
                                             : elems      ? "table inet " TABLE " in place with elements not yet timed out"
                                                          : "table inet " TABLE " left, every element timed out");
                r = r < 0 ? r : elems ? 0 : -EPROTO;
        }
        action_call_done(call, r);
        return 0;
}

static bool nft_drop_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops fault_nft_drop = {
        .kind = "nft_drop",
        .description = "drop IKE (UDP 500/4500) and optionally ESP in a table of its own, removed by the kernel at the deadline",
        .params = params,
        .effects = true,
        .validate = nft_drop_validate,
        .plan = nft_drop_plan,
        .start = nft_drop_start,
        .supports = nft_drop_supports,
};
