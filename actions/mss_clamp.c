/* The `mss_clamp` action: a temporary measure against an MTU black hole on a tunnel's path —
 * TCP connections through the tunnel are made to use segments that fit, by clamping the MSS
 * option of their SYN and SYN/ACK packets in the gateway's forward path. The rules live in a
 * table of our own, `inet ikeheal_mss` (chain `forward`, hook forward, priority mangle), one pair
 * per network behind the peer and each commented with the tag:
 *
 *   ip daddr NET tcp flags syn tcp option maxseg size > MSS tcp option maxseg size set MSS
 *   ip saddr NET tcp flags syn tcp option maxseg size > MSS tcp option maxseg size set MSS
 *
 * and for an IPv6 network the same with ip6 and MSS less 20 (actions/mss_rule.h builds them).
 * The networks are the step's `networks` and, for the incident's `peers`, the remote traffic
 * selectors (IPv4 and IPv6 subnets) of every swanctl.conf connection to those peers (the tunnels check's
 * `swanctl_conf`). Apply replaces the table whole, in one transaction; revert deletes it — only
 * while every rule in it is one of ours (tagged): a rule added by someone else stops the revert.
 * Nothing outside the table is touched, so the gateway's own ruleset is never edited; revert is
 * idempotent (no table: nothing to do), as a revert after a crash needs. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/mss_rule.h"
#include "actions/registry.h"
#include "netns.h"
#include "nft_ruleset.h"
#include "nftnl_lib.h"
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

#define TABLE MSS_RULE_TABLE
#define CHAIN MSS_RULE_CHAIN
#define TAG_DEFAULT "ikeheal-mss"
/* A 1280-byte path (IPv6's minimum, what most paths carry) less ESP in UDP (≤ 80 bytes) and
 * the IPv4 and TCP headers (40 bytes); IPv6 networks get 20 less (its header is 40 bytes). */
#define MSS_DEFAULT 1160u
#define NETS_MAX 32u
#define TUNNELS_CHECK "tunnels"
#define SWANCTL_CONF_DEFAULT "/etc/swanctl/swanctl.conf"
#define CONNS_MAX 256u

static const char *tag_of(const action_params *p) {
        return p->v[P_TAG].set ? p->v[P_TAG].str : TAG_DEFAULT;
}

static uint32_t mss_of(const action_params *p) {
        return p->v[P_MSS].set ? (uint32_t) p->v[P_MSS].num : MSS_DEFAULT;
}

/* The remote traffic selectors of conn's children, IPv4 and IPv6 subnets ("dynamic" and
 * ranges are left out: the plan says what was used). */
static void conn_nets(const swconf *c, const char *conn, mss_net *nets, size_t *k) {
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
                        mss_net nt;
                        (void) snprintf(one, sizeof(one), "%.*s", (int) len, ts);
                        one[strcspn(one, "[")] = 0; /* a protocol/port selector narrows nothing we clamp */
                        if (mss_net_parse(one, &nt) == 0)
                                mss_net_add(nets, k, NETS_MAX, &nt);
                        ts += len + (ts[len] == ',');
                }
        }
}

