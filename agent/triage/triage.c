/* The agent's side of checks and diagnosis: lend the checks an environment (VICI, the charon
 * hub, the system bus, the state directory), build them from the config, and after every
 * finding run diagnosis and reconcile incidents — coalesced to once per loop iteration, so a
 * burst of findings costs one diagnosis, and a pushed event (charon's socket EOF, an
 * AUTHENTICATION_FAILED log line) becomes an incident in the same iteration that delivered it.
 *
 * "Last good": when every check reports OK and no incident is active, the checks are told so
 * (check_mark_good) once per healthy stretch, so drift is measured against a state that was
 * known to work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "agent/core/agent.h"
#include "agent/checks/charon_hub.h"
#include "agent/checks/check_set.h"
#include "agent/triage/diagnosis.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine.h"
#include "agent/triage/incident.h"
#include "duration.h"
#include "log.h"

static uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}


uint64_t agent_now_usec(void) {
        return realtime_usec();
}

static void on_incident(const incident *i, incident_event ev, void *userdata);

int agent_incident_set_state(agent *a, uint64_t id, int state, const char *note) {
        const incident *cur = incident_store_find(a->incidents, id);
        int r;

        if (!cur || cur->state == (incident_state) state || cur->state == INCIDENT_RESOLVED)
                return cur ? 0 : -ENOENT;
        r = incident_store_set_state(a->incidents, id, (incident_state) state, note, realtime_usec(), on_incident, a);
        if (r < 0 && r != -EINVAL)
                log_error_errno(r, "cannot record incident %llu's state durably, continuing in memory",
                                (unsigned long long) id);
        agent_notify_status(a);
        return r;
}

void agent_checks_trigger_all(agent *a) {
        if (a->checks)
                check_set_trigger_all(a->checks);
}

uint32_t agent_established_sas(agent *a) {
        return a->engine ? engine_established_sas_public(a->engine) : 0;
}

static void on_incident(const incident *i, incident_event ev, void *userdata) {
        agent *a = userdata;
        char f_id[48], f_class[64], f_scope[48], f_state[48];
        const char *fields[5] = { f_id, f_class, f_scope, f_state, NULL };
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
        agent_audit(a, ev == INCIDENT_OPENED ? "detection" : "incident", "incident %llu %s%s: %s %s%s%s%s, %s: %s",
                    (unsigned long long) i->id,
                    ev == INCIDENT_OPENED ? "opened" : ev == INCIDENT_UPDATED ? "updated" : incident_state_to_string(i->state),
                    carried, fault_class_to_string(i->cls), fault_scope_to_string(i->scope), i->peers[0] ? " (" : "",
                    i->peers, i->peers[0] ? ")" : "", i->reason[0] ? i->reason : "-",
                    ev == INCIDENT_STATE_CHANGED ? i->note : i->summary);
        switch (ev) {
        case INCIDENT_OPENED:
                /* something new is wrong: every check looks again now, so the cause (and what
                 * it explains) is on the record within one check run, not one interval */
                a->retrigger = true;
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
        if (a->drills)
                drill_incident(a->drills, i, ev == INCIDENT_OPENED);
        /* the engine decides on the next loop iteration, on the whole reconciled picture */
        if (a->engine)
                agent_engine_queue(a, i->id, ev == INCIDENT_OPENED);
}

/* Incidents change inside incident_store_apply(); the engine acts after it returns (its own
 * state changes to incidents would otherwise re-enter the store mid-reconciliation). */
typedef struct engine_queue_item {
        uint64_t id;
        bool opened;
} engine_queue_item;

static int on_engine_defer(sd_event_source *s, void *userdata) {
        agent *a = userdata;
        engine_queue_item *q = a->engine_queue;
        size_t n = a->n_engine_queue;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        a->engine_queue = NULL;
        a->n_engine_queue = 0;
        for (size_t i = 0; i < n; i++)
                engine_incident(a->engine, q[i].id, q[i].opened);
        free(q);
        return 0;
}

void agent_engine_queue(agent *a, uint64_t id, bool opened) {
        engine_queue_item *q;

        for (size_t i = 0; i < a->n_engine_queue; i++)
                if (((engine_queue_item *) a->engine_queue)[i].id == id) {
                        ((engine_queue_item *) a->engine_queue)[i].opened |= opened;
                        return;
                }
        q = realloc(a->engine_queue, (a->n_engine_queue + 1) * sizeof(*q));
        if (!q) {
                log_error("out of memory queueing incident %llu for the runbook engine", (unsigned long long) id);
                return;
        }
        q[a->n_engine_queue++] = (engine_queue_item){ .id = id, .opened = opened };
        a->engine_queue = q;
        if (!a->engine_defer && sd_event_add_defer(a->event, &a->engine_defer, on_engine_defer, a) < 0)
                return;
        (void) sd_event_source_set_enabled(a->engine_defer, SD_EVENT_ONESHOT);
}

