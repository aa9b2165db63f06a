/* See nft_objects.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "actions/nft_objects.h"
#include "nftnl_lib.h"

#define MSG_ROOM 65536u
#define ANON_NAME "__set%d" /* the kernel allocates the number */

typedef struct msg_ref {
        const struct nlmsghdr *nlh;
        uint8_t type; /* NFT_MSG_NEWTABLE, NEWCHAIN, NEWSET, NEWSETELEM, NEWRULE */
        int family;
        const char *table;
        const char *name; /* the chain (chain, rule) or set (set, elements); NULL for a table */
} msg_ref;

struct nft_msgs {
        msg_ref *v;
        size_t n;
};

static void say(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

nft_msgs *nft_msgs_free(nft_msgs *m) {
        if (m) {
                free(m->v);
                free(m);
        }
        return NULL;
}

static const char *str_attr(const struct nlmsghdr *nlh, uint16_t type) {
        const struct nlattr *a;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == type && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                        return mnl_attr_get_str(a);
        return NULL;
}

int nft_msgs_new(nft_msgs **ret, const uint8_t *buf, size_t len, nft_ruleset **ret_model) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        _cleanup_(nft_msgs_freep) nft_msgs *m = calloc(1, sizeof(*m));
        size_t cap = 0;
        int r;

        if (!m || (ret_model && (r = nft_ruleset_new(&rs)) < 0))
                return -ENOMEM;
        for (size_t off = 0; off < len;) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) (buf + off);
                uint8_t type;
                msg_ref *ref;

                if (len - off < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) + sizeof(struct nfgenmsg) ||
                    nlh->nlmsg_len > len - off || (off % 4) != 0)
                        return -EBADMSG;
                if (ret_model && (r = nft_ruleset_add_nlmsg(rs, nlh)) < 0) /* checks the message whole */
                        return r == -EOPNOTSUPP ? -EBADMSG : r;
                if (!ret_model && NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                        return -EBADMSG;
                off += MNL_ALIGN(nlh->nlmsg_len);
                type = (uint8_t) NFNL_MSG_TYPE(nlh->nlmsg_type);
                if (type == NFT_MSG_NEWGEN)
                        continue;
                if (m->n == cap) {
                        msg_ref *v = reallocarray(m->v, cap ? cap * 2 : 256, sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        m->v = v;
                        cap = cap ? cap * 2 : 256;
                }
                ref = &m->v[m->n++];
                *ref = (msg_ref){ .nlh = nlh, .type = type, .family = ((const struct nfgenmsg *) mnl_nlmsg_get_payload(nlh))->nfgen_family };
                ref->table = str_attr(nlh, 1); /* NFTA_{TABLE_NAME,CHAIN_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE,RULE_TABLE} */
                if (type == NFT_MSG_NEWCHAIN)
                        ref->name = str_attr(nlh, NFTA_CHAIN_NAME);
                else if (type != NFT_MSG_NEWTABLE)
                        ref->name = str_attr(nlh, 2); /* NFTA_RULE_CHAIN, NFTA_SET_NAME, NFTA_SET_ELEM_LIST_SET */
                if (!ref->table || (type != NFT_MSG_NEWTABLE && !ref->name))
                        return -EBADMSG;
        }
        *ret = TAKE_PTR(m);
        if (ret_model)
                *ret_model = TAKE_PTR(rs);
        return 0;
}

/* ---- anonymous sets of a chain ---- */

#define ANON_MAX 1024u

typedef struct anon_map {
        const char *name[ANON_MAX];
        uint32_t id[ANON_MAX];
        size_t n;
} anon_map;

static uint32_t anon_id(const anon_map *a, const char *name) {
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->name[i], name) == 0)
                        return a->id[i];
        return 0;
}

static int anon_collect(const nft_ruleset *model, const nftr_chain *c, anon_map *a, uint32_t *next_id) {
        for (size_t i = 0; i < c->n_rules; i++)
                for (size_t e = 0; e < c->rules[i].n_exprs; e++) {
                        const nftr_expr *x = c->rules[i].exprs[e];
                        const nftr_set *s = x->set ? nft_ruleset_find_set(model, c->table, x->set) : NULL;
                        if (!s || !(s->flags & NFT_SET_ANONYMOUS) || anon_id(a, s->name))
                                continue;
                        if (x->kind != NFTR_EXPR_LOOKUP)
                                return -EOPNOTSUPP;
                        if (a->n >= ANON_MAX)
                                return -E2BIG;
                        a->name[a->n] = s->name;
                        a->id[a->n++] = ++*next_id;
                }
        return 0;
}

