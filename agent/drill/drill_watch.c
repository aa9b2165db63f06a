/* What a drill watches while its fault is in place (agent/drill/drill_run.h): the first failing
 * finding, the expected incident (and any unrelated one, which aborts), the runbook's run — its
 * approval (given by the drill itself only when both the drill and the config allow it), its
 * first applied step, its success — and then the steady state. Stamps are CLOCK_REALTIME µs
 * taken where the event happens (a finding's own finish time, an incident's opening time). */
#include <stdio.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/checks/check_state.h"
#include "agent/checks/check_set.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "agent/triage/incident.h"
#include "duration.h"
#include "log.h"

static bool strv_has(char *const *v, const char *s) {
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static bool watching(const drill_runner *dr) {
        return dr->active && !dr->end_pending && dr->active->phase < DRILL_ENDING;
}

static void mark(drill_runner *dr, drill_mark m, uint64_t when) {
        drill_rec *r = dr->active;

        if (r->t[m])
                return;
        /* an event stamped before the injection began (a finding started earlier) counts from it */
        r->t[m] = when > r->t[DM_INJECTED] ? when : r->t[DM_INJECTED];
        drill_save(dr);
        log_info("drill %llu (%s): %s at +%llu ms", (unsigned long long) r->id, r->name, drill_mark_to_string(m),
                 (unsigned long long) ((r->t[m] - r->t[DM_INJECTED]) / 1000));
}

/* Steady: the drill's incident resolved, every steady-state check reporting OK on a finding
 * that finished after recovery. */
static void try_steady(drill_runner *dr) {
        drill_rec *r = dr->active;
        const incident *inc;

        if (!watching(dr) || r->phase != DRILL_SETTLING)
                return;
        inc = r->incident ? incident_store_find(dr->a->incidents, r->incident) : NULL;
        if (inc && inc->state != INCIDENT_RESOLVED)
                return;
        for (char **c = dr->steady; c && *c; c++) {
                check *ch = dr->a->checks ? check_set_find(dr->a->checks, *c) : NULL;
                const finding *f = ch ? check_last_finding(ch) : NULL;
                if (!f || check_get_state(ch)->reported != CHECK_OK || f->finished_usec <= dr->settle_since)
                        return;
        }
        mark(dr, DM_STEADY, drill_now());
        drill_end(dr, DRILL_PASSED, "%s", "");
}

static int on_settle_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;
        char d[32];

        dr->settle_timer = sd_event_source_disable_unref(dr->settle_timer);
        drill_end(dr, DRILL_FAILED, "the steady state was not back within %s of recovery",
                  duration_format(dr->steady_within_usec, d, sizeof(d)));
        return 0;
}

static void settle(drill_runner *dr) {
        drill_rec *r = dr->active;

        r->phase = DRILL_SETTLING;
        dr->settle_since = drill_now();
        drill_save(dr);
        dr->settle_timer = sd_event_source_disable_unref(dr->settle_timer);
        if (sd_event_add_time_relative(dr->a->event, &dr->settle_timer, CLOCK_MONOTONIC, dr->steady_within_usec,
                                       10 * USEC_PER_MSEC, on_settle_timeout, dr) < 0)
                log_warning("drill %llu: cannot arm the settle timer; abort.after still bounds it", (unsigned long long) r->id);
        /* the steady-state checks answer now rather than at their next interval */
        for (char **c = dr->steady; c && *c; c++) {
                check *ch = dr->a->checks ? check_set_find(dr->a->checks, *c) : NULL;
                if (ch)
                        (void) check_trigger(ch);
        }
        try_steady(dr);
}

void drill_fault_removed(drill_runner *dr) {
        if (watching(dr))
                settle(dr);
}

void drill_finding(drill_runner *dr, check *c, const finding *f) {
        drill_rec *r = dr->active;
        const char *name = check_name(c);

        if (!watching(dr) || !r->t[DM_INJECTED])
                return;
        if (!r->t[DM_FIRST_FAIL] && f->status != CHECK_OK && f->finished_usec >= r->t[DM_INJECTED]) {
                (void) snprintf(r->first_fail_check, sizeof(r->first_fail_check), "%s", name);
                mark(dr, DM_FIRST_FAIL, f->finished_usec);
        }
        if (strv_has(dr->abort_checks, name) && check_get_state(c)->reported == CHECK_FAIL) {
                drill_end(dr, DRILL_ABORTED, "abort check %s failed: %s", name, f->summary ? f->summary : "");
                return;
        }
        try_steady(dr);
}