/* The networks to clamp: the step's own and those behind the peers. */
static size_t networks(const action_params *p, const action_env *env, mss_net *nets, char *why, size_t why_size) {
        size_t k = 0;

        for (size_t i = 0; p->v[P_NETWORKS].set && p->v[P_NETWORKS].strv[i]; i++) {
                mss_net n;
                if (mss_net_parse(p->v[P_NETWORKS].strv[i], &n) == 0)
                        mss_net_add(nets, &k, NETS_MAX, &n);
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

static const char *netns_of(const action_params *p, const action_env *env) {
        return nft_action_netns(p, env);
}

static int mss_clamp_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        mss_net nets[NETS_MAX];
        char why[512] = "";
        const char *ns = netns_of(p, env);
        size_t k;

        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables (netns %s): delete table inet " TABLE " if every rule in it is "
                                            "commented \"%s\"", ns ?: "(ours)", tag_of(p));
        if (p->v[P_PEERS].set && strstr(p->v[P_PEERS].str, "${")) /* a runbook's plan, before the step starts */
                return action_plan_add(out, "  nftables (netns %s), one transaction: table inet " TABLE " replaced whole: for "
                                            "the remote_ts of the swanctl.conf connections to %s%s%s (found when the step "
                                            "starts), TCP SYN packets to or from them get their MSS clamped to %u "
                                            "(IPv6: %u); rules commented \"%s\"",
                                       ns ?: "(ours)", p->v[P_PEERS].str, p->v[P_NETWORKS].set ? " and the step's networks" : "",
                                       op == ACTION_VERIFY ? " (verify: the rules in place)" : "", mss_of(p),
                                       mss_of(p) - MSS_RULE_V6_LESS, tag_of(p));
        k = networks(p, env, nets, why, sizeof(why));
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables (netns %s): table inet " TABLE " must hold %zu clamp rule(s) "
                                            "commented \"%s\"", ns ?: "(ours)", 2 * k, tag_of(p));
        if (why[0])
                (void) action_plan_add(out, "  %s", why);
        if (k == 0)
                return action_plan_add(out, "  no network behind the peers %s: nothing to clamp",
                                       p->v[P_PEERS].set ? p->v[P_PEERS].str : "(none given)");
        (void) action_plan_add(out, "  nftables (netns %s), one transaction: table inet " TABLE " replaced whole: chain "
                                    CHAIN " { type filter hook forward priority -150; policy accept; }", ns ?: "(ours)");
        for (size_t i = 0; i < k; i++) {
                char one[INET6_ADDRSTRLEN + 8];
                int r = action_plan_add(out, "    %s %s (saddr and daddr): tcp flags syn tcp option maxseg size > %u "
                                             "tcp option maxseg size set %u, comment \"%s\"",
                                        nets[i].family == AF_INET6 ? "ip6" : "ip", mss_nets_text(&nets[i], 1, one, sizeof(one)),
                                        mss_for(&nets[i], mss_of(p)), mss_for(&nets[i], mss_of(p)), tag_of(p));
                if (r < 0)
                        return r;
        }
        return 0;
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
        mss_net nets[NETS_MAX];
        char why[1024] = "", list[1024];
        size_t k = networks(p, env, nets, why, sizeof(why)), rules, tagged;
        uint32_t gen = 0;
        int r;

        if (k == 0) {
                action_call_set_detail(call, "no network behind the peers to clamp%s%s", why[0] ? ": " : "", why);
                return -ENOENT;
        }
        r = our_table(ns, tag_of(p), &gen, &rules, &tagged);
        if (r < 0 && r != -ENOENT) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
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
                                    mss_rule_new(&nets[i], d, mss_of(p), tag_of(p)), nftnl_rule_nlmsg_build_payload,
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
        action_call_set_detail(call, "TCP MSS clamped to %u (IPv6: %u) for %s: table inet " TABLE "%s%s, %zu rule(s) "
                               "commented \"%s\"", mss_of(p), mss_of(p) - MSS_RULE_V6_LESS, mss_nets_text(nets, k, list, sizeof(list)), ns ? " in netns " : "", ns ?: "", 2 * k,
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
        mss_net nets[NETS_MAX];
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
        mss_net nt;
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_TAG].set && (strlen(p->v[P_TAG].str) == 0 || strlen(p->v[P_TAG].str) > 64)) {
                (void) snprintf(why, n, "tag: 1 to 64 characters");
                return -EINVAL;
        }
        for (size_t i = 0; p->v[P_NETWORKS].set && p->v[P_NETWORKS].strv[i]; i++)
                if (mss_net_parse(p->v[P_NETWORKS].strv[i], &nt) < 0) {
                        (void) snprintf(why, n, "networks: '%.80s' is not an address or a network (A.B.C.D/N, X:…::/N)",
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
