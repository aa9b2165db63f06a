/* The runbook engine's decisions (see engine.h): which runbook an incident gets, at which grade
 * and whether it runs now, waits for approval, is only proposed, or goes to a human; plus the
 * operators' verbs (approve, deny, run, pause) and the run list. Running steps is
 * engine_run.c; temporary measures are measure.c; durable state is engine_store.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/checks/check_set.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine_internal.h"
#include "agent/triage/incident.h"
#include "agent/notify/notifier.h"
#include "duration.h"
#include "log.h"
#include "rfc3339.h"

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
        agent_audit(e->a, kind, "%s", text);
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
        if (e->a->notifier) {
                notify_message m = {
                        .event = runbook_event_to_string(ev),
                        .incident = r ? r->incident : 0,
                        .runbook = r ? r->runbook : NULL,
                        .grade = r ? grade_to_string(r->grade) : NULL,
                        .text = text,
                };
                (void) notifier_send(e->a->notifier, rb ? (const char *const *) rb->notify_targets : NULL, &m);
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
        (void) agent_incident_set_state(e->a, incident_id, INCIDENT_ESCALATED, note);
}

run *engine_run_lookup(engine *e, uint64_t id) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->id == id)
                        return e->runs[i];
        return NULL;
}

void engine_run_clear_runtime(run *r) {
        r->call = action_call_free(r->call);
        r->timer = sd_event_source_disable_unref(r->timer);
        r->retrigger = sd_event_source_disable_unref(r->retrigger);
}

static void run_free(run *r) {
        if (!r)
                return;
        engine_run_clear_runtime(r);
        for (size_t i = 0; i < RUNBOOK_STEPS_MAX; i++)
                action_params_done(&r->steps[i].params);
        runbook_set_free(r->set);
        free(r);
}

/* Keep every active run and the newest ENGINE_RUNS_KEEP finished ones. */
void engine_prune(engine *e) {
        size_t finished = 0, w = 0;

        for (size_t i = 0; i < e->n_runs; i++)
                finished += !run_state_active(e->runs[i]->state);
        for (size_t i = 0; i < e->n_runs; i++) {
                run *r = e->runs[i];
                if (!run_state_active(r->state) && finished > ENGINE_RUNS_KEEP) {
                        finished--;
                        run_free(r);
                        continue;
                }
                e->runs[w++] = r;
        }
        e->n_runs = w;
}

run *engine_run_new(engine *e, const runbook *rb, runbook_set *set, uint64_t incident_id, const char *sig) {
        size_t active = 0;
        run **n, *r;

        for (size_t i = 0; i < e->n_runs; i++)
                active += run_state_active(e->runs[i]->state);
        if (active >= ENGINE_RUNS_ACTIVE_MAX) {
                log_warning("%zu runs active: not starting another for runbook %s", active, rb->name);
                return NULL;
        }
        r = calloc(1, sizeof(*r));
        n = r ? realloc(e->runs, (e->n_runs + 1) * sizeof(*n)) : NULL;
        if (!n) {
                free(r);
                return NULL;
        }
        e->runs = n;
        e->runs[e->n_runs++] = r;
        r->id = e->next_run_id++;
        (void) snprintf(r->runbook, sizeof(r->runbook), "%s", rb->name);
        memcpy(r->runbook_sha256, rb->sha256, sizeof(r->runbook_sha256));
        r->incident = incident_id;
        r->drill = drill_of_incident(e->a->drills, incident_id);
        (void) snprintf(r->signature, sizeof(r->signature), "%s", sig ? sig : "");
        r->rb = rb;
        r->engine = e;
        r->set = runbook_set_ref(set);
        r->n_steps = rb->n_steps;
        r->approvers_needed = rb->approvers;
        r->grade = rb->grade;
        r->created_usec = r->updated_usec = engine_now();
        for (size_t i = 0; i < rb->n_steps; i++)
                (void) snprintf(r->steps[i].name, sizeof(r->steps[i].name), "%s", rb->steps[i].name);
        return r;
}

void engine_run_finish(engine *e, run *r, run_state st, const char *fmt, ...) {
        va_list ap;

        /* the note first: its arguments may point into the call being dropped */
        va_start(ap, fmt);
        (void) vsnprintf(r->note, sizeof(r->note), fmt, ap);
        va_end(ap);
        engine_run_clear_runtime(r);
        r->state = st;
        r->finished_usec = r->updated_usec = engine_now();
        (void) engine_persist_run(e, r);
}

