/* See nft_diff.h. Objects are compared structurally (field by field, anonymous sets by their
 * contents, elements in any order): as exact as the canonical text, without writing it out for a
 * ruleset of ten thousand rules. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "nft_diff.h"

/* Bounded messages: cut at the buffer's end is intended (and hidden from -Wformat-truncation by
 * going through a va_list). */
static void say(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* ---- lookups ---- */

int nft_diff_find_table(const nft_ruleset *rs, int family, const char *name) {
        for (size_t i = 0; i < rs->n_tables; i++)
                if (rs->tables[i].family == family && strcmp(rs->tables[i].name, name) == 0)
                        return (int) i;
        return -ENOENT;
}

const nftr_chain *nft_diff_find_chain(const nft_ruleset *rs, int family, const char *table, const char *name) {
        int t = nft_diff_find_table(rs, family, table);
        return t < 0 ? NULL : nft_ruleset_find_chain(rs, (size_t) t, name);
}

const nftr_set *nft_diff_find_set(const nft_ruleset *rs, int family, const char *table, const char *name) {
        int t = nft_diff_find_table(rs, family, table);
        return t < 0 ? NULL : nft_ruleset_find_set(rs, (size_t) t, name);
}

const char *nft_object_to_string(const nft_object *o, char *buf, size_t size) {
        static const char *const kinds[] = { "table", "chain", "set" };
        say(buf, size, "%s %s %s%s%s", (unsigned) o->kind < ELEMENTSOF(kinds) ? kinds[o->kind] : "?",
                        nft_ruleset_family_to_string(o->family), o->table, o->name[0] ? " " : "", o->name);
        return buf;
}

static bool object_eq(const nft_object *a, const nft_object *b) {
        return a->kind == b->kind && a->family == b->family && strcmp(a->table, b->table) == 0 &&
               strcmp(a->name, b->name) == 0;
}

static void object_set(nft_object *o, nft_object_kind kind, const nft_ruleset *rs, size_t table, const char *name) {
        *o = (nft_object){ .kind = kind, .family = rs->tables[table].family };
        (void) snprintf(o->table, sizeof(o->table), "%s", rs->tables[table].name);
        (void) snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
}

/* ---- structural equality ---- */

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool data_eq(const nftr_bytes *a, const nftr_bytes *b) {
        return a->len == b->len && (a->len == 0 || memcmp(a->b, b->b, a->len) == 0);
}

static int elem_cmp(const nftr_elem *a, const nftr_elem *b) {
        int c;
        if (a->key.len != b->key.len)
                return a->key.len < b->key.len ? -1 : 1;
        if ((c = memcmp(a->key.b, b->key.b, a->key.len)) != 0)
                return c;
        if (a->key_end.len != b->key_end.len)
                return a->key_end.len < b->key_end.len ? -1 : 1;
        if ((c = memcmp(a->key_end.b, b->key_end.b, a->key_end.len)) != 0)
                return c;
        if (a->flags != b->flags)
                return a->flags < b->flags ? -1 : 1;
        if (a->has_verdict != b->has_verdict || a->verdict != b->verdict)
                return a->verdict < b->verdict || (a->verdict == b->verdict && a->has_verdict < b->has_verdict) ? -1 : 1;
        if (!str_eq(a->chain, b->chain))
                return strcmp(a->chain ? a->chain : "", b->chain ? b->chain : "");
        if (a->data.len != b->data.len)
                return a->data.len < b->data.len ? -1 : 1;
        return memcmp(a->data.b, b->data.b, a->data.len);
}

static int elem_cmp_p(const void *a, const void *b) {
        return elem_cmp(*(const nftr_elem *const *) a, *(const nftr_elem *const *) b);
}

/* Same type and the same elements, in any order (the kernel lists hash sets in bucket order). */
static int set_eq(const nftr_set *a, const nftr_set *b) {
        _cleanup_(freep) const nftr_elem **x = NULL, **y = NULL;
        uint32_t mask = ~(uint32_t) NFT_SET_ANONYMOUS;

        if ((a->flags & mask) != (b->flags & mask) || a->key_len != b->key_len || a->data_type != b->data_type ||
            a->data_len != b->data_len || a->n_elems != b->n_elems)
                return 0;
        if (a->n_elems == 0)
                return 1;
        x = calloc(a->n_elems, sizeof(*x));
        y = calloc(b->n_elems, sizeof(*y));
        if (!x || !y)
                return -ENOMEM;
        for (size_t i = 0; i < a->n_elems; i++) {
                x[i] = &a->elems[i];
                y[i] = &b->elems[i];
        }
        qsort(x, a->n_elems, sizeof(*x), elem_cmp_p);
        qsort(y, b->n_elems, sizeof(*y), elem_cmp_p);
        for (size_t i = 0; i < a->n_elems; i++)
                if (elem_cmp(x[i], y[i]) != 0)
                        return 0;
        return 1;
}

static int expr_eq(const nft_ruleset *ra, const nftr_chain *ca, const nftr_expr *x, const nft_ruleset *rb,
                   const nftr_chain *cb, const nftr_expr *y) {
        /* interned (nft_expr_pool.h): one pointer, one expression — but an anonymous set's name
         * says nothing of what it holds in either model */
        if (x == y && !x->set)
                return 1;
        if (x->kind != y->kind || strcmp(x->name, y->name) != 0 || x->key != y->key || x->op != y->op ||
            x->flags != y->flags || x->offset != y->offset || x->len != y->len || x->sreg != y->sreg ||
            x->dreg != y->dreg || x->has_dreg != y->has_dreg || x->dir != y->dir || !data_eq(&x->data, &y->data) ||
            !data_eq(&x->data2, &y->data2) || x->verdict != y->verdict || !str_eq(x->chain, y->chain) ||
            x->rate != y->rate || x->unit != y->unit || x->burst != y->burst || x->raw_len != y->raw_len ||
            (x->raw_len && memcmp(x->raw, y->raw, x->raw_len) != 0) || !x->set != !y->set)
                return 0;
        if (x->set) {
                const nftr_set *sa = nft_ruleset_find_set(ra, ca->table, x->set);
                const nftr_set *sb = nft_ruleset_find_set(rb, cb->table, y->set);
                bool anon_a = sa && (sa->flags & NFT_SET_ANONYMOUS), anon_b = sb && (sb->flags & NFT_SET_ANONYMOUS);
                /* anonymous sets are named on load: compared by what they hold */
                if (anon_a || anon_b)
                        return anon_a && anon_b ? set_eq(sa, sb) : 0;
                return strcmp(x->set, y->set) == 0;
        }
        return 1;
}

/* 1 if chain a of ra reads exactly as chain b of rb, 0 if not, -ENOMEM. */
static int chain_eq(const nft_ruleset *ra, const nftr_chain *a, const nft_ruleset *rb, const nftr_chain *b) {
        if (a->base != b->base || a->n_rules != b->n_rules)
                return 0;
        if (a->base && (a->hooknum != b->hooknum || a->priority != b->priority || a->policy != b->policy ||
                        !str_eq(a->type, b->type) || !str_eq(a->dev, b->dev)))
                return 0;
        for (size_t i = 0; i < a->n_rules; i++) {
                const nftr_rule *x = &a->rules[i], *y = &b->rules[i];
                if (x->n_exprs != y->n_exprs || !str_eq(x->comment, y->comment))
                        return 0;
                for (size_t e = 0; e < x->n_exprs; e++) {
                        int r = expr_eq(ra, a, x->exprs[e], rb, b, y->exprs[e]);
                        if (r <= 0)
                                return r;
                }
        }
        return 1;
}

/* ---- the overlay: base, with some objects as `other` has them ---- */

typedef struct overlay {
        nft_ruleset rs;         /* arrays of its own; what they point to belongs to base or other */
        bool *chain_from_other; /* per chain of rs */
} overlay;

static void overlay_done(overlay *o) {
        free(o->rs.tables);
        free(o->rs.chains);
        free(o->rs.sets);
        free(o->chain_from_other);
        *o = (overlay){};
}

static const nft_object *listed(const nft_object *objs, size_t n, nft_object_kind kind, const nft_ruleset *rs, size_t table,
                                const char *name) {
        const nftr_table *t = &rs->tables[table];
        for (size_t i = 0; i < n; i++)
                if (objs[i].kind == kind && objs[i].family == t->family && strcmp(objs[i].table, t->name) == 0 &&
                    (kind == NFT_OBJECT_TABLE || strcmp(objs[i].name, name) == 0))
                        return &objs[i];
        return NULL;
}

static void add_chain(overlay *o, const nftr_chain *c, size_t table, bool from_other) {
        o->rs.chains[o->rs.n_chains] = *c;
        o->rs.chains[o->rs.n_chains].table = table;
        o->chain_from_other[o->rs.n_chains++] = from_other;
}

static void add_set(overlay *o, const nftr_set *s, size_t table) {
        o->rs.sets[o->rs.n_sets] = *s;
        o->rs.sets[o->rs.n_sets++].table = table;
}

/* The anonymous sets the rules of `c` (in other) read: added after every other set, so a name
 * the base uses too finds these first when the overlay's chain is evaluated. */
static void add_anon_sets(overlay *o, const nft_ruleset *other, const nftr_chain *c, size_t table) {
        for (size_t i = 0; i < c->n_rules; i++)
                for (size_t e = 0; e < c->rules[i].n_exprs; e++) {
                        const nftr_set *s = nft_ruleset_find_set(other, c->table, c->rules[i].exprs[e]->set);
                        if (s && (s->flags & NFT_SET_ANONYMOUS))
                                add_set(o, s, table);
                }
}

static size_t anon_refs(const nftr_chain *c) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_rules; i++)
                for (size_t e = 0; e < c->rules[i].n_exprs; e++)
                        n += c->rules[i].exprs[e]->set != NULL;
        return n;
}

