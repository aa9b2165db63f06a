/* The nftables ruleset model: builders, the netlink message parser and the dump over a netlink
 * socket, the text form and its hash. See nft_ruleset.h for why the messages are parsed here with
 * libmnl rather than by libnftnl (whose parsers exit() on a malformed attribute). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netns.h"
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

static void expr_done(nftr_expr *x) {
        free(x->chain);
        free(x->set);
        free(x->raw);
}

void nftr_elem_done(nftr_elem *e) {
        free(e->chain);
}

void nftr_rule_done(nftr_rule *r) {
        for (size_t i = 0; i < r->n_exprs; i++)
                expr_done(&r->exprs[i]);
        free(r->exprs);
        free(r->comment);
}

int nft_ruleset_new(nft_ruleset **ret) {
        nft_ruleset *rs = calloc(1, sizeof(*rs));

        if (!rs)
                return -ENOMEM;
        *ret = rs;
        return 0;
}

nft_ruleset *nft_ruleset_free(nft_ruleset *rs) {
        if (!rs)
                return NULL;
        for (size_t i = 0; i < rs->n_tables; i++)
                free(rs->tables[i].name);
        for (size_t i = 0; i < rs->n_chains; i++) {
                nftr_chain *c = &rs->chains[i];
                for (size_t j = 0; j < c->n_rules; j++)
                        nftr_rule_done(&c->rules[j]);
                free(c->rules);
                free(c->name);
                free(c->type);
                free(c->dev);
        }
        for (size_t i = 0; i < rs->n_sets; i++) {
                nftr_set *s = &rs->sets[i];
                for (size_t j = 0; j < s->n_elems; j++)
                        nftr_elem_done(&s->elems[j]);
                free(s->elems);
                free(s->name);
        }
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

static int expr_copy(nftr_expr *dst, const nftr_expr *src) {
        int r;

        if ((unsigned) src->kind >= _NFTR_EXPR_KIND_MAX || src->data.len > NFTR_DATA_MAX ||
            src->data2.len > NFTR_DATA_MAX || src->raw_len > NFTR_OTHER_RAW_MAX ||
            memchr(src->name, 0, sizeof(src->name)) == NULL)
                return -EINVAL;
        *dst = *src;
        dst->chain = dst->set = NULL;
        dst->raw = NULL;
        r = dup_opt(src->chain, &dst->chain);
        if (r < 0)
                return r;
        r = dup_opt(src->set, &dst->set);
        if (r < 0)
                goto fail;
        if (src->raw_len) {
                dst->raw = malloc(src->raw_len);
                if (!dst->raw) {
                        r = -ENOMEM;
                        goto fail;
                }
                memcpy(dst->raw, src->raw, src->raw_len);
        }
        return 0;
fail:
        expr_done(dst);
        return r;
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
                rule.exprs = calloc(n_exprs, sizeof(*rule.exprs));
                if (!rule.exprs)
                        return -ENOMEM;
        }
        for (; rule.n_exprs < n_exprs; rule.n_exprs++) {
                r = expr_copy(&rule.exprs[rule.n_exprs], &exprs[rule.n_exprs]);
                if (r < 0) {
                        nftr_rule_done(&rule);
                        return r;
                }
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

/* The comment in a rule's userdata: TLVs of u8 type, u8 length, value (libnftnl's udata). */
static int udata_comment(const struct nlattr *a, char *buf) {
        const uint8_t *p = mnl_attr_get_payload(a);
        size_t len = mnl_attr_get_payload_len(a);

        buf[0] = 0;
        for (size_t i = 0; i + 2 <= len;) {
                uint8_t type = p[i], l = p[i + 1];
                if (i + 2 + l > len)
                        return -EBADMSG;
                if (type == 0 /* NFTNL_UDATA_RULE_COMMENT */) {
                        size_t n = l;
                        while (n > 0 && p[i + 2 + n - 1] == 0)
                                n--;
                        if (n >= NFTR_NAME_MAX || memchr(p + i + 2, 0, n))
                                return -EBADMSG;
                        memcpy(buf, p + i + 2, n);
                        buf[n] = 0;
                        return 1;
                }
                i += 2u + l;
        }
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

/* ---- netlink attributes ---- */

static int attr_cb(const struct nlattr *attr, void *data) {
        nftr_attr_tab *t = data;
        uint16_t type = mnl_attr_get_type(attr);

        /* Unknown (newer) attributes are skipped, as the kernel's own policy does. */
        if (type <= NFTR_ATTR_MAX)
                t->a[type] = attr;
        return MNL_CB_OK;
}

int nftr_attrs_msg(const struct nlmsghdr *nlh, nftr_attr_tab *t) {
        memset(t, 0, sizeof(*t));
        return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, t) < 0 ? -EBADMSG : 0;
}

int nftr_attrs_nested(const struct nlattr *nest, nftr_attr_tab *t) {
        memset(t, 0, sizeof(*t));
        return mnl_attr_parse_nested(nest, attr_cb, t) < 0 ? -EBADMSG : 0;
}

int nftr_a_u32(const struct nlattr *a, uint32_t *ret) {
        uint32_t v;

        if (mnl_attr_get_payload_len(a) != sizeof(v))
                return -EBADMSG;
        memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
        *ret = be32toh(v);
        return 0;
}

int nftr_a_u32_opt(const struct nlattr *a, uint32_t *ret) {
        if (!a)
                return 0;
        return nftr_a_u32(a, ret);
}

int nftr_a_u64_opt(const struct nlattr *a, uint64_t *ret) {
        uint64_t v;

        if (!a)
                return 0;
        if (mnl_attr_get_payload_len(a) != sizeof(v))
                return -EBADMSG;
        memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
        *ret = be64toh(v);
        return 0;
}

static int a_u8_opt(const struct nlattr *a, uint8_t *ret) {
        if (!a)
                return 0;
        if (mnl_attr_get_payload_len(a) != 1)
                return -EBADMSG;
        *ret = *(const uint8_t *) mnl_attr_get_payload(a);
        return 0;
}

