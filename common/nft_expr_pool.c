/* See nft_expr_pool.h. A chained hash table of entries; each entry is one allocation holding
 * the expression, its data bytes and its strings. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft_expr_pool.h"

typedef struct pool_entry {
        nftr_expr x; /* first: the pointer handed out is the entry's */
        struct pool_entry *next;
        uint32_t hash;
        uint32_t refs; /* at most one per rule of each model: far below 2^32 */
        /* then the data bytes, data2 bytes, chain and set names and raw bytes of x */
} pool_entry;

static struct {
        pool_entry **buckets;
        size_t n_buckets; /* a power of two, or 0 */
        size_t count, bytes;
} pool;

/* ---- hash and equality over what the model holds ---- */

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t mix(uint64_t h, const void *p, size_t n) {
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * FNV_PRIME;
        return h;
}

static uint64_t mix_str(uint64_t h, const char *s) {
        /* NULL and "" differ: the length byte of NULL is one no string has */
        uint8_t none = 0xff;
        return s ? mix(h, s, strlen(s) + 1) : mix(h, &none, 1);
}

static uint64_t mix_data(uint64_t h, const nftr_bytes *d) {
        h = mix(h, &d->len, 1);
        return d->len ? mix(h, d->b, d->len) : h;
}

static uint64_t expr_hash(const nftr_expr *x) {
        uint64_t h = FNV_OFFSET;
        uint32_t u[] = { (uint32_t) x->kind, x->key, x->op, x->flags, x->offset, x->len, x->sreg, x->dreg,
                         (uint32_t) x->verdict, x->burst, x->has_dreg, x->dir };
        uint64_t q[] = { x->rate, x->unit, x->raw_len };

        h = mix(h, u, sizeof(u));
        h = mix(h, q, sizeof(q));
        h = mix_str(h, x->name);
        h = mix_data(h, &x->data);
        h = mix_data(h, &x->data2);
        h = mix_str(h, x->chain);
        h = mix_str(h, x->set);
        return x->raw_len ? mix(h, x->raw, x->raw_len) : h;
}

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool data_eq(const nftr_bytes *a, const nftr_bytes *b) {
        return a->len == b->len && (a->len == 0 || memcmp(a->b, b->b, a->len) == 0);
}

static bool expr_eq(const nftr_expr *a, const nftr_expr *b) {
        return a->kind == b->kind && strcmp(a->name, b->name) == 0 && a->key == b->key && a->op == b->op &&
               a->flags == b->flags && a->offset == b->offset && a->len == b->len && a->sreg == b->sreg &&
               a->dreg == b->dreg && a->has_dreg == b->has_dreg && a->dir == b->dir && data_eq(&a->data, &b->data) &&
               data_eq(&a->data2, &b->data2) && a->verdict == b->verdict && str_eq(a->chain, b->chain) &&
               str_eq(a->set, b->set) && a->rate == b->rate && a->unit == b->unit && a->burst == b->burst &&
               a->raw_len == b->raw_len && (a->raw_len == 0 || memcmp(a->raw, b->raw, a->raw_len) == 0);
}

/* ---- the table ---- */

static int grow(void) {
        size_t n = pool.n_buckets ? pool.n_buckets * 2 : 256;
        pool_entry **b = calloc(n, sizeof(*b));

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < pool.n_buckets; i++)
                for (pool_entry *e = pool.buckets[i], *next; e; e = next) {
                        next = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        free(pool.buckets);
        pool.bytes += (n - pool.n_buckets) * sizeof(*b);
        pool.buckets = b;
        pool.n_buckets = n;
        return 0;
}

static size_t opt_len(const char *s) {
        return s ? strlen(s) + 1 : 0;
}

static size_t entry_size(const nftr_expr *x) {
        return sizeof(pool_entry) + x->data.len + x->data2.len + opt_len(x->chain) + opt_len(x->set) + x->raw_len;
}

static int entry_new(const nftr_expr *x, uint64_t hash, pool_entry **ret) {
        size_t lc = opt_len(x->chain), ls = opt_len(x->set);
        pool_entry *e = malloc(entry_size(x));
        uint8_t *data;
        char *p;

        if (!e)
                return -ENOMEM;
        *e = (pool_entry){ .x = *x, .hash = (uint32_t) hash, .refs = 1 };
        memset(e->x.name, 0, sizeof(e->x.name));
        memcpy(e->x.name, x->name, strlen(x->name));
        /* b points into the entry even for no bytes: never NULL */
        data = (uint8_t *) (e + 1);
        e->x.data.b = x->data.len ? memcpy(data, x->data.b, x->data.len) : data;
        data += x->data.len;
        e->x.data2.b = x->data2.len ? memcpy(data, x->data2.b, x->data2.len) : data;
        p = (char *) (data + x->data2.len);
        e->x.chain = lc ? memcpy(p, x->chain, lc) : NULL;
        p += lc;
        e->x.set = ls ? memcpy(p, x->set, ls) : NULL;
        p += ls;
        e->x.raw = x->raw_len ? memcpy(p, x->raw, x->raw_len) : NULL;
        *ret = e;
        return 0;
}

