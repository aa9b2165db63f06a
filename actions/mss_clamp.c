/* The `mss_clamp` action: a temporary measure against an MTU black hole on a tunnel's path —
 * TCP connections through the tunnel are made to use segments that fit, by clamping the MSS
 * option of their SYN and SYN/ACK packets in the gateway's forward path. The rules live in a
 * table of our own, `inet ikeheal_mss` (chain `forward`, hook forward, priority mangle), one pair
 * per network behind the peer and each commented with the tag:
 *
 *   ip daddr NET tcp flags syn tcp option maxseg size > MSS tcp option maxseg size set MSS
 *   ip saddr NET tcp flags syn tcp option maxseg size > MSS tcp option maxseg size set MSS
 *
 * The networks are the step's `networks` and, for the incident's `peers`, the remote traffic
 * selectors (IPv4 subnets) of every swanctl.conf connection to those peers (the tunnels check's
 * `swanctl_conf`). Apply replaces the table whole, in one transaction; revert deletes it — only
 * while every rule in it is one of ours (tagged): a rule added by someone else stops the revert.
 * Nothing outside the table is touched, so the gateway's own ruleset is never edited; revert is
 * idempotent (no table: nothing to do), as a revert after a crash needs. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/nft_expr.h"
#include "actions/registry.h"
#include "netns.h"
#include "nft_ruleset.h"
#include "swconf.h"
#include "swconf_peer.h"

enum { P_PEERS, P_NETWORKS, P_MSS, P_NETNS, P_TAG, _P_MAX };

static const action_param_spec params[] = {
        [P_PEERS] = { "peers", AP_STRING, false },
        [P_NETWORKS] = { "networks", AP_STRV, false },
        [P_MSS] = { "mss", AP_U32, false, 536, 9000 },
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_TAG] = { "tag", AP_STRING, false },
        [_P_MAX] = { 0 },
};

#define TABLE "ikeheal_mss"
#define CHAIN "forward"
#define TAG_DEFAULT "ikeheal-mss"
/* A 1280-byte path (IPv6's minimum, what most paths carry) less ESP in UDP (≤ 80 bytes) and
 * the IPv4 and TCP headers (40 bytes). */
#define MSS_DEFAULT 1160u
#define NETS_MAX 32u
#define TUNNELS_CHECK "tunnels"
#define SWANCTL_CONF_DEFAULT "/etc/swanctl/swanctl.conf"
#define CONNS_MAX 256u

typedef struct net4 {
        struct in_addr addr, mask;
        unsigned plen;
} net4;

static const char *tag_of(const action_params *p) {
        return p->v[P_TAG].set ? p->v[P_TAG].str : TAG_DEFAULT;
}

static uint32_t mss_of(const action_params *p) {
        return p->v[P_MSS].set ? (uint32_t) p->v[P_MSS].num : MSS_DEFAULT;
}

/* "A.B.C.D[/N]" (blanks around it allowed) into n. 0, or -EINVAL. */
static int net4_parse(const char *s, net4 *n) {
        char buf[64], *slash;
        size_t len;

        while (*s == ' ' || *s == '\t')
                s++;
        len = strcspn(s, " \t");
        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        n->plen = 32;
        if ((slash = strchr(buf, '/'))) {
                char *end;
                unsigned long v = strtoul(slash + 1, &end, 10);
                if (slash[1] < '0' || slash[1] > '9' || *end || v > 32)
                        return -EINVAL;
                n->plen = (unsigned) v;
                *slash = 0;
        }
        if (inet_pton(AF_INET, buf, &n->addr) != 1)
                return -EINVAL;
        n->mask.s_addr = n->plen ? htonl(~0u << (32 - n->plen)) : 0;
        n->addr.s_addr &= n->mask.s_addr;
        return 0;
}

static void net4_add(net4 *nets, size_t *k, const net4 *n) {
        for (size_t i = 0; i < *k; i++)
                if (nets[i].addr.s_addr == n->addr.s_addr && nets[i].plen == n->plen)
                        return;
        if (*k < NETS_MAX)
                nets[(*k)++] = *n;
}

