/* See nft_expr.h. */
#include <stdio.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "actions/nft_expr.h"

static void add(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (e)
                nftnl_rule_add_expr(r, e);
}

void nft_expr_l4proto(struct nftnl_rule *r) {
        struct nftnl_expr *e = nftnl_expr_alloc("meta");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        }
        add(r, e);
}

void nft_expr_th_dport(struct nftnl_rule *r) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
        }
        add(r, e);
}

void nft_expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        add(r, e);
}

void nft_expr_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len) {
        nft_expr_cmp(r, NFT_CMP_EQ, data, len);
}

void nft_expr_lookup(struct nftnl_rule *r, const char *set, uint32_t id) {
        struct nftnl_expr *e = nftnl_expr_alloc("lookup");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
                nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
                if (id)
                        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
        }
        add(r, e);
}

void nft_expr_verdict(struct nftnl_rule *r, int verdict) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
        }
        add(r, e);
}