/* A name into buf[NFTR_NAME_MAX]; the kernel NUL-terminates, but nothing here relies on it. */
int nftr_a_str(const struct nlattr *a, char *buf) {
        uint16_t len;
        size_t n;

        if (!a)
                return -EBADMSG;
        len = mnl_attr_get_payload_len(a);
        n = strnlen(mnl_attr_get_payload(a), len);
        if (n == 0 || n >= NFTR_NAME_MAX)
                return -EBADMSG;
        memcpy(buf, mnl_attr_get_payload(a), n);
        buf[n] = 0;
        return 0;
}

/* struct nft_data: NFTA_DATA_VALUE bytes, or NFTA_DATA_VERDICT {code, chain}. */
int nftr_a_data(const struct nlattr *nest, nftr_data *value, bool *ret_is_verdict,
                  int32_t *ret_verdict, char *chain_buf) {
        nftr_attr_tab t;
        int r;

        r = nftr_attrs_nested(nest, &t);
        if (r < 0)
                return r;
        if (t.a[NFTA_DATA_VALUE]) {
                uint16_t len = mnl_attr_get_payload_len(t.a[NFTA_DATA_VALUE]);
                if (len == 0 || len > NFTR_DATA_MAX)
                        return -EBADMSG;
                memset(value, 0, sizeof(*value));
                value->len = (uint8_t) len;
                memcpy(value->b, mnl_attr_get_payload(t.a[NFTA_DATA_VALUE]), len);
                if (ret_is_verdict)
                        *ret_is_verdict = false;
                return 0;
        }
        if (t.a[NFTA_DATA_VERDICT] && ret_is_verdict) {
                nftr_attr_tab v;
                uint32_t code;

                r = nftr_attrs_nested(t.a[NFTA_DATA_VERDICT], &v);
                if (r < 0)
                        return r;
                if (!v.a[NFTA_VERDICT_CODE] || nftr_a_u32(v.a[NFTA_VERDICT_CODE], &code) < 0)
                        return -EBADMSG;
                *ret_verdict = (int32_t) code;
                chain_buf[0] = 0;
                if (v.a[NFTA_VERDICT_CHAIN] && nftr_a_str(v.a[NFTA_VERDICT_CHAIN], chain_buf) < 0)
                        return -EBADMSG;
                if ((*ret_verdict == NFT_JUMP || *ret_verdict == NFT_GOTO) && !chain_buf[0])
                        return -EBADMSG;
                *ret_is_verdict = true;
                return 0;
        }
        return -EBADMSG;
}

static int msg_family(const struct nlmsghdr *nlh) {
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        return g->nfgen_family;
}

/* ---- messages → model ---- */

static int msg_table(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        char name[NFTR_NAME_MAX];
        uint32_t flags = 0;
        uint64_t handle = 0;
        nftr_attr_tab t;

        if (nftr_attrs_msg(nlh, &t) < 0 || nftr_a_str(t.a[NFTA_TABLE_NAME], name) < 0 ||
            nftr_a_u32_opt(t.a[NFTA_TABLE_FLAGS], &flags) < 0 ||
            nftr_a_u64_opt(t.a[NFTA_TABLE_HANDLE], &handle) < 0)
                return -EBADMSG;
        return nft_ruleset_add_table(rs, msg_family(nlh), name, flags, handle);
}

static int msg_chain(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX], type[NFTR_NAME_MAX], dev[NFTR_NAME_MAX];
        nftr_hook hook = {.policy = NF_ACCEPT};
        uint64_t handle = 0;
        nftr_attr_tab t, h;
        uint32_t prio = 0;

        if (nftr_attrs_msg(nlh, &t) < 0 || nftr_a_str(t.a[NFTA_CHAIN_TABLE], table) < 0 ||
            nftr_a_str(t.a[NFTA_CHAIN_NAME], name) < 0 ||
            nftr_a_u64_opt(t.a[NFTA_CHAIN_HANDLE], &handle) < 0)
                return -EBADMSG;
        if (!t.a[NFTA_CHAIN_HOOK])
                return nft_ruleset_add_chain(rs, msg_family(nlh), table, name, handle, NULL);

        if (nftr_attrs_nested(t.a[NFTA_CHAIN_HOOK], &h) < 0 || !h.a[NFTA_HOOK_HOOKNUM] ||
            nftr_a_u32(h.a[NFTA_HOOK_HOOKNUM], &hook.hooknum) < 0 ||
            nftr_a_u32_opt(h.a[NFTA_HOOK_PRIORITY], &prio) < 0 ||
            nftr_a_u32_opt(t.a[NFTA_CHAIN_POLICY], &hook.policy) < 0)
                return -EBADMSG;
        hook.priority = (int32_t) prio;
        if (t.a[NFTA_CHAIN_TYPE]) {
                if (nftr_a_str(t.a[NFTA_CHAIN_TYPE], type) < 0)
                        return -EBADMSG;
                hook.type = type;
        }
        if (h.a[NFTA_HOOK_DEV]) {
                if (nftr_a_str(h.a[NFTA_HOOK_DEV], dev) < 0)
                        return -EBADMSG;
                hook.dev = dev;
        } else if (h.a[NFTA_HOOK_DEVS]) {
                /* Several devices: only a single one is kept; more read as "some device". */
                const struct nlattr *d, *first = NULL;
                unsigned n = 0;
                mnl_attr_for_each_nested(d, h.a[NFTA_HOOK_DEVS]) {
                        if (n++ == 0)
                                first = d;
                }
                if (n == 1) {
                        if (nftr_a_str(first, dev) < 0)
                                return -EBADMSG;
                        hook.dev = dev;
                }
        }
        return nft_ruleset_add_chain(rs, msg_family(nlh), table, name, handle, &hook);
}

/* The expression attributes of one kind, checked and turned into the model's fields. A
 * malformed attribute of a kind we understand fails the message; a kind we don't understand is
 * kept raw. */
