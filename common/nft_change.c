/* See nft_change.h. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "nft_change.h"
#include "nft_ruleset_private.h"

/* A base chain the IKE packets can meet on their way in (prerouting, input, ingress): what
 * nft_verdict.h follows. Unknown families count, to be safe. */
static bool chain_on_input(const nft_ruleset *rs, const nftr_chain *c) {
        int family = rs->tables[c->table].family;

        if (!c->base)
                return false;
        if (family == NFPROTO_NETDEV)
                return c->hooknum == NF_NETDEV_INGRESS;
        if (family == NFPROTO_INET || family == NFPROTO_IPV4 || family == NFPROTO_IPV6)
                return c->hooknum == NF_INET_PRE_ROUTING || c->hooknum == NF_INET_LOCAL_IN ||
                       c->hooknum == NF_INET_INGRESS;
        return true;
}

/* Jumps and set lookups stay within a table: a table without such a base chain cannot change
 * what happens to an IKE packet. */
static bool table_on_input(const nft_ruleset *rs, size_t t) {
        for (size_t i = 0; i < rs->n_chains; i++)
                if (rs->chains[i].table == t && chain_on_input(rs, &rs->chains[i]))
                        return true;
        return false;
}

static bool chain_touches_input(const nft_ruleset *rs, const nftr_chain *c) {
        return c->base ? chain_on_input(rs, c) : table_on_input(rs, c->table);
}

static size_t chain_index(const nft_ruleset *rs, const nftr_chain *c) {
        return (size_t) (c - rs->chains);
}

static int rule_index(const nftr_chain *c, uint64_t handle) {
        for (size_t i = c->n_rules; i-- > 0;)
                if (c->rules[i].handle == handle)
                        return (int) i;
        return -ENOENT;
}

static int set_index(const nft_ruleset *rs, size_t t, const char *name) {
        const nftr_set *s = nft_ruleset_find_set(rs, t, name);
        return s ? (int) (s - rs->sets) : -ENOENT;
}

/* The builders' "not there" and "already there" mean the model has drifted from the kernel. */
static int stale(int r) {
        return r == -ENOENT || r == -EEXIST ? -ESTALE : r;
}

static int msg_table(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, bool del, nft_change_batch *b) {
        char name[NFTR_NAME_MAX];
        uint32_t flags = 0;
        nftr_attr_tab a;
        int t, r;

        if (nftr_attrs_msg(nlh, &a) < 0 || nftr_a_str(a.a[NFTA_TABLE_NAME], name) < 0 ||
            nftr_a_u32_opt(a.a[NFTA_TABLE_FLAGS], &flags) < 0)
                return -EBADMSG;
        t = nftr_table_index(rs, family, name);
        if (del) {
                if (t < 0)
                        return -ESTALE;
                b->input |= table_on_input(rs, (size_t) t);
                for (size_t i = 0; i < rs->n_chains; i++)
                        b->layout |= rs->chains[i].table == (size_t) t;
                nft_ruleset_del_table(rs, (size_t) t);
        } else if (t >= 0) {
                /* an update: only the flags (dormant or not) can change */
                if (!a.a[NFTA_TABLE_FLAGS] || rs->tables[t].flags == flags)
                        return 0;
                rs->tables[t].flags = flags;
                b->input |= table_on_input(rs, (size_t) t);
        } else if ((r = nft_ruleset_add_nlmsg(rs, nlh)) < 0)
                return stale(r);
        b->changed = true;
        return 0;
}