/* Facts of the agent's checks, for `match: fact:` */
static const char *fact_lookup(void *userdata, const char *check_name, const char *key) {
        agent *a = userdata;
        check *c = a->checks ? check_set_find(a->checks, check_name) : NULL;
        const finding *f = c ? check_last_finding(c) : NULL;
        return f ? finding_fact_get(f, key) : NULL;
}

const runbook *engine_match(engine *e, const incident *inc) {
        rb_subject s = {
                .cls = fault_class_to_string(inc->cls),
                .scope = fault_scope_to_string(inc->scope),
                .reason = inc->reason,
                .severity = inc->severity == CHECK_FAIL ? "fail" : "warn",
                .check = inc->root_check,
                .peers = inc->peers,
                .fact = fact_lookup,
                .userdata = e->a,
        };
        return runbook_set_match(e->a->config->runbooks, &s);
}

void engine_incident_signature(const incident *inc, char *buf, size_t size) {
        char first[128] = "";
        const char *comma = strchr(inc->peers, ',');
        (void) snprintf(first, sizeof(first), "%.*s", comma ? (int) (comma - inc->peers) : (int) strlen(inc->peers),
                        inc->peers);
        (void) policy_signature(buf, size, inc->root_check, fault_class_to_string(inc->cls), first);
}

/* The per-runbook budget, if the runbook sets one, on top of the policy. */
static policy_config budget_policy(const engine *e, const runbook *rb) {
        policy_config p = e->a->config->policy;
        if (rb && rb->budget_runs) {
                p.budget_runs = rb->budget_runs;
                p.budget_window_usec = rb->budget_window_usec;
        }
        return p;
}

static void plan_of(engine *e, run *r) {
        runbook_plan p = { 0 };
        if (r->rb && runbook_plan_make(r->rb, &e->env, &p) == 0) {
                memcpy(r->plan_hash, p.hash, sizeof(r->plan_hash));
                engine_audit(e, "plan", "run %llu runbook %s incident %llu plan %s:\n%s", (unsigned long long) r->id,
                             r->runbook, (unsigned long long) r->incident, p.hash, p.text);
                runbook_plan_done(&p);
        }
}

static int on_approval_expired(sd_event_source *s, uint64_t usec, void *userdata);

static void engine_pend(engine *e, run *r, const char *why) {
        const policy_config *p = &e->a->config->policy;
        uint64_t life = r->rb && r->rb->approval_expires_usec ? r->rb->approval_expires_usec : p->approval_expires_usec;
        char d[32];

        r->state = RUN_PENDING;
        r->n_approvals = 0;
        r->approval_expires_usec = engine_now() + life;
        r->updated_usec = engine_now();
        (void) snprintf(r->why, sizeof(r->why), "%s", why);
        plan_of(e, r);
        r->timer = sd_event_source_disable_unref(r->timer);
        (void) sd_event_add_time(e->a->event, &r->timer, CLOCK_REALTIME, r->approval_expires_usec, USEC_PER_MSEC,
                                 on_approval_expired, r);
        (void) engine_persist_run(e, r);
        engine_audit(e, "approval_requested", "run %llu runbook %s (step %zu %s) waits for %u approver%s within %s, plan %s: %s",
                     (unsigned long long) r->id, r->runbook, r->step + 1, r->steps[r->step].name, r->approvers_needed,
                     r->approvers_needed == 1 ? "" : "s", duration_format(life, d, sizeof(d)), r->plan_hash, why);
        engine_notify(e, r, RB_EV_PENDING, "run %llu of %s waits for approval (ikehealctl pending; approve %llu): %s",
                      (unsigned long long) r->id, r->runbook, (unsigned long long) r->id, why);
        if (r->incident)
                (void) agent_incident_set_state(e->a, r->incident, INCIDENT_REMEDIATING, "runbook waits for approval");
}

static int on_approval_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        run *r = userdata;
        engine *e = r->engine;

        engine_audit(e, "denial", "run %llu runbook %s: approval expired (%zu of %u approvals), counted as a denial",
                     (unsigned long long) r->id, r->runbook, r->n_approvals, r->approvers_needed);
        engine_run_finish(e, r, RUN_DENIED, "approval expired with %zu of %u approvals", r->n_approvals,
                          r->approvers_needed);
        engine_notify(e, r, RB_EV_ESCALATED, "run %llu of %s: approval expired; a human is needed", (unsigned long long) r->id,
                      r->runbook);
        engine_escalate_incident(e, r->incident, "runbook %s: approval expired (run %llu)", r->runbook,
                                 (unsigned long long) r->id);
        return 0;
}