/* The remote traffic selectors of conn's children, IPv4 subnets only ("dynamic", IPv6 and
 * ranges are left out: the plan says what was used). */
static void conn_nets(const swconf *c, const char *conn, net4 *nets, size_t *k) {
        char key[512];
        const char *children[64];

        (void) snprintf(key, sizeof(key), "connections.%s.children", conn);
        size_t n = swconf_children(c, key, children, ELEMENTSOF(children));
        for (size_t i = 0; i < n && i < ELEMENTSOF(children); i++) {
                (void) snprintf(key, sizeof(key), "connections.%s.children.%s.remote_ts", conn, children[i]);
                const char *ts = swconf_get(c, key);
                while (ts && *ts) {
                        size_t len = strcspn(ts, ",");
                        char one[128];
                        net4 nt;
                        (void) snprintf(one, sizeof(one), "%.*s", (int) len, ts);
                        one[strcspn(one, "[")] = 0; /* a protocol/port selector narrows nothing we clamp */
                        if (net4_parse(one, &nt) == 0)
                                net4_add(nets, k, &nt);
                        ts += len + (ts[len] == ',');
                }
        }
}

/* The networks to clamp: the step's own and those behind the peers. */
static size_t networks(const action_params *p, const action_env *env, net4 *nets, char *why, size_t why_size) {
        size_t k = 0;

        for (size_t i = 0; p->v[P_NETWORKS].set && p->v[P_NETWORKS].strv[i]; i++) {
                net4 n;
                if (net4_parse(p->v[P_NETWORKS].strv[i], &n) == 0)
                        net4_add(nets, &k, &n);
        }
        if (!p->v[P_PEERS].set || !p->v[P_PEERS].str[0])
                return k;
        const char *path = env->check_param ? env->check_param(env->check_userdata, TUNNELS_CHECK, "swanctl_conf") : NULL;
        _cleanup_(swconf_freep) swconf *c = NULL;
        char err[256] = "";
        if (swconf_load(path ? path : SWANCTL_CONF_DEFAULT, &c, err, sizeof(err)) < 0) {
                (void) snprintf(why, why_size, "%s: cannot read: %s", path ? path : SWANCTL_CONF_DEFAULT, err[0] ? err : "error");
                return k;
        }
        const char *conns[CONNS_MAX];
        size_t nc = swconf_children(c, "connections", conns, ELEMENTSOF(conns));
        char peers[1024];
        (void) snprintf(peers, sizeof(peers), "%s", p->v[P_PEERS].str);
        for (char *save = NULL, *peer = strtok_r(peers, ", ", &save); peer; peer = strtok_r(NULL, ", ", &save))
                for (size_t i = 0; i < nc && i < ELEMENTSOF(conns); i++)
                        if (swconf_conn_has_peer(c, conns[i], peer))
                                conn_nets(c, conns[i], nets, &k);
        return k;
}

static const char *nets_text(const net4 *nets, size_t k, char *buf, size_t size) {
        size_t w = 0;
        buf[0] = 0;
        for (size_t i = 0; i < k && w < size; i++) {
                char a[INET_ADDRSTRLEN];
                (void) inet_ntop(AF_INET, &nets[i].addr, a, sizeof(a));
                int n = snprintf(buf + w, size - w, "%s%s/%u", i ? ", " : "", a, nets[i].plen);
                w += n > 0 ? (size_t) n : 0;
        }
        return buf;
}

static const char *netns_of(const action_params *p, const action_env *env) {
        return nft_action_netns(p, env);
}

