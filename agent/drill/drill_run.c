/* One drill's state machine (agent/drill/drill_run.h): start (refusals, the durable record, the
 * fault's apply), the timeline, settling, the fault's removal, the end and its verdict, and what
 * a previous life left. agent/drill/drill_watch.c turns findings, incidents and runs into these
 * transitions; agent/drill/drill_runner.c builds and wires the runner. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/checks/check_set.h"
#include "agent/checks/check_state.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "agent/notify/notifier.h"
#include "duration.h"
#include "yaml_bind.h"
#include "log.h"

#define FAULT_CALL_TIMEOUT (60ULL * USEC_PER_SEC)
#define DRILL_RETRY_MIN (5ULL * USEC_PER_SEC)
#define DRILL_RETRY_MAX (60ULL * USEC_PER_SEC)
/* A drill not recovered by recover_within has failed; it is given up half that later (at least
 * DRILL_GIVE_UP_MIN): a late recovery is still timed, a recovery that never comes does not hold
 * the runner (no other drill can start) until abort.after. */
#define DRILL_GIVE_UP_MIN (10ULL * USEC_PER_SEC)


void drill_runtime_clear(drill_runner *dr) {
        strv_free(dr->steady);
        strv_free(dr->abort_checks);
        strv_free(dr->tolerate);
        dr->steady = dr->abort_checks = dr->tolerate = NULL;
        dr->deadline_timer = ev_source_disable_unref(dr->deadline_timer);
        dr->abort_timer = ev_source_disable_unref(dr->abort_timer);
        dr->give_up_timer = ev_source_disable_unref(dr->give_up_timer);
        dr->settle_timer = ev_source_disable_unref(dr->settle_timer);
        dr->approve_defer = ev_source_disable_unref(dr->approve_defer);
        dr->retry_timer = ev_source_disable_unref(dr->retry_timer);
        dr->retry_usec = 0;
        dr->retried = false;
        dr->call = action_call_free(dr->call);
        dr->end_pending = false;
        dr->end_note[0] = 0;
        if (dr->slot_held) {
                fleet_drill_release(dr->fleet);
                dr->slot_held = false;
        }
}

static const action_env *env_of(drill_runner *dr) {
        return engine_action_env(dr->engine);
}

/* ---- the end ------------------------------------------------------------------------------ */

static void notify_verdict(drill_runner *dr, const drill_rec *r) {
        char text[768];

        if (!dr->notifier)
                return;
        (void) snprintf(text, sizeof(text), "drill %llu (%s) %s: %s", (unsigned long long) r->id, r->name,
                        drill_phase_to_string(r->phase), r->note);
        notify_message m = { .event = "drill", .incident = r->incident, .runbook = r->runbook[0] ? r->runbook : NULL,
                             .text = text };
        (void) notifier_send(dr->notifier, NULL, &m);
}

static void finish(drill_runner *dr) {
        drill_rec *r = dr->active;
        void (*done)(void *) = dr->stop_done;
        void *ud = dr->stop_userdata;

        r->finished_usec = real_usec();
        drill_judge(r);
        if (dr->end_phase == DRILL_ABORTED)
                r->phase = DRILL_ABORTED;
        if (dr->end_note[0]) {
                char verdict[sizeof(r->note)];
                size_t k;
                memcpy(verdict, r->note, sizeof(verdict));
                k = (size_t) snprintf(r->note, sizeof(r->note), "%s", dr->end_note);
                if (k + 2 < sizeof(r->note))
                        (void) snprintf(r->note + k, sizeof(r->note) - k, "; %s", verdict);
        }
        drill_save(dr);
        log_full_errno(r->phase == DRILL_PASSED ? LOG_NOTICE : LOG_WARNING, 0, "drill %llu (%s) %s: %s", (unsigned long long) r->id,
                 r->name, drill_phase_to_string(r->phase), r->note);
        drill_audit(dr, "drill", "drill %llu (%s) %s: %s", (unsigned long long) r->id, r->name,
                    drill_phase_to_string(r->phase), r->note);
        notify_verdict(dr, r);
        dr->active = NULL;
        drill_runtime_clear(dr);
        drill_prune(dr, dr->config->drills.history);
        if (dr->stopping) {
                dr->stop_done = NULL;
                if (done)
                        done(ud);
                return;
        }
        drill_reconcile_next(dr);
}

