/* The engine's lowest floor: names of states, lookups, and the ways a run or a measure speaks
 * (audit, webhooks, escalating its incident) — what every other file of the engine uses and
 * which itself uses none of them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/engine/engine_internal.h"
#include "agent/notify/notifier.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"

static const char *const run_states[_RUN_STATE_MAX] = {
        [RUN_OBSERVED] = "observed", [RUN_PROPOSED] = "proposed",     [RUN_PENDING] = "pending",
        [RUN_RUNNING] = "running",   [RUN_ROLLING_BACK] = "rolling_back", [RUN_SUCCEEDED] = "succeeded",
        [RUN_FAILED] = "failed",     [RUN_DENIED] = "denied",         [RUN_ESCALATED] = "escalated",
        [RUN_CANCELLED] = "cancelled",
};
static const char *const phases[_PHASE_MAX] = {
        [PHASE_NONE] = "-",           [PHASE_STARTED] = "started", [PHASE_APPLIED] = "applied",
        [PHASE_VERIFIED] = "verified", [PHASE_FAILED] = "failed",  [PHASE_REVERTED] = "reverted",
        [PHASE_REVERT_FAILED] = "revert_failed",
};

const char *run_state_to_string(run_state s) {
        return s >= 0 && s < _RUN_STATE_MAX ? run_states[s] : "?";
}

const char *step_phase_to_string(step_phase p) {
        return p >= 0 && p < _PHASE_MAX ? phases[p] : "?";
}

bool run_state_active(run_state s) {
        return s == RUN_PROPOSED || s == RUN_PENDING || s == RUN_RUNNING || s == RUN_ROLLING_BACK;
}

void engine_audit(engine *e, const char *kind, const char *fmt, ...) {
        char text[2048];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (e->audit)
                e->audit(e->audit_userdata, kind, text);
}

void engine_notify(engine *e, const run *r, runbook_event ev, const char *fmt, ...) {
        char text[NOTIFY_TEXT_MAX];
        const runbook *rb = r ? r->rb : NULL;
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (rb && !runbook_notifies(rb, ev))
                return;
        if (e->notifier) {
                notify_message m = {
                        .event = runbook_event_to_string(ev),
                        .incident = r ? r->incident : 0,
                        .runbook = r ? r->runbook : NULL,
                        .grade = r ? grade_to_string(r->grade) : NULL,
                        .text = text,
                };
                /* what the incident is, and this run, for whoever reads the webhook */
                const incident *inc = r && r->incident && e->incidents ? incident_store_find(e->incidents, r->incident)
                                                                     : NULL;
                char peers_buf[sizeof(inc->peers)], *save = NULL;
                const char *peers[32];
                if (inc) {
                        m.class_name = fault_class_to_string(inc->cls);
                        m.scope = fault_scope_to_string(inc->scope);
                        m.severity = check_status_to_string(inc->severity);
                        m.reason = inc->reason;
                        (void) snprintf(peers_buf, sizeof(peers_buf), "%s", inc->peers);
                        for (char *p = strtok_r(peers_buf, ",", &save); p && m.n_peers < ELEMENTSOF(peers);
                             p = strtok_r(NULL, ",", &save))
                                peers[m.n_peers++] = p;
                        m.peers = peers;
                        m.run = r->id;
                        m.run_runbook = r->runbook;
                        m.run_state = run_state_to_string(r->state);
                }
                (void) notifier_send(e->notifier, rb ? (const char *const *) rb->notify_targets : NULL, &m);
        }
}

void engine_escalate_incident(engine *e, uint64_t incident_id, const char *fmt, ...) {
        char note[256];
        va_list ap;

        if (!incident_id)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(note, sizeof(note), fmt, ap);
        va_end(ap);
        (void) triage_incident_set_state(e->triage, incident_id, INCIDENT_ESCALATED, note);
}

uint64_t engine_exempt_of(const engine *e, uint64_t incident_id) {
        return e->exempt && incident_id ? e->exempt(incident_id, e->exempt_userdata) : 0;
}

void engine_set_exempt(engine *e, engine_exempt_fn exempt, void *userdata) {
        e->exempt = exempt;
        e->exempt_userdata = userdata;
}

void engine_set_gate(engine *e, const engine_gate *g) {
        e->gate = g ? *g : (engine_gate){};
}

