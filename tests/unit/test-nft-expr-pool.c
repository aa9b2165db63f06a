/* The interned expressions of ruleset models (common/nft_expr_pool.c): one copy of each distinct
 * expression across rules and models, equality over what the model holds, and every entry gone
 * with the last rule that used it. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_expr_pool.h"
#include "nft_ruleset.h"
#include "tap.h"

/* The data an expression points to until the pool copies it. */
static uint8_t data_store[64][NFTR_DATA_MAX];
static size_t data_next;

static nftr_expr cmp_u32(uint32_t v) {
        nftr_expr x = { .kind = NFTR_EXPR_CMP, .sreg = NFT_REG_1, .op = NFT_CMP_EQ, .dir = 0xff };
        uint8_t *b = data_store[data_next++ % ELEMENTSOF(data_store)];
        (void) snprintf(x.name, sizeof(x.name), "cmp");
        memset(b, 0, NFTR_DATA_MAX);
        memcpy(b, &v, 4);
        x.data = (nftr_bytes){ .len = 4, .b = b };
        return x;
}

static nftr_expr accept(void) {
        nftr_expr x = { .kind = NFTR_EXPR_IMMEDIATE, .dreg = NFT_REG_VERDICT, .verdict = NF_ACCEPT, .dir = 0xff };
        (void) snprintf(x.name, sizeof(x.name), "immediate");
        return x;
}

static nftr_expr jump(const char *chain) {
        nftr_expr x = accept();
        x.verdict = NFT_JUMP;
        x.chain = (char *) chain;
        return x;
}

/* A ruleset of `n` rules "cmp <i>; accept" in table inet t, chain c. */
static nft_ruleset *build(uint32_t n) {
        nft_ruleset *rs = NULL;
        nftr_hook hook = { .hooknum = NF_INET_LOCAL_IN, .policy = NF_ACCEPT };

        if (nft_ruleset_new(&rs) < 0 || nft_ruleset_add_table(rs, NFPROTO_INET, "t", 0, 1) < 0 ||
            nft_ruleset_add_chain(rs, NFPROTO_INET, "t", "c", 2, &hook) < 0 ||
            nft_ruleset_add_chain(rs, NFPROTO_INET, "t", "other", 3, NULL) < 0)
                return nft_ruleset_free(rs);
        for (uint32_t i = 0; i < n; i++) {
                nftr_expr x[2] = { cmp_u32(i), accept() };
                if (nft_ruleset_add_rule(rs, NFPROTO_INET, "t", "c", 10 + i, x, 2) < 0)
                        return nft_ruleset_free(rs);
        }
        return rs;
}

static void test_shared_between_models(void) {
        size_t before = nft_expr_pool_count(), one;
        nft_ruleset *a = build(1000), *b;

        CHECK(a, "a model of 1000 rules");
        one = nft_expr_pool_count() - before;
        CHECK(one == 1001, "1000 distinct compares and one verdict held (%zu)", one);
        b = build(1000);
        CHECK(b && nft_expr_pool_count() - before == one, "a second model of the same rules adds none (%zu)",
              nft_expr_pool_count() - before);
        CHECK(a && b && a->chains[0].rules[7].exprs[0] == b->chains[0].rules[7].exprs[0] &&
                      a->chains[0].rules[7].exprs[1] == a->chains[0].rules[8].exprs[1],
              "rules and models point to one copy");
        CHECK(a && b && a->chains[0].rules[7].exprs == b->chains[0].rules[7].exprs &&
                      a->chains[0].rules[7].exprs != a->chains[0].rules[8].exprs,
              "the same rule in both models shares one list, different rules do not");
        CHECK(nft_expr_pool_bytes() > 1001 * sizeof(nftr_expr), "bytes counted (%zu)", nft_expr_pool_bytes());
        size_t lists_bytes = nft_expr_pool_bytes();
        nft_ruleset_free(a);
        CHECK(nft_expr_pool_bytes() == lists_bytes, "the other model still holds every list (%zu)", nft_expr_pool_bytes());
        CHECK(nft_expr_pool_count() - before == one, "the other model still holds them all");
        CHECK(b && b->chains[0].rules[999].exprs[0]->data.len == 4, "and reads them");
        nft_ruleset_free(b);
        CHECK(nft_expr_pool_count() == before, "gone with the last model (%zu left)", nft_expr_pool_count());
        CHECK(before != 0 || nft_expr_pool_bytes() == 0, "an empty pool holds no bytes (%zu)", nft_expr_pool_bytes());
}