static int overlay_build(overlay *o, const nft_ruleset *base, const nft_ruleset *other, const nft_object *objs, size_t n) {
        size_t max_t = base->n_tables + n, max_c = base->n_chains, max_s = base->n_sets;

        *o = (overlay){};
        for (size_t i = 0; i < n; i++) {
                int t = nft_diff_find_table(other, objs[i].family, objs[i].table);
                if (t < 0)
                        continue;
                for (size_t c = 0; c < other->n_chains; c++)
                        if (other->chains[c].table == (size_t) t) {
                                max_c++;
                                max_s += anon_refs(&other->chains[c]);
                        }
                for (size_t s = 0; s < other->n_sets; s++)
                        max_s += other->sets[s].table == (size_t) t;
        }
        o->rs.tables = calloc(max_t ? max_t : 1, sizeof(*o->rs.tables));
        o->rs.chains = calloc(max_c ? max_c : 1, sizeof(*o->rs.chains));
        o->rs.sets = calloc(max_s ? max_s : 1, sizeof(*o->rs.sets));
        o->chain_from_other = calloc(max_c ? max_c : 1, sizeof(*o->chain_from_other));
        if (!o->rs.tables || !o->rs.chains || !o->rs.sets || !o->chain_from_other) {
                overlay_done(o);
                return -ENOMEM;
        }
        o->rs.generation = base->generation;
        o->rs.has_generation = base->has_generation;
        if (base->n_tables)
                memcpy(o->rs.tables, base->tables, base->n_tables * sizeof(*base->tables));
        o->rs.n_tables = base->n_tables;
        for (size_t i = 0; i < base->n_tables; i++)
                if (listed(objs, n, NFT_OBJECT_TABLE, base, i, NULL))
                        o->rs.tables[i].flags |= NFT_TABLE_F_DORMANT; /* as good as gone: no packet sees it */
        for (size_t i = 0; i < base->n_chains; i++)
                if (!listed(objs, n, NFT_OBJECT_CHAIN, base, base->chains[i].table, base->chains[i].name))
                        add_chain(o, &base->chains[i], base->chains[i].table, false);
        for (size_t i = 0; i < base->n_sets; i++)
                if (!listed(objs, n, NFT_OBJECT_SET, base, base->sets[i].table, base->sets[i].name))
                        add_set(o, &base->sets[i], base->sets[i].table);

        for (size_t i = 0; i < n; i++) {
                const nft_object *ob = &objs[i];
                int ot = nft_diff_find_table(other, ob->family, ob->table), bt;
                if (ot < 0)
                        continue; /* absent in other: absent in the overlay */
                if (ob->kind == NFT_OBJECT_TABLE) {
                        size_t nt = o->rs.n_tables++;
                        o->rs.tables[nt] = other->tables[ot];
                        for (size_t s = 0; s < other->n_sets; s++)
                                if (other->sets[s].table == (size_t) ot)
                                        add_set(o, &other->sets[s], nt);
                        for (size_t c = 0; c < other->n_chains; c++)
                                if (other->chains[c].table == (size_t) ot)
                                        add_chain(o, &other->chains[c], nt, true);
                        continue;
                }
                bt = nft_diff_find_table(base, ob->family, ob->table);
                if (bt < 0)
                        continue; /* its table is not there: only the table as an object brings it */
                if (ob->kind == NFT_OBJECT_CHAIN) {
                        const nftr_chain *c = nft_ruleset_find_chain(other, (size_t) ot, ob->name);
                        if (c) {
                                add_chain(o, c, (size_t) bt, true);
                                add_anon_sets(o, other, c, (size_t) bt);
                        }
                } else {
                        const nftr_set *s = nft_ruleset_find_set(other, (size_t) ot, ob->name);
                        if (s)
                                add_set(o, s, (size_t) bt);
                }
        }
        return 0;
}

