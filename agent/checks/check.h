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

#include "agent/checks/check_state.h"
#include "agent/checks/finding.h"
#include "ev.h"
#include "yaml_tree.h"

typedef struct check check;
typedef struct check_run check_run;
typedef struct charon_hub charon_hub;
typedef struct vici_client vici_client;
typedef struct sysbus sysbus;

/* What the agent lends its checks. Owned by the agent (or a test tool); outlives every check
 * built on it. Any pointer but `event` may be NULL where that resource does not exist here
 * (no system bus in a test, no VICI client in a unit test): a check that needs it reports
 * UNKNOWN saying so. */
/* What checks know of charon from the configuration (charon: section). */
typedef struct check_charon {
        const char *unit;            /* charon's systemd unit; NULL: none configured */
        const char *vici_socket;     /* the VICI socket's path */
        uint64_t start_grace_usec;   /* how long a starting charon may take to load its config */
        uint64_t reconnect_min_usec; /* the VICI client's first reconnect delay */
} check_charon;

typedef struct check_env {
        ev_loop *event;
        check_charon charon;
        vici_client *vici;     /* charon's VICI connection (may be disconnected) */
        charon_hub *hub;       /* charon's pushed events and connection state */
        sysbus *bus;           /* the system bus, connected on first need (common/sysbus.h) */
        const char *state_dir; /* a check keeps its last-good snapshots under
                                * <state_dir>/snapshots/<check name>.* */
} check_env;

/* Conventions for findings, which diagnosis (agent/triage/diagnosis.c) relies on. A finding that is
 * not OK sets the fact "class" to the fault class it points at (common/fault.h names, e.g.
 * "firewall", "certificate"), and "reason" to a short token ("expired", "udp4500_dropped",
 * "killed"…). Where the check knows, "scope" is "local" or "global", and "peers" lists the
 * peers concerned, comma-separated (IKE identity or address). Numbers are plain decimal, times
 * in µs since the epoch or durations with a unit suffix in the key ("latency_ms"). */
#define CHECK_FACT_CLASS "class"
#define CHECK_FACT_REASON "reason"
#define CHECK_FACT_SCOPE "scope"
#define CHECK_FACT_PEERS "peers"

typedef struct check_ops {
        const char *kind;
        const char *description; /* one line, shown by `ikehealctl checks` */
        size_t state_size;
        /* Kind-specific parameters (the check's `params` mapping, may be NULL). Also called
         * by --check-config on a scratch state (then done()), so it must not touch the system
         * beyond reading; every error goes to d with its position. */
        int (*parse)(void *state, const ynode *params, ydiag *d);
        /* Optional, once before the first run: hook push sources (charon hub listeners, bus
         * matches, inotify, journal fds) that call check_trigger(c) when something happens. */
        int (*attach)(void *state, check *c, const check_env *env);
        /* Begin one run; finish with check_run_done(). <0: could not start (→ UNKNOWN). */
        int (*start)(void *state, const check_env *env, check_run *run);
        /* Abandon the run in flight (timeout, shutdown): unhook everything that could still
         * complete it; the runner frees the run handle after this returns. */
        void (*cancel)(void *state);
        /* Optional: the whole system is healthy now (no open incident, every check OK): keep
         * what things look like as the last-good snapshot that later drift is measured
         * against (nftables ruleset, swanctl tree). */
        void (*mark_good)(void *state, const check_env *env);
        /* Optional: a cause was repaired (an incident resolved): drop transient evidence
         * gathered so far — the peers' failures counted while the gateway's certificate was
         * broken are history once it is fixed, not a new problem. */
        void (*forget)(void *state);
        /* Release what parse/attach/start allocated in state. */
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

/* `env` must outlive the check. */
int check_new(check **ret, const check_env *env, const char *name, const check_ops *ops,
              const check_schedule *sched, check_observer observer, void *userdata);
check *check_free(check *c);
DEFINE_FREE_FUNC(check, check_free);
/* Parse params into the kind's state (before check_start). */
int check_parse_params(check *c, const ynode *params, ydiag *d);
/* Attach push sources, arm the interval timer; the first run happens at once. */
int check_start(check *c);
/* Tell the kind the system is healthy (ops->mark_good), if it cares. */
void check_mark_good(check *c);
/* Tell the kind a cause was repaired (ops->forget), if it cares. */
void check_forget(check *c);
/* Run now (coalesced: a run in flight is not doubled). */
int check_trigger(check *c);

/* For ops->start implementations: deliver the result. Takes ownership of f. */
void check_run_done(check_run *run, finding *f);
/* Deliver an UNKNOWN finding saying why the check cannot tell. -ENOMEM (nothing delivered). */
int check_run_unknown(check_run *run, const char *fmt, ...) _printf_(2, 3);

const char *check_name(const check *c);
const char *check_kind(const check *c);
const check_state *check_get_state(const check *c);
const finding *check_last_finding(const check *c);
void *check_ops_state(check *c);
uint64_t check_runs(const check *c);
const check_schedule *check_get_schedule(const check *c);
const check_ops *check_get_ops(const check *c);
