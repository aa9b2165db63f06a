/* Triage (agent/triage/triage.h): after every finding run diagnosis and reconcile incidents —
 * coalesced to once per loop iteration, so a burst of findings costs one diagnosis, and a pushed
 * event (charon's socket EOF, an AUTHENTICATION_FAILED log line) becomes an incident in the same
 * iteration that delivered it.
 *
 * "Last good": when every check reports OK and no incident is active, the checks are told so
 * (check_mark_good) once per healthy stretch, so drift is measured against a state that was
 * known to work. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/check_set.h"
#include "agent/checks/registry.h"
#include "agent/config/config.h"
#include "agent/triage/diagnosis.h"
#include "agent/triage/triage.h"
#include "duration.h"
#include "ev.h"
#include "log.h"
#include "log_ids.h"
#include "now.h"

/* Each check's run count at a moment, to tell when all of them have run since. */
typedef struct run_marks {
        uint64_t *runs;
        size_t n;
} run_marks;

struct triage {
        ev_loop *event;
        incident_store *incidents;
        charon_hub *hub;
        void (*audit)(void *userdata, const char *kind, const char *text);
        void (*changed)(void *userdata);
        void *userdata;
        triage_params params;
        triage_listener listeners[TRIAGE_LISTENERS_MAX];
        size_t n_listeners;

        check_set *checks;          /* borrowed: the running set */
        ev_source *diagnose_defer; /* one diagnosis per loop iteration, however many findings */
        bool healthy;               /* last diagnosis: every check OK, nothing active */
        ev_source *good_timer; /* healthy long enough: the checks keep their last-good state */
        bool good_recorded;         /* this healthy stretch's last-good state is recorded */
        unsigned good_holds;        /* triage_good_hold bits: nothing is recorded automatically */
        run_marks good_runs;        /* the last hold lifted: no last-good until every check ran since */
        bool retrigger;             /* an incident opened: run every check again now */
        /* a resolution is pending: checks dropped transient evidence and run once more */
        uint64_t settle_deadline;   /* CLOCK_MONOTONIC; 0: not settling */
        bool settle_waiting;        /* settling waits for charon's start grace to end */
        uint64_t settle_wait_since; /* CLOCK_REALTIME: when that wait began */
        run_marks settle_runs;      /* each check's run count when settling began */
        ev_source *settle_timer;
};

static void audit(triage *t, const char *kind, const char *fmt, ...) _printf_(3, 4);
static void audit(triage *t, const char *kind, const char *fmt, ...) {
        char text[2048];
        va_list ap;

        if (!t->audit)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        t->audit(t->userdata, kind, text);
}

static void tell_changed(triage *t) {
        if (t->changed)
                t->changed(t->userdata);
}

static void on_incident(const incident *i, incident_event ev, void *userdata);

int triage_incident_set_state(triage *t, uint64_t id, incident_state state, const char *note) {
        const incident *cur = incident_store_find(t->incidents, id);
        int r;

        if (!cur || cur->state == state || cur->state == INCIDENT_RESOLVED)
                return cur ? 0 : -ENOENT;
        r = incident_store_set_state(t->incidents, id, state, note, real_usec(), on_incident, t);
        if (r < 0 && r != -EINVAL)
                log_error_errno(r, "cannot record incident %llu's state durably, continuing in memory",
                                (unsigned long long) id);
        tell_changed(t);
        return r;
}

void triage_trigger_all(triage *t) {
        if (t->checks)
                check_set_trigger_all(t->checks);
}