/* ---- judging ---- */

#define FAMILIES 2

static bool probe_wanted(const nft_diff_probes *p, size_t fam, int probe) {
        return (fam == 0 || p->ipv6) && (probe != NFT_VERDICT_PROBE_ESP || p->esp);
}

static int eval_one(const nft_ruleset *rs, size_t fam, int probe, nft_verdict_result *res) {
        nft_verdict_packet pkt;
        nft_verdict_packet_for((nft_verdict_probe) probe, fam ? NFPROTO_IPV6 : NFPROTO_IPV4, &pkt);
        return nft_verdict_eval(rs, &pkt, res);
}

int nft_diff_accepts_of(const nft_ruleset *want, const nft_diff_probes *p, nft_diff_accepts *ret) {
        _cleanup_(freep) nft_verdict_result *res = malloc(sizeof(*res));
        nft_diff_accepts a = { .probes = *p };

        if (!res)
                return -ENOMEM;
        for (size_t f = 0; f < FAMILIES; f++)
                for (int k = 0; k < _NFT_VERDICT_PROBE_MAX; k++) {
                        a.ok[f][k] = probe_wanted(p, f, k);
                        if (!a.ok[f][k] || !want)
                                continue;
                        int r = eval_one(want, f, k, res);
                        if (r < 0)
                                return r;
                        a.ok[f][k] = res->verdict == NFT_VERDICT_ACCEPT;
                }
        *ret = a;
        return 0;
}