/* ---- messages ---- */

static struct nlmsghdr *begin(nft_batch *b, uint8_t type, int family, uint16_t flags, const char *label) {
        struct nlmsghdr *nlh = nft_batch_begin_msg(b, (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type), (uint16_t) family, flags,
                                                   label);
        if (nlh) /* nftnl_nlmsg_build_hdr took the type without the subsystem */
                nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type);
        return nlh;
}

/* A deletion or flush: table, and the chain/set attribute when given. */
static int del(nft_batch *b, uint8_t type, int family, const char *table, uint16_t name_type, const char *name,
               const char *label) {
        struct nlmsghdr *nlh = begin(b, type, family, 0, label);
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, 1, table);
        if (name)
                mnl_attr_put_strz(nlh, name_type, name);
        return nft_batch_end_msg(b, nlh);
}

static bool stripped(const uint16_t *strip, uint16_t t) {
        for (size_t i = 0; strip && strip[i]; i++)
                if (strip[i] == t)
                        return true;
        return false;
}

/* Copy one attribute as it is, nested flag included. */
static bool put_raw(struct nlmsghdr *nlh, const struct nlattr *a) {
        if (!mnl_attr_put_check(nlh, MSG_ROOM, mnl_attr_get_type(a), mnl_attr_get_payload_len(a), mnl_attr_get_payload(a)))
                return false;
        ((struct nlattr *) ((uint8_t *) nlh + nlh->nlmsg_len - MNL_ALIGN(a->nla_len)))->nla_type = a->nla_type;
        return true;
}

/* A rule's expressions, with every lookup of an anonymous set re-pointed at the set created in
 * this batch (by id; the name matches nothing). */
static bool put_exprs(struct nlmsghdr *nlh, const struct nlattr *list, const anon_map *anon) {
        struct nlattr *ln = mnl_attr_nest_start_check(nlh, MSG_ROOM, NFTA_RULE_EXPRESSIONS);
        const struct nlattr *elem;

        if (!ln)
                return false;
        mnl_attr_for_each_nested(elem, list) {
                const struct nlattr *a, *name = NULL;
                struct nlattr *en = mnl_attr_nest_start_check(nlh, MSG_ROOM, NFTA_LIST_ELEM);
                if (!en)
                        return false;
                mnl_attr_for_each_nested(a, elem) {
                        if (mnl_attr_get_type(a) == NFTA_EXPR_NAME)
                                name = a;
                        if (mnl_attr_get_type(a) != NFTA_EXPR_DATA || !name ||
                            mnl_attr_validate(name, MNL_TYPE_NUL_STRING) < 0 || strcmp(mnl_attr_get_str(name), "lookup") != 0) {
                                if (!put_raw(nlh, a))
                                        return false;
                                continue;
                        }
                        struct nlattr *dn = mnl_attr_nest_start_check(nlh, MSG_ROOM, NFTA_EXPR_DATA);
                        const struct nlattr *d;
                        uint32_t id = 0;
                        if (!dn)
                                return false;
                        mnl_attr_for_each_nested(d, a) {
                                if (mnl_attr_get_type(d) == NFTA_LOOKUP_SET && mnl_attr_validate(d, MNL_TYPE_NUL_STRING) == 0 &&
                                    (id = anon_id(anon, mnl_attr_get_str(d)))) {
                                        if (!mnl_attr_put_strz_check(nlh, MSG_ROOM, NFTA_LOOKUP_SET, ANON_NAME) ||
                                            !mnl_attr_put_u32_check(nlh, MSG_ROOM, NFTA_LOOKUP_SET_ID, htonl(id)))
                                                return false;
                                } else if (mnl_attr_get_type(d) != NFTA_LOOKUP_SET_ID && !put_raw(nlh, d))
                                        return false;
                        }
                        mnl_attr_nest_end(nlh, dn);
                }
                mnl_attr_nest_end(nlh, en);
        }
        mnl_attr_nest_end(nlh, ln);
        return true;
}

/* Copy a message of the dump as a request: without the attributes in `strip`, the name attribute
 * `rename` (if not 0) replaced by `to`, one u32 `add` (if not 0, host order) appended, and a
 * rule's expressions re-pointed at the anonymous sets in `anon`. */