static void on_incident(const incident *i, incident_event ev, void *userdata) {
        triage *t = userdata;
        char f_id[48], f_class[64], f_scope[48], f_state[48];
        const char *fields[6] = { f_id, f_class, f_scope, f_state,
                                  ev == INCIDENT_OPENED    ? LOG_MID_INCIDENT_OPENED
                                  : ev == INCIDENT_UPDATED ? LOG_MID_INCIDENT_UPDATED
                                                           : LOG_MID_INCIDENT_STATE,
                                  NULL };
        int level;

        (void) snprintf(f_id, sizeof(f_id), "IKEHEAL_INCIDENT=%llu", (unsigned long long) i->id);
        (void) snprintf(f_class, sizeof(f_class), "IKEHEAL_CLASS=%s", fault_class_to_string(i->cls));
        (void) snprintf(f_scope, sizeof(f_scope), "IKEHEAL_SCOPE=%s", fault_scope_to_string(i->scope));
        (void) snprintf(f_state, sizeof(f_state), "IKEHEAL_INCIDENT_STATE=%s",
                        incident_state_to_string(i->state));
        level = i->state == INCIDENT_RESOLVED ? LOG_NOTICE
                : i->severity == CHECK_FAIL   ? LOG_ERR
                                              : LOG_WARNING;
        /* an update record may stand for several (the store writes at most one a second): say
         * how many, so a flood is one record per interval with its counts */
        char carried[64] = "";
        if (ev == INCIDENT_UPDATED && i->coalesced)
                (void) snprintf(carried, sizeof(carried), " (%u updates in one record)", i->coalesced + 1);
        audit(t, ev == INCIDENT_OPENED ? "detection" : "incident", "incident %llu %s%s: %s %s%s%s%s, %s: %s",
              (unsigned long long) i->id,
              ev == INCIDENT_OPENED ? "opened" : ev == INCIDENT_UPDATED ? "updated" : incident_state_to_string(i->state),
              carried, fault_class_to_string(i->cls), fault_scope_to_string(i->scope), i->peers[0] ? " (" : "",
              i->peers, i->peers[0] ? ")" : "", i->reason[0] ? i->reason : "-",
              ev == INCIDENT_STATE_CHANGED ? i->note : i->summary);
        switch (ev) {
        case INCIDENT_OPENED:
                /* something new is wrong: every check looks again now, so the cause (and what
                 * it explains) is on the record within one check run, not one interval */
                t->retrigger = true;
                log_fields(level, fields, "incident %llu opened: %s (%s, %s%s%s), %u%% confident: %s",
                           (unsigned long long) i->id, fault_class_to_string(i->cls),
                           fault_scope_to_string(i->scope), i->reason[0] ? i->reason : "-",
                           i->peers[0] ? ", peers " : "", i->peers, i->confidence, i->summary);
                break;
        case INCIDENT_UPDATED:
                log_fields(level, fields, "incident %llu updated: %s (%s, %s%s%s): %s",
                           (unsigned long long) i->id, fault_class_to_string(i->cls),
                           fault_scope_to_string(i->scope), i->reason[0] ? i->reason : "-",
                           i->peers[0] ? ", peers " : "", i->peers, i->summary);
                break;
        case INCIDENT_STATE_CHANGED:
                log_fields(level, fields, "incident %llu %s: %s", (unsigned long long) i->id,
                           incident_state_to_string(i->state), i->note);
                break;
        }
        for (size_t k = 0; k < t->n_listeners; k++)
                if (t->listeners[k].incident)
                        t->listeners[k].incident(i, ev, t->listeners[k].userdata);
}

static void run_marks_take(triage *t, run_marks *m) {
        size_t n = check_set_size(t->checks);

        free(m->runs);
        m->runs = calloc(n ? n : 1, sizeof(uint64_t));
        m->n = m->runs ? n : 0;
        for (size_t i = 0; i < m->n; i++)
                m->runs[i] = check_runs(check_set_get(t->checks, i));
}

/* Has every check run since the marks were taken? (A check set of another size: it was built
 * anew, every check has run since.) */
static bool run_marks_passed(triage *t, const run_marks *m) {
        size_t n = check_set_size(t->checks);
        if (n != m->n)
                return true;
        for (size_t i = 0; i < n; i++)
                if (check_runs(check_set_get(t->checks, i)) <= m->runs[i])
                        return false;
        return true;
}

static void run_marks_clear(run_marks *m) {
        free(m->runs);
        *m = (run_marks){ 0 };
}

/* Has every check run since the settle's rerun? (Never while still waiting for charon.) */
static bool settled(triage *t) {
        return !t->settle_waiting && run_marks_passed(t, &t->settle_runs);
}

static int on_settle_deadline(ev_source *s, uint64_t usec, void *userdata) {
        triage *t = userdata;
        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        triage_schedule(t);
        return 0;
}

/* How long a run in flight and the queued one may take: twice the longest, bounded. */
static uint64_t settle_span(triage *t) {
        uint64_t longest = 0;
        for (size_t i = 0; i < check_set_size(t->checks); i++) {
                const check_schedule *sc = check_get_schedule(check_set_get(t->checks, i));
                if (sc->timeout_usec * (sc->retries + 1u) > longest)
                        longest = sc->timeout_usec * (sc->retries + 1u);
        }
        longest = 2 * longest + 100 * USEC_PER_MSEC;
        return longest > 30 * USEC_PER_SEC ? 30 * USEC_PER_SEC : longest;
}