/* remove_fault recovery: detection is all the drill waits for (and the observe runbook, if
 * one is named), then it removes the fault itself and times the return to steady. */
static void maybe_remove(drill_runner *dr) {
        drill_rec *r = dr->active;

        if (r->recovery != DRILL_RECOVER_REMOVE_FAULT || r->phase != DRILL_WATCHING || !r->t[DM_INCIDENT])
                return;
        if (r->expect_runbook[0] && !r->t[DM_VERIFIED])
                return;
        drill_fault_revert(dr, "detected: the drill removes its fault (recovery: remove_fault)");
}

/* Under load the apply (a file written, then swanctl's loads) can return after the file alone
 * opened the incident and the runbook healed it: the run's success, or the detection a
 * remove_fault drill waits for, came while the fault was still being injected, when neither may
 * act yet (the apply's own last steps could undo the repair). They act now; without this the
 * drill would watch for a recovery that was already over. */
void drill_fault_injected(drill_runner *dr) {
        drill_rec *r = dr->active;

        if (!watching(dr) || r->phase != DRILL_WATCHING)
                return;
        if (r->recovery == DRILL_RECOVER_RUNBOOK && r->t[DM_VERIFIED]) {
                log_info("drill %llu: its run succeeded while the fault was being injected: settling now",
                         (unsigned long long) r->id);
                settle(dr);
        } else
                maybe_remove(dr);
}

void drill_incident(drill_runner *dr, const incident *inc, bool opened) {
        drill_rec *r = dr->active;
        const char *cls = fault_class_to_string(inc->cls);

        if (!watching(dr))
                return;
        if (opened) {
                if (strcmp(cls, r->expect_class) == 0) {
                        const incident *was = r->incident ? incident_store_find(dr->a->incidents, r->incident) : NULL;
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
                        mark(dr, DM_INCIDENT, inc->opened_usec);
                        maybe_remove(dr);
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
                try_steady(dr);
}

uint64_t drill_of_incident(const drill_runner *dr, uint64_t incident_id) {
        return dr && watching(dr) && incident_id && dr->active->incident == incident_id ? dr->active->id : 0;
}

static int on_approve(sd_event_source *s, void *userdata) {
        drill_runner *dr = userdata;
        const run *rn;
        drill_rec *r = dr->active;
        char who_name[64], why[256];
        engine_who who;

        dr->approve_defer = sd_event_source_disable_unref(dr->approve_defer);
        if (!watching(dr) || !(rn = engine_run_find(dr->a->engine, dr->approve_run)) || rn->state != RUN_PENDING)
                return 0;
        (void) snprintf(who_name, sizeof(who_name), "drill %llu", (unsigned long long) r->id);
        who = (engine_who){ .uid = 0, .user = who_name, .approver = true };
        if (engine_approve(dr->a->engine, rn->id, rn->plan_hash, &who, why, sizeof(why)) < 0) {
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
        uint64_t now = drill_now();

        if (!watching(dr) || !r->incident || rn->incident != r->incident)
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
                        if (sd_event_add_defer(dr->a->event, &dr->approve_defer, on_approve, dr) < 0)
                                log_warning("drill %llu: cannot schedule its approval", (unsigned long long) r->id);
                }
                break;
        case RUN_RUNNING:
                if (!r->t[DM_RUNBOOK]) {
                        if (r->pending_usec)
                                r->approval_wait_usec = now - r->pending_usec;
                        mark(dr, DM_RUNBOOK, now);
                }
                for (size_t i = 0; i < rn->n_steps; i++)
                        if (rn->steps[i].phase == PHASE_APPLIED || rn->steps[i].phase == PHASE_VERIFIED) {
                                mark(dr, DM_APPLIED, now);
                                break;
                        }
                break;
        case RUN_SUCCEEDED:
                mark(dr, DM_RUNBOOK, now);
                mark(dr, DM_APPLIED, now);
                mark(dr, DM_VERIFIED, now);
                if (r->recovery == DRILL_RECOVER_RUNBOOK && r->phase == DRILL_WATCHING)
                        settle(dr);
                break;
        case RUN_OBSERVED:
        case RUN_PROPOSED:
                if (r->recovery == DRILL_RECOVER_REMOVE_FAULT) {
                        mark(dr, DM_RUNBOOK, now);
                        mark(dr, DM_VERIFIED, now);
                        maybe_remove(dr);
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