void engine_reschedule_approval(engine *e, run *r) {
        r->timer = sd_event_source_disable_unref(r->timer);
        if (r->approval_expires_usec <= engine_now()) {
                (void) on_approval_expired(NULL, 0, r);
                return;
        }
        (void) sd_event_add_time(e->a->event, &r->timer, CLOCK_REALTIME, r->approval_expires_usec, USEC_PER_MSEC,
                                 on_approval_expired, r);
}

/* The grade a run's next step needs now, and why. */
static grade step_grade(engine *e, run *r, char *why, size_t n) {
        const rb_step *s = &r->rb->steps[r->step];
        const policy_config *p = &e->a->config->policy;
        grade g = grade_raise(r->rb->grade, s->has_grade ? s->grade : r->rb->grade);
        char w1[256] = "", w2[256] = "";

        g = policy_grade_at(p, g, e->paused, engine_now(), w1, sizeof(w1));
        action_plan ap = { 0 };
        (void) action_plan_make(&s->params, &e->env, ACTION_APPLY, &ap);
        if (ap.disruptive)
                g = grade_raise(g, policy_grade_blast(p, g, engine_established_sas(e), w2, sizeof(w2)));
        (void) snprintf(why, n, "%s%s%s", w1, w1[0] && w2[0] ? "; " : "", w2);
        return g;
}

/* A step whose precondition is already known to fail (no last-good manifest, no valid standby)
 * is never proposed or put up for approval only to fail once approved: the run is escalated at
 * once, saying why. True if it was. */
static bool step_precondition_fails(engine *e, run *r) {
        const rb_step *s = r->rb && r->step < r->rb->n_steps ? &r->rb->steps[r->step] : NULL;
        char why[256];
        int k;

        if (!s)
                return false;
        k = action_precondition(&s->params, &e->env, why, sizeof(why));
        if (k >= 0)
                return false;
        if (!why[0])
                (void) snprintf(why, sizeof(why), "%s", strerror(-k));
        engine_run_finish(e, r, RUN_ESCALATED, "step %s cannot work: %s", s->name, why);
        engine_audit(e, "escalation", "run %llu runbook %s not offered for incident %llu: step %s (%s) cannot work: %s",
                     (unsigned long long) r->id, r->runbook, (unsigned long long) r->incident, s->name,
                     s->params.ops->kind, why);
        engine_notify(e, r, RB_EV_ESCALATED, "runbook %s cannot help with incident %llu: step %s: %s; a human is needed",
                      r->runbook, (unsigned long long) r->incident, s->name, why);
        engine_escalate_incident(e, r->incident, "runbook %s cannot work: %s", r->runbook, why);
        return true;
}

/* Before each step (run_advance calls this): may it run now? 1 yes, 0 it waits (pending or
 * proposed; the run's state says which) or was escalated (its precondition fails). */
int engine_step_gate(engine *e, run *r) {
        char why[256];
        if (step_precondition_fails(e, r))
                return 0;
        grade g = step_grade(e, r, why, sizeof(why));

        if (g == GRADE_AUTO || g == GRADE_OBSERVE)
                return 1;
        if (g == GRADE_APPROVE && r->n_approvals >= r->approvers_needed)
                return 1;
        if (g == GRADE_MANUAL && r->operator_run && r->n_approvals >= r->approvers_needed)
                return 1;
        if (g == GRADE_MANUAL) {
                r->state = RUN_PROPOSED;
                r->grade = g;
                (void) snprintf(r->why, sizeof(r->why), "step %s needs an operator%s%.180s", r->steps[r->step].name,
                                why[0] ? ": " : "", why);
                plan_of(e, r);
                (void) engine_persist_run(e, r);
                engine_audit(e, "plan", "run %llu runbook %s proposed, not run: %s", (unsigned long long) r->id, r->runbook, r->why);
                engine_notify(e, r, RB_EV_PROPOSED, "run %llu of %s is proposed (ikehealctl plan %s; run %s): %s",
                              (unsigned long long) r->id, r->runbook, r->runbook, r->runbook, r->why);
                return 0;
        }
        r->grade = g;
        engine_pend(e, r, why[0] ? why : "runbook grade approve");
        return 0;
}