static int expr_parse(const struct nlattr *elem, nftr_expr *x, char *buf) {
        nftr_attr_tab e, t;
        const char *name;
        uint16_t n;
        int r;

        memset(x, 0, sizeof(*x));
        x->dir = 0xff;
        if (nftr_attrs_nested(elem, &e) < 0 || !e.a[NFTA_EXPR_NAME])
                return -EBADMSG;
        n = mnl_attr_get_payload_len(e.a[NFTA_EXPR_NAME]);
        name = mnl_attr_get_payload(e.a[NFTA_EXPR_NAME]);
        n = (uint16_t) strnlen(name, n);
        if (n == 0 || n >= sizeof(x->name))
                return -EBADMSG;
        memcpy(x->name, name, n);
        if (e.a[NFTA_EXPR_DATA]) {
                r = nftr_attrs_nested(e.a[NFTA_EXPR_DATA], &t);
                if (r < 0)
                        return r;
        } else
                memset(&t, 0, sizeof(t));

#define U32(attr, field) (t.a[attr] && nftr_a_u32(t.a[attr], &(field)) < 0)
        if (!strcmp(x->name, "meta")) {
                x->kind = NFTR_EXPR_META;
                if (!t.a[NFTA_META_KEY] || U32(NFTA_META_KEY, x->key) || U32(NFTA_META_DREG, x->dreg) ||
                    U32(NFTA_META_SREG, x->sreg))
                        return -EBADMSG;
                x->has_dreg = t.a[NFTA_META_DREG];
        } else if (!strcmp(x->name, "payload") && !t.a[NFTA_PAYLOAD_SREG]) {
                x->kind = NFTR_EXPR_PAYLOAD;
                if (!t.a[NFTA_PAYLOAD_DREG] || U32(NFTA_PAYLOAD_DREG, x->dreg) ||
                    U32(NFTA_PAYLOAD_BASE, x->key) || U32(NFTA_PAYLOAD_OFFSET, x->offset) ||
                    U32(NFTA_PAYLOAD_LEN, x->len))
                        return -EBADMSG;
                x->has_dreg = true;
        } else if (!strcmp(x->name, "cmp")) {
                x->kind = NFTR_EXPR_CMP;
                if (U32(NFTA_CMP_SREG, x->sreg) || U32(NFTA_CMP_OP, x->op) || !t.a[NFTA_CMP_DATA] ||
                    nftr_a_data(t.a[NFTA_CMP_DATA], &x->data, NULL, NULL, NULL) < 0)
                        return -EBADMSG;
        } else if (!strcmp(x->name, "range")) {
                x->kind = NFTR_EXPR_RANGE;
                if (U32(NFTA_RANGE_SREG, x->sreg) || U32(NFTA_RANGE_OP, x->op) ||
                    !t.a[NFTA_RANGE_FROM_DATA] || !t.a[NFTA_RANGE_TO_DATA] ||
                    nftr_a_data(t.a[NFTA_RANGE_FROM_DATA], &x->data, NULL, NULL, NULL) < 0 ||
                    nftr_a_data(t.a[NFTA_RANGE_TO_DATA], &x->data2, NULL, NULL, NULL) < 0)
                        return -EBADMSG;
        } else if (!strcmp(x->name, "bitwise")) {
                uint32_t op = NFT_BITWISE_BOOL;
                if (U32(NFTA_BITWISE_OP, op))
                        return -EBADMSG;
                if (op == NFT_BITWISE_BOOL) {
                        x->kind = NFTR_EXPR_BITWISE;
                        if (U32(NFTA_BITWISE_SREG, x->sreg) || U32(NFTA_BITWISE_DREG, x->dreg) ||
                            U32(NFTA_BITWISE_LEN, x->len) || !t.a[NFTA_BITWISE_MASK] ||
                            !t.a[NFTA_BITWISE_XOR] ||
                            nftr_a_data(t.a[NFTA_BITWISE_MASK], &x->data, NULL, NULL, NULL) < 0 ||
                            nftr_a_data(t.a[NFTA_BITWISE_XOR], &x->data2, NULL, NULL, NULL) < 0)
                                return -EBADMSG;
                        x->has_dreg = true;
                }
        } else if (!strcmp(x->name, "lookup")) {
                x->kind = NFTR_EXPR_LOOKUP;
                if (nftr_a_str(t.a[NFTA_LOOKUP_SET], buf) < 0 || U32(NFTA_LOOKUP_SREG, x->sreg) ||
                    U32(NFTA_LOOKUP_DREG, x->dreg) || U32(NFTA_LOOKUP_FLAGS, x->flags))
                        return -EBADMSG;
                x->has_dreg = t.a[NFTA_LOOKUP_DREG];
                x->set = buf; /* copied by nft_ruleset_add_rule() */
        } else if (!strcmp(x->name, "immediate")) {
                bool is_verdict = false;
                x->kind = NFTR_EXPR_IMMEDIATE;
                if (U32(NFTA_IMMEDIATE_DREG, x->dreg) || !t.a[NFTA_IMMEDIATE_DATA] ||
                    nftr_a_data(t.a[NFTA_IMMEDIATE_DATA], &x->data, &is_verdict, &x->verdict, buf) < 0)
                        return -EBADMSG;
                /* verdicts go to register 0 and only there */
                if (is_verdict != (x->dreg == NFT_REG_VERDICT))
                        return -EBADMSG;
                x->has_dreg = !is_verdict;
                if (is_verdict && buf[0])
                        x->chain = buf;
        } else if (!strcmp(x->name, "ct")) {
                x->kind = NFTR_EXPR_CT;
                if (!t.a[NFTA_CT_KEY] || U32(NFTA_CT_KEY, x->key) || U32(NFTA_CT_DREG, x->dreg) ||
                    U32(NFTA_CT_SREG, x->sreg) || a_u8_opt(t.a[NFTA_CT_DIRECTION], &x->dir) < 0)
                        return -EBADMSG;
                x->has_dreg = t.a[NFTA_CT_DREG];
        } else if (!strcmp(x->name, "fib")) {
                x->kind = NFTR_EXPR_FIB;
                if (U32(NFTA_FIB_DREG, x->dreg) || U32(NFTA_FIB_RESULT, x->key) ||
                    U32(NFTA_FIB_FLAGS, x->flags))
                        return -EBADMSG;
                x->has_dreg = true;
        } else if (!strcmp(x->name, "reject")) {
                uint8_t code = 0;
                x->kind = NFTR_EXPR_REJECT;
                if (U32(NFTA_REJECT_TYPE, x->key) || a_u8_opt(t.a[NFTA_REJECT_ICMP_CODE], &code) < 0)
                        return -EBADMSG;
                x->op = code;
        } else if (!strcmp(x->name, "counter"))
                x->kind = NFTR_EXPR_COUNTER;
        else if (!strcmp(x->name, "notrack"))
                x->kind = NFTR_EXPR_NOTRACK;
        else if (!strcmp(x->name, "log")) {
                x->kind = NFTR_EXPR_LOG;
                if (t.a[NFTA_LOG_PREFIX]) {
                        /* an empty prefix is legal and reads as none */
                        if (mnl_attr_get_payload_len(t.a[NFTA_LOG_PREFIX]) > 0 &&
                            ((const char *) mnl_attr_get_payload(t.a[NFTA_LOG_PREFIX]))[0]) {
                                if (nftr_a_str(t.a[NFTA_LOG_PREFIX], buf) < 0)
                                        return -EBADMSG;
                                x->chain = buf;
                        }
                }
        } else if (!strcmp(x->name, "limit")) {
                x->kind = NFTR_EXPR_LIMIT;
                if (nftr_a_u64_opt(t.a[NFTA_LIMIT_RATE], &x->rate) < 0 ||
                    nftr_a_u64_opt(t.a[NFTA_LIMIT_UNIT], &x->unit) < 0 || U32(NFTA_LIMIT_BURST, x->burst) ||
                    U32(NFTA_LIMIT_TYPE, x->key) || U32(NFTA_LIMIT_FLAGS, x->flags))
                        return -EBADMSG;
        }
#undef U32
        if (x->kind == NFTR_EXPR_OTHER && e.a[NFTA_EXPR_DATA]) {
                /* kept raw so that a change in it still changes the hash */
                x->raw_len = mnl_attr_get_payload_len(e.a[NFTA_EXPR_DATA]);
                if (x->raw_len > NFTR_OTHER_RAW_MAX)
                        x->raw_len = NFTR_OTHER_RAW_MAX;
                x->raw = (uint8_t *) mnl_attr_get_payload(e.a[NFTA_EXPR_DATA]); /* copied by add_rule */
        }
        return 0;
}

