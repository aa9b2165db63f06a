/* The expressions of every ruleset model in this process, interned: a rule holds pointers to
 * shared, immutable expressions, one copy of each distinct expression however many rules and
 * models use it. A ruleset repeats the same few loads, protocol compares and verdicts in every
 * rule, and the live ruleset and the last-good one are mostly the same rules: without sharing,
 * each model of a 10,000-rule ruleset held ~90,000 expressions of 240 bytes; with it, the
 * distinct ones — the addresses and ports — are all that is stored, once for both models, each
 * in one allocation of its fields and exactly its data bytes and strings (~150 bytes for a
 * 4-byte compare).
 *
 * Entries are reference-counted and freed with their last user. Two expressions are one entry
 * when every field the model has is equal (data compared up to its length, strings and raw
 * bytes by content); the stored copy holds no byte past each data length. Not
 * thread-safe: the models are built and freed on one thread (the agent's loop). Nothing here
 * logs. */
#pragma once

#include <stddef.h>

#include "nft_ruleset.h"

/* The interned copy of `x` (strings and raw bytes copied), one more reference on it: -EINVAL
 * for an expression the model cannot hold (kind, lengths, name), -ENOMEM. */
int nft_expr_pool_get(const nftr_expr *x, const nftr_expr **ret);
/* Drops one reference of an expression nft_expr_pool_get() returned; NULL is ignored. */
void nft_expr_pool_put(const nftr_expr *x);

/* The interned list of a rule's n expressions x[] (each one reference from
 * nft_expr_pool_get(), which the list takes over whatever the result): rules with the same
 * expressions — the live ruleset's and the last-good one's, mostly — share one array. -EINVAL
 * for n == 0, -ENOMEM. */
int nft_expr_pool_list_get(const nftr_expr *const *x, size_t n, const nftr_expr *const **ret);
/* Drops one reference of a list; the last one drops its expressions' too. NULL is ignored. */
void nft_expr_pool_list_put(const nftr_expr *const *list);

/* What the pool holds now: distinct expressions, and the bytes of the expressions and lists
 * (entries with their strings, and the tables that find them). */
size_t nft_expr_pool_count(void);
size_t nft_expr_pool_bytes(void);