static int on_retry(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;

        dr->retry_timer = ev_source_disable_unref(dr->retry_timer);
        if (dr->active && dr->active->fault_state == DF_REVERT_FAILED) {
                dr->active->fault_state = DF_ACTIVE;
                drill_fault_revert(dr, "trying again to remove the fault");
        }
        return 0;
}

/* A removal that failed (charon down for a reload, the bus busy) is tried again with backoff,
 * 5 s doubling to 1 min, for as long as it takes: the drill stays in progress (no other can
 * start) and fails, whatever its SLOs said. After a restart the reconciliation tries again. */
static void revert_failed(drill_runner *dr, int result, const char *detail) {
        drill_rec *r = dr->active;
        char d[32];

        dr->retry_usec = !dr->retry_usec ? DRILL_RETRY_MIN
                         : dr->retry_usec * 2 > DRILL_RETRY_MAX ? DRILL_RETRY_MAX : dr->retry_usec * 2;
        log_error("drill %llu: the fault (%s) could NOT be removed: %s; trying again in %s", (unsigned long long) r->id,
                  r->fault.ops->kind, detail && detail[0] ? detail : strerror(-result),
                  duration_format(dr->retry_usec, d, sizeof(d)));
        drill_audit(dr, "revert_failed", "drill %llu (%s): fault %s could not be removed: %s; trying again in %s",
                    (unsigned long long) r->id, r->name, r->fault.ops->kind, detail && detail[0] ? detail : strerror(-result),
                    d);
        if (!dr->retried) {
                size_t k = strlen(dr->end_note);
                (void) snprintf(dr->end_note + k, sizeof(dr->end_note) - k, "%sthe fault could not be removed at the first "
                                "attempt", k ? "; " : "");
                dr->retried = true;
        }
        if (!dr->end_pending || dr->end_phase == DRILL_PASSED) {
                dr->end_pending = true;
                dr->end_phase = DRILL_FAILED;
        }
        r->phase = DRILL_ENDING;
        drill_save(dr);
        dr->retry_timer = ev_source_disable_unref(dr->retry_timer);
        if (ev_add_time_relative(dr->event, &dr->retry_timer, CLOCK_MONOTONIC, dr->retry_usec, USEC_PER_SEC,
                                       on_retry, dr) < 0)
                log_error("drill %llu: cannot arm the retry; the fault is removed at the next start", (unsigned long long) r->id);
}

static void on_reverted(action_call *call, int result, void *userdata) {
        drill_runner *dr = userdata;
        drill_rec *r = dr->active;
        const char *detail = action_call_detail(call);

        r->fault_state = result < 0 ? DF_REVERT_FAILED : DF_REMOVED;
        if (result >= 0)
                r->t[DM_FAULT_REMOVED] = real_usec();
        drill_save(dr);
        dr->deadline_timer = ev_source_disable_unref(dr->deadline_timer);
        if (result < 0) {
                revert_failed(dr, result, detail);
                dr->call = action_call_free(dr->call); /* `detail` pointed into it */
                return;
        }
        drill_audit(dr, "drill_fault", "drill %llu (%s): fault %s removed%s%s", (unsigned long long) r->id, r->name,
                    r->fault.ops->kind, detail && detail[0] ? ": " : "", detail ? detail : "");
        dr->call = action_call_free(dr->call);
        if (dr->end_pending) {
                finish(dr);
                return;
        }
        drill_fault_removed(dr); /* remove_fault recovery: now settle */
}

void drill_fault_revert(drill_runner *dr, const char *why) {
        drill_rec *r = dr->active;
        int k;

        if (r->fault_state == DF_REVERT_FAILED)
                return; /* its retry is armed */
        if (r->fault_state == DF_REMOVED) {
                if (dr->end_pending)
                        finish(dr);
                return;
        }
        if (dr->call) {
                if (r->fault_state == DF_REVERTING)
                        return; /* in flight: its completion carries on */
                dr->call = action_call_free(dr->call); /* an apply in flight: abandon it, revert anyway */
        }
        r->fault_state = DF_REVERTING;
        drill_save(dr);
        log_info("drill %llu: removing the fault (%s): %s", (unsigned long long) r->id, r->fault.ops->kind, why);
        k = action_call_new(&dr->call, &r->fault, env_of(dr), ACTION_REVERT, FAULT_CALL_TIMEOUT, NULL, on_reverted, dr);
        if (k < 0) {
                r->fault_state = DF_REVERT_FAILED;
                revert_failed(dr, k, "cannot start the removal");
        }
}