/* A rule's expressions as parsed, and the names they point to: one block of the rule's size. */
typedef struct expr_scratch {
        nftr_expr *x;
        char (*buf)[NFTR_NAME_MAX];
} expr_scratch;

static int msg_rule(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        char table[NFTR_NAME_MAX], chain[NFTR_NAME_MAX];
        _cleanup_(freep) expr_scratch *s = NULL;
        const struct nlattr *elem;
        uint64_t handle = 0;
        size_t n = 0;
        nftr_attr_tab t;
        int r;

        if (nftr_attrs_msg(nlh, &t) < 0 || nftr_a_str(t.a[NFTA_RULE_TABLE], table) < 0 ||
            nftr_a_str(t.a[NFTA_RULE_CHAIN], chain) < 0 || nftr_a_u64_opt(t.a[NFTA_RULE_HANDLE], &handle) < 0)
                return -EBADMSG;
        if (t.a[NFTA_RULE_EXPRESSIONS]) {
                size_t count = 0;
                mnl_attr_for_each_nested(elem, t.a[NFTA_RULE_EXPRESSIONS])
                        count++;
                if (count > NFTR_EXPRS_PER_RULE_MAX)
                        return -E2BIG;
                /* as many as the rule has, on the heap: a rule of ten thousand costs no more */
                s = malloc(sizeof(*s) + (count ? count : 1) * (sizeof(nftr_expr) + NFTR_NAME_MAX));
                if (!s)
                        return -ENOMEM;
                s->x = (nftr_expr *) (s + 1);
                s->buf = (char (*)[NFTR_NAME_MAX]) (s->x + (count ? count : 1));
                mnl_attr_for_each_nested(elem, t.a[NFTA_RULE_EXPRESSIONS]) {
                        if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM)
                                return -EBADMSG;
                        if (n >= NFTR_EXPRS_PER_RULE_MAX)
                                return -E2BIG;
                        r = expr_parse(elem, &s->x[n], s->buf[n]);
                        if (r < 0)
                                return r;
                        n++;
                }
        }
        /* The strings in s->x point into s->buf or the message: add_rule copies them. */
        r = nft_ruleset_add_rule(rs, msg_family(nlh), table, chain, handle, s ? s->x : NULL, n);
        if (r >= 0 && t.a[NFTA_RULE_USERDATA]) {
                char comment[NFTR_NAME_MAX];
                int k = udata_comment(t.a[NFTA_RULE_USERDATA], comment);
                if (k < 0)
                        return k;
                if (k > 0)
                        k = nft_ruleset_set_rule_comment(rs, msg_family(nlh), table, chain, (size_t) r, comment);
                if (k < 0)
                        return k;
        }
        return r;
}

static int msg_set(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX];
        uint32_t flags = 0, key_len = 0, data_type = 0, data_len = 0;
        uint64_t handle = 0;
        nftr_attr_tab t;

        if (nftr_attrs_msg(nlh, &t) < 0 || nftr_a_str(t.a[NFTA_SET_TABLE], table) < 0 ||
            nftr_a_str(t.a[NFTA_SET_NAME], name) < 0 || nftr_a_u32_opt(t.a[NFTA_SET_FLAGS], &flags) < 0 ||
            nftr_a_u32_opt(t.a[NFTA_SET_KEY_LEN], &key_len) < 0 ||
            nftr_a_u32_opt(t.a[NFTA_SET_DATA_TYPE], &data_type) < 0 ||
            nftr_a_u32_opt(t.a[NFTA_SET_DATA_LEN], &data_len) < 0 ||
            nftr_a_u64_opt(t.a[NFTA_SET_HANDLE], &handle) < 0)
                return -EBADMSG;
        return nft_ruleset_add_set(rs, msg_family(nlh), table, name, handle, flags, key_len,
                                   data_type, data_len);
}