/* An existing chain changed (its policy) or was renamed: the message parsed on its own. */
static int chain_update(nft_ruleset *rs, nftr_chain *c, const struct nlmsghdr *nlh, int family, const char *table,
                        const char *name, nft_change_batch *b) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *one = NULL;
        const nftr_chain *n;
        int r;

        if ((r = nft_ruleset_new(&one)) < 0 || (r = nft_ruleset_add_table(one, family, table, 0, 0)) < 0 ||
            (r = nft_ruleset_add_nlmsg(one, nlh)) < 0)
                return r;
        n = &one->chains[0];
        if (n->base != c->base || (c->base && (n->hooknum != c->hooknum || n->priority != c->priority)))
                return -ESTALE; /* the kernel does not change these in place */
        if (strcmp(c->name, name) != 0) {
                char *dup = strdup(name);
                if (!dup)
                        return -ENOMEM;
                free(c->name);
                c->name = dup;
                b->input |= table_on_input(rs, c->table);
        }
        if (c->base && n->policy != c->policy) {
                c->policy = n->policy;
                b->input |= chain_on_input(rs, c);
        }
        b->changed = true;
        return 0;
}

static int msg_chain(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, bool del, nft_change_batch *b) {
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX];
        uint64_t handle = 0;
        nftr_chain *c;
        nftr_attr_tab a;
        int t, r;

        if (nftr_attrs_msg(nlh, &a) < 0 || nftr_a_str(a.a[NFTA_CHAIN_TABLE], table) < 0 ||
            nftr_a_str(a.a[NFTA_CHAIN_NAME], name) < 0 || nftr_a_u64_opt(a.a[NFTA_CHAIN_HANDLE], &handle) < 0)
                return -EBADMSG;
        if ((t = nftr_table_index(rs, family, table)) < 0)
                return -ESTALE;
        c = (nftr_chain *) nft_ruleset_find_chain(rs, (size_t) t, name);
        if (!c && handle)
                for (size_t i = 0; i < rs->n_chains && !c; i++)
                        if (rs->chains[i].table == (size_t) t && rs->chains[i].handle == handle)
                                c = &rs->chains[i];
        if (del) {
                if (!c)
                        return -ESTALE;
                b->input |= chain_touches_input(rs, c);
                nft_ruleset_del_chain(rs, chain_index(rs, c));
                b->layout = b->changed = true;
                return 0;
        }
        if (c)
                return chain_update(rs, c, nlh, family, table, name, b);
        if ((r = nft_ruleset_add_nlmsg(rs, nlh)) < 0)
                return stale(r);
        b->input |= table_on_input(rs, (size_t) t);
        b->layout = b->changed = true;
        return 0;
}

static bool waiting(const nft_change_batch *b, int family, const char *table, const char *chain, uint64_t handle) {
        for (size_t i = 0; i < b->n_wait; i++)
                if (b->wait[i].handle == handle && b->wait[i].family == family && !strcmp(b->wait[i].table, table) &&
                    !strcmp(b->wait[i].chain, chain))
                        return true;
        return false;
}

static int wait_add(nft_change_batch *b, int family, const char *table, const char *chain, uint64_t handle,
                    uint64_t after) {
        nft_change_wait *w;

        if (b->n_wait >= NFTR_RULES_MAX)
                return -E2BIG;
        w = reallocarray(b->wait, b->n_wait + 1, sizeof(*b->wait));
        if (!w)
                return -ENOMEM;
        b->wait = w;
        w = &b->wait[b->n_wait++];
        *w = (nft_change_wait){.family = family, .handle = handle, .after = after};
        strcpy(w->table, table);
        strcpy(w->chain, chain);
        return 0;
}