void drill_end(drill_runner *dr, drill_phase how, const char *fmt, ...) {
        drill_rec *r = dr->active;
        va_list ap;

        if (!r || dr->end_pending)
                return; /* the first reason to end wins */
        va_start(ap, fmt);
        (void) vsnprintf(dr->end_note, sizeof(dr->end_note), fmt, ap);
        va_end(ap);
        dr->end_pending = true;
        dr->end_phase = how;
        r->phase = DRILL_ENDING;
        dr->abort_timer = ev_source_disable_unref(dr->abort_timer);
        dr->give_up_timer = ev_source_disable_unref(dr->give_up_timer);
        dr->settle_timer = ev_source_disable_unref(dr->settle_timer);
        dr->approve_defer = ev_source_disable_unref(dr->approve_defer);
        drill_save(dr);
        drill_fault_revert(dr, dr->end_note[0] ? dr->end_note : "the drill is over");
}

/* ---- timers ------------------------------------------------------------------------------- */

static int on_deadline(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;

        dr->deadline_timer = ev_source_disable_unref(dr->deadline_timer);
        if (dr->active && dr->active->phase < DRILL_ENDING)
                drill_end(dr, DRILL_FAILED, "the fault's deadline was reached");
        else if (dr->active)
                drill_fault_revert(dr, "the fault's deadline was reached");
        return 0;
}

static int on_abort_after(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;
        char d[32];

        dr->abort_timer = ev_source_disable_unref(dr->abort_timer);
        drill_end(dr, DRILL_FAILED, "given up after %s (abort.after)", duration_format(dr->abort_after_usec, d, sizeof(d)));
        return 0;
}

static uint64_t give_up_margin(uint64_t recover_within_usec) {
        return recover_within_usec / 2 > DRILL_GIVE_UP_MIN ? recover_within_usec / 2 : DRILL_GIVE_UP_MIN;
}

static int on_give_up(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;
        drill_rec *r = dr->active;
        char a[32], b[32];

        dr->give_up_timer = ev_source_disable_unref(dr->give_up_timer);
        if (r && r->phase < DRILL_ENDING)
                drill_end(dr, DRILL_FAILED, "not recovered within recover_within %s and a margin of %s: given up",
                          duration_format(r->recover_within_usec, a, sizeof(a)),
                          duration_format(give_up_margin(r->recover_within_usec), b, sizeof(b)));
        return 0;
}

static void arm_realtime(drill_runner *dr, ev_source **s, uint64_t when, ev_time_handler cb) {
        *s = ev_source_disable_unref(*s);
        if (ev_add_time(dr->event, s, CLOCK_REALTIME, when, 10 * USEC_PER_MSEC, cb, dr) < 0)
                log_error("drill: cannot arm a timer; the fault is still removed at the next start or by its own timeout");
}

/* ---- start -------------------------------------------------------------------------------- */

static bool steady_now(drill_runner *dr, const drill *d, char *why, size_t n) {
        check_set *cs = triage_checks(dr->triage);

        for (char **c = d->steady_checks; c && *c; c++) {
                check *ch = cs ? check_set_find(cs, *c) : NULL;
                const finding *f = ch ? check_last_finding(ch) : NULL;
                if (!ch) {
                        (void) snprintf(why, n, "refused: steady-state check '%s' is not configured", *c);
                        return false;
                }
                if (!f) {
                        (void) snprintf(why, n, "refused: steady-state check '%s' has not reported yet", *c);
                        return false;
                }
                if (check_get_state(ch)->reported != CHECK_OK) {
                        (void) snprintf(why, n, "refused: the steady state does not hold: check %s is %s (%s)", *c,
                                        check_status_to_string(check_get_state(ch)->reported), f->summary ? f->summary : "");
                        return false;
                }
        }
        return true;
}