static void describe(char *buf, size_t size, size_t fam, int probe, const nft_verdict_result *res) {
        say(buf, size, "%s%s %s: %s", nft_verdict_probe_to_string((nft_verdict_probe) probe),
                        fam ? " (IPv6)" : "", nft_verdict_kind_to_string(res->verdict), res->why);
}

int nft_diff_passes(const nft_ruleset *base, const nft_ruleset *other, const nft_object *objs, size_t n,
                    const nft_ruleset *want, const nft_diff_probes *probes, char *why, size_t why_size) {
        nft_diff_accepts a;
        int r = nft_diff_accepts_of(want, probes, &a);

        return r < 0 ? r : nft_diff_passes_for(base, other, objs, n, &a, why, why_size);
}

int nft_diff_passes_for(const nft_ruleset *base, const nft_ruleset *other, const nft_object *objs, size_t n,
                        const nft_diff_accepts *accepts, char *why, size_t why_size) {
        _cleanup_(freep) nft_verdict_result *res = malloc(sizeof(*res));
        const bool (*ok)[_NFT_VERDICT_PROBE_MAX] = accepts->ok;
        overlay o;
        int r;

        if (!res)
                return -ENOMEM;
        if ((r = overlay_build(&o, base, other, objs, n)) < 0)
                return r;
        r = 1;
        for (size_t f = 0; f < FAMILIES && r == 1; f++)
                for (int k = 0; k < _NFT_VERDICT_PROBE_MAX && r == 1; k++) {
                        if (!ok[f][k])
                                continue;
                        int e = eval_one(&o.rs, f, k, res);
                        if (e < 0)
                                r = e;
                        else if (res->verdict != NFT_VERDICT_ACCEPT) {
                                describe(why, why_size, f, k, res);
                                r = 0;
                        }
                }
        overlay_done(&o);
        return r;
}

