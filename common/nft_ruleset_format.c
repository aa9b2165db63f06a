/* The text form of the ruleset model (sorted, anonymous sets inline; CANONICAL without what a
 * reload changes) and its SHA-256. */
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
#include <openssl/evp.h>

#include "hex.h"
#include "nft_ruleset.h"
#include "nft_ruleset_private.h"

/* ---- text form ---- */

static void put_bytes(FILE *f, nftr_bytes d) {
        char hex[2 * NFTR_DATA_MAX + 1];

        fputs("0x", f);
        fputs(hex_encode(d.b, d.len, hex), f);
}

static void put_hex(FILE *f, const nftr_data *d) {
        put_bytes(f, nftr_data_bytes(d));
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
                put_bytes(f, x->data);
                break;
        case NFTR_EXPR_RANGE:
                fprintf(f, "range %s r%" PRIu32 " ", x->op == NFT_RANGE_EQ ? "eq" : "neq", x->sreg);
                put_bytes(f, x->data);
                fputs("-", f);
                put_bytes(f, x->data2);
                break;
        case NFTR_EXPR_BITWISE:
                fprintf(f, "bitwise r%" PRIu32 " = (r%" PRIu32 " & ", x->dreg, x->sreg);
                put_bytes(f, x->data);
                fputs(") ^ ", f);
                put_bytes(f, x->data2);
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
                        put_bytes(f, x->data);
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
        default: {
                char hex[2 * NFTR_OTHER_RAW_MAX + 1];
                fprintf(f, "%s raw %s", x->name, hex_encode(x->raw, x->raw_len, hex));
                break;
        }
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
                        r = put_expr(f, rs, c->table, rule->exprs[e]);
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
        hex_encode(h, NFT_RULESET_HASH_SIZE, ret_hex);
        return 0;
}