static const incident *active_incident(drill_runner *dr) {
        for (size_t i = 0; dr->incidents && i < incident_store_size(dr->incidents); i++) {
                const incident *inc = incident_store_get(dr->incidents, i);
                if (inc->state != INCIDENT_RESOLVED)
                        return inc;
        }
        return NULL;
}

static int refuse(char *why, size_t n, int err, const char *fmt, ...) _printf_(4, 5);
static int refuse(char *why, size_t n, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(why, n, fmt, ap);
        va_end(ap);
        return err;
}

static char **strv_dup(char *const *v) {
        size_t k = 0;
        char **n;

        while (v && v[k])
                k++;
        n = calloc(k + 1, sizeof(char *));
        for (size_t i = 0; n && i < k; i++)
                if (!(n[i] = strdup(v[i]))) {
                        strv_free(n);
                        return NULL;
                }
        return n;
}

static int set_fault_timeout(action_params *p, uint64_t usec) {
        for (size_t i = 0; p->ops->params[i].name; i++)
                if (strcmp(p->ops->params[i].name, "timeout") == 0) {
                        p->v[i].set = true;
                        p->v[i].num = usec;
                        return 0;
                }
        return 0;
}

static void on_injected(action_call *call, int result, void *userdata) {
        drill_runner *dr = userdata;
        drill_rec *r = dr->active;
        const char *detail = action_call_detail(call);
        char d[32];

        if (result < 0) {
                char why[300];
                (void) snprintf(why, sizeof(why), "the fault could not be injected: %s",
                                detail && detail[0] ? detail : strerror(-result));
                dr->call = action_call_free(dr->call);
                r->fault_state = DF_ACTIVE; /* may have partly taken effect: revert it */
                drill_end(dr, DRILL_ABORTED, "%s", why);
                return;
        }
        r->fault_state = DF_ACTIVE;
        if (r->phase == DRILL_INJECTING)
                r->phase = DRILL_WATCHING;
        drill_save(dr);
        drill_audit(dr, "drill_fault", "drill %llu (%s): fault %s injected in %s%s%s", (unsigned long long) r->id, r->name,
                    r->fault.ops->kind, duration_format(real_usec() - r->t[DM_INJECTED], d, sizeof(d)),
                    detail && detail[0] ? ": " : "", detail ? detail : "");
        dr->call = action_call_free(dr->call);
        drill_fault_injected(dr); /* after the call is gone: it may start the fault's removal */
}

static int dry_run(drill_runner *dr, const drill *d, char *out, size_t n) {
        const runbook *rb = d->expect_runbook ? runbook_set_find(dr->config->runbooks, d->expect_runbook) : NULL;
        action_plan ap = { 0 }, rp = { 0 };
        char a[32], b[32], c[32], e[32], g[32];
        bool auto_ok = d->auto_approve && dr->config->drills.auto_approve;
        uint64_t give_up = d->recover_within_usec + give_up_margin(d->recover_within_usec);

        (void) action_plan_make(&d->fault, env_of(dr), ACTION_APPLY, &ap);
        (void) action_plan_make(&d->fault, env_of(dr), ACTION_REVERT, &rp);
        (void) snprintf(out, n,
                        "dry run of drill %s (class %s, weight %u): nothing was changed\n"
                        "steady state holds now: %s checks OK\n"
                        "fault %s, removed after %s at the latest:\n%s"
                        "its removal:\n%s"
                        "expect: a %s incident%s%s within %s, %s%s%s, steady again within %s of injection\n"
                        "approval: %s\n"
                        "abort: on an unrelated incident%s, after %s; not recovered %s after injection: given up (failed)",
                        d->name, d->fault_class, d->weight, d->steady_checks[0], d->fault.ops->kind,
                        duration_format(d->fault_expires_usec, a, sizeof(a)), ap.text, rp.text, d->expect_class,
                        d->expect_scope ? " of scope " : "", d->expect_scope ? d->expect_scope : "",
                        duration_format(d->detect_within_usec, b, sizeof(b)),
                        d->recovery == DRILL_RECOVER_REMOVE_FAULT ? "then the drill removes the fault" : "healed by runbook ",
                        d->recovery == DRILL_RECOVER_REMOVE_FAULT ? "" : d->expect_runbook,
                        rb ? (rb->grade >= GRADE_APPROVE ? " (an approve-grade runbook)" : " (runs unattended)") : "",
                        duration_format(d->recover_within_usec, c, sizeof(c)),
                        !rb || rb->grade < GRADE_APPROVE ? "none needed"
                        : auto_ok ? "given by the drill itself (auto_approve)"
                                  : "an operator must approve its plan during the drill (ikehealctl pending/approve)",
                        d->abort_checks ? " or a failing abort check" : "",
                        duration_format(d->abort_after_usec, e, sizeof(e)),
                        duration_format(give_up < d->abort_after_usec ? give_up : d->abort_after_usec, g, sizeof(g)));
        return 0;
}

