/* The few nftables rule expressions the nft actions and fault injectors build with libnftnl, each
 * appended to a rule: what `nft` writes for "meta l4proto", "th dport", "== value", "@set" and a
 * verdict. A failed allocation leaves the rule without that expression; the kernel then refuses
 * or the rule matches more narrowly never more widely, so callers check nothing per expression
 * (they free and report the rule as a whole). */
#pragma once

#include <libnftnl/rule.h>
#include <stddef.h>
#include <stdint.h>

/* meta l4proto → register 1 */
void nft_expr_l4proto(struct nftnl_rule *r);
/* the transport header's destination port (2 bytes at offset 2) → register 1 */
void nft_expr_th_dport(struct nftnl_rule *r);
/* register 1 OP data (an NFT_CMP_* operator; len bytes, network order) */
void nft_expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
/* register 1 == data (len bytes, network order) */
void nft_expr_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len);
/* register 1 in the set `name` (id: its NFTA_SET_ID when created in the same batch, else 0) */
void nft_expr_lookup(struct nftnl_rule *r, const char *set, uint32_t id);
/* the verdict (NF_ACCEPT, NF_DROP) */
void nft_expr_verdict(struct nftnl_rule *r, int verdict);
