/* The operators' side of the engine: approving and denying a pending run (bound to the plan
 * hash, distinct approvers, the runbook as loaded now), running a runbook on request, pausing
 * and resuming automatic remediation. Who asks is decided by the caller (agent/verbs/approval_verb.c
 * from SO_PEERCRED); every decision is audited with the uid and user. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/engine/engine_internal.h"
#include "agent/triage/incident.h"
#include "policy/ledger.h"

static bool who_may_approve(const engine_who *who, char *why, size_t n) {
        if (who->approver)
                return true;
        (void) snprintf(why, n, "uid %u (%s) is not an approver (needs root or a group in control.approver_groups)",
                        who->uid, who->user);
        return false;
}

int engine_approve(engine *e, uint64_t run_id, const char *plan_hash, const engine_who *who, char *why, size_t n) {
        run *r = engine_run_lookup(e, run_id);
        runbook_plan p = { 0 };

        if (!who_may_approve(who, why, n)) {
                engine_audit(e, "approval_refused", "run %llu: %s", (unsigned long long) run_id, why);
                return -EPERM;
        }
        if (!r || r->state != RUN_PENDING) {
                (void) snprintf(why, n, "no run %llu waits for approval", (unsigned long long) run_id);
                return -ENOENT;
        }
        /* a runbook runs once at a time, one disruptive runbook at a time: two runs would act
         * on the same thing at once */
        const run *busy = engine_run_conflict(e, r->runbook, r->rb);
        if (busy) {
                (void) snprintf(why, n, "run %llu of runbook %s is running: approve run %llu once it has ended",
                                (unsigned long long) busy->id, busy->runbook, (unsigned long long) run_id);
                engine_audit(e, "approval_refused", "run %llu by uid %u (%s): %s", (unsigned long long) run_id, who->uid,
                             who->user, why);
                return -EBUSY;
        }
        /* a prefix of at least 12 hex digits (48 bits) names the plan the approver read */
        if (!plan_hash || strlen(plan_hash) < 12 || strncmp(plan_hash, r->plan_hash, strlen(plan_hash)) != 0) {
                (void) snprintf(why, n, "plan hash mismatch: run %llu's plan is %s (look at it again: ikehealctl pending)",
                                (unsigned long long) run_id, r->plan_hash);
                engine_audit(e, "approval_refused", "run %llu by uid %u (%s): %s", (unsigned long long) run_id, who->uid,
                             who->user, why);
                return -ESTALE;
        }
        /* the plan as it would run now — the runbook as loaded now, its scripts as they are
         * now: any change voids the approvals */
        const runbook *now_rb = runbook_set_find(e->config->runbooks, r->runbook);
        if (!now_rb) {
                (void) snprintf(why, n, "runbook %s is no longer loaded; the run cannot be approved", r->runbook);
                engine_run_finish(e, r, RUN_CANCELLED, "runbook %s removed while waiting for approval", r->runbook);
                return -ENOENT;
        }
        if (now_rb != r->rb) {
                runbook_set_free(r->set);
                r->set = runbook_set_ref(e->config->runbooks);
                r->rb = now_rb;
        }
        if (r->rb && engine_plan(e, r->rb, r->id, r->incident, &p) == 0) {
                bool changed = strcmp(p.hash, r->plan_hash) != 0;
                if (changed) {
                        engine_audit(e, "approval_void", "run %llu: plan changed from %s to %s, %zu approval(s) void",
                                     (unsigned long long) run_id, r->plan_hash, p.hash, r->n_approvals);
                        memcpy(r->plan_hash, p.hash, sizeof(r->plan_hash));
                        r->n_approvals = 0;
                        (void) engine_persist_run(e, r);
                        (void) snprintf(why, n, "the plan changed since it was shown (now %s): look at it again",
                                        p.hash);
                }
                runbook_plan_done(&p);
                if (changed)
                        return -ESTALE;
        }
        for (size_t i = 0; i < r->n_approvals; i++)
                if (r->approvals[i].uid == who->uid) {
                        (void) snprintf(why, n, "uid %u (%s) already approved run %llu; it needs a different approver",
                                        who->uid, who->user, (unsigned long long) run_id);
                        return -EALREADY;
                }
        run_approval *a = &r->approvals[r->n_approvals++];
        a->uid = who->uid;
        (void) snprintf(a->user, sizeof(a->user), "%s", who->user);
        a->time_usec = real_usec();
        r->updated_usec = a->time_usec;
        engine_audit(e, "approval", "run %llu runbook %s plan %s approved by uid %u (%s) (%zu of %u)",
                     (unsigned long long) run_id, r->runbook, r->plan_hash, who->uid, who->user, r->n_approvals,
                     r->approvers_needed);
        if (r->n_approvals < r->approvers_needed) {
                (void) engine_persist_run(e, r);
                (void) snprintf(why, n, "approved (%zu of %u): waiting for another approver", r->n_approvals,
                                r->approvers_needed);
                return 0;
        }
        r->timer = ev_source_disable_unref(r->timer);
        r->state = RUN_RUNNING;
        (void) engine_persist_run(e, r);
        (void) snprintf(why, n, "approved: run %llu starts", (unsigned long long) run_id);
        run_advance(e, r);
        return 0;
}