static int copy(nft_batch *b, const msg_ref *ref, uint16_t flags, const uint16_t *strip, uint16_t rename, const char *to,
                uint16_t add, uint32_t add_value, const anon_map *anon, const char *label) {
        struct nlmsghdr *nlh = begin(b, ref->type, ref->family, flags, label);
        const struct nlattr *a;

        if (!nlh)
                return -ENOMEM;
        mnl_attr_for_each(a, ref->nlh, sizeof(struct nfgenmsg)) {
                uint16_t t = mnl_attr_get_type(a);
                bool ok;
                if (stripped(strip, t))
                        continue;
                if (rename && t == rename)
                        ok = mnl_attr_put_strz_check(nlh, MSG_ROOM, t, to);
                else if (anon && anon->n && ref->type == NFT_MSG_NEWRULE && t == NFTA_RULE_EXPRESSIONS)
                        ok = put_exprs(nlh, a, anon);
                else
                        ok = put_raw(nlh, a);
                if (!ok)
                        return -E2BIG; /* the batch drops the half-built message at the next begin */
        }
        if (add && !mnl_attr_put_u32_check(nlh, MSG_ROOM, add, htonl(add_value)))
                return -E2BIG;
        return nft_batch_end_msg(b, nlh);
}

static const uint16_t strip_table[] = { NFTA_TABLE_HANDLE, NFTA_TABLE_USE, 0 };
static const uint16_t strip_chain[] = { NFTA_CHAIN_HANDLE, NFTA_CHAIN_USE, NFTA_CHAIN_FLAGS, NFTA_CHAIN_ID, 0 };
/* 19, 20: NFTA_SET_TYPE (the backend) and NFTA_SET_COUNT, which newer kernels put in dumps and
 * reject in requests; named by number for older headers */
static const uint16_t strip_set[] = { NFTA_SET_HANDLE, NFTA_SET_ID, 19, 20, 0 };
static const uint16_t strip_rule[] = { NFTA_RULE_HANDLE, NFTA_RULE_POSITION, NFTA_RULE_ID, 0 };

static bool in_table(const msg_ref *ref, const nft_object *o) {
        return ref->family == o->family && strcmp(ref->table, o->table) == 0;
}

/* Every message of one table, in the order the kernel needs (sets keep their names: the table
 * is new in this batch). */
static int emit_table(const nft_msgs *m, const nft_object *o, nft_batch *b, uint32_t *set_id) {
        static const uint8_t order[] = { NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFT_MSG_NEWRULE };
        char label[600];
        int r = 0;

        for (size_t k = 0; k < ELEMENTSOF(order) && r >= 0; k++)
                for (size_t i = 0; i < m->n && r >= 0; i++) {
                        const msg_ref *ref = &m->v[i];
                        if (ref->type != order[k] || !in_table(ref, o))
                                continue;
                        say(label, sizeof(label), "%s %s %s%s%s",
                            ref->type == NFT_MSG_NEWTABLE   ? "create table"
                            : ref->type == NFT_MSG_NEWCHAIN ? "create chain"
                            : ref->type == NFT_MSG_NEWSET   ? "create set"
                            : ref->type == NFT_MSG_NEWRULE  ? "add rule to"
                                                            : "add elements to",
                            nft_ruleset_family_to_string(ref->family), ref->table, ref->name ? " " : "", ref->name ? ref->name : "");
                        switch (ref->type) {
                        case NFT_MSG_NEWTABLE: r = copy(b, ref, NLM_F_CREATE, strip_table, 0, NULL, 0, 0, NULL, label); break;
                        case NFT_MSG_NEWCHAIN: r = copy(b, ref, NLM_F_CREATE, strip_chain, 0, NULL, 0, 0, NULL, label); break;
                        case NFT_MSG_NEWSET:
                                r = copy(b, ref, NLM_F_CREATE, strip_set, 0, NULL, NFTA_SET_ID, ++*set_id, NULL, label);
                                break;
                        case NFT_MSG_NEWSETELEM: r = copy(b, ref, NLM_F_CREATE, NULL, 0, NULL, 0, 0, NULL, label); break;
                        default: r = copy(b, ref, NLM_F_CREATE | NLM_F_APPEND, strip_rule, 0, NULL, 0, 0, NULL, label); break;
                        }
                }
        return r;
}

static bool same_hook(const nftr_chain *a, const nftr_chain *b) {
        return a->base == b->base &&
               (!a->base || (a->hooknum == b->hooknum && a->priority == b->priority &&
                             strcmp(a->type ? a->type : "filter", b->type ? b->type : "filter") == 0 &&
                             !a->dev == !b->dev && (!a->dev || strcmp(a->dev, b->dev) == 0)));
}

typedef enum phase {
        PHASE_CLEAR,  /* flush chains and sets kept, delete what goes */
        PHASE_CREATE, /* tables whole, chains, sets */
        PHASE_FILL,   /* anonymous sets of chains, elements of sets */
        PHASE_RULES,
        _PHASE_MAX,
} phase;

