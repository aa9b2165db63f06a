/* Shared between the runbook parser's files (runbook.c, runbook_match.c, runbook_set.c). */
#pragma once

#include "agent/config/runbook.h"

/* Bind a `match` condition (recursively; *count bounds the total). */
int rb_cond_bind(const ynode *n, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret);
rb_cond *rb_cond_free(rb_cond *c);
/* The smallest open_for in C's tree longer than OPEN_USEC, or 0. */
uint64_t rb_cond_next_open_for(const rb_cond *c, uint64_t open_usec);
