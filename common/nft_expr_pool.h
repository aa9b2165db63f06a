/* The expressions of every ruleset model in this process, interned: a rule holds pointers to
 * shared, immutable expressions, one copy of each distinct expression however many rules and
 * models use it. A ruleset repeats the same few loads, protocol compares and verdicts in every
 * rule, and the live ruleset and the last-good one are mostly the same rules: without sharing,
 * each model of a 10,000-rule ruleset held ~90,000 expressions of 240 bytes; with it, the
 * distinct ones — the addresses and ports — are all that is stored, once for both models.
 *
 * Entries are reference-counted and freed with their last user. Two expressions are one entry
 * when every field the model has is equal (data compared up to its length, strings and raw
 * bytes by content); the stored copy has the bytes past each data length zeroed. Not
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

/* What the pool holds now: distinct expressions, and their bytes (entries with their strings,
 * and the table that finds them). */
size_t nft_expr_pool_count(void);
size_t nft_expr_pool_bytes(void);