static int emit_one(const nft_msgs *m, const nft_ruleset *model, const nft_object *o, const nft_ruleset *now, nft_batch *b,
                    phase ph, uint32_t *set_id, anon_map *anon, char *why, size_t why_size) {
        const bool there = nft_diff_find_table(now, o->family, o->table) >= 0;
        const int mt = nft_diff_find_table(model, o->family, o->table);
        const char *fam = nft_ruleset_family_to_string(o->family);
        char label[600];
        int r = 0;

        if (o->kind == NFT_OBJECT_TABLE) {
                say(label, sizeof(label), "delete table %s %s", fam, o->table);
                if (ph == PHASE_CLEAR && there)
                        return del(b, NFT_MSG_DELTABLE, o->family, o->table, 0, NULL, label);
                return ph == PHASE_CREATE && mt >= 0 ? emit_table(m, o, b, set_id) : 0;
        }
        if (!there) {
                say(why, why_size, "%s %s %s: its table is not there", o->kind == NFT_OBJECT_CHAIN ? "chain" : "set", o->table, o->name);
                return -EOPNOTSUPP;
        }
        if (o->kind == NFT_OBJECT_SET) {
                const nftr_set *want = mt >= 0 ? nft_ruleset_find_set(model, (size_t) mt, o->name) : NULL;
                const nftr_set *have = nft_diff_find_set(now, o->family, o->table, o->name);
                for (size_t i = 0; i < m->n && r >= 0 && want; i++) {
                        const msg_ref *ref = &m->v[i];
                        if (!in_table(ref, o) || strcmp(ref->name ? ref->name : "", o->name) != 0)
                                continue;
                        say(label, sizeof(label), "%s set %s %s %s", ref->type == NFT_MSG_NEWSET ? "create" : "fill", fam, o->table,
                            o->name);
                        if (ph == PHASE_CREATE && ref->type == NFT_MSG_NEWSET && !have)
                                r = copy(b, ref, NLM_F_CREATE, strip_set, 0, NULL, NFTA_SET_ID, ++*set_id, NULL, label);
                        else if (ph == PHASE_FILL && ref->type == NFT_MSG_NEWSETELEM)
                                r = copy(b, ref, NLM_F_CREATE, NULL, 0, NULL, 0, 0, NULL, label);
                }
                if (r < 0 || ph != PHASE_CLEAR || !have)
                        return r;
                say(label, sizeof(label), "%s set %s %s %s", want ? "flush" : "delete", fam, o->table, o->name);
                return del(b, want ? NFT_MSG_DELSETELEM : NFT_MSG_DELSET, o->family, o->table,
                           want ? NFTA_SET_ELEM_LIST_SET : NFTA_SET_NAME, o->name, label);
        }

        /* a chain */
        const nftr_chain *want = mt >= 0 ? nft_ruleset_find_chain(model, (size_t) mt, o->name) : NULL;
        const nftr_chain *have = nft_diff_find_chain(now, o->family, o->table, o->name);
        const bool recreate = have && want && !same_hook(have, want);

        if (ph == PHASE_CLEAR) {
                if (!have)
                        return 0;
                if (!want || recreate) {
                        say(label, sizeof(label), "delete chain %s %s %s", fam, o->table, o->name);
                        return del(b, NFT_MSG_DELCHAIN, o->family, o->table, NFTA_CHAIN_NAME, o->name, label);
                }
                say(label, sizeof(label), "flush chain %s %s %s", fam, o->table, o->name);
                return del(b, NFT_MSG_DELRULE, o->family, o->table, NFTA_RULE_CHAIN, o->name, label);
        }
        if (!want)
                return 0;
        if (ph == PHASE_CREATE) {
                anon->n = 0;
                if ((r = anon_collect(model, want, anon, set_id)) < 0) {
                        say(why, why_size, "chain %s %s %s: a rule uses an anonymous set in an expression other than a lookup", fam,
                            o->table, o->name);
                        return r;
                }
        }
        for (size_t i = 0; i < m->n && r >= 0; i++) {
                const msg_ref *ref = &m->v[i];
                uint32_t id;
                if (!in_table(ref, o))
                        continue;
                if (ref->type == NFT_MSG_NEWCHAIN && ph == PHASE_CREATE && strcmp(ref->name, o->name) == 0) {
                        say(label, sizeof(label), "%s chain %s %s %s", have && !recreate ? "update" : "create", fam, o->table, o->name);
                        r = copy(b, ref, NLM_F_CREATE, strip_chain, 0, NULL, 0, 0, NULL, label);
                } else if (ref->type == NFT_MSG_NEWSET && ph == PHASE_FILL && (id = anon_id(anon, ref->name))) {
                        say(label, sizeof(label), "create an anonymous set for chain %s %s %s", fam, o->table, o->name);
                        r = copy(b, ref, NLM_F_CREATE, strip_set, NFTA_SET_NAME, ANON_NAME, NFTA_SET_ID, id, NULL, label);
                } else if (ref->type == NFT_MSG_NEWSETELEM && ph == PHASE_FILL && (id = anon_id(anon, ref->name))) {
                        say(label, sizeof(label), "fill an anonymous set for chain %s %s %s", fam, o->table, o->name);
                        r = copy(b, ref, NLM_F_CREATE, NULL, NFTA_SET_ELEM_LIST_SET, ANON_NAME, NFTA_SET_ELEM_LIST_SET_ID, id, NULL,
                                 label);
                } else if (ref->type == NFT_MSG_NEWRULE && ph == PHASE_RULES && strcmp(ref->name, o->name) == 0) {
                        say(label, sizeof(label), "add rule to chain %s %s %s", fam, o->table, o->name);
                        r = copy(b, ref, NLM_F_CREATE | NLM_F_APPEND, strip_rule, 0, NULL, 0, 0, anon, label);
                }
        }
        return r;
}