/* What is left of charon's start: it came back less than charon.start_grace ago, and its
 * connections and credentials may still be loading (swanctl --load-all runs once the socket is
 * there, in the lab as under systemd's ExecStartPost). A probe answered by nobody or a peer
 * refused for want of a config in that window is the start, not a fault. */
static uint64_t charon_start_left(triage *t) {
        uint64_t since = t->hub ? charon_hub_state_since(t->hub) : 0, now = mono_usec();

        if (!charon_hub_connected(t->hub) || !since || t->params.charon_start_grace_usec == 0)
                return 0;
        since += t->params.charon_start_grace_usec;
        return since > now ? since - now : 0;
}

/* The start is over early once a check run after settling began says so: a conns check finds
 * every expected connection loaded (swanctl loads them last), or the daemon check finds
 * charon's unit active (systemd makes it so only after ExecStartPost's swanctl --load-all). */
static bool charon_ready(triage *t) {
        for (size_t i = 0; i < check_set_size(t->checks); i++) {
                check *c = check_set_get(t->checks, i);
                const finding *f = check_last_finding(c);
                const char *active;
                if (!f || f->status != CHECK_OK || f->started_usec < t->settle_wait_since)
                        continue;
                if (check_kind_is(check_kind(c), CHECK_ROLE_LOADED))
                        return true;
                if (check_kind_is(check_kind(c), CHECK_ROLE_LIVENESS) && (active = finding_fact_get(f, "active_state")) &&
                    strcmp(active, "active") == 0)
                        return true;
        }
        return false;
}

/* Phase 2: the checks drop transient evidence and all run once more. */
static void settle_rerun(triage *t) {
        uint64_t span = settle_span(t);

        t->settle_waiting = false;
        run_marks_take(t, &t->settle_runs);
        t->settle_deadline = mono_usec() + span;
        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        (void) ev_add_time_relative(t->event, &t->settle_timer, CLOCK_MONOTONIC, span, USEC_PER_MSEC,
                                          on_settle_deadline, t);
        check_set_forget(t->checks);
        check_set_trigger_all(t->checks);
}

#define SETTLE_POLL_USEC (100 * USEC_PER_MSEC)

/* While waiting: ask the conns and daemon checks again every 100 ms (charon does not push a
 * load). */
static int on_settle_wait(ev_source *s, uint64_t usec, void *userdata) {
        triage *t = userdata;
        uint64_t left = charon_start_left(t);

        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        if (left == 0 || ev_add_time_relative(t->event, &t->settle_timer, CLOCK_MONOTONIC,
                                                    left < SETTLE_POLL_USEC ? left : SETTLE_POLL_USEC,
                                                    USEC_PER_MSEC, on_settle_wait, t) < 0) {
                settle_rerun(t);
                return 0;
        }
        for (size_t i = 0; i < check_set_size(t->checks); i++) {
                check *c = check_set_get(t->checks, i);
                if (check_kind_is(check_kind(c), CHECK_ROLE_LOADED | CHECK_ROLE_LIVENESS))
                        (void) check_trigger(c);
        }
        return 0;
}

/* Phase 1, when charon has just come back: wait out the rest of its start first (or until it
 * is ready). */
static void settle_begin(triage *t) {
        uint64_t wait = charon_start_left(t);
        char d[32];

        if (wait == 0) {
                settle_rerun(t);
                return;
        }
        t->settle_waiting = true;
        t->settle_wait_since = real_usec();
        t->settle_deadline = mono_usec() + wait + settle_span(t);
        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        log_debug("charon came back within charon.start_grace: the checks run again once its connections "
                  "are loaded, at most in %s", duration_format(wait, d, sizeof(d)));
        (void) on_settle_wait(NULL, 0, t);
}

size_t triage_inputs(const triage *t, diagnosis_input *in, size_t max) {
        size_t n = check_set_size(t->checks);

        if (n > max)
                n = max;
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(t->checks, i);
                in[i] = (diagnosis_input){
                        .check = check_name(c),
                        .kind = check_kind(c),
                        .reported = check_get_state(c)->reported,
                        .finding = check_last_finding(c),
                };
        }
        return n;
}

static int on_good_timer(ev_source *s, uint64_t usec, void *userdata) {
        triage *t = userdata;
        char d[32];

        t->good_timer = ev_source_disable_unref(t->good_timer);
        if (t->good_holds) {
                log_info("all %zu checks healthy, but %s: the last-good state is not recorded", check_set_size(t->checks),
                         t->good_holds & TRIAGE_HOLD_GUARD ? "a guarded change is not confirmed yet"
                                                           : "a temporary measure is in force");
                return 0;
        }
        log_info("all %zu checks healthy for %s: recording the last-good state", check_set_size(t->checks),
                 duration_format(t->params.last_good_after_usec, d, sizeof(d)));
        check_set_mark_good(t->checks);
        t->good_recorded = true;
        return 0;
}

