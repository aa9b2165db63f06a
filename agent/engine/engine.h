/* The runbook engine: from an incident to a healed gateway, or to a human.
 *
 *   incident ─► match (runbook_set_match) ─► grade (runbook, policy, ledger, blast radius)
 *     observe: record + notify   manual: propose the plan   approve: queue for approval
 *     auto / approved: run the steps ─► verify each ─► succeeded
 *                                           └─ failed: roll back (reverse order), on_failure
 *                                              steps, escalate (human, runbook, higher grade)
 *
 * Runs and temporary measures are durable (<state_dir>/engine.log, common/statelog.h): a step is
 * recorded as started — with its parameters, so it can be reverted even if the runbook has
 * changed since — before it is applied, and a measure's revert (with its expiry) is recorded
 * before the measure is applied. After a crash, a run that was between steps resumes with the
 * next step, a run with a step in flight rolls back (reverts are idempotent), and measures are
 * reconciled: expired ones reverted at once, the others re-armed. Nothing is run twice by
 * accident: a step recorded as started is never applied again.
 *
 * The engine is built from what it uses (engine_deps): the event loop, triage (incidents' life
 * cycle, the running checks), the incident store, the notifier, the system bus and the audit
 * trail; it subscribes to triage. Its verbs live in agent/verbs/plan_verb.c, approval_verb.c,
 * run_verb.c and measures_verb.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "actions/action.h"
#include "agent/config/runbook.h"
#include "policy/grade.h"

#define ENGINE_RUNS_KEEP 100u       /* finished runs remembered (plus every active one) */
#define ENGINE_MEASURES_KEEP 100u   /* reverted measures remembered */
#define ENGINE_RUNS_ACTIVE_MAX 32u  /* runs not finished, including pending approval */
#define ENGINE_APPROVERS_MAX 2u
/* After a successful run, how long its incident may stay open before it goes to a human. */
#define ENGINE_PERSIST_GRACE_USEC (120ULL * 1000000ULL)

typedef struct engine engine;
typedef struct ikeheal_config ikeheal_config;
typedef struct incident_store incident_store;
typedef struct notifier notifier;
typedef struct sysbus sysbus;
typedef struct triage triage;
typedef struct vici_client vici_client;
typedef struct policy_ledger policy_ledger;

typedef enum run_state {
        RUN_OBSERVED,    /* observe runbook: recorded and notified, nothing run */
        RUN_PROPOSED,    /* manual (or raised to manual): waiting for `ikehealctl run` */
        RUN_PENDING,     /* waiting for approval */
        RUN_RUNNING,
        RUN_ROLLING_BACK,
        RUN_SUCCEEDED,
        RUN_FAILED,      /* rolled back */
        RUN_DENIED,      /* denied, or the approval expired */
        RUN_ESCALATED,   /* not run: budget, flapping, a measure that expired on a live fault */
        RUN_CANCELLED,   /* superseded (the incident resolved while proposed or pending) */
        _RUN_STATE_MAX,
} run_state;

typedef enum step_phase {
        PHASE_NONE,
        PHASE_STARTED,  /* recorded before apply: may or may not have taken effect */
        PHASE_APPLIED,
        PHASE_VERIFIED,
        PHASE_FAILED,   /* apply or verify failed (still reverted on rollback) */
        PHASE_REVERTED,
        PHASE_REVERT_FAILED,
        _PHASE_MAX,
} step_phase;

typedef struct run_step {
        step_phase phase;
        action_params params; /* set once started: what revert uses */
        char name[RUNBOOK_NAME_MAX + 1];
        uint64_t measure;     /* the measure this step created, 0: none */
} run_step;

/* The "KEY=VALUE" context an action call gets (exec passes it as environment). */
typedef struct call_context {
        char buf[4][160];
        char *v[5];
} call_context;

typedef struct run_approval {
        uint32_t uid;
        char user[64];
        uint64_t time_usec;
} run_approval;