/* The fleet's drill slot came (or the wait ended): decide the start again, as asked. */
static void on_slot(void *userdata, int error, const char *fwhy) {
        drill_runner *dr = userdata;
        struct drill_wait w = dr->wait;
        engine_who who = { .uid = w.uid, .user = w.user, .approver = true };
        char why[1024];
        uint64_t id = 0;

        dr->wait = (struct drill_wait){};
        if (error < 0) {
                log_notice("drill %s not started: %s", w.name, fwhy);
                drill_audit(dr, "drill", "drill %s not started: %s", w.name, fwhy);
                if (w.fleet_claim)
                        fleet_drills_unclaim(dr->fleet, w.name);
                return;
        }
        dr->slot_held = true;
        if (drill_start(dr, w.name, false, w.scheduled, &who, &id, why, sizeof(why)) < 0) {
                if (w.fleet_claim)
                        fleet_drills_unclaim(dr->fleet, w.name);
                log_notice("drill %s not started once it held the fleet's drill slot: %s", w.name, why);
                drill_audit(dr, "drill", "drill %s not started once it held the fleet's drill slot: %s", w.name, why);
                if (!dr->active && dr->slot_held) {
                        fleet_drill_release(dr->fleet);
                        dr->slot_held = false;
                }
        }
}

/* In a fleet, a drill starts only holding the fleet's drill slot: 1 go on (no fleet, or held),
 * 0 waiting for it (said), <0 refused. */
static int take_slot(drill_runner *dr, const drill *d, bool scheduled, const engine_who *who, char *why, size_t n) {
        char fwhy[512];
        int k;

        if (dr->slot_held)
                return 1;
        k = fleet_drill_take(dr->fleet, d->name, on_slot, dr, fwhy, sizeof(fwhy));
        if (k == 1)
                return 1;
        if (k < 0) {
                drill_audit(dr, "drill", "drill %s requested by uid %u (%s) not started: %s", d->name, who->uid, who->user,
                            fwhy);
                return refuse(why, n, k, "refused: %s", fwhy);
        }
        dr->wait = (struct drill_wait){ .on = true, .scheduled = scheduled, .uid = who->uid, .since_usec = real_usec() };
        (void) snprintf(dr->wait.name, sizeof(dr->wait.name), "%s", d->name);
        (void) snprintf(dr->wait.user, sizeof(dr->wait.user), "%s", who->user);
        drill_audit(dr, "drill", "drill %s requested by uid %u (%s)%s waits for the fleet's drill slot (one drill at a "
                    "time in the fleet): %s", d->name, who->uid, who->user, scheduled ? " on schedule" : "", fwhy);
        (void) snprintf(why, n, "drill %s waits for the fleet's drill slot (one drill at a time in the fleet); it starts "
                        "once it holds it (ikehealctl drill status)", d->name);
        return 0;
}