/* The named sets a rule reads that differ between now and good: the first one, as an object. */
static int rule_set_changed(const nft_ruleset *ov, const nftr_chain *c, uint64_t handle, const nft_ruleset *now,
                            const nft_ruleset *good, nft_object *ret) {
        for (size_t i = 0; i < c->n_rules; i++) {
                if (c->rules[i].handle != handle)
                        continue;
                for (size_t e = 0; e < c->rules[i].n_exprs; e++) {
                        const nftr_expr *x = c->rules[i].exprs[e];
                        const nftr_table *t = &ov->tables[c->table];
                        const nftr_set *sn, *sg;
                        int r;
                        if (!x->set)
                                continue;
                        sn = nft_diff_find_set(now, t->family, t->name, x->set);
                        sg = nft_diff_find_set(good, t->family, t->name, x->set);
                        if (!sn || !sg || (sn->flags & NFT_SET_ANONYMOUS))
                                continue;
                        if ((r = set_eq(sn, sg)) < 0)
                                return r;
                        if (r == 0) {
                                object_set(ret, NFT_OBJECT_SET, ov, c->table, x->set);
                                return 1;
                        }
                }
        }
        return 0;
}

/* The object of `now` behind a packet's non-accept in the overlay. 1 found, 0 not (err). */
static int attribute(const overlay *o, const nft_verdict_result *res, const nft_ruleset *now, const nft_ruleset *good,
                     nft_object *ret, char *err, size_t err_size) {
        const nftr_chain *c = res->rule_chain ? res->rule_chain : res->chain, *base = res->chain;
        const nftr_table *t;
        const nftr_chain *cg, *bg;
        int r;

        if (!c) {
                say(err, err_size, "%s", res->why);
                return 0;
        }
        t = &o->rs.tables[c->table];
        if (o->chain_from_other[c - o->rs.chains]) {
                /* a chain already as it was: a set it reads must have changed */
                if (res->rule_chain && (r = rule_set_changed(&o->rs, c, res->rule_handle, now, good, ret)) != 0)
                        return r;
                say(err, err_size, "%s, in chain %s as it was when last good", res->why, c->name);
                return 0;
        }
        if (nft_diff_find_table(good, t->family, t->name) < 0) {
                object_set(ret, NFT_OBJECT_TABLE, &o->rs, c->table, NULL);
                return 1;
        }
        cg = nft_diff_find_chain(good, t->family, t->name, c->name);
        bg = base ? nft_diff_find_chain(good, t->family, t->name, base->name) : NULL;
        if (!cg && c->base) {
                object_set(ret, NFT_OBJECT_CHAIN, &o->rs, c->table, c->name);
                return 1;
        }
        if (cg && (r = chain_eq(now, c, good, cg)) <= 0) {
                if (r < 0)
                        return r;
                object_set(ret, NFT_OBJECT_CHAIN, &o->rs, c->table, c->name);
                return 1;
        }
        if (cg && res->rule_chain && (r = rule_set_changed(&o->rs, c, res->rule_handle, now, good, ret)) != 0)
                return r;
        /* a regular chain that is new or unchanged, reached from a base chain that changed */
        if (base && base != c && !o->chain_from_other[base - o->rs.chains] &&
            &o->rs.tables[base->table] == t && (!bg || (r = chain_eq(now, base, good, bg)) == 0)) {
                object_set(ret, NFT_OBJECT_CHAIN, &o->rs, base->table, base->name);
                return 1;
        }
        say(err, err_size, "%s, in %s %s %s, unchanged since last good", res->why,
                        nft_ruleset_family_to_string(t->family), t->name, c->name);
        return 0;
}