/* Sent only when it changed: every diagnosis calls this (with the daemon check's heartbeat, every
 * second), and a rejected reload stays said until a good one. */
void agent_notify_status(agent *a) {
        size_t active = a->incidents ? incident_store_active(a->incidents) : 0;
        char text[sizeof(a->status_sent)];

        (void) snprintf(text, sizeof(text), "STATUS=running: %s; %zu checks, %zu active incident%s%s",
                        a->charon_connected ? "charon connected" : "charon unreachable",
                        a->checks ? check_set_size(a->checks) : 0, active, active == 1 ? "" : "s",
                        a->reload_rejected ? "; last reload rejected" : "");
        if (strcmp(text, a->status_sent) == 0)
                return;
        (void) sd_notify(false, text);
        memcpy(a->status_sent, text, sizeof(text));
}

static uint64_t now_mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Has every check run since the settle's rerun? (Never while still waiting for charon.) */
static bool settled(agent *a) {
        size_t n = check_set_size(a->checks);
        if (a->settle_waiting)
                return false;
        if (n != a->n_settle)
                return true;
        for (size_t i = 0; i < n; i++)
                if (check_runs(check_set_get(a->checks, i)) <= a->settle_runs[i])
                        return false;
        return true;
}

static int on_settle_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        agent *a = userdata;
        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        agent_schedule_diagnosis(a);
        return 0;
}

/* How long a run in flight and the queued one may take: twice the longest, bounded. */
static uint64_t settle_span(agent *a) {
        uint64_t longest = 0;
        for (size_t i = 0; i < check_set_size(a->checks); i++) {
                const check_schedule *sc = check_get_schedule(check_set_get(a->checks, i));
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
static uint64_t charon_start_left(agent *a) {
        uint64_t since = a->hub ? charon_hub_state_since(a->hub) : 0, now = now_mono();

        if (!a->charon_connected || !since || a->config->charon_start_grace_usec == 0)
                return 0;
        since += a->config->charon_start_grace_usec;
        return since > now ? since - now : 0;
}

/* The start is over early once a check run after settling began says so: a conns check finds
 * every expected connection loaded (swanctl loads them last), or the daemon check finds
 * charon's unit active (systemd makes it so only after ExecStartPost's swanctl --load-all). */
static bool charon_ready(agent *a) {
        for (size_t i = 0; i < check_set_size(a->checks); i++) {
                check *c = check_set_get(a->checks, i);
                const finding *f = check_last_finding(c);
                const char *active;
                if (!f || f->status != CHECK_OK || f->started_usec < a->settle_wait_since)
                        continue;
                if (strcmp(check_kind(c), "conns") == 0)
                        return true;
                if (strcmp(check_kind(c), "daemon") == 0 && (active = finding_fact_get(f, "active_state")) &&
                    strcmp(active, "active") == 0)
                        return true;
        }
        return false;
}

/* Phase 2: the checks drop transient evidence and all run once more. */
static void settle_rerun(agent *a) {
        size_t n = check_set_size(a->checks);
        uint64_t span = settle_span(a);

        a->settle_waiting = false;
        free(a->settle_runs);
        a->settle_runs = calloc(n ? n : 1, sizeof(uint64_t));
        a->n_settle = a->settle_runs ? n : 0;
        for (size_t i = 0; i < a->n_settle; i++)
                a->settle_runs[i] = check_runs(check_set_get(a->checks, i));
        a->settle_deadline = now_mono() + span;
        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        (void) sd_event_add_time_relative(a->event, &a->settle_timer, CLOCK_MONOTONIC, span, USEC_PER_MSEC,
                                          on_settle_deadline, a);
        check_set_forget(a->checks);
        check_set_trigger_all(a->checks);
}

#define SETTLE_POLL_USEC (100 * USEC_PER_MSEC)

/* While waiting: ask the conns and daemon checks again every 100 ms (charon does not push a
 * load). */
static int on_settle_wait(sd_event_source *s, uint64_t usec, void *userdata) {
        agent *a = userdata;
        uint64_t left = charon_start_left(a);

        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        if (left == 0 || sd_event_add_time_relative(a->event, &a->settle_timer, CLOCK_MONOTONIC,
                                                    left < SETTLE_POLL_USEC ? left : SETTLE_POLL_USEC,
                                                    USEC_PER_MSEC, on_settle_wait, a) < 0) {
                settle_rerun(a);
                return 0;
        }
        for (size_t i = 0; i < check_set_size(a->checks); i++) {
                check *c = check_set_get(a->checks, i);
                if (strcmp(check_kind(c), "conns") == 0 || strcmp(check_kind(c), "daemon") == 0)
                        (void) check_trigger(c);
        }
        return 0;
}

/* Phase 1, when charon has just come back: wait out the rest of its start first (or until it
 * is ready). */
static void settle_begin(agent *a) {
        uint64_t wait = charon_start_left(a);
        char d[32];

        if (wait == 0) {
                settle_rerun(a);
                return;
        }
        a->settle_waiting = true;
        a->settle_wait_since = realtime_usec();
        a->settle_deadline = now_mono() + wait + settle_span(a);
        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        log_debug("charon came back within charon.start_grace: the checks run again once its connections "
                  "are loaded, at most in %s", duration_format(wait, d, sizeof(d)));
        (void) on_settle_wait(NULL, 0, a);
}

size_t agent_diagnosis_inputs(agent *a, diagnosis_input *in, size_t max) {
        size_t n = check_set_size(a->checks);

        if (n > max)
                n = max;
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(a->checks, i);
                in[i] = (diagnosis_input){
                        .check = check_name(c),
                        .kind = check_kind(c),
                        .reported = check_get_state(c)->reported,
                        .finding = check_last_finding(c),
                };
        }
        return n;
}

static int on_good_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        agent *a = userdata;
        char d[32];

        a->good_timer = sd_event_source_disable_unref(a->good_timer);
        log_info("all %zu checks healthy for %s: recording the last-good state", check_set_size(a->checks),
                 duration_format(a->config->last_good_after_usec, d, sizeof(d)));
        check_set_mark_good(a->checks);
        a->good_recorded = true;
        return 0;
}

