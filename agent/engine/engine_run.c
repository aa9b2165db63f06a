/* One run's state machine (see engine.h): created; decided (observed, proposed, pending approval
 * with its expiry, or running); gated before each step; then each step is recorded as started
 * before it is applied, applied through the action interface with its timeout, then verified —
 * a check of the agent that must report OK on a run that began after the step, and/or the
 * action's own verify — within its time. A failure anywhere rolls back: the steps started so far
 * are reverted newest first (a temporary measure through its measure), then the runbook's
 * on_failure steps run, then the run escalates as the runbook says. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/checks/check_set.h"
#include "agent/checks/registry.h"
#include "agent/engine/engine_internal.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "duration.h"
#include "log.h"
#include "log_ids.h"

#define VERIFY_RETRIGGER_USEC (500 * USEC_PER_MSEC)

uint32_t engine_established_sas(engine *e) {
        for (size_t i = 0; triage_checks(e->triage) && i < check_set_size(triage_checks(e->triage)); i++) {
                check *c = check_set_get(triage_checks(e->triage), i);
                const finding *f = check_last_finding(c);
                const char *v = f && check_kind_is(check_kind(c), CHECK_ROLE_SA_COUNT) ? finding_fact_get(f, "ike_sas") : NULL;
                if (v)
                        return (uint32_t) strtoul(v, NULL, 10);
        }
        return 0;
}

uint32_t engine_established_sas_public(engine *e) {
        return engine_established_sas(e);
}

/* What a run's placeholders are filled from: the run (0 for a plan shown before one exists),
 * its runbook and its incident. */
typedef struct fill {
        engine *e;
        uint64_t run_id, incident_id;
        const char *runbook;
        bool for_plan; /* the narrative (summary, evidence) stays as written, see engine_plan() */
} fill;

/* The value of one placeholder (runbook_placeholders). */
static void placeholder(const fill *f, const char *name, size_t len, char *out, size_t n) {
        const incident *inc = f->incident_id ? incident_store_find(f->e->incidents, f->incident_id) : NULL;

        out[0] = 0;
        if (len == 3 && strncmp(name, "run", 3) == 0)
                (void) snprintf(out, n, "%llu", (unsigned long long) f->run_id);
        else if (len == 7 && strncmp(name, "runbook", 7) == 0)
                (void) snprintf(out, n, "%s", f->runbook);
        else if (!inc)
                (void) snprintf(out, n, "-");
        else if (strncmp(name, "incident.id", len) == 0)
                (void) snprintf(out, n, "%llu", (unsigned long long) inc->id);
        else if (strncmp(name, "incident.class", len) == 0)
                (void) snprintf(out, n, "%s", fault_class_to_string(inc->cls));
        else if (strncmp(name, "incident.scope", len) == 0)
                (void) snprintf(out, n, "%s", fault_scope_to_string(inc->scope));
        else if (strncmp(name, "incident.reason", len) == 0)
                (void) snprintf(out, n, "%s", inc->reason[0] ? inc->reason : "-");
        else if (strncmp(name, "incident.peers", len) == 0)
                (void) snprintf(out, n, "%s", inc->peers[0] ? inc->peers : "-");
        else if (strncmp(name, "incident.summary", len) == 0)
                (void) snprintf(out, n, "%s", inc->summary);
        else if (strncmp(name, "incident.evidence", len) == 0) {
                size_t w = 0;
                for (size_t i = 0; i < inc->n_evidence && w + 4 < n; i++) {
                        int k = snprintf(out + w, n - w, "%s%s", i ? " | " : "", inc->evidence[i]);
                        if (k < 0)
                                break;
                        w += (size_t) k < n - w ? (size_t) k : n - w - 1;
                }
        }
}

/* Fill in the ${…} placeholders of a step's string parameters (checked at parse time); the
 * expanded text is what is planned, approved, recorded, run and audited. */
