/* Inside the change guard (agent/guard/): the rollback sequence guard.c drives. */
#pragma once

#include "agent/guard/guard.h"

typedef struct action_env action_env;
typedef struct check_set check_set;
typedef struct guard_rollback guard_rollback;

/* Called once with 0 (every step done) or the first step's -errno, and the text of what was
 * undone (valid during the call). The callback may free the rollback. */
typedef void (*guard_rollback_done_fn)(int result, const char *undone, void *userdata);

/* Plan the undo over `checks` (their firewall and config checks); guard_rollback_start() runs
 * it. -ENXIO: no action environment. */
int guard_rollback_new(guard_rollback **ret, const action_env *env, check_set *checks, guard_rollback_done_fn done,
                       void *userdata);
void guard_rollback_start(guard_rollback *rb);
/* Cancels a call in flight (no callback). */
guard_rollback *guard_rollback_free(guard_rollback *rb);
