/* Running chaos drills (agent/config/drill.h): one at a time, from `ikehealctl drill run` or a
 * configured window (agent/config/drill_config.h).
 *
 *   start ─► refused unless drills are enabled, the drill exists, none is running, no incident
 *            is active, remediation is not paused and the steady state holds now
 *   slot  ─► in a fleet (fleet:), the fleet's drill slot first (one drill at a time in the
 *            fleet): the start waits for it (drill status, audit) at most fleet.drill_wait, then
 *            is decided again as above; without a live etcd lease it is refused
 *   record ─► the fault (injector parameters, hard deadline) written durably (drills.log,
 *            fdatasync) BEFORE it is applied
 *   inject ─► watch: first failing finding, incident opened (class, scope), the runbook's run
 *            started, its first step applied, verified; approve-grade steps approved by the
 *            drill only if both the drill and drills.auto_approve say so
 *   settle ─► the steady-state checks OK again on findings newer than the recovery and the
 *            drill's incident resolved
 *   end    ─► the fault removed (always; its revert only undoes what is still the fault), the
 *            verdict per SLO, history, audit
 *
 * An unrelated incident, a failing abort check, abort.after, an operator's abort, a runbook run
 * that failed or was denied end the drill early (fault removed); so does recover_within plus its
 * margin passing without recovery (the drill has failed by then). What happens while the
 * fault's apply is still in flight (a run that already healed it) counts once it returns.
 * The fault's deadline is a CLOCK_REALTIME timer; after a restart every drill whose fault was
 * not known to be removed is ended as interrupted and its fault reverted at once (and nftables
 * faults carry kernel timeouts, so they go even while the agent is down).
 *
 * Timeline stamps are CLOCK_REALTIME µs; reports show them in ms after injection. TTD = incident
 * opened − injected; TTR = steady state back − injected. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "actions/action.h"
#include "agent/config/drill.h"
#include "vici_msg.h"

typedef struct engine engine;
typedef struct ikeheal_config ikeheal_config;
typedef struct incident_store incident_store;
typedef struct notifier notifier;
typedef struct triage triage;
typedef struct ev_loop ev_loop;
typedef struct check check;
typedef struct finding finding;
typedef struct incident incident;
typedef struct run run;
typedef struct engine_who engine_who;
typedef struct fleet fleet;

typedef enum drill_phase {
        DRILL_INJECTING,  /* fault recorded, apply in flight */
        DRILL_WATCHING,   /* fault in place: waiting for detection and recovery */
        DRILL_SETTLING,   /* recovered (or fault removed): waiting for the steady state */
        DRILL_ENDING,     /* removing the fault before the verdict */
        DRILL_PASSED,
        DRILL_FAILED,     /* ran to the end, an SLO or expectation missed */
        DRILL_ABORTED,    /* ended early: operator, unrelated incident, abort check, restart */
        _DRILL_PHASE_MAX,
} drill_phase;

typedef enum drill_fault_state {
        DF_ARMING,        /* recorded, apply in flight (a crash here → revert) */
        DF_ACTIVE,
        DF_REVERTING,
        DF_REMOVED,
        DF_REVERT_FAILED, /* the removal failed: tried again with backoff */
        _DF_MAX,
} drill_fault_state;

typedef enum drill_mark {
        DM_INJECTED,      /* the fault's apply began (detection may beat its return) */
        DM_FIRST_FAIL,    /* first failing finding of any check after injection */
        DM_INCIDENT,      /* the expected incident opened (its own opening time) */
        DM_RUNBOOK,       /* the run for it started executing (after any approval) */
        DM_APPLIED,       /* its first step applied */
        DM_VERIFIED,      /* its run succeeded (every step verified); remove_fault: the observe run */
        DM_FAULT_REMOVED, /* the fault's revert returned */
        DM_STEADY,        /* steady state back */
        _DM_MAX,
} drill_mark;