void agent_diagnose(agent *a) {
        diagnosis_input in[CONFIG_CHECKS_MAX];
        size_t n, all_ok = 0;
        diagnosis d;
        int r;

        /* Incidents are reconciled only against a complete picture: before every check has
         * spoken once (start-up, reload), an absent problem proves nothing. */
        if (check_set_reported(a->checks) < check_set_size(a->checks))
                return;
        n = agent_diagnosis_inputs(a, in, CONFIG_CHECKS_MAX);
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
        if (a->settle_deadline) {
                if (a->settle_waiting && charon_ready(a))
                        settle_rerun(a);
                if (!settled(a) && now_mono() < a->settle_deadline) {
                        diagnosis_done(&d);
                        return;
                }
                a->settle_deadline = 0;
        } else if (incident_store_would_resolve(a->incidents, &d, in, n)) {
                diagnosis_done(&d);
                settle_begin(a);
                return;
        }
        r = incident_store_apply(a->incidents, &d, in, n, realtime_usec(), on_incident, a);
        if (r < 0)
                log_error_errno(r, "cannot record incidents durably in %s, continuing in memory",
                                a->config->state_dir);
        a->diagnoses++;
        a->last_diagnosis_usec = realtime_usec();

        bool healthy = all_ok == n && incident_store_active(a->incidents) == 0;
        if (healthy && a->engine)
                engine_healthy(a->engine);
        if (healthy && !a->healthy) {
                /* a state becomes "last good" only once it has held for a while: a snapshot taken
                 * in a lucky second between two failures would be restored later as the truth */
                a->good_timer = sd_event_source_disable_unref(a->good_timer);
                if (a->config->last_good_after_usec == 0 ||
                    sd_event_add_time_relative(a->event, &a->good_timer, CLOCK_MONOTONIC, a->config->last_good_after_usec,
                                               USEC_PER_MSEC, on_good_timer, a) < 0)
                        (void) on_good_timer(NULL, 0, a);
        }
        if (!healthy) {
                a->good_timer = sd_event_source_disable_unref(a->good_timer);
                a->good_recorded = false;
        }
        a->healthy = healthy;
        diagnosis_done(&d);
        if (a->retrigger) {
                a->retrigger = false;
                check_set_trigger_all(a->checks);
        }
        agent_notify_status(a);
}

static int on_diagnose_defer(sd_event_source *s, void *userdata) {
        agent *a = userdata;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        agent_diagnose(a);
        diagnose_verb_progress(a);
        return 0;
}

