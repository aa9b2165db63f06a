/* The one place every kind of check is registered: a const table of ops (agent/checks/check.h), one
 * per file under agent/checks/. */
#pragma once

#include <stddef.h>

#include "agent/checks/check.h"

/* The ops of `kind`, or NULL. */
const check_ops *check_registry_find(const char *kind);
/* Every registered kind, in registration order (the seeds' checklist order). */
const check_ops *const *check_registry_all(size_t *ret_n);