/* A chain put back may jump to chains now lacks: they come back first. */
static int add_with_deps(nft_object *objs, size_t *n, char (*why)[NFT_VERDICT_WHY_MAX], const nft_object *ob,
                         const char *reason, const nft_ruleset *now, const nft_ruleset *good, unsigned depth) {
        const nftr_chain *cg;

        for (size_t i = 0; i < *n; i++)
                if (object_eq(&objs[i], ob))
                        return 0;
        if (ob->kind == NFT_OBJECT_CHAIN && depth < 16 &&
            (cg = nft_diff_find_chain(good, ob->family, ob->table, ob->name)) && nft_diff_find_table(now, ob->family, ob->table) >= 0)
                for (size_t i = 0; i < cg->n_rules; i++)
                        for (size_t e = 0; e < cg->rules[i].n_exprs; e++) {
                                const nftr_expr *x = cg->rules[i].exprs[e];
                                nft_object dep;
                                int r;
                                if (x->kind != NFTR_EXPR_IMMEDIATE || x->has_dreg || !x->chain ||
                                    nft_diff_find_chain(now, ob->family, ob->table, x->chain))
                                        continue;
                                object_set(&dep, NFT_OBJECT_CHAIN, good, cg->table, x->chain);
                                if ((r = add_with_deps(objs, n, why, &dep, "a chain it jumps to", now, good, depth + 1)) < 0)
                                        return r;
                        }
        if (*n >= NFT_DIFF_OBJECTS_MAX)
                return -E2BIG;
        objs[*n] = *ob;
        if (why)
                say(why[*n], NFT_VERDICT_WHY_MAX, "%s", reason);
        (*n)++;
        return 1;
}

int nft_diff_broken(const nft_ruleset *now, const nft_ruleset *good, const nft_diff_probes *probes, nft_object *ret,
                    size_t *ret_n, char (*why)[NFT_VERDICT_WHY_MAX], char *err, size_t err_size) {
        nft_diff_accepts a;
        int r;

        *ret_n = 0;
        err[0] = 0;
        if ((r = nft_diff_accepts_of(good, probes, &a)) < 0)
                return r;
        return nft_diff_broken_for(now, good, &a, ret, ret_n, why, err, err_size);
}

