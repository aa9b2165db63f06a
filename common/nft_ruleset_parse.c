/* nf_tables netlink messages into the ruleset model: the attribute helpers the model's files
 * share, and one parser per message type. Everything inside a message is checked; nothing is
 * trusted to be NUL-terminated or of the expected size. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "file_read.h"
#include "nft_ruleset.h"
#include "nft_ruleset_private.h"
#include "nftnl_lib.h"

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
static int expr_parse(const struct nlattr *elem, nftr_expr *x, char *buf, nftr_data *d) {
        nftr_attr_tab e, t;
        const char *name;
        uint16_t n;
        int r;

        memset(x, 0, sizeof(*x));
        x->dir = 0xff;
        /* the data is parsed into d[0] and d[1], which x->data and x->data2 point to until
         * nft_ruleset_add_rule() interns a copy */
        d[0].len = d[1].len = 0;
        x->data = nftr_data_bytes(&d[0]);
        x->data2 = nftr_data_bytes(&d[1]);
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
                    nftr_a_data(t.a[NFTA_CMP_DATA], &d[0], NULL, NULL, NULL) < 0)
                        return -EBADMSG;
        } else if (!strcmp(x->name, "range")) {
                x->kind = NFTR_EXPR_RANGE;
                if (U32(NFTA_RANGE_SREG, x->sreg) || U32(NFTA_RANGE_OP, x->op) ||
                    !t.a[NFTA_RANGE_FROM_DATA] || !t.a[NFTA_RANGE_TO_DATA] ||
                    nftr_a_data(t.a[NFTA_RANGE_FROM_DATA], &d[0], NULL, NULL, NULL) < 0 ||
                    nftr_a_data(t.a[NFTA_RANGE_TO_DATA], &d[1], NULL, NULL, NULL) < 0)
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
                            nftr_a_data(t.a[NFTA_BITWISE_MASK], &d[0], NULL, NULL, NULL) < 0 ||
                            nftr_a_data(t.a[NFTA_BITWISE_XOR], &d[1], NULL, NULL, NULL) < 0)
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
                    nftr_a_data(t.a[NFTA_IMMEDIATE_DATA], &d[0], &is_verdict, &x->verdict, buf) < 0)
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
        x->data.len = d[0].len;
        x->data2.len = d[1].len;
        if (x->kind == NFTR_EXPR_OTHER && e.a[NFTA_EXPR_DATA]) {
                /* kept raw so that a change in it still changes the hash */
                uint16_t len = mnl_attr_get_payload_len(e.a[NFTA_EXPR_DATA]);
                x->raw_len = len > NFTR_OTHER_RAW_MAX ? NFTR_OTHER_RAW_MAX : len;
                x->raw = (uint8_t *) mnl_attr_get_payload(e.a[NFTA_EXPR_DATA]); /* copied by add_rule */
        }
        return 0;
}

/* A rule's expressions as parsed, and the names they point to: one block of the rule's size. */
typedef struct expr_scratch {
        nftr_expr *x;
        char (*buf)[NFTR_NAME_MAX];
        nftr_data (*d)[2];
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
                s = malloc(sizeof(*s) + (count ? count : 1) * (sizeof(nftr_expr) + 2 * sizeof(nftr_data) + NFTR_NAME_MAX));
                if (!s)
                        return -ENOMEM;
                s->x = (nftr_expr *) (s + 1);
                s->d = (nftr_data (*)[2]) (s->x + (count ? count : 1));
                s->buf = (char (*)[NFTR_NAME_MAX]) (s->d + (count ? count : 1));
                mnl_attr_for_each_nested(elem, t.a[NFTA_RULE_EXPRESSIONS]) {
                        if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM)
                                return -EBADMSG;
                        if (n >= NFTR_EXPRS_PER_RULE_MAX)
                                return -E2BIG;
                        r = expr_parse(elem, &s->x[n], s->buf[n], s->d[n]);
                        if (r < 0)
                                return r;
                        n++;
                }
        }
        /* The strings and data in s->x point into s->buf, s->d or the message: add_rule copies them. */
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

int nftr_msg_gen(const struct nlmsghdr *nlh, uint32_t *ret) {
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
                r = nftr_msg_gen(nlh, &gen);
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
        int r = nftnl_lib_load();

        if (r >= 0)
                r = nft_ruleset_new(&rs);
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

/* A saved dump read through a buffer this size (grown for a larger message): the model is built
 * as the file is read, never the whole file in memory beside it. */
#define FILE_CHUNK (64u * 1024u)

int nft_ruleset_from_file(const char *path, size_t max, nft_ruleset **ret) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t cap = FILE_CHUNK, have = 0, total = 0;
        struct stat st;
        int r;

        r = nftnl_lib_load(); /* the messages are parsed with libmnl's forwarders */
        if (r < 0)
                return r;
        fd = file_read_open(path, FILE_READ_FOLLOW, &st);
        if (fd < 0)
                return fd;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        if ((r = nft_ruleset_new(&rs)) < 0)
                return r;
        if (!(buf = malloc(cap)))
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + have, cap - have);
                size_t off = 0;

                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if ((total += (size_t) n) > max)
                        return -EFBIG;
                have += (size_t) n;
                /* every whole message in the buffer; the last one of the file may lack its padding */
                while (have - off >= sizeof(struct nlmsghdr)) {
                        const struct nlmsghdr *nlh = (const struct nlmsghdr *) (buf + off);
                        size_t need = NLMSG_ALIGN(nlh->nlmsg_len);

                        if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) || (uint64_t) nlh->nlmsg_len > (uint64_t) st.st_size)
                                return -EBADMSG;
                        if (need > have - off && !(n == 0 && nlh->nlmsg_len <= have - off))
                                break;
                        r = nft_ruleset_add_nlmsg(rs, nlh);
                        if (r < 0)
                                return r == -EOPNOTSUPP ? -EBADMSG : r;
                        off += need < have - off ? need : have - off;
                }
                memmove(buf, buf + off, have - off);
                have -= off;
                if (n == 0) {
                        if (have > 0)
                                return -EBADMSG; /* a message cut short */
                        break;
                }
                if (have == cap) { /* one message larger than the buffer */
                        uint8_t *p;
                        if (cap >= max)
                                return -EFBIG;
                        if (!(p = realloc(buf, cap * 2)))
                                return -ENOMEM;
                        buf = p;
                        cap *= 2;
                }
        }
        *ret = TAKE_PTR(rs);
        return 0;
}