void engine_decide(engine *e, run *r, grade base, bool automatic) {
        char why[256] = "";
        grade g;

        if (base == GRADE_OBSERVE) {
                /* nothing with effects: its steps (notifications) run at once, unattended */
                r->grade = GRADE_OBSERVE;
                r->state = RUN_RUNNING;
                plan_of(e, r);
                (void) engine_persist_run(e, r);
                engine_audit(e, "observe", "run %llu runbook %s observes incident %llu", (unsigned long long) r->id,
                             r->runbook, (unsigned long long) r->incident);
                engine_notify(e, r, RB_EV_OBSERVED, "incident %llu observed by runbook %s", (unsigned long long) r->incident,
                              r->runbook);
                run_advance(e, r);
                return;
        }
        /* before the budget counts it or anyone is asked: can its first step work at all? */
        if (step_precondition_fails(e, r))
                return;
        g = policy_grade_at(&e->a->config->policy, base, e->paused, engine_now(), why, sizeof(why));
        r->grade = g;
        (void) snprintf(r->why, sizeof(r->why), "%s", why);
        if (automatic && r->drill)
                engine_audit(e, "policy", "run %llu runbook %s answers drill %llu's fault: outside cooldown, budget and "
                             "breakers", (unsigned long long) r->id, r->runbook, (unsigned long long) r->drill);
        else if (automatic) {
                policy_config bp = budget_policy(e, r->rb);
                char lw[256] = "";
                ledger_verdict v = policy_ledger_check(e->ledger, &bp, r->signature, engine_now(), lw, sizeof(lw));
                if (v != LEDGER_ALLOW) {
                        (void) engine_persist_meta(e);
                        engine_run_finish(e, r, RUN_ESCALATED, "%s", lw);
                        engine_audit(e, "escalation", "run %llu runbook %s not run for incident %llu: %s",
                                     (unsigned long long) r->id, r->runbook, (unsigned long long) r->incident, lw);
                        engine_notify(e, r, RB_EV_ESCALATED, "runbook %s not run: %s; a human is needed", r->runbook, lw);
                        engine_escalate_incident(e, r->incident, "runbook %s not run: %s", r->runbook, lw);
                        return;
                }
        }
        if (g == GRADE_MANUAL && !r->operator_run) {
                r->state = RUN_PROPOSED;
                plan_of(e, r);
                (void) engine_persist_run(e, r);
                engine_audit(e, "plan", "run %llu runbook %s proposed for incident %llu, not run (grade manual%s%s)",
                             (unsigned long long) r->id, r->runbook, (unsigned long long) r->incident, why[0] ? ": " : "", why);
                engine_notify(e, r, RB_EV_PROPOSED, "runbook %s proposed for incident %llu (ikehealctl plan %s; run %s)%s%s",
                              r->runbook, (unsigned long long) r->incident, r->runbook, r->runbook, why[0] ? ": " : "", why);
                return;
        }
        if (automatic && !r->drill) {
                (void) policy_ledger_note_run(e->ledger, r->signature, engine_now());
                (void) engine_persist_meta(e);
        }
        r->state = RUN_RUNNING;
        plan_of(e, r);
        (void) engine_persist_run(e, r);
        run_advance(e, r);
}

/* The newest run for an incident. */
static run *run_for_incident(engine *e, uint64_t incident_id) {
        for (size_t i = e->n_runs; i-- > 0;)
                if (e->runs[i]->incident == incident_id)
                        return e->runs[i];
        return NULL;
}

static uint64_t last_finished(engine *e, const char *name) {
        uint64_t t = 0;
        for (size_t i = 0; i < e->n_runs; i++)
                if (strcmp(e->runs[i]->runbook, name) == 0 && e->runs[i]->state != RUN_OBSERVED && !e->runs[i]->drill &&
                    e->runs[i]->finished_usec > t)
                        t = e->runs[i]->finished_usec;
        return t;
}

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        engine *e = userdata;

        e->recheck = sd_event_source_disable_unref(e->recheck);
        for (size_t i = 0; i < incident_store_size(e->a->incidents); i++) {
                const incident *inc = incident_store_get(e->a->incidents, i);
                if (inc->state == INCIDENT_OPEN || inc->state == INCIDENT_REMEDIATING)
                        engine_incident(e, inc->id, false);
        }
        return 0;
}