int drill_start(drill_runner *dr, const char *name, bool dry, bool scheduled, const engine_who *who, uint64_t *ret_id,
                char *why, size_t n) {
        const ikeheal_config *cfg = dr->config;
        const drill *d;
        const incident *inc;
        const char *reason;
        drill_rec *r, **nr;
        char vwhy[256] = "", a[32];
        int k;

        if (!cfg->drills.enabled)
                return refuse(why, n, -EPERM, "refused: drills are disabled (drills.enabled: true in %s)", cfg->path);
        if (!(d = drill_set_find(cfg->drill_set, name)))
                return refuse(why, n, -ENOENT, "refused: no drill named '%s' (ikehealctl drill list)", name);
        if (!dry && !who->approver)
                return refuse(why, n, -EPERM, "refused: a drill injects a real fault; uid %u (%s) is not an approver",
                              who->uid, who->user);
        if (dr->active)
                return refuse(why, n, -EBUSY, "refused: drill %llu (%s) is in progress (%s)",
                              (unsigned long long) dr->active->id, dr->active->name, drill_phase_to_string(dr->active->phase));
        if (dr->wait.on)
                return refuse(why, n, -EBUSY, "refused: drill %s waits for the fleet's drill slot (ikehealctl drill "
                              "status; drill abort to stop waiting)", dr->wait.name);
        if ((inc = active_incident(dr)))
                return refuse(why, n, -EBUSY, "refused: incident %llu (%s, %s) is active; a drill never starts on an "
                              "unhealthy gateway", (unsigned long long) inc->id, fault_class_to_string(inc->cls),
                              incident_state_to_string(inc->state));
        if (engine_paused(dr->engine, &reason))
                return refuse(why, n, -EBUSY, "refused: automatic remediation is paused (%s)", reason);
        if (dr->fleet) {
                /* a fleet's pause or freeze stops drills as a local pause does */
                fleet_status fs;
                fleet_status_get(dr->fleet, &fs);
                if (fs.enabled && (fs.paused || (fs.freeze_until_usec && real_usec() < fs.freeze_until_usec)))
                        return refuse(why, n, -EBUSY, "refused: automatic remediation is %s fleet-wide (%s)",
                                      fs.paused ? "paused" : "frozen", fs.pause_reason);
        }
        if (d->expect_runbook && !runbook_set_find(cfg->runbooks, d->expect_runbook))
                return refuse(why, n, -ENOENT, "refused: runbook %s is not loaded", d->expect_runbook);
        if (!steady_now(dr, d, why, n))
                return -EBUSY;
        if (!dry && !triage_good_recorded(dr->triage))
                return refuse(why, n, -EBUSY, "refused: the gateway's last-good state is not recorded yet (every check "
                              "healthy for agent.last_good_after, %s; after a deliberate change: ikehealctl accept): it "
                              "is what the recovery restores", duration_format(cfg->last_good_after_usec, a, sizeof(a)));
        if (d->fault.ops->validate && (k = d->fault.ops->validate(&d->fault, env_of(dr), vwhy, sizeof(vwhy))) < 0)
                return refuse(why, n, k, "refused: fault %s: %s", d->fault.ops->kind, vwhy);
        if (dry) {
                drill_audit(dr, "drill", "dry run of drill %s by uid %u (%s)", d->name, who->uid, who->user);
                return dry_run(dr, d, why, n);
        }
        if ((k = take_slot(dr, d, scheduled, who, why, n)) <= 0) {
                *ret_id = 0;
                return k;
        }

        if (!(r = calloc(1, sizeof(*r))))
                return refuse(why, n, -ENOMEM, "out of memory");
        if (!(nr = realloc(dr->recs, (dr->n_recs + 1) * sizeof(*nr)))) {
                free(r);
                return refuse(why, n, -ENOMEM, "out of memory");
        }
        dr->recs = nr;
        if (action_params_copy(&d->fault, &r->fault) < 0) {
                drill_rec_free(r);
                return refuse(why, n, -ENOMEM, "out of memory");
        }
        r->id = dr->next_id++;
        r->phase = DRILL_INJECTING;
        r->fault_state = DF_ARMING;
        (void) snprintf(r->name, sizeof(r->name), "%s", d->name);
        (void) snprintf(r->sha256, sizeof(r->sha256), "%s", d->sha256);
        (void) snprintf(r->fault_class, sizeof(r->fault_class), "%s", d->fault_class);
        r->weight = d->weight;
        (void) snprintf(r->expect_class, sizeof(r->expect_class), "%s", d->expect_class);
        (void) snprintf(r->expect_scope, sizeof(r->expect_scope), "%s", d->expect_scope ? d->expect_scope : "");
        (void) snprintf(r->expect_runbook, sizeof(r->expect_runbook), "%s", d->expect_runbook ? d->expect_runbook : "");
        r->recovery = d->recovery;
        r->detect_within_usec = d->detect_within_usec;
        r->recover_within_usec = d->recover_within_usec;
        (void) snprintf(r->requested_by, sizeof(r->requested_by), "%s", who->user);
        r->scheduled = scheduled;
        r->started_usec = real_usec();
        r->deadline_usec = r->started_usec + d->fault_expires_usec;
        (void) set_fault_timeout(&r->fault, d->fault_expires_usec);
        dr->steady = strv_dup(d->steady_checks);
        dr->abort_checks = strv_dup(d->abort_checks);
        dr->tolerate = strv_dup(d->tolerate);
        dr->steady_within_usec = d->steady_within_usec;
        dr->abort_after_usec = d->abort_after_usec;
        dr->auto_approve = d->auto_approve && cfg->drills.auto_approve;
        dr->recs[dr->n_recs++] = r;
        dr->active = r;
        /* the guarantee: the fault and its deadline are on disk before the fault exists */
        if (dr->store.log && drill_persist(dr, r) < 0) {
                dr->n_recs--;
                dr->active = NULL;
                drill_runtime_clear(dr);
                drill_rec_free(r);
                return refuse(why, n, -EIO, "refused: the drill cannot be recorded durably, so its fault is not injected");
        }
        drill_audit(dr, "drill", "drill %llu (%s) started by uid %u (%s)%s: fault %s recorded before it is applied, removed "
                    "within %s at the latest", (unsigned long long) r->id, r->name, who->uid, who->user,
                    scheduled ? " on schedule" : "", r->fault.ops->kind,
                    duration_format(d->fault_expires_usec, a, sizeof(a)));
        arm_realtime(dr, &dr->deadline_timer, r->deadline_usec, on_deadline);
        arm_realtime(dr, &dr->abort_timer, r->started_usec + d->abort_after_usec, on_abort_after);
        if (d->recover_within_usec + give_up_margin(d->recover_within_usec) < d->abort_after_usec)
                arm_realtime(dr, &dr->give_up_timer,
                             r->started_usec + d->recover_within_usec + give_up_margin(d->recover_within_usec), on_give_up);
        r->t[DM_INJECTED] = real_usec();
        k = action_call_new(&dr->call, &r->fault, env_of(dr), ACTION_APPLY, FAULT_CALL_TIMEOUT, NULL, on_injected, dr);
        if (k < 0) {
                drill_end(dr, DRILL_ABORTED, "the fault could not be injected: %s", strerror(-k));
                return refuse(why, n, k, "drill %llu: the fault could not be injected: %s", (unsigned long long) r->id,
                              strerror(-k));
        }
        *ret_id = r->id;
        (void) snprintf(why, n, "drill %llu (%s) started: fault %s being injected, removed within %s at the latest",
                        (unsigned long long) r->id, r->name, r->fault.ops->kind, a);
        return 0;
}

