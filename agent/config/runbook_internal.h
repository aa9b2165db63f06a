/* Shared between the runbook parser's files (runbook.c, runbook_match.c, runbook_set.c). */
#pragma once

#include "agent/config/runbook.h"

/* Bind a `match` condition (recursively; *count bounds the total). */
int rb_cond_bind(const ynode *n, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret);
rb_cond *rb_cond_free(rb_cond *c);
