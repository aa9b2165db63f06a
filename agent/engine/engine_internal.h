/* Shared by the engine's files: engine.c (life cycle, queue, incidents), engine_run.c (one run's
 * state machine), engine_ops.c (operators' verbs), measure.c (temporary measures),
 * engine_store.c (durable state). */
#pragma once

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "policy/ledger.h"
#include "now.h"
#include "record_store.h"

struct engine {
        ev_loop *event;
        triage *triage;             /* incidents' life cycle, the running checks */
        incident_store *incidents;
        notifier *notifier;         /* NULL: none */
        sysbus *bus;                /* NULL: none */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
        const ikeheal_config *config; /* the one in force (engine_reconfigure) */
        record_store store;         /* <state_dir>/engine.log; its log NULL: memory only */
        run **runs;                 /* oldest first */
        size_t n_runs;
        measure **measures;         /* oldest first */
        size_t n_measures;
        policy_ledger *ledger;
        uint64_t next_run_id, next_measure_id;
        bool paused;
        char pause_reason[256];
        action_env env;
        ev_source *recheck;   /* cooldowns: look at active incidents again */
        void (*recheck_fn)(engine *e); /* what looking again means (engine.c) */
        uint64_t undecodable;       /* records replay could not read */
        bool started;
        /* holds already said (incident, and the cooldown's end or the run waited for): a hold
         * is said once, not at every change of the incident while it waits; a ring, the
         * oldest forgotten first */
        struct {
                uint64_t incident, until;
        } holds_said[16];
        size_t holds_next;

        /* incidents changed, for the engine's next turn (it acts on the reconciled picture) */
        struct engine_queue_item {
                uint64_t id;
                bool opened;
        } *queue;
        size_t n_queue;
        ev_source *queue_defer;
        engine_listener listeners[ENGINE_LISTENERS_MAX];
        size_t n_listeners;
        engine_exempt_fn exempt;    /* incidents kept out of the rate limits (drills' faults) */
        void *exempt_userdata;
        engine_gate gate;           /* a higher floor's gate before steps (fleet slots) */
};

/* Fill ctx for a call: incident, run, step, phase. Returns ctx->v. */
char *const *call_context_fill(call_context *ctx, uint64_t incident_id, uint64_t run_id, const char *step, const char *phase);

/* engine_health.c: action_env's gateway_healthy (userdata: the engine) */
int engine_gateway_healthy(void *userdata, char *why, size_t n);

/* engine_store.c */
int engine_store_open(engine *e, const char *state_dir);
/* Write a run's record (engine_persist_run() also tells the listeners). */
int engine_store_run(engine *e, const run *r);
int engine_persist_measure(engine *e, const measure *m);
int engine_persist_meta(engine *e);  /* ledger + pause */

/* engine.c */
/* Record a run's change durably and tell the listeners (every change of a run goes through here). */
int engine_persist_run(engine *e, const run *r);
/* What a run for this incident records as its drill (0: a real incident, rate-limited). */
uint64_t engine_exempt_of(const engine *e, uint64_t incident_id);
/* Paused here (engine_pause) or by the gate's floor (the fleet's pause)? */
bool engine_paused_now(const engine *e);
/* The per-runbook budget, if the runbook sets one, on top of the policy. */
policy_config engine_budget_policy(const engine *e, const runbook *rb);
run *engine_run_lookup(engine *e, uint64_t id);
void engine_audit(engine *e, const char *kind, const char *fmt, ...) _printf_(3, 4);
void engine_notify(engine *e, const run *r, runbook_event ev, const char *fmt, ...) _printf_(4, 5);
void engine_escalate_incident(engine *e, uint64_t incident_id, const char *fmt, ...) _printf_(3, 4);
void engine_run_clear_runtime(run *r);
void engine_prune(engine *e);
void engine_hold_good_for_measures(engine *e);

/* "check|class|first peer" of an incident: the ledger's key. */
void engine_incident_signature(const incident *inc, char *buf, size_t size);
/* Look at the active incidents again at `when` (CLOCK_REALTIME µs). */
void engine_recheck_at(engine *e, uint64_t when);

/* engine_hold.c */
/* A run that is running or rolling back and that runbook NAME (RB when loaded) must wait for,
 * or NULL: a runbook runs once at a time, and one disruptive runbook at a time. */
const run *engine_run_conflict(const engine *e, const char *name, const runbook *rb);
bool engine_clock_incident_active(engine *e);
/* A certificate or revocation runbook while a clock incident is active (decided again when the
 * clock is right: the incidents engine_clock_held() names, at most MAX of them into IDS). */
bool engine_held_by_clock(engine *e, const incident *inc, const runbook *rb);
size_t engine_clock_held(engine *e, uint64_t *ids, size_t max);
/* Say that the incident waits: for the runbook's cooldown until UNTIL, or for run BUSY to end. */
void engine_hold_for_cooldown(engine *e, const incident *inc, const runbook *rb, uint64_t until);
void engine_hold_for_run(engine *e, const incident *inc, const runbook *rb, const run *busy);

/* engine_run.c */
run *engine_run_new(engine *e, const runbook *rb, runbook_set *set, uint64_t incident_id, const char *sig);
/* Decide what to do about a run's runbook for an incident (observe / propose / pend / run). */
void engine_decide(engine *e, run *r, grade base, bool automatic);
void engine_run_finish(engine *e, run *r, run_state st, const char *fmt, ...) _printf_(4, 5);
/* A pending run after a restart: expired approval → denied, else the expiry timer again. */
void engine_reschedule_approval(engine *e, run *r);
/* Before each step: may it run now? 1 yes; 0 it waits (the run is pending or proposed). */
int engine_step_gate(engine *e, run *r);
/* After a restart: roll back a run caught with a step in flight, resume one between steps. */
void engine_run_resume(engine *e, run *r);
void run_advance(engine *e, run *r);
void run_rollback(engine *e, run *r, const char *fmt, ...) _printf_(3, 4);
void run_verify_finding(engine *e, run *r, const char *check);
/* The number of established IKE_SAs (the sas check's last finding), for blast radius. */
uint32_t engine_established_sas(engine *e);

/* measure.c */
measure *measure_new(engine *e, run *r, const rb_step *s, const action_params *p);
measure *measure_lookup(engine *e, uint64_t id);
void measure_activate(engine *e, measure *m);
/* Revert now (idempotent; no-op if already reverted). done(e, m, result, userdata) is called
 * when it completes (may be NULL). */
typedef void (*measure_done_cb)(engine *e, measure *m, int result, void *userdata);
void measure_revert(engine *e, measure *m, bool expiry, measure_done_cb done, void *userdata);
void measure_reconcile(engine *e);
/* Is a measure for this signature being reverted at its expiry right now? */
bool measure_expiring(const engine *e, const char *signature);
/* A measure taken for this incident is still in force. */
bool measure_live_for(const engine *e, uint64_t incident_id);
void measure_free_runtime(measure *m);