int nft_diff_broken_for(const nft_ruleset *now, const nft_ruleset *good, const nft_diff_accepts *accepts, nft_object *ret,
                        size_t *ret_n, char (*why)[NFT_VERDICT_WHY_MAX], char *err, size_t err_size) {
        _cleanup_(freep) nft_verdict_result *res = malloc(sizeof(*res));
        const bool (*ok)[_NFT_VERDICT_PROBE_MAX] = accepts->ok;
        char reason[NFT_VERDICT_WHY_MAX];
        size_t n = 0;
        int r;

        *ret_n = 0;
        err[0] = 0;
        if (!res)
                return -ENOMEM;
        for (unsigned round = 0; round < 2 * NFT_DIFF_OBJECTS_MAX; round++) {
                bool broken = false;
                nft_object ob;
                overlay o;
                int got = 0;

                if ((r = overlay_build(&o, now, good, ret, n)) < 0)
                        return r;
                for (size_t f = 0; f < FAMILIES && !broken && r >= 0; f++)
                        for (int k = 0; k < _NFT_VERDICT_PROBE_MAX && !broken && r >= 0; k++) {
                                if (!ok[f][k])
                                        continue;
                                if ((r = eval_one(&o.rs, f, k, res)) < 0 || res->verdict == NFT_VERDICT_ACCEPT)
                                        continue;
                                broken = true;
                                describe(reason, sizeof(reason), f, k, res);
                                got = attribute(&o, res, now, good, &ob, err, err_size);
                        }
                overlay_done(&o);
                *ret_n = n;
                if (r < 0 || got < 0)
                        return r < 0 ? r : got;
                if (!broken)
                        return 0;
                if (got == 0)
                        return -ESRCH;
                r = add_with_deps(ret, &n, why, &ob, reason, now, good, 0);
                *ret_n = n;
                if (r < 0)
                        return r;
                if (r == 0) {
                        say(err, err_size, "%s: still so with it as it was", reason);
                        return -ESRCH;
                }
        }
        *ret_n = n;
        say(err, err_size, "more than %u objects involved", NFT_DIFF_OBJECTS_MAX);
        return -ESRCH;
}

/* ---- drift ---- */

typedef struct lines {
        FILE *f;
        size_t count, max;
} lines;

static void line(lines *l, const char *kind, const nft_ruleset *rs, size_t table, const char *name, const char *what) {
        if (l->count++ >= l->max)
                return;
        fprintf(l->f, "%s%s %s %s%s%s: %s", l->count > 1 ? "; " : "", kind,
                nft_ruleset_family_to_string(rs->tables[table].family), rs->tables[table].name, name ? " " : "",
                name ? name : "", what);
}