int nft_msgs_emit(const nft_msgs *m, const nft_ruleset *model, const nft_object *objs, size_t n, const nft_ruleset *now,
                  nft_batch *b, char *why, size_t why_size) {
        _cleanup_(freep) anon_map *anon = calloc(n ? n : 1, sizeof(*anon));
        uint32_t set_id = 0x4000; /* clear of the ids the nft actions use */
        int r = 0;

        why[0] = 0;
        if (!anon)
                return -ENOMEM;
        for (phase ph = 0; ph < _PHASE_MAX && r >= 0; ph++)
                for (size_t i = 0; i < n && r >= 0; i++)
                        r = emit_one(m, model, &objs[i], now, b, ph, &set_id, &anon[i], why, why_size);
        if (r < 0 && !why[0])
                say(why, why_size, "building the batch: %s", nftnl_lib_strerror(r));
        return r;
}

/* ---- revert material ---- */

static bool belongs(const msg_ref *ref, const nft_ruleset *model, const nft_object *o) {
        const nftr_chain *c;
        const nftr_set *s;
        int t;

        if (!in_table(ref, o))
                return false;
        if (o->kind == NFT_OBJECT_TABLE || ref->type == NFT_MSG_NEWTABLE)
                return true; /* the table's own message: context for a chain or set */
        if (o->kind == NFT_OBJECT_SET)
                return (ref->type == NFT_MSG_NEWSET || ref->type == NFT_MSG_NEWSETELEM) && strcmp(ref->name, o->name) == 0;
        if (ref->type == NFT_MSG_NEWCHAIN || ref->type == NFT_MSG_NEWRULE)
                return strcmp(ref->name, o->name) == 0;
        /* a set: the chain's if an anonymous one its rules read */
        t = nft_diff_find_table(model, o->family, o->table);
        c = t >= 0 ? nft_ruleset_find_chain(model, (size_t) t, o->name) : NULL;
        s = t >= 0 ? nft_ruleset_find_set(model, (size_t) t, ref->name) : NULL;
        if (!c || !s || !(s->flags & NFT_SET_ANONYMOUS))
                return false;
        for (size_t i = 0; i < c->n_rules; i++)
                for (size_t e = 0; e < c->rules[i].n_exprs; e++)
                        if (c->rules[i].exprs[e]->set && strcmp(c->rules[i].exprs[e]->set, s->name) == 0)
                                return true;
        return false;
}

int nft_msgs_write(const nft_msgs *m, const nft_ruleset *model, const nft_object *objs, size_t n, FILE *f) {
        static const uint8_t order[] = { NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFT_MSG_NEWRULE };

        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                for (size_t i = 0; i < m->n; i++) {
                        const msg_ref *ref = &m->v[i];
                        bool in = false;
                        if (ref->type != order[k])
                                continue;
                        for (size_t j = 0; j < n && !in; j++)
                                in = belongs(ref, model, &objs[j]);
                        if (in && fwrite(ref->nlh, 1, MNL_ALIGN(ref->nlh->nlmsg_len), f) != MNL_ALIGN(ref->nlh->nlmsg_len))
                                return -EIO;
                }
        return 0;
}