static void expand_with(action_params *p, void *userdata) {
        const fill *f = userdata;

        for (size_t i = 0; p->ops->params[i].name; i++) {
                action_value *v = &p->v[i];
                char out[ACTION_PLAN_MAX], val[1024];
                size_t w = 0;

                if (p->ops->params[i].type != AP_STRING || !v->set || !strstr(v->str, "${"))
                        continue;
                for (const char *c = v->str; *c && w + 1 < sizeof(out);) {
                        const char *end = strncmp(c, "${", 2) == 0 ? strchr(c, '}') : NULL;
                        if (!end) {
                                out[w++] = *c++;
                                continue;
                        }
                        size_t len = (size_t) (end - c - 2);
                        if (f->for_plan && ((len == 16 && strncmp(c + 2, "incident.summary", len) == 0) ||
                                            (len == 17 && strncmp(c + 2, "incident.evidence", len) == 0)))
                                (void) snprintf(val, sizeof(val), "%.*s", (int) (len + 3), c);
                        else
                                placeholder(f, c + 2, len, val, sizeof(val));
                        for (const char *q = val; *q && w + 1 < sizeof(out);)
                                out[w++] = *q++;
                        c = end + 1;
                }
                out[w] = 0;
                char *dup = strdup(out);
                if (dup) {
                        free(v->str);
                        v->str = dup;
                }
        }
}

static void expand(engine *e, run *r, action_params *p) {
        fill f = { .e = e, .run_id = r->id, .incident_id = r->incident, .runbook = r->runbook };
        expand_with(p, &f);
}

/* What a step will act on (peers, class, scope, reason, ids) is filled in, so an approval binds
 * to it; the incident's summary and evidence, which grow while it is open and only tell, stay
 * as written, or every new log line would void the approvals. */
int engine_plan(engine *e, const runbook *rb, uint64_t run_id, uint64_t incident_id, runbook_plan *ret) {
        fill f = { .e = e, .run_id = run_id, .incident_id = incident_id, .runbook = rb->name, .for_plan = true };
        return runbook_plan_make(rb, &e->env, expand_with, &f, ret);
}

static void escalate_after(engine *e, run *r) {
        const runbook *rb = r->rb, *to;
        run *next;

        if (rb && rb->escalate == RB_ESCALATE_RUNBOOK && (to = runbook_set_find(r->set, rb->escalate_runbook)) &&
            (next = engine_run_new(e, to, r->set, r->incident, r->signature))) {
                engine_audit(e, "escalation", "run %llu failed: escalating to runbook %s (run %llu)", (unsigned long long) r->id,
                             to->name, (unsigned long long) next->id);
                engine_decide(e, next, to->grade, false);
                return;
        }
        if (rb && rb->escalate == RB_ESCALATE_GRADE && (next = engine_run_new(e, rb, r->set, r->incident, r->signature))) {
                engine_audit(e, "escalation", "run %llu failed: proposing runbook %s again at grade %s (run %llu)",
                             (unsigned long long) r->id, rb->name, grade_to_string(rb->escalate_grade),
                             (unsigned long long) next->id);
                engine_decide(e, next, rb->escalate_grade, false);
                return;
        }
        engine_notify(e, r, RB_EV_ESCALATED, "run %llu of %s failed and was rolled back; a human is needed: %s",
                      (unsigned long long) r->id, r->runbook, r->note);
        engine_escalate_incident(e, r->incident, "runbook %s failed (run %llu): %s", r->runbook, (unsigned long long) r->id,
                                 r->note);
}

/* The journal fields of a run's records: which run, runbook, incident (and step). */
typedef struct run_fields_buf {
        char run[48], runbook[96], incident[48], step[96];
        const char *v[6];
} run_fields_buf;

static run_fields_buf run_fields(const run *r, const char *message_id, const char *step) {
        run_fields_buf f;
        size_t n = 0;

        (void) snprintf(f.run, sizeof(f.run), "IKEHEAL_RUN=%llu", (unsigned long long) r->id);
        (void) snprintf(f.runbook, sizeof(f.runbook), "IKEHEAL_RUNBOOK=%s", r->runbook);
        (void) snprintf(f.incident, sizeof(f.incident), "IKEHEAL_INCIDENT=%llu", (unsigned long long) r->incident);
        (void) snprintf(f.step, sizeof(f.step), "IKEHEAL_STEP=%s", step ? step : "");
        f.v[n++] = message_id;
        f.v[n++] = f.run;
        f.v[n++] = f.runbook;
        f.v[n++] = f.incident;
        if (step)
                f.v[n++] = f.step;
        f.v[n] = NULL;
        return f;
}