/* One drill run, as recorded (drills.log) and reported. */
typedef struct drill_rec {
        uint64_t id;
        drill_phase phase;
        char name[DRILL_NAME_MAX + 1];
        char sha256[65];
        char fault_class[32];
        uint32_t weight;
        char expect_class[32], expect_scope[16], expect_runbook[DRILL_NAME_MAX + 1];
        uint32_t recovery;          /* drill_recovery */
        uint64_t detect_within_usec, recover_within_usec;
        char requested_by[64];
        bool scheduled;

        drill_fault_state fault_state;
        action_params fault;        /* as applied (with its kernel timeout) */
        uint64_t deadline_usec;     /* CLOCK_REALTIME: the fault is removed by then */

        uint64_t started_usec, finished_usec;
        uint64_t t[_DM_MAX];        /* CLOCK_REALTIME µs, 0: not reached */
        char first_fail_check[64];
        uint64_t incident;
        char incident_scope[16];
        uint64_t run;
        char runbook[DRILL_NAME_MAX + 1];
        uint64_t pending_usec;      /* when its run began waiting for approval (0: never) */
        uint64_t approval_wait_usec;
        bool auto_approved;
        bool detect_ok, recover_ok;
        char note[384];             /* why it failed or was aborted, or "all SLOs met" */
} drill_rec;

typedef struct drill_runner drill_runner;

/* What the runner uses; borrowed, they outlive it. */
typedef struct drill_deps {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        engine *engine;
        notifier *notifier;         /* may be NULL */
        fleet *fleet;               /* may be NULL: the drill slot of the fleet (one drill at a time) */
        /* one record on the audit trail */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
} drill_deps;

/* Opens <state_dir>/drills.log of `config`; subscribes to triage and the engine (and registers
 * the engine's exemption of the drill's incident). */
int drill_runner_new(drill_runner **ret, const drill_deps *deps, const ikeheal_config *config);
drill_runner *drill_runner_free(drill_runner *dr);
/* After the loop runs: end what a previous life left (revert faults), start the schedule. */
int drill_runner_start(drill_runner *dr);
/* The config was replaced (drill set, schedule). */
void drill_runner_reconfigure(drill_runner *dr, const ikeheal_config *config);
/* Stopping: abort the drill in progress and call done() once its fault is removed (at once if
 * there is none). Returns true if done() will be called later. */
bool drill_runner_stop(drill_runner *dr, void (*done)(void *userdata), void *userdata);

/* Events from the agent. */
void drill_finding(drill_runner *dr, check *c, const finding *f);
void drill_incident(drill_runner *dr, const incident *inc, bool opened);
void drill_run_changed(drill_runner *dr, const run *r);
/* The active drill whose fault incident_id answers (0: a real incident). Runs for it are kept
 * out of the rate limits that guard against real heal loops (cooldown, budget, breakers): a
 * drill neither waits for nor uses up what a real incident needs; its own loop is bounded by
 * its abort deadline and its fault's expiry. */
uint64_t drill_of_incident(const drill_runner *dr, uint64_t incident_id);

/* Verbs. *why (or the dry run's plan) is filled in either case; <0 refused. */
int drill_start(drill_runner *dr, const char *name, bool dry_run, bool scheduled, const engine_who *who,
                uint64_t *ret_id, char *why, size_t n);
int drill_abort(drill_runner *dr, const char *reason, const engine_who *who, char *why, size_t n);
const drill_rec *drill_active(const drill_runner *dr);
/* A start waiting for the fleet's drill slot: its drill, who asked, since when (CLOCK_REALTIME)
 * and what it waits for; false if none. */
bool drill_waiting(const drill_runner *dr, const char **ret_name, const char **ret_user, uint64_t *ret_since,
                   char *why, size_t n);
size_t drill_history(const drill_runner *dr);
const drill_rec *drill_history_get(const drill_runner *dr, size_t i); /* newest first */
const drill_rec *drill_history_find(const drill_runner *dr, uint64_t id);
/* A record as a VICI section body (also what `drill report --json` shows). */
void drill_rec_to_vici(const drill_rec *r, vici_builder *b);
const char *drill_phase_to_string(drill_phase p);
const char *drill_fault_state_to_string(drill_fault_state s);
const char *drill_mark_to_string(drill_mark m);