void engine_recheck_at(engine *e, uint64_t when) {
        uint64_t cur = 0;
        if (e->recheck && sd_event_source_get_time(e->recheck, &cur) >= 0 && cur <= when)
                return;
        e->recheck = sd_event_source_disable_unref(e->recheck);
        (void) sd_event_add_time(e->a->event, &e->recheck, CLOCK_REALTIME, when, 100 * USEC_PER_MSEC, on_recheck, e);
}

static bool clock_incident_active(engine *e) {
        for (size_t i = 0; i < incident_store_size(e->a->incidents); i++) {
                const incident *inc = incident_store_get(e->a->incidents, i);
                if (inc->cls == FAULT_CLOCK && inc->state != INCIDENT_RESOLVED)
                        return true;
        }
        return false;
}

/* A wrong clock makes good certificates look expired: nothing is done to certificates (or their
 * revocation data) while a clock incident is active — fix the time first. Such incidents are
 * held, not escalated: when the clock is right again they are decided afresh (the certificate
 * may really be expired, or not at all). */
static bool held_by_clock(engine *e, const incident *inc, const runbook *rb) {
        return (inc->cls == FAULT_CERTIFICATE || inc->cls == FAULT_REVOCATION) && rb->grade != GRADE_OBSERVE &&
               clock_incident_active(e);
}

static void release_held(engine *e) {
        uint64_t ids[16];
        size_t n = 0;

        for (size_t i = 0; i < incident_store_size(e->a->incidents) && n < ELEMENTSOF(ids); i++) {
                const incident *inc = incident_store_get(e->a->incidents, i);
                if ((inc->cls == FAULT_CERTIFICATE || inc->cls == FAULT_REVOCATION) && inc->state == INCIDENT_OPEN)
                        ids[n++] = inc->id;
        }
        for (size_t i = 0; i < n; i++)
                engine_incident(e, ids[i], false);
}

/* A re-opened incident waits for its runbook's cooldown: say so, with until when — once per hold
 * (a new hold: another incident, or a cooldown that ends at another time, is said again). */
static void hold_for_cooldown(engine *e, const incident *inc, const runbook *rb, uint64_t until) {
        char when[40], left[32], text[NOTIFY_TEXT_MAX];

        for (size_t i = 0; i < ELEMENTSOF(e->holds_said); i++)
                if (e->holds_said[i].incident == inc->id && e->holds_said[i].until == until)
                        return;
        e->holds_said[e->holds_next].incident = inc->id;
        e->holds_said[e->holds_next].until = until;
        e->holds_next = (e->holds_next + 1) % ELEMENTSOF(e->holds_said);
        (void) rfc3339_format(until, when, sizeof(when));
        (void) duration_format((until - engine_now()) / USEC_PER_SEC * USEC_PER_SEC, left, sizeof(left));
        (void) snprintf(text, sizeof(text), "incident %llu (%s) held: runbook %s in cooldown until %s (%s); decided then",
                        (unsigned long long) inc->id, fault_class_to_string(inc->cls), rb->name, when, left);
        log_notice("%s", text);
        engine_audit(e, "hold", "%s", text);
        if (e->a->notifier) {
                notify_message m = { .event = "held", .incident = inc->id, .runbook = rb->name,
                                     .grade = grade_to_string(rb->grade), .text = text };
                (void) notifier_send(e->a->notifier, (const char *const *) rb->notify_targets, &m);
        }
}