int nft_expr_pool_get(const nftr_expr *x, const nftr_expr **ret) {
        pool_entry *e;
        uint64_t h;
        int r;

        if (!x || (unsigned) x->kind >= _NFTR_EXPR_KIND_MAX || x->data.len > NFTR_DATA_MAX ||
            x->data2.len > NFTR_DATA_MAX || (x->data.len && !x->data.b) || (x->data2.len && !x->data2.b) || x->raw_len > NFTR_OTHER_RAW_MAX || (x->raw_len && !x->raw) ||
            memchr(x->name, 0, sizeof(x->name)) == NULL || (x->chain && strnlen(x->chain, NFTR_NAME_MAX) >= NFTR_NAME_MAX) ||
            (x->set && strnlen(x->set, NFTR_NAME_MAX) >= NFTR_NAME_MAX))
                return -EINVAL;
        h = (uint32_t) expr_hash(x);
        for (e = pool.n_buckets ? pool.buckets[h & (pool.n_buckets - 1)] : NULL; e; e = e->next)
                if (e->hash == h && expr_eq(&e->x, x)) {
                        e->refs++;
                        *ret = &e->x;
                        return 0;
                }
        if (pool.count >= pool.n_buckets && (r = grow()) < 0)
                return r;
        if ((r = entry_new(x, h, &e)) < 0)
                return r;
        e->next = pool.buckets[h & (pool.n_buckets - 1)];
        pool.buckets[h & (pool.n_buckets - 1)] = e;
        pool.count++;
        pool.bytes += entry_size(&e->x);
        *ret = &e->x;
        return 0;
}

void nft_expr_pool_put(const nftr_expr *x) {
        pool_entry *e = (pool_entry *) x, **p;

        if (!x || --e->refs > 0)
                return;
        for (p = &pool.buckets[e->hash & (pool.n_buckets - 1)]; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        pool.count--;
        pool.bytes -= entry_size(&e->x);
        free(e);
        if (pool.count == 0) {
                /* nothing left: the table goes too, so an idle process holds nothing */
                free(pool.buckets);
                pool.bytes = 0;
                pool.buckets = NULL;
                pool.n_buckets = 0;
        }
}

/* ---- lists: a rule's expressions, shared by the rules that have the same ones ---- */

typedef struct list_entry {
        struct list_entry *next;
        uint32_t hash; /* low 24 bits: of the pointers; top 8: their number (≤ NFTR_EXPRS_PER_RULE_MAX) */
        uint32_t refs;
        const nftr_expr *x[]; /* what a rule's exprs points to */
} list_entry;

_Static_assert(NFTR_EXPRS_PER_RULE_MAX < 256, "a list's length is kept in 8 bits");

static struct {
        list_entry **buckets;
        size_t n_buckets; /* a power of two, or 0 */
        size_t count, bytes;
} lists;

static uint32_t list_hash(const nftr_expr *const *x, size_t n) {
        return ((uint32_t) mix(FNV_OFFSET, x, n * sizeof(*x)) & 0xffffffu) | (uint32_t) n << 24;
}

static int lists_grow(void) {
        size_t n = lists.n_buckets ? lists.n_buckets * 2 : 256;
        list_entry **b = calloc(n, sizeof(*b));

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < lists.n_buckets; i++)
                for (list_entry *e = lists.buckets[i], *next; e; e = next) {
                        next = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        free(lists.buckets);
        lists.bytes += (n - lists.n_buckets) * sizeof(*b);
        lists.buckets = b;
        lists.n_buckets = n;
        return 0;
}

static void put_all(const nftr_expr *const *x, size_t n) {
        for (size_t i = 0; i < n; i++)
                nft_expr_pool_put(x[i]);
}

int nft_expr_pool_list_get(const nftr_expr *const *x, size_t n, const nftr_expr *const **ret) {
        list_entry *e;
        uint32_t h;

        if (n == 0 || n > NFTR_EXPRS_PER_RULE_MAX) {
                put_all(x, n);
                return -EINVAL;
        }
        h = list_hash(x, n);
        for (e = lists.n_buckets ? lists.buckets[h & (lists.n_buckets - 1)] : NULL; e; e = e->next)
                if (e->hash == h && memcmp(e->x, x, n * sizeof(*x)) == 0) { /* same hash: same number */
                        /* the list holds a reference on each already */
                        put_all(x, n);
                        e->refs++;
                        *ret = e->x;
                        return 0;
                }
        if ((lists.count >= lists.n_buckets && lists_grow() < 0) || !(e = malloc(sizeof(*e) + n * sizeof(*x)))) {
                put_all(x, n);
                return -ENOMEM;
        }
        *e = (list_entry){ .hash = h, .refs = 1 };
        memcpy(e->x, x, n * sizeof(*x));
        e->next = lists.buckets[h & (lists.n_buckets - 1)];
        lists.buckets[h & (lists.n_buckets - 1)] = e;
        lists.count++;
        lists.bytes += sizeof(*e) + n * sizeof(*x);
        *ret = e->x;
        return 0;
}

void nft_expr_pool_list_put(const nftr_expr *const *list) {
        list_entry *e, **p;
        size_t n;

        if (!list)
                return;
        e = (list_entry *) ((const uint8_t *) list - offsetof(list_entry, x));
        n = e->hash >> 24;
        if (--e->refs > 0)
                return;
        for (p = &lists.buckets[e->hash & (lists.n_buckets - 1)]; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        lists.count--;
        lists.bytes -= sizeof(*e) + n * sizeof(e->x[0]);
        put_all(e->x, n);
        free(e);
        if (lists.count == 0) {
                free(lists.buckets);
                lists.bytes = 0;
                lists.buckets = NULL;
                lists.n_buckets = 0;
        }
}

size_t nft_expr_pool_count(void) {
        return pool.count;
}

size_t nft_expr_pool_bytes(void) {
        return pool.bytes + lists.bytes;
}