int drill_abort(drill_runner *dr, const char *reason, const engine_who *who, char *why, size_t n) {
        drill_rec *r = dr->active;

        if (!r && dr->wait.on) {
                drill_audit(dr, "drill", "drill %s: its wait for the fleet's drill slot aborted by uid %u (%s): %s",
                            dr->wait.name, who->uid, who->user, reason);
                (void) snprintf(why, n, "drill %s no longer waits for the fleet's drill slot; it is not started",
                                dr->wait.name);
                dr->wait = (struct drill_wait){};
                fleet_drill_release(dr->fleet);
                return 0;
        }
        if (!r)
                return refuse(why, n, -ENOENT, "no drill is in progress");
        drill_audit(dr, "drill", "drill %llu (%s) abort requested by uid %u (%s): %s", (unsigned long long) r->id, r->name,
                    who->uid, who->user, reason);
        (void) snprintf(why, n, "drill %llu (%s) aborted; its fault is being removed", (unsigned long long) r->id, r->name);
        drill_end(dr, DRILL_ABORTED, "aborted by %s: %s", who->user, reason);
        return 0;
}

/* ---- what a previous life left ------------------------------------------------------------ */

void drill_reconcile_next(drill_runner *dr) {
        uint64_t now = real_usec();
        char d[32];

        for (size_t i = 0; i < dr->n_recs && !dr->active; i++) {
                drill_rec *r = dr->recs[i];
                bool live = r->fault_state == DF_ARMING || r->fault_state == DF_ACTIVE || r->fault_state == DF_REVERTING ||
                            r->fault_state == DF_REVERT_FAILED;
                if (!live && r->phase >= DRILL_PASSED)
                        continue;
                dr->active = r;
                dr->end_pending = true;
                dr->end_phase = DRILL_ABORTED;
                (void) snprintf(dr->end_note, sizeof(dr->end_note), "interrupted: the agent stopped during the drill "
                                "(fault %s, deadline %s %s)", drill_fault_state_to_string(r->fault_state),
                                duration_format(r->deadline_usec > now ? r->deadline_usec - now : now - r->deadline_usec, d,
                                                sizeof(d)), r->deadline_usec > now ? "ahead" : "ago");
                r->phase = DRILL_ENDING;
                drill_save(dr);
                drill_audit(dr, "recovery", "drill %llu (%s) %s; removing its fault now", (unsigned long long) r->id,
                            r->name, dr->end_note);
                if (live) {
                        if (r->fault_state == DF_REVERTING || r->fault_state == DF_REVERT_FAILED)
                                r->fault_state = DF_ACTIVE; /* never removed: again (idempotent) */
                        drill_fault_revert(dr, dr->end_note);
                } else
                        finish(dr);
        }
}