static void test_equality(void) {
        nftr_expr a = cmp_u32(5), b = cmp_u32(5), c = jump("x"), d = jump("y"), e = accept();
        const nftr_expr *pa, *pb, *pc, *pd, *pe, *pf;

        /* past the length: not part of the value, and not kept */
        ((uint8_t *) b.data.b)[10] = 0xaa;
        CHECK(nft_expr_pool_get(&a, &pa) == 0 && nft_expr_pool_get(&b, &pb) == 0 && pa == pb,
              "bytes past the data length do not count");
        CHECK(pb->data.b != b.data.b && memcmp(pb->data.b, a.data.b, 4) == 0, "the data is the pool's own copy");
        {
                nftr_expr small = cmp_u32(7), big = cmp_u32(8);
                const nftr_expr *ps, *pg;
                size_t b0 = nft_expr_pool_bytes(), b1, b2;
                big.data.len = NFTR_DATA_MAX;
                CHECK(nft_expr_pool_get(&small, &ps) == 0, "a 4-byte compare");
                b1 = nft_expr_pool_bytes();
                CHECK(nft_expr_pool_get(&big, &pg) == 0, "a 64-byte compare");
                b2 = nft_expr_pool_bytes();
                CHECK(b2 - b1 == (b1 - b0) + NFTR_DATA_MAX - 4, "each holds the bytes of its length alone (%zu, %zu)", b1 - b0,
                      b2 - b1);
                nft_expr_pool_put(ps);
                nft_expr_pool_put(pg);
        }
        CHECK(nft_expr_pool_get(&c, &pc) == 0 && nft_expr_pool_get(&d, &pd) == 0 && pc != pd && strcmp(pc->chain, "x") == 0 &&
                      strcmp(pd->chain, "y") == 0,
              "strings are compared by content and copied");
        CHECK(pc->chain != c.chain, "the chain name is the pool's own copy");
        e.chain = (char *) "";
        CHECK(nft_expr_pool_get(&e, &pe) == 0 && pe->chain && pe->chain[0] == 0, "an empty chain name is kept");
        e.chain = NULL;
        CHECK(nft_expr_pool_get(&e, &pf) == 0 && pf != pe && !pf->chain, "and differs from none");
        a.data.len = NFTR_DATA_MAX + 1;
        CHECK(nft_expr_pool_get(&a, &pe) == -EINVAL, "a data length beyond the model's is refused");
        nft_expr_pool_put(pa);
        nft_expr_pool_put(pb);
        nft_expr_pool_put(pc);
        nft_expr_pool_put(pd);
        nft_expr_pool_put(pf);
        nft_expr_pool_put(NULL);
        pe = NULL;
        e.chain = (char *) "";
        if (nft_expr_pool_get(&e, &pe) == 0) {
                nft_expr_pool_put(pe); /* the reference taken just now */
                nft_expr_pool_put(pe); /* the one from above */
        }
        CHECK(nft_expr_pool_count() == 0, "every reference dropped: nothing held (%zu)", nft_expr_pool_count());
}

static void test_raw_and_rule_removal(void) {
        nft_ruleset *rs = build(3);
        uint8_t raw1[3] = { 1, 2, 3 }, raw2[3] = { 1, 2, 4 };
        nftr_expr o = { .kind = NFTR_EXPR_OTHER, .dir = 0xff, .raw = raw1, .raw_len = 3 };
        size_t n;

        (void) snprintf(o.name, sizeof(o.name), "quota");
        CHECK(rs && nft_ruleset_add_rule(rs, NFPROTO_INET, "t", "other", 50, &o, 1) == 0, "an unknown expression kept raw");
        n = nft_expr_pool_count();
        o.raw = raw2;
        CHECK(rs && nft_ruleset_add_rule(rs, NFPROTO_INET, "t", "other", 51, &o, 1) == 1 && nft_expr_pool_count() == n + 1,
              "raw bytes that differ are another expression");
        CHECK(rs && memcmp(rs->chains[1].rules[1].exprs[0]->raw, raw2, 3) == 0, "its bytes copied");
        o.raw_len = NFTR_OTHER_RAW_MAX + 1;
        CHECK(rs && nft_ruleset_add_rule(rs, NFPROTO_INET, "t", "other", 52, &o, 1) == -EINVAL && rs->chains[1].n_rules == 2 &&
                      nft_expr_pool_count() == n + 1,
              "a refused rule leaves the model and the pool as they were");
        if (rs)
                nft_ruleset_del_rule(rs, &rs->chains[1], 1);
        CHECK(nft_expr_pool_count() == n, "a rule removed releases what only it used");
        if (rs)
                nft_ruleset_del_table(rs, 0);
        CHECK(nft_expr_pool_count() == 0, "its table removed: nothing held");
        nft_ruleset_free(rs);
}

int main(void) {
        test_shared_between_models();
        test_equality();
        test_raw_and_rule_removal();
        return TAP_END();
}
