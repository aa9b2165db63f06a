/* What the files of the ruleset model share among themselves and nobody else uses: the array
 * growth rule (the capacity is implied by the count) and the destructors of a model's parts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_ruleset.h"

/* Call before storing element number n of an array grown only by this function. Removing
 * elements keeps the array as it is: its capacity stays above what the smaller count implies. */
int nftr_grow(void **p, size_t n, size_t size);
void nftr_rule_done(nftr_rule *r);
void nftr_elem_done(nftr_elem *e);
/* Free what one chain (its rules) or one set (its elements) owns, not the struct itself. */
void nftr_chain_done(nftr_chain *c);
void nftr_set_done(nftr_set *s);
/* Index of a table by family and name, or -ENOENT. */
int nftr_table_index(const nft_ruleset *rs, int family, const char *name);

/* ---- netlink attributes of the nf_tables messages ---- */

struct nlattr;
struct nlmsghdr;

/* The largest NFTA_*_MAX indexed by; attributes above it (newer kernels) are skipped, as the
 * kernel's own policy does. */
#define NFTR_ATTR_MAX 32

typedef struct nftr_attr_tab {
        const struct nlattr *a[NFTR_ATTR_MAX + 1];
} nftr_attr_tab;

/* The attributes after the nfgenmsg header, or of one nested attribute: -EBADMSG if malformed. */
int nftr_attrs_msg(const struct nlmsghdr *nlh, nftr_attr_tab *t);
int nftr_attrs_nested(const struct nlattr *nest, nftr_attr_tab *t);
/* Big-endian integers of exactly their size; _opt: absent leaves *ret alone. -EBADMSG. */
int nftr_a_u32(const struct nlattr *a, uint32_t *ret);
int nftr_a_u32_opt(const struct nlattr *a, uint32_t *ret);
int nftr_a_u64_opt(const struct nlattr *a, uint64_t *ret);
/* A name into buf[NFTR_NAME_MAX]: non-empty, shorter than that. -EBADMSG (also when absent). */
int nftr_a_str(const struct nlattr *a, char *buf);
/* struct nft_data: a value, or (ret_is_verdict given) a verdict with its chain into chain_buf. */
int nftr_a_data(const struct nlattr *nest, nftr_data *value, bool *ret_is_verdict, int32_t *ret_verdict,
                char *chain_buf);
/* Whether a message of a dump belongs to one of the tables listed: 1 yes, 0 no (or not a
 * message of a table's: the generation), -EBADMSG. Its attributes are left in *t. */
int nftr_msg_in_tables(const struct nlmsghdr *nlh, const nft_table_key *keys, size_t n, nftr_attr_tab *t);
/* The generation in a NEWGEN message. */
int nftr_msg_gen(const struct nlmsghdr *nlh, uint32_t *ret);