static void arm_good_timer(triage *t) {
        t->good_timer = ev_source_disable_unref(t->good_timer);
        if (t->params.last_good_after_usec == 0 ||
            ev_add_time_relative(t->event, &t->good_timer, CLOCK_MONOTONIC, t->params.last_good_after_usec,
                                       USEC_PER_MSEC, on_good_timer, t) < 0)
                (void) on_good_timer(NULL, 0, t);
}

void triage_diagnose(triage *t) {
        diagnosis_input in[CONFIG_CHECKS_MAX];
        size_t n, all_ok = 0;
        diagnosis d;
        int r;

        /* Incidents are reconciled only against a complete picture: before every check has
         * spoken once (start-up, reload), an absent problem proves nothing. */
        if (check_set_reported(t->checks) < check_set_size(t->checks))
                return;
        n = triage_inputs(t, in, CONFIG_CHECKS_MAX);
        for (size_t i = 0; i < n; i++)
                all_ok += in[i].reported == CHECK_OK;
        r = diagnosis_run(in, n, &d);
        if (r < 0) {
                log_error_errno(r, "diagnosis failed");
                return;
        }
        /* A cause is about to be resolved (or the check that found it recovered). What peers
         * reported while it lasted (their failed attempts in charon's log), and what slower
         * checks saw before it was repaired (a probe refused while charon was down), would
         * otherwise become incidents of their own the moment the cause stops explaining them:
         * first the checks drop transient evidence and all run once more, then the incidents
         * are reconciled on that fresh picture (or at the settle deadline). */
        if (t->settle_deadline) {
                if (t->settle_waiting && charon_ready(t))
                        settle_rerun(t);
                if (!settled(t) && mono_usec() < t->settle_deadline) {
                        diagnosis_done(&d);
                        return;
                }
                t->settle_deadline = 0;
        } else if (incident_store_would_resolve(t->incidents, &d, in, n)) {
                diagnosis_done(&d);
                settle_begin(t);
                return;
        }
        r = incident_store_apply(t->incidents, &d, in, n, real_usec(), on_incident, t);
        if (r < 0)
                log_error_errno(r, "cannot record incidents durably in %s, continuing in memory",
                                t->params.state_dir);

        bool healthy = all_ok == n && incident_store_active(t->incidents) == 0;
        if (healthy)
                for (size_t i = 0; i < t->n_listeners; i++)
                        if (t->listeners[i].healthy)
                                t->listeners[i].healthy(t->listeners[i].userdata);
        /* after a hold was lifted, a stretch begins only with findings of runs made since: the
         * ones before describe the gateway with the measure, fault or change still in place */
        if (t->good_runs.runs) {
                if (!run_marks_passed(t, &t->good_runs))
                        healthy = false;
                else
                        run_marks_clear(&t->good_runs);
        }
        if (healthy && !t->healthy) {
                /* a state becomes "last good" only once it has held for a while: a snapshot taken
                 * in a lucky second between two failures would be restored later as the truth */
                arm_good_timer(t);
        }
        if (!healthy) {
                t->good_timer = ev_source_disable_unref(t->good_timer);
                t->good_recorded = false;
        }
        t->healthy = healthy;
        diagnosis_done(&d);
        if (t->retrigger) {
                t->retrigger = false;
                check_set_trigger_all(t->checks);
        }
        tell_changed(t);
}

static void diagnose_and_tell(triage *t) {
        triage_diagnose(t);
        for (size_t i = 0; i < t->n_listeners; i++)
                if (t->listeners[i].diagnosed)
                        t->listeners[i].diagnosed(t->listeners[i].userdata);
}

static int on_diagnose_defer(ev_source *s, void *userdata) {
        (void) ev_source_set_enabled(s, EV_OFF);
        diagnose_and_tell(userdata);
        return 0;
}

