/* Shared between the runbook parser's files (runbook.c, runbook_match.c, runbook_set.c). */
#pragma once

#include "agent/runbook.h"

/* Report keys of `map` not in `known` (NULL-terminated); false if there was one. */
bool rb_keys_known(const ynode *map, const char *const *known, ydiag *d);
/* Is n of type t? Otherwise an error "what: expected …, got …" at n. */
bool rb_need(const ynode *n, ynode_type t, ydiag *d, const char *what);
/* Bind a `match` condition (recursively; *count bounds the total). */
int rb_cond_bind(const ynode *n, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret);
rb_cond *rb_cond_free(rb_cond *c);