static void run_succeeded(engine *e, run *r) {
        bool observe = r->grade == GRADE_OBSERVE;
        engine_run_finish(e, r, observe ? RUN_OBSERVED : RUN_SUCCEEDED, "%zu step%s done and verified", r->n_steps,
                          r->n_steps == 1 ? "" : "s");
        engine_audit(e, observe ? "observe" : "run_succeeded", "run %llu runbook %s %s: %s", (unsigned long long) r->id,
                     r->runbook, observe ? "done" : "succeeded", r->note);
        if (!observe)
                engine_notify(e, r, RB_EV_SUCCEEDED, "run %llu of %s succeeded for incident %llu", (unsigned long long) r->id,
                              r->runbook, (unsigned long long) r->incident);
        log_fields(LOG_INFO, run_fields(r, LOG_MID_RUN_SUCCEEDED, NULL).v, "run %llu (runbook %s) %s", (unsigned long long) r->id,
                   r->runbook, observe ? "done" : "succeeded");
}

static void step_verified(engine *e, run *r) {
        run_step *rs = &r->steps[r->step];

        r->timer = ev_source_disable_unref(r->timer);
        r->retrigger = ev_source_disable_unref(r->retrigger);
        r->verify_deadline = 0;
        rs->phase = PHASE_VERIFIED;
        r->updated_usec = real_usec();
        r->step++;
        (void) engine_persist_run(e, r);
        run_advance(e, r);
}

static void maybe_verified(engine *e, run *r) {
        const rb_step *s = &r->rb->steps[r->step];
        char d[32];

        if (!r->verify_check_ok || !r->verify_action_ok)
                return;
        engine_audit(e, "verification", "run %llu step %zu %s verified%s%s%s after %s", (unsigned long long) r->id,
                     r->step + 1, s->name, s->verify_check ? ": check " : "", s->verify_check ? s->verify_check : "",
                     s->verify_check ? " OK" : "", duration_format(real_usec() - r->verify_after_usec, d, sizeof(d)));
        step_verified(e, r);
}

static int on_verify_timeout(ev_source *src, uint64_t usec, void *userdata) {
        run *r = userdata;
        const rb_step *s = &r->rb->steps[r->step];
        check *c = s->verify_check ? check_set_find(triage_checks(r->engine->triage), s->verify_check) : NULL;
        const finding *f = c ? check_last_finding(c) : NULL;
        char d[32];

        r->timer = ev_source_disable_unref(r->timer);
        r->steps[r->step].phase = PHASE_FAILED;
        run_rollback(r->engine, r, "step %s not verified within %s%s%s%s%s", s->name,
                     duration_format(s->verify_within_usec, d, sizeof(d)),
                     !r->verify_check_ok && s->verify_check ? ": check " : "",
                     !r->verify_check_ok && s->verify_check ? s->verify_check : "",
                     !r->verify_check_ok && f ? " says " : "", !r->verify_check_ok && f && f->summary ? f->summary : "");
        return 0;
}

static int on_retrigger(ev_source *src, uint64_t usec, void *userdata) {
        run *r = userdata;
        const rb_step *s = &r->rb->steps[r->step];
        check *c = check_set_find(triage_checks(r->engine->triage), s->verify_check);

        r->retrigger = ev_source_disable_unref(r->retrigger);
        if (c)
                (void) check_trigger(c);
        return 0;
}

void run_verify_finding(engine *e, run *r, const char *check_name) {
        const rb_step *s = r->rb && r->step < r->rb->n_steps ? &r->rb->steps[r->step] : NULL;
        check *c;
        const finding *f;

        if (!s || !s->verify_check || r->verify_check_ok || strcmp(s->verify_check, check_name) != 0)
                return;
        c = check_set_find(triage_checks(e->triage), check_name);
        f = c ? check_last_finding(c) : NULL;
        if (f && f->started_usec >= r->verify_after_usec && f->status == CHECK_OK) {
                r->verify_check_ok = true;
                maybe_verified(e, r);
                return;
        }
        /* not yet: the fix may take a moment (charon reloading); ask again shortly */
        if (!r->retrigger)
                (void) ev_add_time_relative(e->event, &r->retrigger, CLOCK_MONOTONIC, VERIFY_RETRIGGER_USEC,
                                                  50 * USEC_PER_MSEC, on_retrigger, r);
}

static void on_verify_action_done(action_call *call, int result, void *userdata) {
        run *r = userdata;
        engine *e = r->engine;

        if (result < 0) {
                r->steps[r->step].phase = PHASE_FAILED;
                run_rollback(e, r, "step %s: the action's verify failed: %s", r->steps[r->step].name,
                             action_call_detail(call)[0] ? action_call_detail(call) : strerror(-result));
                return;
        }
        r->verify_action_ok = true;
        maybe_verified(e, r);
}