static void on_finding(check *c, const finding *f, bool changed, void *userdata) {
        agent *a = userdata;

        if (changed) {
                char f_check[96], f_status[48];
                const char *fields[3] = { f_check, f_status, NULL };
                check_status st = check_get_state(c)->reported;
                (void) snprintf(f_check, sizeof(f_check), "IKEHEAL_CHECK=%s", check_name(c));
                (void) snprintf(f_status, sizeof(f_status), "IKEHEAL_CHECK_STATUS=%s",
                                check_status_to_string(st));
                log_fields(st == CHECK_OK ? LOG_INFO : st == CHECK_FAIL ? LOG_ERR : LOG_WARNING,
                           fields, "check %s: %s: %s", check_name(c), check_status_to_string(st),
                           f->summary ? f->summary : "");
        }
        if (a->engine)
                engine_finding(a->engine, check_name(c));
        if (a->drills)
                drill_finding(a->drills, c, f);
        agent_schedule_diagnosis(a);
}

void agent_schedule_diagnosis(agent *a) {
        if (!a->diagnose_defer &&
            sd_event_add_defer(a->event, &a->diagnose_defer, on_diagnose_defer, a) < 0) {
                agent_diagnose(a);
                diagnose_verb_progress(a);
                return;
        }
        (void) sd_event_source_set_enabled(a->diagnose_defer, SD_EVENT_ONESHOT);
}

/* The state directory holds incidents, snapshots and (later) measures: private to us. */
static int state_dir_prepare(const char *dir) {
        char snap[512];

        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        (void) snprintf(snap, sizeof(snap), "%s/snapshots", dir);
        if (mkdir(snap, 0750) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int agent_checks_setup(agent *a) {
        uint64_t dropped = 0;
        int r;

        r = charon_hub_new(&a->hub);
        if (r < 0)
                return r;
        r = sd_bus_open_system(&a->bus);
        if (r >= 0)
                r = sd_bus_attach_event(a->bus, a->event, 0);
        if (r < 0) {
                log_warning_errno(r, "no system bus: unit and timedated facts unavailable, ignoring");
                a->bus = sd_bus_flush_close_unref(a->bus);
        }
        r = state_dir_prepare(a->config->state_dir);
        if (r < 0)
                return log_error_errno(r, "cannot create state directory %s", a->config->state_dir);
        r = agent_audit_open(a);
        if (r < 0)
                return r;
        r = incident_store_new(&a->incidents, a->config->state_dir, &dropped);
        if (r < 0)
                return log_error_errno(r, "cannot open the incident log in %s", a->config->state_dir);
        r = incident_store_attach_event(a->incidents, a->event, on_incident, a);
        if (r < 0)
                return log_error_errno(r, "cannot attach the incident store to the event loop");
        if (dropped)
                log_warning("incident log: dropped a torn last record (%llu bytes), ignoring",
                            (unsigned long long) dropped);
        if (incident_store_active(a->incidents))
                log_notice("%zu incident(s) still active from before the restart; re-checking",
                           incident_store_active(a->incidents));
        a->env = (check_env){
                .event = a->event,
                .config = a->config,
                .vici = a->vici,
                .hub = a->hub,
                .bus = a->bus,
                .state_dir = a->config->state_dir,
        };
        return 0;
}

int agent_checks_prepare(agent *a, const ikeheal_config *config, check_set **ret, char **ret_error) {
        ydiag d;
        int r;

        ydiag_init(&d, config->path);
        r = check_set_new(ret, &a->env, config, on_finding, a, &d);
        if (r < 0 && ret_error)
                *ret_error = ydiag_join(&d);
        ydiag_done(&d);
        return r;
}

void agent_checks_drop(agent *a) {
        a->checks = check_set_free(a->checks);
        a->settle_deadline = 0;
        a->settle_waiting = false;
        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        a->healthy = false;
}

int agent_checks_start(agent *a, check_set *set) {
        int r;

        a->env.config = a->config;
        a->env.vici = a->vici;
        a->env.state_dir = a->config->state_dir;
        a->checks = set;
        r = check_set_start(a->checks);
        if (r < 0)
                log_warning_errno(r, "a check could not start, ignoring");
        log_info("%zu checks running", check_set_size(a->checks));
        return 0;
}

void agent_checks_free(agent *a) {
        diagnose_verb_abort_all(a, "agent stopping");
        a->checks = check_set_free(a->checks);
        a->diagnose_defer = sd_event_source_disable_unref(a->diagnose_defer);
        a->settle_timer = sd_event_source_disable_unref(a->settle_timer);
        a->good_timer = sd_event_source_disable_unref(a->good_timer);
        free(a->settle_runs);
        a->settle_runs = NULL;
        a->incidents = incident_store_free(a->incidents);
        a->bus = sd_bus_flush_close_unref(a->bus);
        a->hub = charon_hub_free(a->hub);
}
