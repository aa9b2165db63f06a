/* The agent's running checks: one check (agent/checks/check.h) per configured entry, built from a
 * config on an environment the agent lends. A reload builds a new set and swaps it in whole
 * (the new checks start fresh and run at once; incidents, which live in the incident store,
 * are not lost by that). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/checks/check.h"
#include "agent/checks/check_config.h"

typedef struct check_set check_set;

/* Build one check per entry of checks[n] (and parse every check's params; all errors in d).
 * Not started. */
int check_set_new(check_set **ret, const check_env *env, const config_check *checks, size_t n,
                  check_observer observer, void *userdata, ydiag *d);
check_set *check_set_free(check_set *s);
DEFINE_FREE_FUNC(check_set, check_set_free);

int check_set_start(check_set *s);
size_t check_set_size(const check_set *s);
check *check_set_get(check_set *s, size_t i);
check *check_set_find(check_set *s, const char *name);
/* Run every check now (coalesced with runs in flight). */
void check_set_trigger_all(check_set *s);
void check_set_mark_good(check_set *s);
void check_set_forget(check_set *s);
/* Checks that have produced at least one finding. */
size_t check_set_reported(const check_set *s);