static void start_verify(engine *e, run *r) {
        const rb_step *s = &r->rb->steps[r->step];
        run_step *rs = &r->steps[r->step];
        int k;

        r->verify_after_usec = real_usec();
        r->verify_deadline = mono_usec() + s->verify_within_usec;
        r->verify_check_ok = !s->verify_check;
        r->verify_action_ok = !s->verify_action;
        r->timer = ev_source_disable_unref(r->timer);
        (void) ev_add_time(e->event, &r->timer, CLOCK_MONOTONIC, r->verify_deadline, USEC_PER_MSEC,
                                 on_verify_timeout, r);
        if (s->verify_action) {
                r->call = action_call_free(r->call);
                k = action_call_new(&r->call, &rs->params, &e->env, ACTION_VERIFY, s->verify_within_usec,
                                    call_context_fill(&r->ctx, r->incident, r->id, rs->name, "verify"),
                                    on_verify_action_done, r);
                if (k < 0) {
                        rs->phase = PHASE_FAILED;
                        run_rollback(e, r, "step %s: cannot start the action's verify: %s", rs->name, strerror(-k));
                        return;
                }
        }
        if (s->verify_check) {
                check *c = check_set_find(triage_checks(e->triage), s->verify_check);
                if (!c) {
                        rs->phase = PHASE_FAILED;
                        run_rollback(e, r, "step %s: verify check %s is not running", rs->name, s->verify_check);
                        return;
                }
                (void) check_trigger(c);
        }
}

static void on_apply_done(action_call *call, int result, void *userdata) {
        run *r = userdata;
        engine *e = r->engine;
        const rb_step *s = &r->rb->steps[r->step];
        run_step *rs = &r->steps[r->step];
        const char *detail = action_call_detail(call);
        measure *m = rs->measure ? measure_lookup(e, rs->measure) : NULL;

        if (result < 0) {
                rs->phase = PHASE_FAILED;
                engine_audit(e, "action_failed", "run %llu step %zu %s (%s) failed: %s%s%s", (unsigned long long) r->id,
                             r->step + 1, rs->name, s->params.ops->kind, strerror(-result), detail[0] ? ": " : "", detail);
                run_rollback(e, r, "step %s failed: %s%s%s", rs->name, strerror(-result), detail[0] ? ": " : "", detail);
                return;
        }
        rs->phase = PHASE_APPLIED;
        if (m)
                measure_activate(e, m);
        r->updated_usec = real_usec();
        (void) engine_persist_run(e, r);
        engine_audit(e, "action", "run %llu step %zu %s (%s) applied%s%s", (unsigned long long) r->id, r->step + 1, rs->name,
                     s->params.ops->kind, detail[0] ? ": " : "", detail);
        if (s->verify_check || s->verify_action)
                start_verify(e, r);
        else
                step_verified(e, r);
}

static void start_step(engine *e, run *r) {
        const rb_step *s = &r->rb->steps[r->step];
        run_step *rs = &r->steps[r->step];
        int k;

        action_params_done(&rs->params);
        k = action_params_copy(&s->params, &rs->params);
        if (k < 0) {
                run_rollback(e, r, "step %s: %s", s->name, strerror(-k));
                return;
        }
        expand(e, r, &rs->params);
        if (s->expires_in_usec) {
                /* the policy in force now bounds it too (a reload may have lowered it) */
                uint64_t max = policy_measure_max(&e->config->policy, s->params.ops->kind);
                if (s->expires_in_usec > max) {
                        char a[32], b[32];
                        run_rollback(e, r, "step %s: expires_in %s exceeds the policy's %s for %s measures", s->name,
                                     duration_format(s->expires_in_usec, a, sizeof(a)), duration_format(max, b, sizeof(b)),
                                     s->params.ops->kind);
                        return;
                }
                /* the revert is on disk before the measure exists */
                measure *m = measure_new(e, r, s, &rs->params);
                if (!m) {
                        run_rollback(e, r, "step %s: cannot record the temporary measure durably", s->name);
                        return;
                }
                rs->measure = m->id;
        }
        rs->phase = PHASE_STARTED;
        r->updated_usec = real_usec();
        k = engine_persist_run(e, r);
        if (k < 0 && e->store.log) {
                run_rollback(e, r, "step %s: cannot record it durably before applying it: %s", s->name, strerror(-k));
                return;
        }
        log_fields(LOG_INFO, run_fields(r, LOG_MID_RUN_STEP, s->name).v, "run %llu step %zu %s: %s", (unsigned long long) r->id,
                   r->step + 1, s->name, s->params.ops->kind);
        r->call = action_call_free(r->call);
        k = action_call_new(&r->call, &rs->params, &e->env, ACTION_APPLY, s->timeout_usec,
                            call_context_fill(&r->ctx, r->incident, r->id, rs->name, "apply"), on_apply_done, r);
        if (k < 0) {
                rs->phase = PHASE_FAILED;
                run_rollback(e, r, "step %s: cannot start %s: %s", s->name, s->params.ops->kind, strerror(-k));
        }
}

