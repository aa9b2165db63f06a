/* The check runner. Each kind of check is a const ops table in agent/checks/<kind>.c,
 * registered in agent/checks/registry.c; an instance is a configured check with its own
 * schedule and policy: interval, timeout, retries, and rise/fall hysteresis (check_state.h).
 *
 * A run is asynchronous: ops->start() begins it on the loop and later calls check_run_done()
 * with a finding (or calls it before returning). The runner enforces the timeout (cancel, then
 * an UNKNOWN finding saying so), retries a non-OK result up to `retries` times before it counts,
 * and tells its observer when the reported status changes. check_trigger() runs a check now —
 * the way push events (VICI EOF, a unit's PropertiesChanged) cut detection to the event's
 * latency instead of a polling interval. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/check_state.h"
#include "agent/finding.h"
#include "yaml_tree.h"

typedef struct check check;
typedef struct check_run check_run;

typedef struct check_ops {
        const char *kind;
        size_t state_size;
        /* Kind-specific parameters (the check's `params` mapping, may be NULL). */
        int (*parse)(void *state, const ynode *params, ydiag *d);
        /* Begin one run; finish with check_run_done(). <0: could not start (→ UNKNOWN). */
        int (*start)(void *state, sd_event *e, check_run *run);
        /* Abandon the run in flight (timeout, shutdown): unhook everything that could still
         * complete it; the runner frees the run handle after this returns. */
        void (*cancel)(void *state);
        /* Release what parse/start allocated in state. */
        void (*done)(void *state);
} check_ops;

typedef struct check_schedule {
        uint64_t interval_usec;
        uint64_t timeout_usec;
        unsigned retries;
        unsigned rise, fall;
} check_schedule;

/* Called when a check's reported status changes (and for every finding if `every`). */
typedef void (*check_observer)(check *c, const finding *f, bool changed, void *userdata);

int check_new(check **ret, sd_event *e, const char *name, const check_ops *ops,
              const check_schedule *sched, check_observer observer, void *userdata);
check *check_free(check *c);
DEFINE_FREE_FUNC(check, check_free);
/* Parse params into the kind's state (before check_start). */
int check_parse_params(check *c, const ynode *params, ydiag *d);
/* Arm the interval timer; the first run happens at once. */
int check_start(check *c);
/* Run now (coalesced: a run in flight is not doubled). */
int check_trigger(check *c);

/* For ops->start implementations: deliver the result. Takes ownership of f. */
void check_run_done(check_run *run, finding *f);

const char *check_name(const check *c);
const char *check_kind(const check *c);
const check_state *check_get_state(const check *c);
const finding *check_last_finding(const check *c);
void *check_ops_state(check *c);
uint64_t check_runs(const check *c);
