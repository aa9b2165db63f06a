/* The nftables ruleset model: its memory (expressions interned, common/nft_expr_pool.h), the
 * builders and the names of kernel numbers. The netlink parser is nft_ruleset_parse.c, the dump
 * nft_ruleset_dump.c, the text form and hash nft_ruleset_format.c. See nft_ruleset.h for why the messages are parsed here with libmnl rather
 * than by libnftnl (whose parsers exit() on a malformed attribute). */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_expr_pool.h"
#include "nft_ruleset.h"
#include "nft_ruleset_private.h"

/* ---- memory ---- */

/* Arrays grow by doubling; the capacity is implied by the count (the smallest power of two ≥
 * max(n, 4)), so the model needs no capacity fields. Call before storing element number n. */
int nftr_grow(void **p, size_t n, size_t size) {
        void *q;
        size_t cap;

        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        cap = n < 4 ? 4 : n * 2;
        q = reallocarray(*p, cap, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}

void nftr_elem_done(nftr_elem *e) {
        free(e->chain);
}

void nftr_rule_done(nftr_rule *r) {
        nft_expr_pool_list_put(r->exprs);
        free(r->comment);
}

int nft_ruleset_new(nft_ruleset **ret) {
        nft_ruleset *rs = calloc(1, sizeof(*rs));

        if (!rs)
                return -ENOMEM;
        *ret = rs;
        return 0;
}

void nftr_chain_done(nftr_chain *c) {
        for (size_t j = 0; j < c->n_rules; j++)
                nftr_rule_done(&c->rules[j]);
        free(c->rules);
        free(c->name);
        free(c->type);
        free(c->dev);
}

void nftr_set_done(nftr_set *s) {
        for (size_t j = 0; j < s->n_elems; j++)
                nftr_elem_done(&s->elems[j]);
        free(s->elems);
        free(s->name);
}

nft_ruleset *nft_ruleset_free(nft_ruleset *rs) {
        if (!rs)
                return NULL;
        for (size_t i = 0; i < rs->n_tables; i++)
                free(rs->tables[i].name);
        for (size_t i = 0; i < rs->n_chains; i++)
                nftr_chain_done(&rs->chains[i]);
        for (size_t i = 0; i < rs->n_sets; i++)
                nftr_set_done(&rs->sets[i]);
        free(rs->tables);
        free(rs->chains);
        free(rs->sets);
        free(rs);
        return NULL;
}

/* ---- builders ---- */

static bool name_valid(const char *s) {
        return s && s[0] && strnlen(s, NFTR_NAME_MAX) < NFTR_NAME_MAX;
}

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        if (strnlen(s, NFTR_NAME_MAX) >= NFTR_NAME_MAX)
                return -EINVAL;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int nftr_table_index(const nft_ruleset *rs, int family, const char *name) {
        for (size_t i = 0; i < rs->n_tables; i++)
                if (rs->tables[i].family == family && !strcmp(rs->tables[i].name, name))
                        return (int) i;
        return -ENOENT;
}

const nftr_chain *nft_ruleset_find_chain(const nft_ruleset *rs, size_t table, const char *name) {
        if (!name)
                return NULL;
        /* Searched from the end: rules of a dump arrive for the chain added last, mostly. */
        for (size_t i = rs->n_chains; i-- > 0;)
                if (rs->chains[i].table == table && !strcmp(rs->chains[i].name, name))
                        return &rs->chains[i];
        return NULL;
}

const nftr_set *nft_ruleset_find_set(const nft_ruleset *rs, size_t table, const char *name) {
        if (!name)
                return NULL;
        for (size_t i = rs->n_sets; i-- > 0;)
                if (rs->sets[i].table == table && !strcmp(rs->sets[i].name, name))
                        return &rs->sets[i];
        return NULL;
}

int nft_ruleset_add_table(nft_ruleset *rs, int family, const char *name, uint32_t flags,
                          uint64_t handle) {
        nftr_table *t;
        int r;

        if (!name_valid(name))
                return -EINVAL;
        if (nftr_table_index(rs, family, name) >= 0)
                return -EEXIST;
        if (rs->n_tables >= NFTR_TABLES_MAX)
                return -E2BIG;
        r = nftr_grow((void **) &rs->tables, rs->n_tables, sizeof(*rs->tables));
        if (r < 0)
                return r;
        t = &rs->tables[rs->n_tables];
        *t = (nftr_table){.family = family, .flags = flags, .handle = handle};
        t->name = strdup(name);
        if (!t->name)
                return -ENOMEM;
        return (int) rs->n_tables++;
}

int nft_ruleset_add_chain(nft_ruleset *rs, int family, const char *table, const char *name,
                          uint64_t handle, const nftr_hook *hook) {
        nftr_chain c = {.handle = handle};
        int t, r;

        if (!name_valid(table) || !name_valid(name))
                return -EINVAL;
        t = nftr_table_index(rs, family, table);
        if (t < 0)
                return t;
        if (nft_ruleset_find_chain(rs, (size_t) t, name))
                return -EEXIST;
        if (rs->n_chains >= NFTR_CHAINS_MAX)
                return -E2BIG;
        r = nftr_grow((void **) &rs->chains, rs->n_chains, sizeof(*rs->chains));
        if (r < 0)
                return r;
        c.table = (size_t) t;
        if (hook) {
                if (hook->policy != NF_ACCEPT && hook->policy != NF_DROP)
                        return -EINVAL;
                c.base = true;
                c.hooknum = hook->hooknum;
                c.priority = hook->priority;
                c.policy = hook->policy;
                r = dup_opt(hook->type ? hook->type : "filter", &c.type);
                if (r < 0)
                        return r;
                r = dup_opt(hook->dev, &c.dev);
                if (r < 0) {
                        free(c.type);
                        return r;
                }
        }
        c.name = strdup(name);
        if (!c.name) {
                free(c.type);
                free(c.dev);
                return -ENOMEM;
        }
        rs->chains[rs->n_chains] = c;
        return (int) rs->n_chains++;
}

int nft_ruleset_add_rule(nft_ruleset *rs, int family, const char *table, const char *chain,
                         uint64_t handle, const nftr_expr *exprs, size_t n_exprs) {
        nftr_rule rule = {.handle = handle};
        nftr_chain *c;
        int t, r;

        if (!name_valid(table) || !name_valid(chain) || (n_exprs && !exprs))
                return -EINVAL;
        t = nftr_table_index(rs, family, table);
        if (t < 0)
                return t;
        c = (nftr_chain *) nft_ruleset_find_chain(rs, (size_t) t, chain);
        if (!c)
                return -ENOENT;
        if (rs->n_rules_total >= NFTR_RULES_MAX || n_exprs > NFTR_EXPRS_PER_RULE_MAX)
                return -E2BIG;
        r = nftr_grow((void **) &c->rules, c->n_rules, sizeof(*c->rules));
        if (r < 0)
                return r;
        if (n_exprs) {
                const nftr_expr *x[NFTR_EXPRS_PER_RULE_MAX];
                size_t i;
                for (i = 0; i < n_exprs; i++)
                        if ((r = nft_expr_pool_get(&exprs[i], &x[i])) < 0)
                                break;
                if (i < n_exprs) {
                        while (i > 0)
                                nft_expr_pool_put(x[--i]);
                        return r;
                }
                if ((r = nft_expr_pool_list_get(x, n_exprs, &rule.exprs)) < 0)
                        return r;
                rule.n_exprs = n_exprs;
        }
        c->rules[c->n_rules] = rule;
        rs->n_rules_total++;
        return (int) c->n_rules++;
}

int nft_ruleset_set_rule_comment(nft_ruleset *rs, int family, const char *table, const char *chain, size_t rule,
                                 const char *comment) {
        nftr_chain *c;
        char *dup;
        int t = nftr_table_index(rs, family, table);

        if (t < 0)
                return t;
        c = (nftr_chain *) nft_ruleset_find_chain(rs, (size_t) t, chain);
        if (!c || rule >= c->n_rules)
                return -ENOENT;
        if (!(dup = strdup(comment)))
                return -ENOMEM;
        free(c->rules[rule].comment);
        c->rules[rule].comment = dup;
        return 0;
}

int nft_ruleset_add_set(nft_ruleset *rs, int family, const char *table, const char *name,
                        uint64_t handle, uint32_t flags, uint32_t key_len, uint32_t data_type,
                        uint32_t data_len) {
        nftr_set *s;
        int t, r;

        if (!name_valid(table) || !name_valid(name) || key_len > NFTR_DATA_MAX ||
            data_len > NFTR_DATA_MAX)
                return -EINVAL;
        t = nftr_table_index(rs, family, table);
        if (t < 0)
                return t;
        if (nft_ruleset_find_set(rs, (size_t) t, name))
                return -EEXIST;
        if (rs->n_sets >= NFTR_SETS_MAX)
                return -E2BIG;
        r = nftr_grow((void **) &rs->sets, rs->n_sets, sizeof(*rs->sets));
        if (r < 0)
                return r;
        s = &rs->sets[rs->n_sets];
        *s = (nftr_set){.table = (size_t) t, .handle = handle, .flags = flags,
                        .key_len = key_len, .data_type = data_type, .data_len = data_len};
        s->name = strdup(name);
        if (!s->name)
                return -ENOMEM;
        return (int) rs->n_sets++;
}

int nft_ruleset_add_elem(nft_ruleset *rs, int family, const char *table, const char *set,
                         const nftr_elem *elem) {
        nftr_set *s;
        nftr_elem e;
        int t, r;

        if (!name_valid(table) || !name_valid(set) || !elem || elem->key.len > NFTR_DATA_MAX ||
            elem->key_end.len > NFTR_DATA_MAX || elem->data.len > NFTR_DATA_MAX)
                return -EINVAL;
        t = nftr_table_index(rs, family, table);
        if (t < 0)
                return t;
        s = (nftr_set *) nft_ruleset_find_set(rs, (size_t) t, set);
        if (!s)
                return -ENOENT;
        if (rs->n_elems_total >= NFTR_ELEMS_MAX)
                return -E2BIG;
        r = nftr_grow((void **) &s->elems, s->n_elems, sizeof(*s->elems));
        if (r < 0)
                return r;
        e = *elem;
        r = dup_opt(elem->chain, &e.chain);
        if (r < 0)
                return r;
        s->elems[s->n_elems] = e;
        rs->n_elems_total++;
        return (int) s->n_elems++;
}

void nft_ruleset_set_generation(nft_ruleset *rs, uint32_t generation) {
        rs->generation = generation;
        rs->has_generation = true;
}

/* ---- names ---- */

const char *nft_ruleset_family_to_string(int family) {
        switch (family) {
        case NFPROTO_INET: return "inet";
        case NFPROTO_IPV4: return "ip";
        case NFPROTO_IPV6: return "ip6";
        case NFPROTO_ARP: return "arp";
        case NFPROTO_BRIDGE: return "bridge";
        case NFPROTO_NETDEV: return "netdev";
        default: return "?";
        }
}

const char *nft_ruleset_hook_to_string(int family, uint32_t hooknum) {
        static const char *const inet[] = {"prerouting", "input", "forward", "output",
                                           "postrouting", "ingress"};
        if (family == NFPROTO_NETDEV)
                return hooknum == NF_NETDEV_INGRESS ? "ingress" : hooknum == 1 ? "egress" : "?";
        return hooknum < ELEMENTSOF(inet) ? inet[hooknum] : "?";
}

const char *nft_ruleset_verdict_to_string(int32_t verdict) {
        switch (verdict) {
        case NF_DROP: return "drop";
        case NF_ACCEPT: return "accept";
        case NF_STOLEN: return "stolen";
        case NF_QUEUE: return "queue";
        case NF_REPEAT: return "repeat";
        case NFT_CONTINUE: return "continue";
        case NFT_BREAK: return "break";
        case NFT_JUMP: return "jump";
        case NFT_GOTO: return "goto";
        case NFT_RETURN: return "return";
        default:
                /* NF_DROP_ERR and queue numbers live in the upper bits */
                if (verdict > 0 && (verdict & NF_VERDICT_MASK) == NF_QUEUE)
                        return "queue";
                if (verdict > 0 && (verdict & NF_VERDICT_MASK) == NF_DROP)
                        return "drop";
                return "?";
        }
}

const char *nft_ruleset_meta_key_to_string(uint32_t key) {
        static const char *const names[] = {
                [NFT_META_LEN] = "length",       [NFT_META_PROTOCOL] = "protocol",
                [NFT_META_PRIORITY] = "priority", [NFT_META_MARK] = "mark",
                [NFT_META_IIF] = "iif",          [NFT_META_OIF] = "oif",
                [NFT_META_IIFNAME] = "iifname",  [NFT_META_OIFNAME] = "oifname",
                [NFT_META_IIFTYPE] = "iiftype",  [NFT_META_OIFTYPE] = "oiftype",
                [NFT_META_SKUID] = "skuid",      [NFT_META_SKGID] = "skgid",
                [NFT_META_NFTRACE] = "nftrace",  [NFT_META_RTCLASSID] = "rtclassid",
                [NFT_META_SECMARK] = "secmark",  [NFT_META_NFPROTO] = "nfproto",
                [NFT_META_L4PROTO] = "l4proto",  [NFT_META_BRI_IIFNAME] = "ibrname",
                [NFT_META_BRI_OIFNAME] = "obrname", [NFT_META_PKTTYPE] = "pkttype",
                [NFT_META_CPU] = "cpu",          [NFT_META_IIFGROUP] = "iifgroup",
                [NFT_META_OIFGROUP] = "oifgroup", [NFT_META_CGROUP] = "cgroup",
                [NFT_META_PRANDOM] = "random",   [NFT_META_SECPATH] = "ipsec",
                [NFT_META_IIFKIND] = "iifkind",  [NFT_META_OIFKIND] = "oifkind",
                [NFT_META_TIME_NS] = "time",     [NFT_META_TIME_DAY] = "day",
                [NFT_META_TIME_HOUR] = "hour",   [NFT_META_SDIF] = "sdif",
                [NFT_META_SDIFNAME] = "sdifname",
        };
        return key < ELEMENTSOF(names) && names[key] ? names[key] : "?";
}

const char *nft_ruleset_ct_key_to_string(uint32_t key) {
        static const char *const names[] = {
                [NFT_CT_STATE] = "state",       [NFT_CT_DIRECTION] = "direction",
                [NFT_CT_STATUS] = "status",     [NFT_CT_MARK] = "mark",
                [NFT_CT_SECMARK] = "secmark",   [NFT_CT_EXPIRATION] = "expiration",
                [NFT_CT_HELPER] = "helper",     [NFT_CT_L3PROTOCOL] = "l3proto",
                [NFT_CT_SRC] = "saddr",         [NFT_CT_DST] = "daddr",
                [NFT_CT_PROTOCOL] = "protocol", [NFT_CT_PROTO_SRC] = "proto-src",
                [NFT_CT_PROTO_DST] = "proto-dst", [NFT_CT_LABELS] = "label",
                [NFT_CT_PKTS] = "packets",      [NFT_CT_BYTES] = "bytes",
                [NFT_CT_AVGPKT] = "avgpkt",     [NFT_CT_ZONE] = "zone",
                [NFT_CT_EVENTMASK] = "event",
        };
        return key < ELEMENTSOF(names) && names[key] ? names[key] : "?";
}