void run_advance(engine *e, run *r) {
        if (r->state != RUN_RUNNING)
                return;
        if (r->step == 0 && r->steps[0].phase == PHASE_NONE && r->grade != GRADE_OBSERVE) {
                if (r->incident)
                        (void) triage_incident_set_state(e->triage, r->incident, INCIDENT_REMEDIATING, "runbook running");
                engine_notify(e, r, RB_EV_STARTED, "run %llu of %s started for incident %llu", (unsigned long long) r->id,
                              r->runbook, (unsigned long long) r->incident);
        }
        if (r->step >= r->n_steps) {
                run_succeeded(e, r);
                return;
        }
        if (!r->rb) {
                run_rollback(e, r, "runbook %s changed or was removed", r->runbook);
                return;
        }
        if (r->grade != GRADE_OBSERVE && !engine_step_gate(e, r))
                return;
        start_step(e, r);
}

static void rollback_next(engine *e, run *r);

static void reverted(engine *e, run *r, int result, const char *detail) {
        run_step *rs = &r->steps[r->rollback_pos - 1];

        rs->phase = result < 0 ? PHASE_REVERT_FAILED : PHASE_REVERTED;
        engine_audit(e, result < 0 ? "revert_failed" : "revert", "run %llu step %s %s%s%s%s", (unsigned long long) r->id,
                     rs->name, result < 0 ? "revert FAILED: " : "reverted", result < 0 ? strerror(-result) : "",
                     detail && detail[0] ? "; " : "", detail && detail[0] ? detail : "");
        r->rollback_pos--;
        (void) engine_persist_run(e, r);
        rollback_next(e, r);
}

static void on_revert_done(action_call *call, int result, void *userdata) {
        run *r = userdata;
        reverted(r->engine, r, result, action_call_detail(call));
}

static void on_measure_reverted(engine *e, measure *m, int result, void *userdata) {
        run *r = userdata;
        reverted(e, r, result, m->note);
}

static void on_recovery_done(action_call *call, int result, void *userdata) {
        run *r = userdata;
        engine *e = r->engine;

        engine_audit(e, result < 0 ? "action_failed" : "action", "run %llu on_failure step %s: %s%s%s", (unsigned long long) r->id,
                     r->rb->on_failure[r->recovery_pos].name, result < 0 ? strerror(-result) : "done",
                     action_call_detail(call)[0] ? ": " : "", action_call_detail(call));
        r->recovery_pos++;
        (void) engine_persist_run(e, r);
        rollback_next(e, r);
}

static void rollback_next(engine *e, run *r) {
        while (r->rollback_pos > 0) {
                run_step *rs = &r->steps[r->rollback_pos - 1];
                measure *m = rs->measure ? measure_lookup(e, rs->measure) : NULL;
                int k;

                if (rs->phase == PHASE_NONE || rs->phase == PHASE_REVERTED) {
                        r->rollback_pos--;
                        continue;
                }
                if (m) {
                        measure_revert(e, m, false, on_measure_reverted, r);
                        return;
                }
                if (!rs->params.ops || !action_supports(&rs->params, ACTION_REVERT)) {
                        engine_audit(e, "revert", "run %llu step %s (%s) has no revert: left as it is", (unsigned long long) r->id,
                                     rs->name, rs->params.ops ? rs->params.ops->kind : "?");
                        r->rollback_pos--;
                        continue;
                }
                r->call = action_call_free(r->call);
                k = action_call_new(&r->call, &rs->params, &e->env, ACTION_REVERT,
                                    action_revert_timeout(&rs->params, RUNBOOK_STEP_TIMEOUT_DEFAULT),
                                    call_context_fill(&r->ctx, r->incident, r->id, rs->name, "revert"), on_revert_done, r);
                if (k < 0) {
                        reverted(e, r, k, "cannot start");
                        return;
                }
                return;
        }
        if (r->rb && r->recovery_pos < r->rb->n_on_failure) {
                const rb_step *s = &r->rb->on_failure[r->recovery_pos];
                r->call = action_call_free(r->call);
                action_params_done(&r->recovery_params);
                int k = action_params_copy(&s->params, &r->recovery_params);
                if (k >= 0) {
                        expand(e, r, &r->recovery_params);
                        k = action_call_new(&r->call, &r->recovery_params, &e->env, ACTION_APPLY, s->timeout_usec,
                                            call_context_fill(&r->ctx, r->incident, r->id, s->name, "on_failure"),
                                            on_recovery_done, r);
                }
                if (k < 0) {
                        r->recovery_pos++;
                        rollback_next(e, r);
                }
                return;
        }
        char note[sizeof(r->note)];
        memcpy(note, r->note, sizeof(note));
        engine_run_finish(e, r, RUN_FAILED, "%s", note);
        engine_audit(e, "run_failed", "run %llu runbook %s failed and was rolled back: %s", (unsigned long long) r->id,
                     r->runbook, r->note);
        engine_notify(e, r, RB_EV_FAILED, "run %llu of %s failed and was rolled back: %s", (unsigned long long) r->id,
                      r->runbook, r->note);
        escalate_after(e, r);
}