int nft_diff_drift(const nft_ruleset *now, const nft_ruleset *good, const nft_object *skip, size_t n_skip, size_t max,
                   char **ret_text, size_t *ret_count) {
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        lines l = { .max = max };
        int r = 0;

        if (!(l.f = open_memstream(&text, &len)))
                return -ENOMEM;
        for (size_t t = 0; t < now->n_tables; t++) {
                const nftr_table *tn = &now->tables[t];
                int tg = nft_diff_find_table(good, tn->family, tn->name);
                if (listed(skip, n_skip, NFT_OBJECT_TABLE, now, t, NULL))
                        continue;
                if (tg < 0) {
                        line(&l, "table", now, t, NULL, "new");
                        continue;
                }
                if (tn->flags != good->tables[tg].flags)
                        line(&l, "table", now, t, NULL, "flags changed");
                for (size_t c = 0; c < now->n_chains && r >= 0; c++) {
                        const nftr_chain *cn = &now->chains[c], *cg;
                        if (cn->table != t || listed(skip, n_skip, NFT_OBJECT_CHAIN, now, t, cn->name))
                                continue;
                        cg = nft_ruleset_find_chain(good, (size_t) tg, cn->name);
                        if (!cg)
                                line(&l, "chain", now, t, cn->name, "new");
                        else if ((r = chain_eq(now, cn, good, cg)) == 0)
                                line(&l, "chain", now, t, cn->name, "changed");
                }
                for (size_t c = 0; c < good->n_chains; c++)
                        if (good->chains[c].table == (size_t) tg && !nft_ruleset_find_chain(now, t, good->chains[c].name) &&
                            !listed(skip, n_skip, NFT_OBJECT_CHAIN, good, (size_t) tg, good->chains[c].name))
                                line(&l, "chain", good, (size_t) tg, good->chains[c].name, "gone");
                for (size_t s = 0; s < now->n_sets && r >= 0; s++) {
                        const nftr_set *sn = &now->sets[s], *sg;
                        if (sn->table != t || (sn->flags & NFT_SET_ANONYMOUS) ||
                            listed(skip, n_skip, NFT_OBJECT_SET, now, t, sn->name))
                                continue;
                        sg = nft_ruleset_find_set(good, (size_t) tg, sn->name);
                        if (!sg)
                                line(&l, "set", now, t, sn->name, "new");
                        else if ((r = set_eq(sn, sg)) == 0)
                                line(&l, "set", now, t, sn->name, "changed");
                }
        }
        for (size_t t = 0; t < good->n_tables; t++)
                if (nft_diff_find_table(now, good->tables[t].family, good->tables[t].name) < 0 &&
                    !listed(skip, n_skip, NFT_OBJECT_TABLE, good, t, NULL))
                        line(&l, "table", good, t, NULL, "gone");
        if (l.count > l.max)
                fprintf(l.f, "; … and %zu more", l.count - l.max);
        if (fclose(l.f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret_count = l.count;
        *ret_text = TAKE_PTR(text);
        return 0;
}

/* ---- object state ---- */

int nft_diff_object_state(const nft_ruleset *rs, const nft_object *o, char ret[2 * NFT_RULESET_HASH_SIZE + 1]) {
        _cleanup_(freep) char *text = NULL;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        int t = nft_diff_find_table(rs, o->family, o->table), r = 0;
        const nftr_chain *c = NULL;
        const nftr_set *s = NULL;

        if (t >= 0 && o->kind == NFT_OBJECT_CHAIN)
                c = nft_ruleset_find_chain(rs, (size_t) t, o->name);
        else if (t >= 0 && o->kind == NFT_OBJECT_SET)
                s = nft_ruleset_find_set(rs, (size_t) t, o->name);
        if (t < 0 || (o->kind == NFT_OBJECT_CHAIN && !c) || (o->kind == NFT_OBJECT_SET && !s)) {
                (void) snprintf(ret, 2 * NFT_RULESET_HASH_SIZE + 1, "absent");
                return 0;
        }
        if (o->kind == NFT_OBJECT_TABLE) {
                /* the table's every chain and set, in a fixed order */
                _cleanup_(freep) char *all = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&all, &len);
                if (!f)
                        return -ENOMEM;
                fprintf(f, "flags %u\n", rs->tables[t].flags);
                for (size_t i = 0; i < rs->n_sets && r >= 0; i++)
                        if (rs->sets[i].table == (size_t) t && !(rs->sets[i].flags & NFT_SET_ANONYMOUS)) {
                                _cleanup_(freep) char *one = NULL;
                                if ((r = nft_ruleset_format_object(rs, NULL, &rs->sets[i], &one)) >= 0)
                                        fputs(one, f);
                        }
                for (size_t i = 0; i < rs->n_chains && r >= 0; i++)
                        if (rs->chains[i].table == (size_t) t) {
                                _cleanup_(freep) char *one = NULL;
                                if ((r = nft_ruleset_format_object(rs, &rs->chains[i], NULL, &one)) >= 0)
                                        fputs(one, f);
                        }
                if (fclose(f) != 0 && r >= 0)
                        r = -ENOMEM;
                text = TAKE_PTR(all);
        } else
                r = nft_ruleset_format_object(rs, c, s, &text);
        if (r < 0)
                return r;
        if (!EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL) || md_len != NFT_RULESET_HASH_SIZE)
                return -EIO;
        hex_encode(md, NFT_RULESET_HASH_SIZE, ret);
        return 0;
}
