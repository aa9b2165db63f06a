/* Shared by the engine's files: engine.c (deciding), engine_run.c (running steps),
 * measure.c (temporary measures), engine_store.c (durable state). */
#pragma once

#include "agent/engine/engine.h"
#include "policy/ledger.h"
#include "statelog.h"

struct engine {
        agent *a;
        statelog *log;              /* <state_dir>/engine.log; NULL: memory only */
        run **runs;                 /* oldest first */
        size_t n_runs;
        measure **measures;         /* oldest first */
        size_t n_measures;
        policy_ledger *ledger;
        uint64_t next_run_id, next_measure_id;
        bool paused;
        char pause_reason[256];
        action_env env;
        sd_event_source *recheck;   /* cooldowns: look at active incidents again */
        uint64_t undecodable;       /* records replay could not read */
        bool started;
        /* cooldown holds already said (incident, until): a hold is said once, not at every
         * change of the incident while it waits; a ring, the oldest forgotten first */
        struct {
                uint64_t incident, until;
        } holds_said[16];
        size_t holds_next;
};

/* Fill ctx for a call: incident, run, step, phase. Returns ctx->v. */
char *const *call_context_fill(call_context *ctx, uint64_t incident_id, uint64_t run_id, const char *step, const char *phase);
uint64_t engine_now(void);          /* CLOCK_REALTIME µs */
uint64_t engine_mono(void);

/* engine_store.c */
int engine_store_open(engine *e, const char *state_dir);
int engine_persist_run(engine *e, const run *r);
int engine_persist_measure(engine *e, const measure *m);
int engine_persist_meta(engine *e);  /* ledger + pause */

/* engine.c */
run *engine_run_new(engine *e, const runbook *rb, runbook_set *set, uint64_t incident_id, const char *sig);
run *engine_run_lookup(engine *e, uint64_t id);
void engine_audit(engine *e, const char *kind, const char *fmt, ...) _printf_(3, 4);
void engine_notify(engine *e, const run *r, runbook_event ev, const char *fmt, ...) _printf_(4, 5);
void engine_escalate_incident(engine *e, uint64_t incident_id, const char *fmt, ...) _printf_(3, 4);
/* Decide what to do about a run's runbook for an incident (observe / propose / pend / run). */
void engine_decide(engine *e, run *r, grade base, bool automatic);
void engine_run_finish(engine *e, run *r, run_state st, const char *fmt, ...) _printf_(4, 5);
void engine_run_clear_runtime(run *r);
void engine_prune(engine *e);

/* A pending run after a restart: expired approval → denied, else the expiry timer again. */
void engine_reschedule_approval(engine *e, run *r);
/* Before each step: may it run now? 1 yes; 0 it waits (the run is pending or proposed). */
int engine_step_gate(engine *e, run *r);

/* "check|class|first peer" of an incident: the ledger's key. */
void engine_incident_signature(const incident *inc, char *buf, size_t size);
/* Look at the active incidents again at `when` (CLOCK_REALTIME µs). */
void engine_recheck_at(engine *e, uint64_t when);

/* engine_run.c */
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
void measure_free_runtime(measure *m);