void run_rollback(engine *e, run *r, const char *fmt, ...) {
        va_list ap;

        /* the note first: its arguments may point into the call (its detail text) */
        va_start(ap, fmt);
        (void) vsnprintf(r->note, sizeof(r->note), fmt, ap);
        va_end(ap);
        /* whatever was in flight (a verify) must not complete into the rollback */
        r->call = action_call_free(r->call);
        r->timer = ev_source_disable_unref(r->timer);
        r->retrigger = ev_source_disable_unref(r->retrigger);
        r->verify_deadline = 0;
        r->state = RUN_ROLLING_BACK;
        r->rollback_pos = 0;
        if (!r->rb || r->rb->rollback)
                for (size_t i = 0; i < r->n_steps; i++)
                        if (r->steps[i].phase != PHASE_NONE)
                                r->rollback_pos = i + 1;
        r->updated_usec = real_usec();
        (void) engine_persist_run(e, r);
        log_fields(LOG_WARNING, run_fields(r, LOG_MID_RUN_ROLLBACK, NULL).v, "run %llu (runbook %s) rolling back: %s",
                   (unsigned long long) r->id, r->runbook, r->note);
        engine_audit(e, "rollback", "run %llu runbook %s rolling back %zu step(s): %s", (unsigned long long) r->id, r->runbook,
                     r->rollback_pos, r->note);
        rollback_next(e, r);
}

/* A new run, and the end of one. */
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
        r->drill = engine_exempt_of(e, incident_id);
        (void) snprintf(r->signature, sizeof(r->signature), "%s", sig ? sig : "");
        r->rb = rb;
        r->engine = e;
        r->set = runbook_set_ref(set);
        r->n_steps = rb->n_steps;
        r->approvers_needed = rb->approvers;
        r->grade = rb->grade;
        r->created_usec = r->updated_usec = real_usec();
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
        bool was_running = r->state == RUN_RUNNING || r->state == RUN_ROLLING_BACK;
        engine_run_clear_runtime(r);
        r->state = st;
        r->finished_usec = r->updated_usec = real_usec();
        (void) engine_persist_run(e, r);
        /* incidents held while it ran (a runbook runs once at a time) are decided now */
        if (was_running)
                engine_recheck_at(e, real_usec());
}

/* Deciding: observe, propose, wait for approval or run; before each step, the gate. */
static void plan_of(engine *e, run *r) {
        runbook_plan p = { 0 };
        if (r->rb && engine_plan(e, r->rb, r->id, r->incident, &p) == 0) {
                memcpy(r->plan_hash, p.hash, sizeof(r->plan_hash));
                engine_audit(e, "plan", "run %llu runbook %s incident %llu plan %s:\n%s", (unsigned long long) r->id,
                             r->runbook, (unsigned long long) r->incident, p.hash, p.text);
                runbook_plan_done(&p);
        }
}

static int on_approval_expired(ev_source *s, uint64_t usec, void *userdata);