typedef struct run {
        uint64_t id;
        run_state state;
        char runbook[RUNBOOK_NAME_MAX + 1];
        char runbook_sha256[65];
        char plan_hash[65];
        uint64_t incident;          /* 0: started by an operator without one */
        char signature[192];        /* ledger key: check|class|peer */
        grade grade;                /* effective grade when decided */
        char why[256];              /* why this grade / state */
        bool operator_run;          /* `ikehealctl run` */
        uint64_t drill;             /* the drill whose fault it answers (0: none): outside the rate limits */
        char requested_by[64];
        size_t step;                /* current (or next) step */
        size_t n_steps;
        run_step steps[RUNBOOK_STEPS_MAX];
        size_t rollback_pos;        /* rollback: steps still to revert, newest first */
        size_t recovery_pos;        /* on_failure steps run so far */
        run_approval approvals[ENGINE_APPROVERS_MAX];
        size_t n_approvals;
        uint32_t approvers_needed;
        uint64_t approval_expires_usec; /* CLOCK_REALTIME */
        uint64_t created_usec, updated_usec, finished_usec;
        char note[512];             /* last result or reason */

        /* runtime only */
        engine *engine;
        runbook_set *set;           /* a reference: the runbook stays valid across reloads */
        const runbook *rb;
        action_call *call;
        ev_source *timer;     /* approval expiry, verify deadline */
        ev_source *retrigger; /* verify: ask the check again shortly */
        uint64_t verify_after_usec; /* a check's finding must be newer than this */
        uint64_t verify_deadline;   /* CLOCK_MONOTONIC */
        bool verify_check_ok, verify_action_ok;
        call_context ctx;
        action_params recovery_params; /* the on_failure step in flight, placeholders filled in */
        bool gate_waiting;          /* held by the gate (engine_set_gate) before its next step */
} run;

typedef enum measure_state {
        MEASURE_ARMING,    /* revert recorded, apply in flight (a crash here → revert) */
        MEASURE_ACTIVE,
        MEASURE_REVERTING,
        MEASURE_REVERTED,
        MEASURE_REVERT_FAILED,
        _MEASURE_STATE_MAX,
} measure_state;

typedef struct measure measure;
struct measure {
        uint64_t id;
        measure_state state;
        uint64_t run, incident;
        char runbook[RUNBOOK_NAME_MAX + 1];
        char step[RUNBOOK_NAME_MAX + 1];
        char kind[32];
        char signature[192];
        action_params params;
        uint64_t applied_usec, expires_usec, reverted_usec; /* CLOCK_REALTIME */
        uint32_t extensions;
        char note[256];

        /* runtime only */
        engine *engine;
        ev_source *timer;
        ev_source *hold_timer; /* the kind's hold check, while active */
        action_call *call;
        call_context ctx;
        bool expiry;               /* the revert in flight is the expiry (not an operator's) */
        bool early;                /* the revert in flight is the kind's hold check failing */
        char early_why[128];       /* … saying this */
        void (*on_reverted)(engine *e, measure *m, int result, void *userdata);
        void *on_reverted_userdata;
};

/* What the engine uses; borrowed, they outlive it. */
typedef struct engine_deps {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        notifier *notifier;         /* may be NULL */
        sysbus *bus;                /* may be NULL */
        /* one record on the audit trail */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
} engine_deps;

/* Opens <state_dir>/engine.log of `config` and subscribes to triage. */
int engine_new(engine **ret, const engine_deps *deps, const ikeheal_config *config);
engine *engine_free(engine *e);

/* What the engine tells those above it (the drill runner): every change of a run, once it is
 * recorded. */
typedef struct engine_listener {
        void (*run_changed)(const run *r, void *userdata);
        void *userdata;
} engine_listener;
#define ENGINE_LISTENERS_MAX 8u
/* Add a listener (copied; an identical one is not added twice); -ENOSPC past the maximum. */
int engine_subscribe(engine *e, const engine_listener *l);
void engine_unsubscribe(engine *e, void *userdata);
/* Incidents exempt from the rate limits that guard against real heal loops (cooldown, budget,
 * breakers): exempt(incident) returns what the run records as its drill (0: not exempt). */
typedef uint64_t (*engine_exempt_fn)(uint64_t incident_id, void *userdata);
void engine_set_exempt(engine *e, engine_exempt_fn exempt, void *userdata);