void engine_incident(engine *e, uint64_t incident_id, bool opened) {
        const incident *inc = incident_store_find(e->a->incidents, incident_id);
        char sig[LEDGER_SIGNATURE_MAX];
        const runbook *rb;
        run *last, *r;

        if (!inc || !e->started)
                return;
        engine_incident_signature(inc, sig, sizeof(sig));
        if (opened && !drill_of_incident(e->a->drills, incident_id)) {
                (void) policy_ledger_note_open(e->ledger, sig, engine_now());
                (void) engine_persist_meta(e);
        }
        last = run_for_incident(e, incident_id);
        if (inc->state == INCIDENT_RESOLVED) {
                if (last && (last->state == RUN_PENDING || last->state == RUN_PROPOSED)) {
                        engine_run_finish(e, last, RUN_CANCELLED, "incident %llu resolved", (unsigned long long) incident_id);
                        engine_audit(e, "plan", "run %llu runbook %s cancelled: incident %llu resolved",
                                     (unsigned long long) last->id, last->runbook, (unsigned long long) incident_id);
                }
                if (inc->cls == FAULT_CLOCK && !clock_incident_active(e))
                        release_held(e);
                return;
        }
        if (inc->state == INCIDENT_ESCALATED)
                return; /* a human's now */
        /* The incident changed since its plan was offered (a broken configuration joined a file
         * mode in the same class): a plan still waiting for an approver or an operator that is
         * no longer the one that matches is superseded, and the incident decided afresh. */
        if (last && (last->state == RUN_PENDING || last->state == RUN_PROPOSED) && !last->operator_run) {
                const runbook *now = engine_match(e, inc);
                if (now && strcmp(now->name, last->runbook) != 0) {
                        engine_run_finish(e, last, RUN_CANCELLED, "superseded: incident %llu now matches runbook %s",
                                          (unsigned long long) incident_id, now->name);
                        engine_audit(e, "plan", "run %llu runbook %s cancelled: incident %llu changed (%s, %s): runbook %s "
                                     "matches it now", (unsigned long long) last->id, last->runbook,
                                     (unsigned long long) incident_id, inc->severity == CHECK_FAIL ? "fail" : "warn",
                                     inc->reason, now->name);
                }
        }
        if (last && (run_state_active(last->state) || last->state == RUN_OBSERVED || last->state == RUN_DENIED ||
                     last->state == RUN_ESCALATED))
                return;
        /* A run succeeded (its verify passed) but the incident is still there: running the same
         * runbook again would not help. Give diagnosis time to resolve it, then a human. */
        if (last && last->state == RUN_SUCCEEDED) {
                if (engine_now() < last->finished_usec + ENGINE_PERSIST_GRACE_USEC)
                        engine_recheck_at(e, last->finished_usec + ENGINE_PERSIST_GRACE_USEC);
                else
                        engine_escalate_incident(e, incident_id, "runbook %s succeeded (run %llu) but the problem persists",
                                                 last->runbook, (unsigned long long) last->id);
                return;
        }
        rb = engine_match(e, inc);
        if (!rb)
                return;
        if (held_by_clock(e, inc, rb)) {
                if (opened)
                        engine_audit(e, "policy", "incident %llu: runbook %s held until the clock incident is resolved "
                                     "(a wrong clock makes good certificates look bad)", (unsigned long long) incident_id,
                                     rb->name);
                return;
        }
        if (rb->cooldown_usec && rb->grade != GRADE_OBSERVE && !drill_of_incident(e->a->drills, incident_id)) {
                uint64_t t = last_finished(e, rb->name);
                policy_config bp = budget_policy(e, rb);
                char lw[256];
                /* with the budget already spent, waiting out the cooldown would only end in an
                 * escalation: decided now (engine_decide escalates), not held */
                if (t && engine_now() < t + rb->cooldown_usec &&
                    policy_ledger_check(e->ledger, &bp, sig, engine_now(), lw, sizeof(lw)) == LEDGER_ALLOW) {
                        hold_for_cooldown(e, inc, rb, t + rb->cooldown_usec);
                        engine_recheck_at(e, t + rb->cooldown_usec);
                        return;
                }
        }
        r = engine_run_new(e, rb, e->a->config->runbooks, incident_id, sig);
        if (!r)
                return;
        log_info("incident %llu matches runbook %s (grade %s): run %llu", (unsigned long long) incident_id, rb->name,
                 grade_to_string(rb->grade), (unsigned long long) r->id);
        engine_decide(e, r, rb->grade, true);
        engine_prune(e);
}

void engine_healthy(engine *e) {
        if (policy_ledger_heal(e->ledger, &e->a->config->policy, engine_now()) > 0) {
                engine_audit(e, "policy", "circuit breakers closed after sustained health");
                (void) engine_persist_meta(e);
        }
}

void engine_finding(engine *e, const char *check_name) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->state == RUN_RUNNING && e->runs[i]->verify_deadline)
                        run_verify_finding(e, e->runs[i], check_name);
}