/* ---- watching: the timeline, settling, the fault's own removal ---------------------------- */

bool drill_watching(const drill_runner *dr) {
        return dr->active && !dr->end_pending && dr->active->phase < DRILL_ENDING;
}

void drill_mark_set(drill_runner *dr, drill_mark m, uint64_t when) {
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
void drill_try_steady(drill_runner *dr) {
        drill_rec *r = dr->active;
        const incident *inc;

        if (!drill_watching(dr) || r->phase != DRILL_SETTLING)
                return;
        inc = r->incident ? incident_store_find(dr->incidents, r->incident) : NULL;
        if (inc && inc->state != INCIDENT_RESOLVED)
                return;
        for (char **c = dr->steady; c && *c; c++) {
                check *ch = triage_checks(dr->triage) ? check_set_find(triage_checks(dr->triage), *c) : NULL;
                const finding *f = ch ? check_last_finding(ch) : NULL;
                if (!f || check_get_state(ch)->reported != CHECK_OK || f->finished_usec <= dr->settle_since)
                        return;
        }
        drill_mark_set(dr, DM_STEADY, real_usec());
        drill_end(dr, DRILL_PASSED, "%s", "");
}

static int on_settle_timeout(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;
        char d[32];

        dr->settle_timer = ev_source_disable_unref(dr->settle_timer);
        drill_end(dr, DRILL_FAILED, "the steady state was not back within %s of recovery",
                  duration_format(dr->steady_within_usec, d, sizeof(d)));
        return 0;
}

void drill_settle(drill_runner *dr) {
        drill_rec *r = dr->active;

        r->phase = DRILL_SETTLING;
        dr->settle_since = real_usec();
        drill_save(dr);
        dr->settle_timer = ev_source_disable_unref(dr->settle_timer);
        if (ev_add_time_relative(dr->event, &dr->settle_timer, CLOCK_MONOTONIC, dr->steady_within_usec,
                                       10 * USEC_PER_MSEC, on_settle_timeout, dr) < 0)
                log_warning("drill %llu: cannot arm the settle timer; abort.after still bounds it", (unsigned long long) r->id);
        /* the steady-state checks answer now rather than at their next interval */
        for (char **c = dr->steady; c && *c; c++) {
                check *ch = triage_checks(dr->triage) ? check_set_find(triage_checks(dr->triage), *c) : NULL;
                if (ch)
                        (void) check_trigger(ch);
        }
        drill_try_steady(dr);
}

void drill_fault_removed(drill_runner *dr) {
        if (drill_watching(dr))
                drill_settle(dr);
}

/* remove_fault recovery: detection is all the drill waits for (and the observe runbook, if
 * one is named), then it removes the fault itself and times the return to steady. */
void drill_maybe_remove(drill_runner *dr) {
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

        if (!drill_watching(dr) || r->phase != DRILL_WATCHING)
                return;
        if (r->recovery == DRILL_RECOVER_RUNBOOK && r->t[DM_VERIFIED]) {
                log_info("drill %llu: its run succeeded while the fault was being injected: settling now",
                         (unsigned long long) r->id);
                drill_settle(dr);
        } else
                drill_maybe_remove(dr);
}