static int msg_rule(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, bool del, nft_change_batch *b) {
        char table[NFTR_NAME_MAX], chain[NFTR_NAME_MAX];
        uint64_t handle = 0, after = 0;
        nftr_attr_tab a;
        nftr_chain *c;
        int t, i, r;

        if (nftr_attrs_msg(nlh, &a) < 0 || nftr_a_str(a.a[NFTA_RULE_TABLE], table) < 0 ||
            nftr_a_str(a.a[NFTA_RULE_CHAIN], chain) < 0 || !a.a[NFTA_RULE_HANDLE] ||
            nftr_a_u64_opt(a.a[NFTA_RULE_HANDLE], &handle) < 0 || nftr_a_u64_opt(a.a[NFTA_RULE_POSITION], &after) < 0)
                return -EBADMSG;
        if ((t = nftr_table_index(rs, family, table)) < 0 ||
            !(c = (nftr_chain *) nft_ruleset_find_chain(rs, (size_t) t, chain)))
                return -ESTALE;
        b->input |= chain_touches_input(rs, c);
        b->changed = true;
        i = rule_index(c, handle);
        if (del) {
                /* an anonymous set the rule read goes by a DELSET of its own */
                if (i < 0)
                        return -ESTALE;
                nft_ruleset_del_rule(rs, c, (size_t) i);
                for (size_t w = 0; w < b->n_wait; w++)
                        if (b->wait[w].handle == handle && b->wait[w].family == family &&
                            !strcmp(b->wait[w].table, table) && !strcmp(b->wait[w].chain, chain))
                                b->wait[w] = b->wait[--b->n_wait];
                return 0;
        }
        if (i >= 0)
                return -ESTALE;
        if ((r = nft_ruleset_add_nlmsg(rs, nlh)) < 0)
                return stale(r);
        /* appended: now put where the kernel has it */
        if (a.a[NFTA_RULE_POSITION]) {
                int p = waiting(b, family, table, chain, after) ? -ENOENT : rule_index(c, after);
                if (p < 0)
                        return wait_add(b, family, table, chain, handle, after);
                nft_ruleset_move_rule(c, c->n_rules - 1, (size_t) p + 1);
        } else if (!(nlh->nlmsg_flags & NLM_F_APPEND))
                nft_ruleset_move_rule(c, c->n_rules - 1, 0);
        return 0;
}

static int msg_set(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, bool del, nft_change_batch *b) {
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX];
        nftr_attr_tab a;
        int t, s, r;

        if (nftr_attrs_msg(nlh, &a) < 0 || nftr_a_str(a.a[NFTA_SET_TABLE], table) < 0 ||
            nftr_a_str(a.a[NFTA_SET_NAME], name) < 0)
                return -EBADMSG;
        if ((t = nftr_table_index(rs, family, table)) < 0)
                return -ESTALE;
        s = set_index(rs, (size_t) t, name);
        if (del) {
                if (s < 0)
                        return -ESTALE;
                nft_ruleset_del_set(rs, (size_t) s);
        } else if (s >= 0)
                return 0; /* an update of what the model does not keep (timeouts, comments) */
        else if ((r = nft_ruleset_add_nlmsg(rs, nlh)) < 0)
                return stale(r);
        b->input |= table_on_input(rs, (size_t) t);
        b->changed = true;
        return 0;
}

static bool elem_eq(const nftr_elem *x, const nftr_elem *y) {
        const uint32_t kind = NFT_SET_ELEM_INTERVAL_END | NFT_SET_ELEM_CATCHALL;
        return (x->flags & kind) == (y->flags & kind) && x->key.len == y->key.len &&
               !memcmp(x->key.b, y->key.b, x->key.len) && x->key_end.len == y->key_end.len &&
               !memcmp(x->key_end.b, y->key_end.b, x->key_end.len);
}

/* Deleted elements: the message parsed as if it added them to an empty copy of the set, then
 * each found and removed. */
static int elems_del(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, const char *table, nftr_set *set) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *one = NULL;
        _cleanup_(freep) struct nlmsghdr *copy = malloc(nlh->nlmsg_len);
        int r;

        if (!copy)
                return -ENOMEM;
        memcpy(copy, nlh, nlh->nlmsg_len);
        copy->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
        if ((r = nft_ruleset_new(&one)) < 0 || (r = nft_ruleset_add_table(one, family, table, 0, 0)) < 0 ||
            (r = nft_ruleset_add_set(one, family, table, set->name, 0, set->flags, set->key_len, set->data_type,
                                     set->data_len)) < 0 ||
            (r = nft_ruleset_add_nlmsg(one, copy)) < 0)
                return r;
        for (size_t i = 0; i < one->sets[0].n_elems; i++) {
                size_t j = 0;

                while (j < set->n_elems && !elem_eq(&set->elems[j], &one->sets[0].elems[i]))
                        j++;
                if (j == set->n_elems)
                        return -ESTALE;
                nft_ruleset_del_elem(rs, set, j);
        }
        return 0;
}