static int msg_setelem(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        char table[NFTR_NAME_MAX], set[NFTR_NAME_MAX], chain[NFTR_NAME_MAX];
        const struct nlattr *elem;
        nftr_attr_tab t;
        int r;

        if (nftr_attrs_msg(nlh, &t) < 0 || nftr_a_str(t.a[NFTA_SET_ELEM_LIST_TABLE], table) < 0 ||
            nftr_a_str(t.a[NFTA_SET_ELEM_LIST_SET], set) < 0)
                return -EBADMSG;
        if (!t.a[NFTA_SET_ELEM_LIST_ELEMENTS])
                return 0;
        mnl_attr_for_each_nested(elem, t.a[NFTA_SET_ELEM_LIST_ELEMENTS]) {
                nftr_elem e = {};
                nftr_attr_tab a;

                if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM || nftr_attrs_nested(elem, &a) < 0 ||
                    nftr_a_u32_opt(a.a[NFTA_SET_ELEM_FLAGS], &e.flags) < 0)
                        return -EBADMSG;
                if (a.a[NFTA_SET_ELEM_KEY] && nftr_a_data(a.a[NFTA_SET_ELEM_KEY], &e.key, NULL, NULL, NULL) < 0)
                        return -EBADMSG;
                if (!a.a[NFTA_SET_ELEM_KEY] && !(e.flags & NFT_SET_ELEM_CATCHALL))
                        return -EBADMSG;
                if (a.a[NFTA_SET_ELEM_KEY_END] &&
                    nftr_a_data(a.a[NFTA_SET_ELEM_KEY_END], &e.key_end, NULL, NULL, NULL) < 0)
                        return -EBADMSG;
                if (a.a[NFTA_SET_ELEM_DATA]) {
                        chain[0] = 0;
                        if (nftr_a_data(a.a[NFTA_SET_ELEM_DATA], &e.data, &e.has_verdict, &e.verdict,
                                   chain) < 0)
                                return -EBADMSG;
                        if (e.has_verdict && chain[0])
                                e.chain = chain; /* copied by add_elem */
                }
                r = nft_ruleset_add_elem(rs, msg_family(nlh), table, set, &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int msg_gen(const struct nlmsghdr *nlh, uint32_t *ret) {
        nftr_attr_tab t;

        if (nftr_attrs_msg(nlh, &t) < 0 || !t.a[NFTA_GEN_ID] || nftr_a_u32(t.a[NFTA_GEN_ID], ret) < 0)
                return -EBADMSG;
        return 0;
}

int nft_ruleset_add_nlmsg(nft_ruleset *rs, const struct nlmsghdr *nlh) {
        uint32_t gen;
        int r;

        /* libmnl walks the attributes up to the message's *aligned* end: an unaligned length
         * would let the last attribute reach past it. The kernel always pads its messages. */
        if (!rs || !nlh || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
            nlh->nlmsg_len > NFTR_MESSAGE_MAX || nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
                return -EBADMSG;
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                return -EOPNOTSUPP;
        switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
        case NFT_MSG_NEWTABLE:
                return msg_table(rs, nlh);
        case NFT_MSG_NEWCHAIN:
                return msg_chain(rs, nlh);
        case NFT_MSG_NEWRULE:
                return msg_rule(rs, nlh);
        case NFT_MSG_NEWSET:
                return msg_set(rs, nlh);
        case NFT_MSG_NEWSETELEM:
                return msg_setelem(rs, nlh);
        case NFT_MSG_NEWGEN:
                r = msg_gen(nlh, &gen);
                if (r < 0)
                        return r;
                nft_ruleset_set_generation(rs, gen);
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

int nft_ruleset_from_messages(const uint8_t *buf, size_t len, nft_ruleset **ret) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        int r = nft_ruleset_new(&rs);

        if (r < 0)
                return r;
        for (size_t off = 0; off < len;) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) (buf + off);
                if (len - off < sizeof(*nlh) || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
                    nlh->nlmsg_len > len - off || (off % 4) != 0)
                        return -EBADMSG;
                r = nft_ruleset_add_nlmsg(rs, nlh);
                if (r < 0)
                        return r == -EOPNOTSUPP ? -EBADMSG : r;
                off += NLMSG_ALIGN(nlh->nlmsg_len);
        }
        *ret = TAKE_PTR(rs);
        return 0;
}

/* ---- the dump ---- */

static void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                (void) mnl_socket_close(*nl);
}

/* The socket is what binds a netlink conversation to a namespace: made inside it by a
 * throw-away thread (common/netns.h), so this thread never leaves its own. */
static int socket_open(const char *netns, struct mnl_socket **ret) {
        struct mnl_socket *nl;
        int fd, err;

        fd = netns_socket(netns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return fd;
        nl = mnl_socket_fdopen(fd);
        if (!nl) {
                err = errno ? errno : EIO;
                (void) close(fd);
                return -err;
        }
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                err = errno;
                (void) mnl_socket_close(nl);
                return -err;
        }
        *ret = nl;
        return 0;
}

typedef struct dump_ctx {
        nft_ruleset *rs;
        nft_ruleset_msg_fn on_msg;
        void *userdata;
        uint32_t gen;
        bool want_gen;
        int error;
} dump_ctx;

static int dump_cb(const struct nlmsghdr *nlh, void *data) {
        dump_ctx *c = data;
        int r;

        if (c->on_msg)
                c->on_msg(nlh, c->userdata);
        if (c->want_gen) {
                if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN ||
                    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
                    nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
                        r = -EBADMSG;
                else
                        r = msg_gen(nlh, &c->gen);
        } else
                r = nft_ruleset_add_nlmsg(c->rs, nlh);
        if (r < 0) {
                c->error = r;
                return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
}

/* Dumps larger than one buffer come as several datagrams; the kernel fills at most 32 KiB. */
#define DUMP_BUFFER_SIZE (64u * 1024u)

static int request(struct mnl_socket *nl, uint8_t *buf, struct nlmsghdr *nlh, dump_ctx *c) {
        uint32_t portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq;
        ssize_t n;
        int r;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, DUMP_BUFFER_SIZE);
                if (n < 0)
                        return -errno;
                c->error = 0;
                errno = 0;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, dump_cb, c);
                if (r < 0)
                        return c->error ? c->error : -(errno ? errno : EIO);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static int get_gen(struct mnl_socket *nl, uint8_t *buf, uint32_t seq, dump_ctx *c) {
        struct nlmsghdr *nlh;
        uint8_t req[256];

        nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
        c->want_gen = true;
        return request(nl, buf, nlh, c);
}