void triage_on_finding(check *c, const finding *f, bool changed, void *userdata) {
        triage *t = userdata;

        if (changed) {
                char f_check[96], f_status[48];
                const char *fields[4] = { f_check, f_status, LOG_MID_CHECK_STATUS, NULL };
                check_status st = check_get_state(c)->reported;
                (void) snprintf(f_check, sizeof(f_check), "IKEHEAL_CHECK=%s", check_name(c));
                (void) snprintf(f_status, sizeof(f_status), "IKEHEAL_CHECK_STATUS=%s",
                                check_status_to_string(st));
                log_fields(st == CHECK_OK ? LOG_INFO : st == CHECK_FAIL ? LOG_ERR : LOG_WARNING,
                           fields, "check %s: %s: %s", check_name(c), check_status_to_string(st),
                           f->summary ? f->summary : "");
        }
        for (size_t i = 0; i < t->n_listeners; i++)
                if (t->listeners[i].finding)
                        t->listeners[i].finding(c, f, t->listeners[i].userdata);
        triage_schedule(t);
}

void triage_schedule(triage *t) {
        if (!t->diagnose_defer &&
            ev_add_defer(t->event, &t->diagnose_defer, on_diagnose_defer, t) < 0) {
                diagnose_and_tell(t);
                return;
        }
        (void) ev_source_set_enabled(t->diagnose_defer, EV_ONESHOT);
}

void triage_set_checks(triage *t, check_set *set) {
        t->checks = set;
        if (set)
                return;
        t->settle_deadline = 0;
        t->settle_waiting = false;
        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        t->healthy = false;
}

check_set *triage_checks(const triage *t) {
        return t->checks;
}

void triage_mark_good(triage *t) {
        check_set_mark_good(t->checks);
        t->good_recorded = true;
}

void triage_hold_good(triage *t, triage_good_hold who, bool hold) {
        unsigned was = t->good_holds;

        t->good_holds = hold ? was | who : was & ~(unsigned) who;
        /* the last hold lifted with nothing recorded in this stretch: a new stretch begins once
         * every check has looked again (now), and is recorded after last_good_after as always */
        if (was && !t->good_holds && !t->good_recorded && t->checks) {
                t->good_timer = ev_source_disable_unref(t->good_timer);
                t->healthy = false;
                run_marks_take(t, &t->good_runs);
                check_set_trigger_all(t->checks);
        }
}

bool triage_good_recorded(const triage *t) {
        return t->good_recorded;
}

int triage_subscribe(triage *t, const triage_listener *l) {
        for (size_t i = 0; i < t->n_listeners; i++)
                if (memcmp(&t->listeners[i], l, sizeof(*l)) == 0)
                        return 0;
        if (t->n_listeners >= TRIAGE_LISTENERS_MAX)
                return -ENOSPC;
        t->listeners[t->n_listeners++] = *l;
        return 0;
}

void triage_unsubscribe(triage *t, void *userdata) {
        size_t w = 0;

        if (!t)
                return;
        for (size_t i = 0; i < t->n_listeners; i++)
                if (t->listeners[i].userdata != userdata)
                        t->listeners[w++] = t->listeners[i];
        t->n_listeners = w;
}

triage_params triage_params_of(const ikeheal_config *config) {
        return (triage_params){
                .last_good_after_usec = config->last_good_after_usec,
                .charon_start_grace_usec = config->charon_start_grace_usec,
                .state_dir = config->state_dir,
        };
}

void triage_configure(triage *t, const triage_params *params) {
        t->params = *params;
}

int triage_new(triage **ret, const triage_deps *deps, const triage_params *params) {
        triage *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        *t = (triage){
                .event = deps->event,
                .incidents = deps->incidents,
                .hub = deps->hub,
                .audit = deps->audit,
                .changed = deps->changed,
                .userdata = deps->userdata,
                .params = *params,
        };
        r = incident_store_attach_event(t->incidents, t->event, on_incident, t);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

triage *triage_free(triage *t) {
        if (!t)
                return NULL;
        t->diagnose_defer = ev_source_disable_unref(t->diagnose_defer);
        t->settle_timer = ev_source_disable_unref(t->settle_timer);
        t->good_timer = ev_source_disable_unref(t->good_timer);
        run_marks_clear(&t->settle_runs);
        run_marks_clear(&t->good_runs);
        free(t);
        return NULL;
}

int triage_open_incidents(incident_store **ret, const char *state_dir) {
        uint64_t dropped = 0;
        int r;

        r = incident_store_new(ret, state_dir, &dropped);
        if (r < 0)
                return log_error_errno(r, "cannot open the incident log in %s", state_dir);
        if (dropped)
                log_warning("incident log: dropped a torn last record (%llu bytes), ignoring",
                            (unsigned long long) dropped);
        if (incident_store_active(*ret))
                log_notice("%zu incident(s) still active from before the restart; re-checking",
                           incident_store_active(*ret));
        return 0;
}