static int mss_clamp_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        net4 nets[NETS_MAX];
        char why[512] = "", list[1024];
        const char *ns = netns_of(p, env);
        size_t k;

        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables (netns %s): delete table inet " TABLE " if every rule in it is "
                                            "commented \"%s\"", ns ?: "(ours)", tag_of(p));
        if (p->v[P_PEERS].set && strstr(p->v[P_PEERS].str, "${")) /* a runbook's plan, before the step starts */
                return action_plan_add(out, "  nftables (netns %s), one transaction: table inet " TABLE " replaced whole: for "
                                            "the IPv4 remote_ts of the swanctl.conf connections to %s%s%s (found when the step "
                                            "starts), TCP SYN packets to or from them get their MSS clamped to %u; rules "
                                            "commented \"%s\"",
                                       ns ?: "(ours)", p->v[P_PEERS].str, p->v[P_NETWORKS].set ? " and the step's networks" : "",
                                       op == ACTION_VERIFY ? " (verify: the rules in place)" : "", mss_of(p), tag_of(p));
        k = networks(p, env, nets, why, sizeof(why));
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables (netns %s): table inet " TABLE " must hold %zu clamp rule(s) "
                                            "commented \"%s\"", ns ?: "(ours)", 2 * k, tag_of(p));
        if (why[0])
                (void) action_plan_add(out, "  %s", why);
        if (k == 0)
                return action_plan_add(out, "  no IPv4 network behind the peers %s: nothing to clamp",
                                       p->v[P_PEERS].set ? p->v[P_PEERS].str : "(none given)");
        (void) action_plan_add(out, "  nftables (netns %s), one transaction: table inet " TABLE " replaced whole: chain "
                                    CHAIN " { type filter hook forward priority -150; policy accept; }", ns ?: "(ours)");
        return action_plan_add(out, "    for %s (saddr and daddr): tcp flags syn tcp option maxseg size > %u "
                                    "tcp option maxseg size set %u, comment \"%s\"",
                               nets_text(nets, k, list, sizeof(list)), mss_of(p), mss_of(p), tag_of(p));
}

/* ---- building the rules ---- */

static void add(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (e)
                nftnl_rule_add_expr(r, e);
}

static void expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        }
        add(r, e);
}

static void expr_and(struct nftnl_rule *r, const void *mask, uint32_t len) {
        static const uint8_t zero[4];
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
        }
        add(r, e);
}

static void expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        add(r, e);
}

/* the TCP option maxseg's size (kind 2, 2 bytes at offset 2): read into, or written from, reg 1 */
static void expr_maxseg(struct nftnl_rule *r, bool write) {
        struct nftnl_expr *e = nftnl_expr_alloc("exthdr");
        if (e) {
                nftnl_expr_set_u32(e, write ? NFTNL_EXPR_EXTHDR_SREG : NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
                nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
        }
        add(r, e);
}

static void expr_imm(struct nftnl_rule *r, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
                nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        }
        add(r, e);
}

static struct nftnl_rule *clamp_rule(const net4 *n, bool daddr, uint32_t mss, const char *tag) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        uint8_t ipv4 = NFPROTO_IPV4, tcp = IPPROTO_TCP, syn = 0x02, zero = 0;
        uint16_t be = htons((uint16_t) mss);
        struct nftnl_expr *e;

        if (!r || !u) {
                nftnl_rule_free(r);
                nftnl_udata_buf_free(u);
                return NULL;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, CHAIN);
        if ((e = nftnl_expr_alloc("meta"))) { /* meta nfproto ipv4 */
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        }
        add(r, e);
        expr_cmp(r, NFT_CMP_EQ, &ipv4, 1);
        expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, daddr ? 16 : 12, 4);
        if (n->plen < 32)
                expr_and(r, &n->mask, 4);
        expr_cmp(r, NFT_CMP_EQ, &n->addr, 4);
        nft_expr_l4proto(r);
        expr_cmp(r, NFT_CMP_EQ, &tcp, 1);
        expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1); /* tcp flags */
        expr_and(r, &syn, 1);
        expr_cmp(r, NFT_CMP_NEQ, &zero, 1);
        expr_maxseg(r, false);
        expr_cmp(r, NFT_CMP_GT, &be, 2);
        expr_imm(r, &be, 2);
        expr_maxseg(r, true);
        if (nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, tag))
                nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
        nftnl_udata_buf_free(u);
        return r;
}

static struct nftnl_table *our_table_obj(void) {
        struct nftnl_table *t = nftnl_table_alloc();
        if (t) {
                nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        }
        return t;
}

