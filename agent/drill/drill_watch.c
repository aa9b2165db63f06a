/* What a drill watches while its fault is in place (agent/drill/drill_run.h), turned into the
 * transitions of agent/drill/drill_run.c: the first failing finding, the expected incident (and
 * any unrelated one, which aborts), the runbook's run — its approval (given by the drill itself
 * only when both the drill and the config allow it), its first applied step, its success — and
 * then the steady state. Stamps are CLOCK_REALTIME µs taken where the event happens (a finding's
 * own finish time, an incident's opening time). */
#include <stdio.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/checks/check_state.h"
#include "agent/checks/check_set.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "duration.h"
#include "log.h"

static bool strv_has(char *const *v, const char *s) {
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

void drill_finding(drill_runner *dr, check *c, const finding *f) {
        drill_rec *r = dr->active;
        const char *name = check_name(c);

        if (!drill_watching(dr) || !r->t[DM_INJECTED])
                return;
        if (!r->t[DM_FIRST_FAIL] && f->status != CHECK_OK && f->finished_usec >= r->t[DM_INJECTED]) {
                (void) snprintf(r->first_fail_check, sizeof(r->first_fail_check), "%s", name);
                drill_mark_set(dr, DM_FIRST_FAIL, f->finished_usec);
        }
        if (strv_has(dr->abort_checks, name) && check_get_state(c)->reported == CHECK_FAIL) {
                drill_end(dr, DRILL_ABORTED, "abort check %s failed: %s", name, f->summary ? f->summary : "");
                return;
        }
        drill_try_steady(dr);
}

void drill_incident(drill_runner *dr, const incident *inc, bool opened) {
        drill_rec *r = dr->active;
        const char *cls = fault_class_to_string(inc->cls);

        if (!drill_watching(dr))
                return;
        if (opened) {
                if (strcmp(cls, r->expect_class) == 0) {
                        const incident *was = r->incident ? incident_store_find(dr->incidents, r->incident) : NULL;
                        bool unhealed = (r->phase == DRILL_INJECTING || r->phase == DRILL_WATCHING) && !r->t[DM_VERIFIED] &&
                                        (!was || was->state == INCIDENT_RESOLVED);
                        if (r->incident && !unhealed)
                                return; /* another of the same class: the same fault seen again */
                        if (r->incident) {
                                /* the drill's incident resolved before any run of it healed the
                                 * fault, which is still in place: this one is the fault now, and
                                 * its runs are the ones that can heal it (TTD stays the first's) */
                                log_info("drill %llu: incident %llu resolved unhealed; incident %llu (%s) is its fault now",
                                         (unsigned long long) r->id, (unsigned long long) r->incident,
                                         (unsigned long long) inc->id, cls);
                                r->incident = inc->id;
                                drill_save(dr);
                                return;
                        }
                        r->incident = inc->id;
                        (void) snprintf(r->incident_scope, sizeof(r->incident_scope), "%s", fault_scope_to_string(inc->scope));
                        drill_mark_set(dr, DM_INCIDENT, inc->opened_usec);
                        drill_maybe_remove(dr);
                } else if (strv_has(dr->tolerate, cls))
                        log_info("drill %llu: incident %llu (%s) opened, tolerated by the drill", (unsigned long long) r->id,
                                 (unsigned long long) inc->id, cls);
                else
                        drill_end(dr, DRILL_ABORTED, "unrelated incident %llu (%s) opened: %s", (unsigned long long) inc->id,
                                  cls, inc->summary);
                return;
        }
        if (inc->id != r->incident)
                return;
        /* updated in place as more peers fail: the scope judged is the widest it reached (one
         * road warrior's failure is seen before everyone's) */
        if (inc->scope == FAULT_SCOPE_GLOBAL && strcmp(r->incident_scope, "global") != 0) {
                (void) snprintf(r->incident_scope, sizeof(r->incident_scope), "%s", fault_scope_to_string(inc->scope));
                drill_save(dr);
        }
        if (inc->state == INCIDENT_ESCALATED && r->phase == DRILL_WATCHING)
                drill_end(dr, DRILL_FAILED, "incident %llu was escalated to a human: %s",
                          (unsigned long long) inc->id, inc->note);
        else
                drill_try_steady(dr);
}

uint64_t drill_of_incident(const drill_runner *dr, uint64_t incident_id) {
        return dr && drill_watching(dr) && incident_id && dr->active->incident == incident_id ? dr->active->id : 0;
}

static int on_approve(ev_source *s, void *userdata) {
        drill_runner *dr = userdata;
        const run *rn;
        drill_rec *r = dr->active;
        char who_name[64], why[256];
        engine_who who;

        dr->approve_defer = ev_source_disable_unref(dr->approve_defer);
        if (!drill_watching(dr) || !(rn = engine_run_find(dr->engine, dr->approve_run)) || rn->state != RUN_PENDING)
                return 0;
        (void) snprintf(who_name, sizeof(who_name), "drill %llu", (unsigned long long) r->id);
        who = (engine_who){ .uid = 0, .user = who_name, .approver = true };
        if (engine_approve(dr->engine, rn->id, rn->plan_hash, &who, why, sizeof(why)) < 0) {
                drill_audit(dr, "drill", "drill %llu (%s): could not approve run %llu itself: %s", (unsigned long long) r->id,
                            r->name, (unsigned long long) dr->approve_run, why);
                return 0;
        }
        r->auto_approved = true;
        drill_save(dr);
        drill_audit(dr, "drill", "drill %llu (%s) approved run %llu (%s) itself (auto_approve)", (unsigned long long) r->id,
                    r->name, (unsigned long long) dr->approve_run, r->runbook);
        return 0;
}

void drill_run_changed(drill_runner *dr, const run *rn) {
        drill_rec *r = dr->active;
        uint64_t now = real_usec();

        if (!drill_watching(dr) || !r->incident || rn->incident != r->incident)
                return;
        if (r->run != rn->id) {
                /* the newest run for the incident is the one that counts (an escalation chain) */
                r->run = rn->id;
                (void) snprintf(r->runbook, sizeof(r->runbook), "%s", rn->runbook);
                drill_save(dr);
        }
        switch (rn->state) {
        case RUN_PENDING:
                if (!r->pending_usec) {
                        r->pending_usec = now;
                        drill_save(dr);
                }
                if (dr->auto_approve && strcmp(rn->runbook, r->expect_runbook) == 0 && !dr->approve_defer) {
                        dr->approve_run = rn->id;
                        if (ev_add_defer(dr->event, &dr->approve_defer, on_approve, dr) < 0)
                                log_warning("drill %llu: cannot schedule its approval", (unsigned long long) r->id);
                }
                break;
        case RUN_RUNNING:
                if (!r->t[DM_RUNBOOK]) {
                        if (r->pending_usec)
                                r->approval_wait_usec = now - r->pending_usec;
                        drill_mark_set(dr, DM_RUNBOOK, now);
                }
                for (size_t i = 0; i < rn->n_steps; i++)
                        if (rn->steps[i].phase == PHASE_APPLIED || rn->steps[i].phase == PHASE_VERIFIED) {
                                drill_mark_set(dr, DM_APPLIED, now);
                                break;
                        }
                break;
        case RUN_SUCCEEDED:
                drill_mark_set(dr, DM_RUNBOOK, now);
                drill_mark_set(dr, DM_APPLIED, now);
                drill_mark_set(dr, DM_VERIFIED, now);
                if (r->recovery == DRILL_RECOVER_RUNBOOK && r->phase == DRILL_WATCHING)
                        drill_settle(dr);
                break;
        case RUN_OBSERVED:
        case RUN_PROPOSED:
                if (r->recovery == DRILL_RECOVER_REMOVE_FAULT) {
                        drill_mark_set(dr, DM_RUNBOOK, now);
                        drill_mark_set(dr, DM_VERIFIED, now);
                        drill_maybe_remove(dr);
                }
                break;
        case RUN_FAILED:
        case RUN_DENIED:
        case RUN_ESCALATED:
                if (strcmp(rn->runbook, r->expect_runbook) == 0 || r->recovery == DRILL_RECOVER_RUNBOOK)
                        drill_end(dr, DRILL_FAILED, "run %llu (%s) %s: %s", (unsigned long long) rn->id, rn->runbook,
                                  run_state_to_string(rn->state), rn->note);
                break;
        default:
                break;
        }
}