static int dump_once(struct mnl_socket *nl, uint8_t *buf, uint32_t *seq, dump_ctx *c) {
        static const uint16_t types[] = {NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETSET,
                                         NFT_MSG_GETRULE};
        struct nlmsghdr *nlh;
        uint8_t req[1024];
        int r;

        c->want_gen = false;
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                nlh = nftnl_nlmsg_build_hdr((char *) req, types[i], NFPROTO_UNSPEC,
                                            NLM_F_DUMP | NLM_F_ACK, ++*seq);
                r = request(nl, buf, nlh, c);
                if (r < 0)
                        return r;
        }
        /* Elements come per set; the set list is the model's, so a set created after the set
         * dump is caught by the generation check instead. */
        for (size_t i = 0; i < c->rs->n_sets; i++) {
                const nftr_set *s = &c->rs->sets[i];
                const nftr_table *t = &c->rs->tables[s->table];
                struct nftnl_set *ns = nftnl_set_alloc();

                if (!ns)
                        return -ENOMEM;
                nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETSETELEM, (uint16_t) t->family,
                                            NLM_F_DUMP | NLM_F_ACK, ++*seq);
                if (nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name) < 0 ||
                    nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name) < 0) {
                        nftnl_set_free(ns);
                        return -ENOMEM;
                }
                nftnl_set_elems_nlmsg_build_payload(nlh, ns);
                nftnl_set_free(ns);
                r = request(nl, buf, nlh, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define DUMP_ATTEMPTS 5

int nft_ruleset_socket_open(const char *netns, struct mnl_socket **ret) {
        return socket_open(netns, ret);
}

int nft_ruleset_generation(struct mnl_socket *nl, uint32_t *ret) {
        _cleanup_(freep) uint8_t *buf = malloc(DUMP_BUFFER_SIZE);
        dump_ctx c = {};
        int r;

        if (!buf)
                return -ENOMEM;
        r = get_gen(nl, buf, (uint32_t) time(NULL), &c);
        if (r < 0)
                return r;
        *ret = c.gen;
        return 0;
}

int nft_ruleset_dump_socket(struct mnl_socket *nl, nft_ruleset_msg_fn on_msg, void *userdata, nft_ruleset **ret) {
        _cleanup_(freep) uint8_t *buf = NULL;
        uint32_t seq = (uint32_t) time(NULL);
        int r;

        buf = malloc(DUMP_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        /* Netlink to the kernel answers at once; a dump of a few thousand rules takes
         * milliseconds, so doing it synchronously does not stall the agent's loop. */
        for (unsigned attempt = 0; attempt < DUMP_ATTEMPTS; attempt++) {
                _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
                dump_ctx c = {.on_msg = on_msg, .userdata = userdata};
                uint32_t gen_before;

                r = nft_ruleset_new(&rs);
                if (r < 0)
                        return r;
                c.rs = rs;
                if (attempt > 0 && on_msg)
                        on_msg(NULL, userdata); /* starting over: what came before is void */
                r = get_gen(nl, buf, ++seq, &c);
                if (r < 0)
                        return r;
                gen_before = c.gen;
                r = dump_once(nl, buf, &seq, &c);
                if (r == -EINTR) /* NLM_F_DUMP_INTR: the ruleset changed under the dump */
                        continue;
                if (r < 0)
                        return r;
                r = get_gen(nl, buf, ++seq, &c);
                if (r < 0)
                        return r;
                if (c.gen != gen_before)
                        continue;
                nft_ruleset_set_generation(rs, c.gen);
                *ret = TAKE_PTR(rs);
                return 0;
        }
        return -EAGAIN;
}

int nft_ruleset_dump(const char *netns, nft_ruleset_msg_fn on_msg, void *userdata,
                     nft_ruleset **ret) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        int r;

        r = socket_open(netns, &nl);
        if (r < 0)
                return r;
        return nft_ruleset_dump_socket(nl, on_msg, userdata, ret);
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

/* ---- text form ---- */

static void put_hex(FILE *f, const nftr_data *d) {
        fputs("0x", f);
        for (size_t i = 0; i < d->len; i++)
                fprintf(f, "%02x", d->b[i]);
}

static const char *cmp_op_to_string(uint32_t op) {
        static const char *const names[] = {[NFT_CMP_EQ] = "eq",   [NFT_CMP_NEQ] = "neq",
                                            [NFT_CMP_LT] = "lt",   [NFT_CMP_LTE] = "lte",
                                            [NFT_CMP_GT] = "gt",   [NFT_CMP_GTE] = "gte"};
        return op < ELEMENTSOF(names) && names[op] ? names[op] : "?";
}

static const char *payload_base_to_string(uint32_t base) {
        static const char *const names[] = {"link", "network", "transport", "inner"};
        return base < ELEMENTSOF(names) ? names[base] : "?";
}

static void put_verdict(FILE *f, int32_t verdict, const char *chain) {
        fputs(nft_ruleset_verdict_to_string(verdict), f);
        if (!strcmp(nft_ruleset_verdict_to_string(verdict), "?"))
                fprintf(f, "(%" PRId32 ")", verdict);
        if (chain)
                fprintf(f, " %s", chain);
}

static int elem_format(const nftr_elem *e, char **ret) {
        _cleanup_(freep) char *s = NULL;
        size_t n = 0;
        FILE *f;

        f = open_memstream(&s, &n);
        if (!f)
                return -ENOMEM;
        if (e->flags & NFT_SET_ELEM_CATCHALL)
                fputs("*", f);
        else
                put_hex(f, &e->key);
        if (e->key_end.len) {
                fputs("-", f);
                put_hex(f, &e->key_end);
        }
        if (e->flags & NFT_SET_ELEM_INTERVAL_END)
                fputs(" end", f);
        if (e->has_verdict) {
                fputs(" : ", f);
                put_verdict(f, e->verdict, e->chain);
        } else if (e->data.len) {
                fputs(" : ", f);
                put_hex(f, &e->data);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Elements sorted by their text: the kernel lists hash sets in bucket order, which a reload
 * may change. */
static int put_elems(FILE *f, const nftr_set *s) {
        char **v;
        int r = 0;

        fputs("{", f);
        if (s->n_elems == 0) {
                fputs(" }", f);
                return 0;
        }
        v = calloc(s->n_elems, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_elems && r >= 0; i++)
                r = elem_format(&s->elems[i], &v[i]);
        if (r >= 0) {
                qsort(v, s->n_elems, sizeof(*v), cmp_strp);
                for (size_t i = 0; i < s->n_elems; i++)
                        fprintf(f, "%s %s", i ? "," : "", v[i]);
                fputs(" }", f);
        }
        for (size_t i = 0; i < s->n_elems; i++)
                free(v[i]);
        free(v);
        return r;
}

static void put_set_head(FILE *f, const nftr_set *s) {
        fprintf(f, "flags 0x%" PRIx32 " key_len %" PRIu32, s->flags & ~(uint32_t) NFT_SET_ANONYMOUS,
                s->key_len);
        if (s->flags & NFT_SET_MAP)
                fprintf(f, " data_type 0x%" PRIx32 " data_len %" PRIu32, s->data_type, s->data_len);
}

static int put_expr(FILE *f, const nft_ruleset *rs, size_t table, const nftr_expr *x) {
        switch (x->kind) {
        case NFTR_EXPR_META:
                if (x->has_dreg)
                        fprintf(f, "meta load %s => r%" PRIu32, nft_ruleset_meta_key_to_string(x->key),
                                x->dreg);
                else
                        fprintf(f, "meta set %s r%" PRIu32, nft_ruleset_meta_key_to_string(x->key),
                                x->sreg);
                fprintf(f, " (key %" PRIu32 ")", x->key);
                break;
        case NFTR_EXPR_PAYLOAD:
                fprintf(f, "payload load %" PRIu32 "b @ %s + %" PRIu32 " => r%" PRIu32, x->len,
                        payload_base_to_string(x->key), x->offset, x->dreg);
                break;
        case NFTR_EXPR_CMP:
                fprintf(f, "cmp %s r%" PRIu32 " ", cmp_op_to_string(x->op), x->sreg);
                put_hex(f, &x->data);
                break;
        case NFTR_EXPR_RANGE:
                fprintf(f, "range %s r%" PRIu32 " ", x->op == NFT_RANGE_EQ ? "eq" : "neq", x->sreg);
                put_hex(f, &x->data);
                fputs("-", f);
                put_hex(f, &x->data2);
                break;
        case NFTR_EXPR_BITWISE:
                fprintf(f, "bitwise r%" PRIu32 " = (r%" PRIu32 " & ", x->dreg, x->sreg);
                put_hex(f, &x->data);
                fputs(") ^ ", f);
                put_hex(f, &x->data2);
                fprintf(f, " len %" PRIu32, x->len);
                break;
        case NFTR_EXPR_LOOKUP: {
                const nftr_set *s = nft_ruleset_find_set(rs, table, x->set);
                fprintf(f, "lookup r%" PRIu32 " %s", x->sreg,
                        x->flags & NFT_LOOKUP_F_INV ? "!in " : "in ");
                if (!s)
                        fprintf(f, "@%s (missing)", x->set);
                else if (s->flags & NFT_SET_ANONYMOUS) {
                        /* inline: anonymous set names (__set%d) are allocated on load */
                        put_set_head(f, s);
                        fputs(" ", f);
                        if (put_elems(f, s) < 0)
                                return -ENOMEM;
                } else
                        fprintf(f, "@%s", s->name);
                if (x->has_dreg)
                        fprintf(f, " => r%" PRIu32, x->dreg);
                break;
        }
        case NFTR_EXPR_IMMEDIATE:
                if (x->has_dreg) {
                        fprintf(f, "immediate r%" PRIu32 " ", x->dreg);
                        put_hex(f, &x->data);
                } else {
                        fputs("immediate ", f);
                        put_verdict(f, x->verdict, x->chain);
                }
                break;
        case NFTR_EXPR_CT:
                if (x->has_dreg)
                        fprintf(f, "ct load %s => r%" PRIu32, nft_ruleset_ct_key_to_string(x->key),
                                x->dreg);
                else
                        fprintf(f, "ct set %s r%" PRIu32, nft_ruleset_ct_key_to_string(x->key), x->sreg);
                fprintf(f, " (key %" PRIu32 ")", x->key);
                if (x->dir != 0xff)
                        fprintf(f, " dir %u", x->dir);
                break;
        case NFTR_EXPR_FIB:
                fprintf(f, "fib flags 0x%" PRIx32 " result %" PRIu32 " => r%" PRIu32, x->flags, x->key,
                        x->dreg);
                break;
        case NFTR_EXPR_REJECT:
                fprintf(f, "reject type %" PRIu32 " code %" PRIu32, x->key, x->op);
                break;
        case NFTR_EXPR_COUNTER:
                fputs("counter", f); /* its packet and byte counts change all the time: left out */
                break;
        case NFTR_EXPR_NOTRACK:
                fputs("notrack", f);
                break;
        case NFTR_EXPR_LOG:
                fputs("log", f);
                if (x->chain)
                        fprintf(f, " prefix \"%s\"", x->chain);
                break;
        case NFTR_EXPR_LIMIT:
                fprintf(f, "limit rate %" PRIu64 "/%" PRIu64 "s burst %" PRIu32 " type %" PRIu32
                        " flags 0x%" PRIx32, x->rate, x->unit, x->burst, x->key, x->flags);
                break;
        case NFTR_EXPR_OTHER:
        default:
                fprintf(f, "%s raw ", x->name);
                for (size_t i = 0; i < x->raw_len; i++)
                        fprintf(f, "%02x", x->raw[i]);
                break;
        }
        return 0;
}

/* Sort comparators over index arrays, with the ruleset passed as qsort_r's context. */
static int cmp_table(const void *a, const void *b, void *userdata) {
        const nft_ruleset *rs = userdata;
        const nftr_table *x = &rs->tables[*(const size_t *) a];
        const nftr_table *y = &rs->tables[*(const size_t *) b];
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        return strcmp(x->name, y->name);
}

static int cmp_chain(const void *a, const void *b, void *userdata) {
        const nft_ruleset *rs = userdata;
        return strcmp(rs->chains[*(const size_t *) a].name, rs->chains[*(const size_t *) b].name);
}

static int cmp_set(const void *a, const void *b, void *userdata) {
        const nft_ruleset *rs = userdata;
        return strcmp(rs->sets[*(const size_t *) a].name, rs->sets[*(const size_t *) b].name);
}

static int put_set(FILE *f, const nftr_set *s, bool canonical) {
        int r;

        fprintf(f, "  set %s ", s->name);
        put_set_head(f, s);
        fputs(" ", f);
        r = put_elems(f, s);
        if (r < 0)
                return r;
        if (!canonical)
                fprintf(f, " # handle %" PRIu64, s->handle);
        fputs("\n", f);
        return 0;
}

static int put_chain(FILE *f, const nft_ruleset *rs, const nftr_chain *c, bool canonical) {
        const nftr_table *t = &rs->tables[c->table];
        int r;

        fprintf(f, "  chain %s", c->name);
        if (c->base) {
                fprintf(f, " { type %s hook %s priority %" PRId32 " policy %s",
                        c->type ? c->type : "filter",
                        nft_ruleset_hook_to_string(t->family, c->hooknum), c->priority,
                        nft_ruleset_verdict_to_string((int32_t) c->policy));
                if (c->dev)
                        fprintf(f, " device %s", c->dev);
                fputs(" }", f);
        }
        if (!canonical)
                fprintf(f, " # handle %" PRIu64, c->handle);
        fputs("\n", f);
        for (size_t j = 0; j < c->n_rules; j++) {
                const nftr_rule *rule = &c->rules[j];
                fputs("    rule", f);
                if (!canonical)
                        fprintf(f, " %" PRIu64, rule->handle);
                fputs(":", f);
                for (size_t e = 0; e < rule->n_exprs; e++) {
                        fputs(e ? "; " : " ", f);
                        r = put_expr(f, rs, c->table, &rule->exprs[e]);
                        if (r < 0)
                                return r;
                }
                fputs("\n", f);
        }
        return 0;
}

static int put_table(FILE *f, const nft_ruleset *rs, size_t ti, bool canonical, size_t *idx) {
        const nftr_table *t = &rs->tables[ti];
        size_t n;
        int r;

        fprintf(f, "table %s %s", nft_ruleset_family_to_string(t->family), t->name);
        if (t->flags)
                fprintf(f, " flags 0x%" PRIx32, t->flags);
        if (!canonical)
                fprintf(f, " # handle %" PRIu64, t->handle);
        fputs("\n", f);

        n = 0;
        for (size_t i = 0; i < rs->n_sets; i++)
                if (rs->sets[i].table == ti && !(rs->sets[i].flags & NFT_SET_ANONYMOUS))
                        idx[n++] = i;
        qsort_r(idx, n, sizeof(*idx), cmp_set, (void *) rs);
        for (size_t k = 0; k < n; k++) {
                r = put_set(f, &rs->sets[idx[k]], canonical);
                if (r < 0)
                        return r;
        }

        n = 0;
        for (size_t i = 0; i < rs->n_chains; i++)
                if (rs->chains[i].table == ti)
                        idx[n++] = i;
        qsort_r(idx, n, sizeof(*idx), cmp_chain, (void *) rs);
        for (size_t k = 0; k < n; k++) {
                r = put_chain(f, rs, &rs->chains[idx[k]], canonical);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nft_ruleset_format_object(const nft_ruleset *rs, const nftr_chain *c, const nftr_set *set, char **ret) {
        _cleanup_(freep) char *s = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (!rs || !!c == !!set || !ret)
                return -EINVAL;
        f = open_memstream(&s, &len);
        if (!f)
                return -ENOMEM;
        r = c ? put_chain(f, rs, c, true) : put_set(f, set, true);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int nft_ruleset_format(const nft_ruleset *rs, unsigned flags, char **ret) {
        bool canonical = flags & NFT_RULESET_FORMAT_CANONICAL;
        _cleanup_(freep) size_t *idx = NULL, *tables = NULL;
        _cleanup_(freep) char *s = NULL;
        size_t len = 0, most;
        FILE *f;
        int r = 0;

        if (!rs || !ret)
                return -EINVAL;
        most = rs->n_chains > rs->n_sets ? rs->n_chains : rs->n_sets;
        idx = calloc(most ? most : 1, sizeof(*idx));
        tables = calloc(rs->n_tables ? rs->n_tables : 1, sizeof(*tables));
        if (!idx || !tables)
                return -ENOMEM;
        f = open_memstream(&s, &len);
        if (!f)
                return -ENOMEM;
        if (!canonical && rs->has_generation)
                fprintf(f, "# generation %" PRIu32 "\n", rs->generation);
        for (size_t i = 0; i < rs->n_tables; i++)
                tables[i] = i;
        qsort_r(tables, rs->n_tables, sizeof(*tables), cmp_table, (void *) rs);
        for (size_t i = 0; i < rs->n_tables && r >= 0; i++)
                r = put_table(f, rs, tables[i], canonical, idx);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int nft_ruleset_hash(const nft_ruleset *rs, uint8_t ret[NFT_RULESET_HASH_SIZE]) {
        _cleanup_(freep) char *text = NULL;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        EVP_MD_CTX *ctx;
        int r, ok;

        r = nft_ruleset_format(rs, NFT_RULESET_FORMAT_CANONICAL, &text);
        if (r < 0)
                return r;
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, text, strlen(text)) && EVP_DigestFinal_ex(ctx, md, &md_len);
        EVP_MD_CTX_free(ctx);
        if (!ok || md_len != NFT_RULESET_HASH_SIZE)
                return -EIO;
        memcpy(ret, md, NFT_RULESET_HASH_SIZE);
        return 0;
}

int nft_ruleset_hash_hex(const nft_ruleset *rs, char ret_hex[2 * NFT_RULESET_HASH_SIZE + 1]) {
        uint8_t h[NFT_RULESET_HASH_SIZE];
        int r;

        r = nft_ruleset_hash(rs, h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < NFT_RULESET_HASH_SIZE; i++)
                (void) snprintf(ret_hex + 2 * i, 3, "%02x", h[i]);
        return 0;
}