/* A gate a higher floor sets (the fleet's slots). step(): asked before each step of a run that
 * its grade lets start: 1 it may; 0 it waits (why says for what) until engine_gate_reopen();
 * <0 the run is escalated (why says why). paused(): does that floor ask to hold automatic
 * remediation (grades are raised as by a local pause)? Either may be NULL. */
typedef struct engine_gate {
        int (*step)(const run *r, const char *kind, bool disruptive, char *why, size_t n, void *userdata);
        bool (*paused)(void *userdata);
        void *userdata;
} engine_gate;
void engine_set_gate(engine *e, const engine_gate *g);
/* A run the gate held may go on (error 0: its step is asked for again) or is escalated
 * (error <0, `why`). Nothing for a run that is not waiting at the gate. */
void engine_gate_reopen(engine *e, uint64_t run_id, int error, const char *why);

/* After the loop runs: reconcile what a previous life left (measures, interrupted runs). */
int engine_start(engine *e);
/* An incident opened, changed or resolved. */
void engine_incident(engine *e, uint64_t incident_id, bool opened);
/* A complete diagnosis found everything healthy. */
void engine_healthy(engine *e);
/* A check delivered a finding (verifications wait for these). */
void engine_finding(engine *e, const char *check);
/* The config in force (new runbook set, policy) and the current VICI client; also before
 * engine_start(), once the VICI client exists. */
void engine_reconfigure(engine *e, const ikeheal_config *config, vici_client *vici);

/* The runbook an incident matches now (NULL: none). */
typedef struct incident incident;
const runbook *engine_match(engine *e, const incident *inc);

/* Operator verbs; on refusal <0 and *why says why (static or in the caller's buffer). */
typedef struct engine_who {
        uint32_t uid;
        const char *user;
        bool approver;
} engine_who;
int engine_approve(engine *e, uint64_t run_id, const char *plan_hash, const engine_who *who, char *why, size_t n);
int engine_deny(engine *e, uint64_t run_id, const char *reason, const engine_who *who, char *why, size_t n);
int engine_run(engine *e, const char *runbook, uint64_t incident_id, const engine_who *who, uint64_t *ret_run,
               char *why, size_t n);
int engine_measure_revert(engine *e, uint64_t id, const engine_who *who, char *why, size_t n);
int engine_measure_extend(engine *e, uint64_t id, uint64_t by_usec, const engine_who *who, char *why, size_t n);
int engine_pause(engine *e, bool pause, const char *reason, const engine_who *who);
/* A pause ended (here, or the gate's floor's: the fleet's pause or freeze lifted): every run
 * that was only proposed because of it (its runbook is auto or approve) is cancelled and its
 * incident decided again at the runbook's own grade, audited with WHY. Nothing while still
 * paused. */
void engine_redecide_proposed(engine *e, const char *why);
bool engine_paused(const engine *e, const char **ret_reason);

/* Read access for verbs. */
size_t engine_runs(const engine *e);
const run *engine_run_get(const engine *e, size_t i); /* newest first */
const run *engine_run_find(const engine *e, uint64_t id);
size_t engine_measures(const engine *e);
const measure *engine_measure_get(const engine *e, size_t i);
/* Is a measure's change possibly still on the gateway (measure_state_owed())? Then true, with
 * `why` saying which and what to do ("… is in force", "… could not be reverted (…)"). */
bool engine_measure_owed(const engine *e, char *why, size_t n);
const policy_ledger *engine_ledger(const engine *e);
const action_env *engine_action_env(const engine *e);
/* Established IKE_SAs (the sas check's last finding), for blast radius. */
uint32_t engine_established_sas_public(engine *e);
/* The plan of `rb` with its ${…} placeholders filled in from run `run_id` (0: none yet) and
 * incident `incident_id` (0: none), as it will be approved and run. */
int engine_plan(engine *e, const runbook *rb, uint64_t run_id, uint64_t incident_id, runbook_plan *ret);

const char *run_state_to_string(run_state s);
const char *step_phase_to_string(step_phase p);
const char *measure_state_to_string(measure_state s);
bool measure_state_live(measure_state s);
/* Its changes may still be on the gateway: live, or its revert failed (a human's, who can ask
 * for the revert again). */
bool measure_state_owed(measure_state s);
bool run_state_active(run_state s);