bool engine_paused_now(const engine *e) {
        return e->paused || (e->gate.paused && e->gate.paused(e->gate.userdata));
}

run *engine_run_lookup(engine *e, uint64_t id) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->id == id)
                        return e->runs[i];
        return NULL;
}

void engine_run_clear_runtime(run *r) {
        r->call = action_call_free(r->call);
        action_params_done(&r->recovery_params); /* what that call used */
        r->timer = ev_source_disable_unref(r->timer);
        r->retrigger = ev_source_disable_unref(r->retrigger);
}

/* The per-runbook budget, if the runbook sets one, on top of the policy. */
policy_config engine_budget_policy(const engine *e, const runbook *rb) {
        policy_config p = e->config->policy;
        if (rb && rb->budget_runs) {
                p.budget_runs = rb->budget_runs;
                p.budget_window_usec = rb->budget_window_usec;
        }
        return p;
}

const run *engine_run_find(const engine *e, uint64_t id) {
        return engine_run_lookup((engine *) e, id);
}

static const char *const states[_MEASURE_STATE_MAX] = {
        [MEASURE_ARMING] = "arming",       [MEASURE_ACTIVE] = "active",
        [MEASURE_REVERTING] = "reverting", [MEASURE_REVERTED] = "reverted",
        [MEASURE_REVERT_FAILED] = "revert_failed",
};

const char *measure_state_to_string(measure_state s) {
        return s >= 0 && s < _MEASURE_STATE_MAX ? states[s] : "?";
}

bool measure_state_live(measure_state s) {
        return s == MEASURE_ARMING || s == MEASURE_ACTIVE || s == MEASURE_REVERTING;
}

bool measure_state_owed(measure_state s) {
        return measure_state_live(s) || s == MEASURE_REVERT_FAILED;
}

/* A temporary measure's changes are not the gateway's own state: while one is in force the
 * healthy gateway's last-good state is not recorded (a rollback to it would make the measure
 * permanent, past its expiry). Asked again at every change of a measure. */
void engine_hold_good_for_measures(engine *e) {
        bool owed = false;

        for (size_t i = 0; i < e->n_measures && !owed; i++)
                owed = measure_state_owed(e->measures[i]->state);
        if (e->triage)
                triage_hold_good(e->triage, TRIAGE_HOLD_MEASURES, owed);
}

void measure_free_runtime(measure *m) {
        m->timer = ev_source_disable_unref(m->timer);
        m->hold_timer = ev_source_disable_unref(m->hold_timer);
        m->call = action_call_free(m->call);
}

measure *measure_lookup(engine *e, uint64_t id) {
        for (size_t i = 0; i < e->n_measures; i++)
                if (e->measures[i]->id == id)
                        return e->measures[i];
        return NULL;
}

char *const *call_context_fill(call_context *ctx, uint64_t incident_id, uint64_t run_id, const char *step, const char *phase) {
        (void) snprintf(ctx->buf[0], sizeof(ctx->buf[0]), "IKEHEAL_INCIDENT=%llu", (unsigned long long) incident_id);
        (void) snprintf(ctx->buf[1], sizeof(ctx->buf[1]), "IKEHEAL_RUN=%llu", (unsigned long long) run_id);
        (void) snprintf(ctx->buf[2], sizeof(ctx->buf[2]), "IKEHEAL_STEP=%s", step);
        (void) snprintf(ctx->buf[3], sizeof(ctx->buf[3]), "IKEHEAL_PHASE=%s", phase);
        for (size_t i = 0; i < 4; i++)
                ctx->v[i] = ctx->buf[i];
        ctx->v[4] = NULL;
        return ctx->v;
}

/* The cooldown timer: engine.c says what looking again means (e->recheck_fn). */
static int on_recheck(ev_source *s, uint64_t usec, void *userdata) {
        engine *e = userdata;

        e->recheck = ev_source_disable_unref(e->recheck);
        if (e->recheck_fn)
                e->recheck_fn(e);
        return 0;
}

void engine_recheck_at(engine *e, uint64_t when) {
        uint64_t cur = 0;
        if (e->recheck && ev_source_get_time(e->recheck, &cur) >= 0 && cur <= when)
                return;
        e->recheck = ev_source_disable_unref(e->recheck);
        (void) ev_add_time(e->event, &e->recheck, CLOCK_REALTIME, when, 100 * USEC_PER_MSEC, on_recheck, e);
}