static int msg_setelem(nft_ruleset *rs, const struct nlmsghdr *nlh, int family, bool del, nft_change_batch *b) {
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX];
        nftr_attr_tab a;
        int t, s, r;

        if (nftr_attrs_msg(nlh, &a) < 0 || nftr_a_str(a.a[NFTA_SET_ELEM_LIST_TABLE], table) < 0 ||
            nftr_a_str(a.a[NFTA_SET_ELEM_LIST_SET], name) < 0)
                return -EBADMSG;
        if ((t = nftr_table_index(rs, family, table)) < 0 || (s = set_index(rs, (size_t) t, name)) < 0)
                return -ESTALE;
        r = del ? elems_del(rs, nlh, family, table, &rs->sets[s]) : nft_ruleset_add_nlmsg(rs, nlh);
        if (r < 0)
                return stale(r);
        b->input |= table_on_input(rs, (size_t) t);
        b->changed = true;
        return 0;
}

int nft_change_apply(nft_ruleset *rs, const struct nlmsghdr *nlh, nft_change_batch *b) {
        int family;

        if (!rs || !nlh || !b || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
            nlh->nlmsg_len > NFTR_MESSAGE_MAX || nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
                return -EBADMSG;
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                return 0;
        family = ((const struct nfgenmsg *) mnl_nlmsg_get_payload(nlh))->nfgen_family;
        switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
        case NFT_MSG_NEWTABLE:
        case NFT_MSG_DELTABLE:
                return msg_table(rs, nlh, family, NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELTABLE, b);
        case NFT_MSG_NEWCHAIN:
        case NFT_MSG_DELCHAIN:
                return msg_chain(rs, nlh, family, NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELCHAIN, b);
        case NFT_MSG_NEWRULE:
        case NFT_MSG_DELRULE:
                return msg_rule(rs, nlh, family, NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELRULE, b);
        case NFT_MSG_NEWSET:
        case NFT_MSG_DELSET:
                return msg_set(rs, nlh, family, NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELSET, b);
        case NFT_MSG_NEWSETELEM:
        case NFT_MSG_DELSETELEM:
                return msg_setelem(rs, nlh, family, NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELSETELEM, b);
        default:
                return 0;
        }
}

int nft_change_finish(nft_ruleset *rs, nft_change_batch *b) {
        bool progress = true;
        int r = 0;

        /* each round places every rule whose predecessor is in place; a chain of them takes as
         * many rounds as it is long */
        while (b->n_wait > 0 && progress) {
                progress = false;
                for (size_t i = 0; i < b->n_wait;) {
                        nft_change_wait *w = &b->wait[i];
                        int t = nftr_table_index(rs, w->family, w->table), from, to;
                        nftr_chain *c = t < 0 ? NULL : (nftr_chain *) nft_ruleset_find_chain(rs, (size_t) t, w->chain);

                        if (!c || (from = rule_index(c, w->handle)) < 0) {
                                r = -ESTALE;
                                goto out;
                        }
                        if (waiting(b, w->family, w->table, w->chain, w->after) || (to = rule_index(c, w->after)) < 0) {
                                i++;
                                continue;
                        }
                        nft_ruleset_move_rule(c, (size_t) from, from > to ? (size_t) to + 1 : (size_t) to);
                        b->wait[i] = b->wait[--b->n_wait];
                        progress = true;
                }
        }
        if (b->n_wait > 0)
                r = -ESTALE;
out:
        nft_change_batch_done(b);
        return r;
}

void nft_change_batch_done(nft_change_batch *b) {
        free(b->wait);
        b->wait = NULL;
        b->n_wait = 0;
}