static void engine_pend(engine *e, run *r, const char *why) {
        const policy_config *p = &e->config->policy;
        uint64_t life = r->rb && r->rb->approval_expires_usec ? r->rb->approval_expires_usec : p->approval_expires_usec;
        char d[32];

        r->state = RUN_PENDING;
        r->n_approvals = 0;
        r->approval_expires_usec = real_usec() + life;
        r->updated_usec = real_usec();
        (void) snprintf(r->why, sizeof(r->why), "%s", why);
        plan_of(e, r);
        r->timer = ev_source_disable_unref(r->timer);
        (void) ev_add_time(e->event, &r->timer, CLOCK_REALTIME, r->approval_expires_usec, USEC_PER_MSEC,
                                 on_approval_expired, r);
        (void) engine_persist_run(e, r);
        engine_audit(e, "approval_requested", "run %llu runbook %s (step %zu %s) waits for %u approver%s within %s, plan %s: %s",
                     (unsigned long long) r->id, r->runbook, r->step + 1, r->steps[r->step].name, r->approvers_needed,
                     r->approvers_needed == 1 ? "" : "s", duration_format(life, d, sizeof(d)), r->plan_hash, why);
        engine_notify(e, r, RB_EV_PENDING, "run %llu of %s waits for approval (ikehealctl pending; approve %llu): %s",
                      (unsigned long long) r->id, r->runbook, (unsigned long long) r->id, why);
        if (r->incident)
                (void) triage_incident_set_state(e->triage, r->incident, INCIDENT_REMEDIATING, "runbook waits for approval");
}

static int on_approval_expired(ev_source *s, uint64_t usec, void *userdata) {
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
        r->timer = ev_source_disable_unref(r->timer);
        if (r->approval_expires_usec <= real_usec()) {
                (void) on_approval_expired(NULL, 0, r);
                return;
        }
        (void) ev_add_time(e->event, &r->timer, CLOCK_REALTIME, r->approval_expires_usec, USEC_PER_MSEC,
                                 on_approval_expired, r);
}