int engine_deny(engine *e, uint64_t run_id, const char *reason, const engine_who *who, char *why, size_t n) {
        run *r = engine_run_lookup(e, run_id);

        if (!who_may_approve(who, why, n)) {
                engine_audit(e, "approval_refused", "deny run %llu: %s", (unsigned long long) run_id, why);
                return -EPERM;
        }
        if (!r || (r->state != RUN_PENDING && r->state != RUN_PROPOSED)) {
                (void) snprintf(why, n, "no run %llu waits for approval", (unsigned long long) run_id);
                return -ENOENT;
        }
        engine_audit(e, "denial", "run %llu runbook %s denied by uid %u (%s): %s", (unsigned long long) run_id,
                     r->runbook, who->uid, who->user, reason);
        engine_run_finish(e, r, RUN_DENIED, "denied by %s: %s", who->user, reason);
        engine_notify(e, r, RB_EV_ESCALATED, "run %llu of %s denied by %s: %s", (unsigned long long) run_id, r->runbook,
                      who->user, reason);
        engine_escalate_incident(e, r->incident, "runbook %s denied by %s: %s", r->runbook, who->user, reason);
        (void) snprintf(why, n, "run %llu denied", (unsigned long long) run_id);
        return 0;
}

int engine_run(engine *e, const char *name, uint64_t incident_id, const engine_who *who, uint64_t *ret_run, char *why,
               size_t n) {
        const runbook *rb = runbook_set_find(e->config->runbooks, name);
        const incident *inc = incident_id ? incident_store_find(e->incidents, incident_id) : NULL;
        char sig[LEDGER_SIGNATURE_MAX] = "";
        run *r;

        if (!who_may_approve(who, why, n)) {
                engine_audit(e, "run_refused", "runbook %s: %s", name, why);
                return -EPERM;
        }
        if (!rb) {
                (void) snprintf(why, n, "no runbook '%s'", name);
                return -ENOENT;
        }
        if (incident_id && !inc) {
                (void) snprintf(why, n, "no incident %llu", (unsigned long long) incident_id);
                return -ENOENT;
        }
        if (rb->grade == GRADE_OBSERVE) {
                (void) snprintf(why, n, "runbook %s is an observe runbook: nothing to run", name);
                return -EINVAL;
        }
        if (inc)
                engine_incident_signature(inc, sig, sizeof(sig));
        /* an operator's run supersedes what the agent proposed for the incident */
        for (size_t i = 0; incident_id && i < e->n_runs; i++)
                if (e->runs[i]->incident == incident_id && e->runs[i]->state == RUN_PROPOSED)
                        engine_run_finish(e, e->runs[i], RUN_CANCELLED, "superseded by an operator's run");
        r = engine_run_new(e, rb, e->config->runbooks, incident_id, sig);
        if (!r) {
                (void) snprintf(why, n, "too many runs active");
                return -EBUSY;
        }
        r->operator_run = true;
        (void) snprintf(r->requested_by, sizeof(r->requested_by), "%s", who->user);
        /* the operator who asked counts as the first approver */
        r->approvals[0] = (run_approval){ .uid = who->uid, .time_usec = real_usec() };
        (void) snprintf(r->approvals[0].user, sizeof(r->approvals[0].user), "%s", who->user);
        r->n_approvals = 1;
        engine_audit(e, "run_requested", "run %llu runbook %s requested by uid %u (%s)%s%s", (unsigned long long) r->id,
                     name, who->uid, who->user, incident_id ? " for incident " : "", incident_id ? inc->reason : "");
        *ret_run = r->id;
        engine_decide(e, r, rb->grade, false);
        (void) snprintf(why, n, "run %llu: %s", (unsigned long long) r->id, run_state_to_string(r->state));
        return 0;
}

int engine_pause(engine *e, bool pause, const char *reason, const engine_who *who) {
        e->paused = pause;
        (void) snprintf(e->pause_reason, sizeof(e->pause_reason), "%s", pause ? reason : "");
        if (!pause)
                policy_ledger_reset(e->ledger);
        engine_audit(e, pause ? "pause" : "resume", "automatic remediation %s by uid %u (%s)%s%s",
                     pause ? "paused" : "resumed (circuit breakers reset)", who->uid, who->user, reason && reason[0] ? ": " : "",
                     reason ? reason : "");
        int r = engine_persist_meta(e);
        if (!pause)
                engine_redecide_proposed(e, "remediation resumed");
        return r;
}

void engine_redecide_proposed(engine *e, const char *why) {
        if (engine_paused_now(e))
                return; /* still paused (here or by the gate's floor): they would only be proposed again */
        for (size_t i = 0; i < e->n_runs; i++) {
                run *r = e->runs[i];
                if (r->state != RUN_PROPOSED || r->operator_run || !r->rb || r->rb->grade == GRADE_MANUAL)
                        continue;
                engine_audit(e, "plan", "run %llu runbook %s (incident %llu) was only proposed while paused: %s, decided "
                             "again at its own grade (%s)", (unsigned long long) r->id, r->runbook,
                             (unsigned long long) r->incident, why, grade_to_string(r->rb->grade));
                engine_run_finish(e, r, RUN_CANCELLED, "%s: decided again", why);
        }
        engine_recheck_at(e, real_usec());
}