void engine_reconfigure(engine *e) {
        e->env.exec_dir = e->a->config->exec_dir;
        e->env.vici_socket = e->a->config->vici_socket;
        e->env.bus = e->a->bus;
        e->env.vici = e->a->vici;
        e->env.charon_unit = e->a->config->charon_unit;
        e->env.state_dir = e->a->config->state_dir;
        if (e->a->notifier)
                (void) notifier_set_config(e->a->notifier, &e->a->config->notify);
}

bool engine_paused(const engine *e, const char **ret_reason) {
        if (ret_reason)
                *ret_reason = e->pause_reason;
        return e->paused;
}

size_t engine_runs(const engine *e) {
        return e->n_runs;
}

const run *engine_run_get(const engine *e, size_t i) {
        return i < e->n_runs ? e->runs[e->n_runs - 1 - i] : NULL;
}

const run *engine_run_find(const engine *e, uint64_t id) {
        return engine_run_lookup((engine *) e, id);
}

size_t engine_measures(const engine *e) {
        return e->n_measures;
}

const measure *engine_measure_get(const engine *e, size_t i) {
        return i < e->n_measures ? e->measures[e->n_measures - 1 - i] : NULL;
}

const policy_ledger *engine_ledger(const engine *e) {
        return e->ledger;
}

const action_env *engine_action_env(const engine *e) {
        return &e->env;
}

static void engine_notify_cb(void *userdata, const char *event, const char *text) {
        engine *e = userdata;
        notify_message m = { .event = event, .text = text };

        log_notice("notify: %s", text);
        if (e->a->notifier)
                (void) notifier_send(e->a->notifier, NULL, &m);
}

/* A param of a configured check (action_env.check_param): "key" for a scalar, "key.N" for the
 * N-th item of a sequence. */
static const char *check_param(void *userdata, const char *name, const char *key) {
        engine *e = userdata;
        const ikeheal_config *c = e->a->config;
        char k[64];
        const char *dot = strchr(key, '.');
        long idx = dot ? strtol(dot + 1, NULL, 10) : -1;

        (void) snprintf(k, sizeof(k), "%.*s", dot ? (int) (dot - key) : (int) strlen(key), key);
        for (size_t i = 0; name && i < c->n_checks; i++) {
                const ynode *n = strcmp(c->checks[i].name, name) == 0 ? ynode_get(c->checks[i].params, k) : NULL;
                if (n && dot && n->type == YNODE_SEQ && idx >= 0 && (size_t) idx < n->n_items)
                        n = n->items[idx];
                else if (dot)
                        n = NULL;
                if (n && n->type == YNODE_SCALAR && !ynode_is_null(n))
                        return n->value;
        }
        return NULL;
}

int engine_new(engine **ret, agent *a) {
        engine *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->a = a;
        e->env = (action_env){ .event = a->event, .notify = engine_notify_cb, .notify_userdata = e,
                               .check_param = check_param, .check_userdata = e };
        r = policy_ledger_new(&e->ledger);
        if (r < 0) {
                free(e);
                return r;
        }
        engine_reconfigure(e);
        r = engine_store_open(e, a->config->state_dir);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

engine *engine_free(engine *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_runs; i++)
                run_free(e->runs[i]);
        free(e->runs);
        for (size_t i = 0; i < e->n_measures; i++) {
                measure_free_runtime(e->measures[i]);
                action_params_done(&e->measures[i]->params);
                free(e->measures[i]);
        }
        free(e->measures);
        sd_event_source_disable_unref(e->recheck);
        policy_ledger_free(e->ledger);
        statelog_free(e->log);
        free(e);
        return NULL;
}

/* What a previous life left: measures first (expired ones reverted now), then runs. */
int engine_start(engine *e) {
        engine_reconfigure(e); /* the VICI client exists now */
        e->started = true;
        measure_reconcile(e);
        for (size_t i = 0; i < e->n_runs; i++) {
                run *r = e->runs[i];
                const runbook *rb = runbook_set_find(e->a->config->runbooks, r->runbook);
                r->engine = e;
                if (!run_state_active(r->state))
                        continue;
                if (rb && strcmp(rb->sha256, r->runbook_sha256) == 0) {
                        r->rb = rb;
                        r->set = runbook_set_ref(e->a->config->runbooks);
                }
                engine_run_resume(e, r);
        }
        engine_prune(e);
        engine_recheck_at(e, engine_now());
        return 0;
}