/* The grade a run's next step needs now, and why. */
static grade step_grade(engine *e, run *r, char *why, size_t n) {
        const rb_step *s = &r->rb->steps[r->step];
        const policy_config *p = &e->config->policy;
        grade g = grade_raise(r->rb->grade, s->has_grade ? s->grade : r->rb->grade);
        char w1[256] = "", w2[256] = "";

        g = policy_grade_at(p, g, engine_paused_now(e), real_usec(), w1, sizeof(w1));
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
        _cleanup_(action_params_done) action_params p = { 0 };
        char why[256];
        int k;

        if (!s)
                return false;
        /* judged on what the step would run with: its ${incident.…} filled in */
        k = action_params_copy(&s->params, &p);
        if (k >= 0) {
                expand(e, r, &p);
                k = action_precondition(&p, &e->env, why, sizeof(why));
        }
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

/* The higher floor's gate (engine_set_gate), once the grade lets a step start: 1 go, 0 the run
 * waits (still running, r->why says for what; said once per reason), or escalated. */
static int higher_gate(engine *e, run *r) {
        const rb_step *s = &r->rb->steps[r->step];
        char why[256] = "";
        action_plan ap = { 0 };
        int k;

        if (!e->gate.step)
                return 1;
        (void) action_plan_make(&s->params, &e->env, ACTION_APPLY, &ap);
        k = e->gate.step(r, s->params.ops->kind, ap.disruptive, why, sizeof(why), e->gate.userdata);
        if (k > 0) {
                if (r->gate_waiting)
                        engine_audit(e, "gate", "run %llu runbook %s step %s goes on: %s", (unsigned long long) r->id,
                                     r->runbook, s->name, why[0] ? why : "the gate opened");
                r->gate_waiting = false;
                return 1;
        }
        if (k == 0) {
                bool said = r->gate_waiting && strcmp(r->why, why) == 0;
                r->gate_waiting = true;
                if (said)
                        return 0;
                (void) snprintf(r->why, sizeof(r->why), "%s", why);
                r->updated_usec = real_usec();
                (void) engine_persist_run(e, r);
                engine_audit(e, "gate_wait", "run %llu runbook %s step %s waits: %s", (unsigned long long) r->id, r->runbook,
                             s->name, why);
                engine_notify(e, r, RB_EV_PENDING, "run %llu of %s: step %s waits: %s", (unsigned long long) r->id,
                              r->runbook, s->name, why);
                return 0;
        }
        r->gate_waiting = false;
        engine_run_finish(e, r, RUN_ESCALATED, "step %s not taken: %s", s->name, why);
        engine_audit(e, "escalation", "run %llu runbook %s step %s not taken: %s", (unsigned long long) r->id, r->runbook,
                     s->name, why);
        engine_notify(e, r, RB_EV_ESCALATED, "run %llu of %s: step %s not taken: %s; a human is needed",
                      (unsigned long long) r->id, r->runbook, s->name, why);
        engine_escalate_incident(e, r->incident, "runbook %s: step %s not taken: %s", r->runbook, s->name, why);
        return 0;
}

void engine_gate_reopen(engine *e, uint64_t run_id, int error, const char *why) {
        run *r = engine_run_lookup(e, run_id);

        if (!r || r->state != RUN_RUNNING || !r->gate_waiting || !r->rb || r->step >= r->n_steps)
                return;
        if (error < 0) {
                const rb_step *s = &r->rb->steps[r->step];
                r->gate_waiting = false;
                engine_run_finish(e, r, RUN_ESCALATED, "step %s not taken: %s", s->name, why);
                engine_audit(e, "escalation", "run %llu runbook %s step %s not taken: %s", (unsigned long long) r->id,
                             r->runbook, s->name, why);
                engine_notify(e, r, RB_EV_ESCALATED, "run %llu of %s: step %s not taken: %s; a human is needed",
                              (unsigned long long) r->id, r->runbook, s->name, why);
                engine_escalate_incident(e, r->incident, "runbook %s: step %s not taken: %s", r->runbook, s->name, why);
                return;
        }
        run_advance(e, r);
}

/* Before each step (run_advance calls this): may it run now? 1 yes, 0 it waits (pending or
 * proposed; the run's state says which; or at the higher floor's gate) or was escalated (its
 * precondition fails, or the gate said so). */
int engine_step_gate(engine *e, run *r) {
        char why[256];
        if (step_precondition_fails(e, r))
                return 0;
        grade g = step_grade(e, r, why, sizeof(why));

        if (g == GRADE_AUTO || g == GRADE_OBSERVE)
                return higher_gate(e, r);
        if (g == GRADE_APPROVE && r->n_approvals >= r->approvers_needed)
                return higher_gate(e, r);
        if (g == GRADE_MANUAL && r->operator_run && r->n_approvals >= r->approvers_needed)
                return higher_gate(e, r);
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
        g = policy_grade_at(&e->config->policy, base, engine_paused_now(e), real_usec(), why, sizeof(why));
        r->grade = g;
        (void) snprintf(r->why, sizeof(r->why), "%s", why);
        if (automatic && r->drill)
                engine_audit(e, "policy", "run %llu runbook %s answers drill %llu's fault: outside cooldown, budget and "
                             "breakers", (unsigned long long) r->id, r->runbook, (unsigned long long) r->drill);
        else if (automatic) {
                policy_config bp = engine_budget_policy(e, r->rb);
                char lw[256] = "";
                ledger_verdict v = policy_ledger_check(e->ledger, &bp, r->signature, real_usec(), lw, sizeof(lw));
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
                (void) policy_ledger_note_run(e->ledger, r->signature, real_usec());
                (void) engine_persist_meta(e);
        }
        r->state = RUN_RUNNING;
        plan_of(e, r);
        (void) engine_persist_run(e, r);
        run_advance(e, r);
}

void engine_run_resume(engine *e, run *r) {
        run_step *cur = r->step < r->n_steps ? &r->steps[r->step] : NULL;

        switch (r->state) {
        case RUN_PENDING:
                if (!r->rb) {
                        engine_run_finish(e, r, RUN_CANCELLED, "runbook %s changed while waiting for approval", r->runbook);
                        return;
                }
                engine_reschedule_approval(e, r);
                return;
        case RUN_RUNNING:
                if (cur && (cur->phase == PHASE_STARTED || cur->phase == PHASE_APPLIED || cur->phase == PHASE_FAILED)) {
                        engine_audit(e, "recovery", "run %llu was interrupted during step %s (%s): rolling back, never "
                                     "applying it twice", (unsigned long long) r->id, cur->name, step_phase_to_string(cur->phase));
                        run_rollback(e, r, "interrupted by an agent restart during step %s", cur->name);
                        return;
                }
                if (!r->rb) {
                        run_rollback(e, r, "runbook %s changed or was removed while the run was interrupted", r->runbook);
                        return;
                }
                engine_audit(e, "recovery", "run %llu resumes after an agent restart at step %zu of %zu", (unsigned long long) r->id,
                             r->step + 1, r->n_steps);
                run_advance(e, r);
                return;
        case RUN_ROLLING_BACK:
                engine_audit(e, "recovery", "run %llu resumes its rollback after an agent restart", (unsigned long long) r->id);
                rollback_next(e, r);
                return;
        default:
                return;
        }
}
