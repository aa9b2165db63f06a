/* The engine's owed revert records (agent/engine/owed.h), for measure.c: engine_store.c writes a
 * measure's record before its step is applied and removes it once it is reverted; an extension
 * moves the expiry, so the record is rewritten. */
#pragma once

#include "agent/engine/engine_internal.h"

/* The measure's expiry changed: rewrite its owed revert record. */
int engine_owed_update(engine *e, const measure *m);