/* Our table now: -ENOENT none; else how many rules it holds and how many carry the tag. */
static int our_table(const char *ns, const char *tag, uint32_t *ret_gen, size_t *ret_rules, size_t *ret_tagged) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        int r = nft_ruleset_dump(ns, NULL, NULL, &rs), found = -ENOENT;

        if (r < 0)
                return r;
        *ret_gen = rs->generation;
        *ret_rules = *ret_tagged = 0;
        for (size_t c = 0; c < rs->n_chains; c++) {
                const nftr_table *t = &rs->tables[rs->chains[c].table];
                if (t->family != NFPROTO_INET || strcmp(t->name, TABLE) != 0)
                        continue;
                for (size_t i = 0; i < rs->chains[c].n_rules; i++) {
                        (*ret_rules)++;
                        *ret_tagged += rs->chains[c].rules[i].comment && strcmp(rs->chains[c].rules[i].comment, tag) == 0;
                }
        }
        for (size_t i = 0; i < rs->n_tables; i++)
                if (rs->tables[i].family == NFPROTO_INET && strcmp(rs->tables[i].name, TABLE) == 0)
                        found = 0;
        return found;
}

static int apply(const action_params *p, action_call *call, const char *ns) {
        const action_env *env = action_call_env(call);
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        net4 nets[NETS_MAX];
        char why[1024] = "", list[1024];
        size_t k = networks(p, env, nets, why, sizeof(why)), rules, tagged;
        uint32_t gen = 0;
        int r;

        if (k == 0) {
                action_call_set_detail(call, "no IPv4 network behind the peers to clamp%s%s", why[0] ? ": " : "", why);
                return -ENOENT;
        }
        r = our_table(ns, tag_of(p), &gen, &rules, &tagged);
        if (r < 0 && r != -ENOENT) {
                action_call_set_detail(call, "cannot read the ruleset: %s", strerror(-r));
                return r;
        }
        if (r == 0 && tagged != rules) {
                action_call_set_detail(call, "table inet " TABLE " holds %zu rule(s) not commented \"%s\": not ours to replace",
                                       rules - tagged, tag_of(p));
                return -EBUSY;
        }
        if ((r = nft_batch_new(&b, gen)) < 0)
                return r;
        /* replaced whole: add (a no-op if it exists), delete, add again, in one transaction */
        r = NFT_BATCH_ADD(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add table inet " TABLE, our_table_obj(),
                    nftnl_table_nlmsg_build_payload, nftnl_table_free);
        if (r >= 0)
                r = NFT_BATCH_ADD(b, NFT_MSG_DELTABLE, 0, "delete table inet " TABLE, our_table_obj(), nftnl_table_nlmsg_build_payload,
                            nftnl_table_free);
        if (r >= 0)
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "add table inet " TABLE, our_table_obj(),
                            nftnl_table_nlmsg_build_payload, nftnl_table_free);
        if (r >= 0) {
                struct nftnl_chain *c = nftnl_chain_alloc();
                if (c) {
                        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
                        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
                        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, CHAIN);
                        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
                        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -150);
                        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
                }
                r = NFT_BATCH_ADD(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, "add chain inet " TABLE " " CHAIN, c,
                            nftnl_chain_nlmsg_build_payload, nftnl_chain_free);
        }
        for (size_t i = 0; i < k && r >= 0; i++)
                for (int d = 0; d < 2 && r >= 0; d++)
                        r = NFT_BATCH_ADD(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add clamp rule",
                                    clamp_rule(&nets[i], d, mss_of(p), tag_of(p)), nftnl_rule_nlmsg_build_payload,
                                    nftnl_rule_free);
        if (r < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        if (r == NFT_BATCH_UNKNOWN) /* the answer was lost: the rules tell whether it applied */
                r = our_table(ns, tag_of(p), &gen, &rules, &tagged) == 0 && tagged == 2 * k ? 0 : -EIO;
        if (r < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        action_call_set_detail(call, "TCP MSS clamped to %u for %s: table inet " TABLE "%s%s, %zu rule(s) commented \"%s\"",
                               mss_of(p), nets_text(nets, k, list, sizeof(list)), ns ? " in netns " : "", ns ?: "", 2 * k,
                               tag_of(p));
        return 0;
}

static int revert(const action_params *p, action_call *call, const char *ns) {
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        char why[1024];
        size_t rules = 0, tagged = 0;
        uint32_t gen = 0;
        int r = our_table(ns, tag_of(p), &gen, &rules, &tagged);

        if (r == -ENOENT) {
                action_call_set_detail(call, "no table inet " TABLE ": nothing to remove");
                return 0;
        }
        if (r < 0)
                return r;
        if (tagged != rules) {
                action_call_set_detail(call, "table inet " TABLE " holds %zu rule(s) not commented \"%s\": changed since; "
                                             "nothing deleted (a human must decide)", rules - tagged, tag_of(p));
                return -EBUSY;
        }
        if ((r = nft_batch_new(&b, gen)) < 0 ||
            (r = NFT_BATCH_ADD(b, NFT_MSG_DELTABLE, 0, "delete table inet " TABLE, our_table_obj(), nftnl_table_nlmsg_build_payload,
                         nftnl_table_free)) < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        if (r == NFT_BATCH_UNKNOWN)
                r = our_table(ns, tag_of(p), &gen, &rules, &tagged) == -ENOENT ? 0 : -EIO;
        if (r < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        action_call_set_detail(call, "table inet " TABLE " deleted (%zu clamp rule(s))", tagged);
        return 0;
}

static int verify(const action_params *p, action_call *call, const char *ns) {
        net4 nets[NETS_MAX];
        char why[512] = "";
        size_t k = networks(p, action_call_env(call), nets, why, sizeof(why)), rules = 0, tagged = 0;
        uint32_t gen;
        int r = our_table(ns, tag_of(p), &gen, &rules, &tagged);

        if (r < 0) {
                action_call_set_detail(call, r == -ENOENT ? "no table inet " TABLE : "cannot read the ruleset");
                return r == -ENOENT ? -EPROTO : r;
        }
        if (tagged < 2 * k) {
                action_call_set_detail(call, "table inet " TABLE " holds %zu of %zu clamp rule(s)", tagged, 2 * k);
                return -EPROTO;
        }
        action_call_set_detail(call, "%zu clamp rule(s) in place", tagged);
        return 0;
}

static int mss_clamp_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const char *ns = netns_of(p, action_call_env(call));
        int r = -ERESTART;

        /* netlink to the kernel: answered at once, no waiting on the loop; a ruleset changed
         * between the read and the commit is read again, once */
        for (int attempt = 0; attempt < 2 && r == -ERESTART; attempt++)
                r = op == ACTION_APPLY ? apply(p, call, ns) : op == ACTION_REVERT ? revert(p, call, ns) : verify(p, call, ns);
        action_call_done(call, r);
        return 0;
}

static bool mss_clamp_supports(const action_params *p, action_op op) {
        return true;
}

static int mss_clamp_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        net4 nt;
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_TAG].set && (strlen(p->v[P_TAG].str) == 0 || strlen(p->v[P_TAG].str) > 64)) {
                (void) snprintf(why, n, "tag: 1 to 64 characters");
                return -EINVAL;
        }
        for (size_t i = 0; p->v[P_NETWORKS].set && p->v[P_NETWORKS].strv[i]; i++)
                if (net4_parse(p->v[P_NETWORKS].strv[i], &nt) < 0) {
                        (void) snprintf(why, n, "networks: '%.80s' is not an IPv4 address or A.B.C.D/N",
                                        p->v[P_NETWORKS].strv[i]);
                        return -EINVAL;
                }
        if (!p->v[P_NETWORKS].set && !p->v[P_PEERS].set) {
                (void) snprintf(why, n, "peers or networks: what to clamp");
                return -EINVAL;
        }
        return 0;
}

const action_ops action_mss_clamp = {
        .kind = "mss_clamp",
        .description = "clamp the TCP MSS of the traffic through a tunnel (a table of our own), against an MTU black hole",
        .params = params,
        .effects = true,
        .measure = true,
        .validate = mss_clamp_validate,
        .plan = mss_clamp_plan,
        .start = mss_clamp_start,
        .supports = mss_clamp_supports,
};
