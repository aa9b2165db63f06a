/* The agent's life cycle: build the loop, connect to charon, open the control socket, tell
 * systemd we are ready, reload on SIGHUP without ever running on a half-applied config, stop on
 * SIGTERM. Everything runs on one sd-event loop; the watchdog is kept from that same loop, so a
 * wedged loop is exactly what gets us restarted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/agent.h"
#include "agent/checks/charon_hub.h"
#include "agent/checks/charon_link.h"
#include "agent/checks/check_set.h"
#include "agent/control/control.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine.h"
#include "agent/guard/guard.h"
#include "agent/notify/audit_trail.h"
#include "agent/notify/notifier.h"
#include "agent/observe/observe.h"
#include "agent/fleet/fleet.h"
#include "agent/triage/check_host.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "log.h"
#include "log_ids.h"
#include "now.h"
#include "service_notify.h"

static void on_charon_changed(void *userdata) {
        agent_notify_status(userdata);
}

static int agent_vici_start(agent *a) {
        const ikeheal_config *c = a->config;

        a->link.hub = check_host_hub(a->checkhost);
        a->link.changed = on_charon_changed;
        a->link.userdata = a;
        return charon_link_start(&a->link, a->event,
                                 &(charon_link_params){ .socket = c->vici_socket,
                                                        .timeout_usec = c->vici_timeout_usec,
                                                        .reconnect_min_usec = c->vici_reconnect_min_usec,
                                                        .reconnect_max_usec = c->vici_reconnect_max_usec });
}

/* The verbs are registered by whoever built the agent (agent_set_verbs()). */
static int agent_control_register(agent *a) {
        return a->verbs_register ? a->verbs_register(a->control, a->verbs_userdata) : 0;
}

int agent_set_verbs(agent *a, agent_verbs_fn fn, void *userdata) {
        a->verbs_register = fn;
        a->verbs_userdata = userdata;
        return agent_control_register(a);
}

static int agent_control_start(agent *a) {
        int r = control_server_new(&a->control, a->event, a->config);
        if (r < 0)
                return log_error_errno(r, "cannot open control socket %s", a->config->control_socket);
        return 0;
}

/* Take `set` (built for a->config) and start it. */
static void agent_checks_start(agent *a, check_set *set) {
        triage_params p = triage_params_of(a->config);

        triage_configure(a->triage, &p);
        a->checks = set;
        triage_set_checks(a->triage, set);
        (void) check_host_start(a->checkhost, a->config, a->link.vici, set);
}

/* A reload refused: the old configuration stays in force whole; the journal, the audit trail,
 * systemd's STATUS= and the caller (ret_error takes err) say why. */
static int reload_refused(agent *a, int r, char *err, char **ret_error) {
        a->reload_failures++;
        log_fields(LOG_ERR, ((const char *const[]){ LOG_MID_RELOAD_REFUSED, NULL }),
                   "reload failed: %s; keeping the old configuration", err ? err : strerror(-r));
        agent_audit(a, "reload_rejected", "%s", err ? err : strerror(-r));
        if (ret_error)
                *ret_error = err;
        else
                free(err);
        (void) service_notify("READY=1\nSTATUS=running (last reload rejected)");
        a->reload_rejected = true;
        a->status_sent[0] = 0;
        return r;
}

int agent_reload(agent *a, char **ret_error) {
        ikeheal_config *next = NULL;
        char *err = NULL;
        int r;

        (void) service_notify("RELOADING=1\nSTATUS=reloading configuration");
        r = config_load(a->config->path, &next, &err);
        if (r >= 0 && (r = config_reload_check(a->config, next, &err)) < 0)
                next = config_free(next); /* a changed audit key: refused whole */
        if (r < 0)
                return reload_refused(a, r, err, ret_error);

        /* the new checks are built (and their params bound) before anything is swapped */
        check_set *next_checks = NULL;
        r = check_host_prepare(a->checkhost, next, triage_on_finding, a->triage, &next_checks, &err);
        if (r < 0) {
                config_free(next);
                return reload_refused(a, r, err, ret_error);
        }

        /* the HTTP listener is the one part that can still fail: it goes first */
        r = observe_configure(a->observe, &next->http, &err);
        if (r < 0) {
                check_set_free(next_checks);
                config_free(next);
                return reload_refused(a, r, err, ret_error);
        }

        ikeheal_config *old = a->config;
        bool vici_changed = strcmp(old->vici_socket, next->vici_socket) != 0 ||
                            old->vici_timeout_usec != next->vici_timeout_usec ||
                            old->vici_reconnect_min_usec != next->vici_reconnect_min_usec ||
                            old->vici_reconnect_max_usec != next->vici_reconnect_max_usec;
        bool control_moved = strcmp(old->control_socket, next->control_socket) != 0;

        /* Open the new control socket before dropping the old one, so that a failure leaves
         * the old configuration entirely in force. */
        if (control_moved) {
                control_server *s = NULL;
                r = control_server_new(&s, a->event, next);
                if (r < 0) {
                        if (asprintf(&err, "cannot open control socket %s: %s", next->control_socket,
                                     strerror(-r)) < 0)
                                err = NULL;
                        check_set_free(next_checks);
                        config_free(next);
                        return reload_refused(a, r, err, ret_error);
                }
                a->control = control_server_free(a->control);
                a->control = s;
                a->config = next;
                (void) agent_control_register(a);
        } else {
                a->config = next;
                control_server_set_config(a->control, next);
        }
        /* old checks go before the VICI client they may be using; they still point at the old
         * config, so that too is freed only after them */
        diagnose_verb_abort_all(&a->diagnose_queries, "checks replaced by a reload");
        triage_set_checks(a->triage, NULL);
        a->checks = check_set_free(a->checks);
        /* nothing keeps the old config past here (the VICI client follows below) */
        engine_reconfigure(a->engine, a->config, a->link.vici);
        r = fleet_configure(a->fleet, &a->config->fleet, a->config->state_dir);
        if (r < 0)
                log_error_errno(r, "cannot set up fleet coordination, ignoring");
        drill_runner_reconfigure(a->drills, a->config);
        guard_reconfigure(a->guard, a->config);
        config_free(old);

        if (vici_changed) {
                status_verb_abort_all(&a->status_queries, "charon connection reset by a reload");
                charon_link_stop(&a->link);
                r = agent_vici_start(a);
                if (r < 0)
                        log_error_errno(r, "cannot start VICI client for %s, ignoring",
                                        a->config->vici_socket);
        }
        agent_checks_start(a, next_checks);
        engine_reconfigure(a->engine, a->config, a->link.vici);
        if (a->log_level_override < 0)
                log_set_max_level(a->config->log_level);
        a->reloads++;
        log_fields(LOG_INFO, ((const char *const[]){ LOG_MID_RELOADED, NULL }), "configuration reloaded from %s",
                   a->config->path);
        if (a->config->warnings)
                log_warning("configuration: %s", a->config->warnings);
        agent_audit(a, "reload", "configuration reloaded from %s (%zu checks, %zu runbooks, set %s)",
                    a->config->path, a->config->n_checks, runbook_set_size(a->config->runbooks),
                    runbook_set_hash(a->config->runbooks));
        (void) service_notify("READY=1\nSTATUS=running");
        a->reload_rejected = false;
        a->status_sent[0] = 0;
        agent_notify_status(a);
        return 0;
}

/* Sent only when it changed: every diagnosis calls this (with the daemon check's heartbeat, every
 * second), and a rejected reload stays said until a good one. */
void agent_notify_status(agent *a) {
        size_t active = a->incidents ? incident_store_active(a->incidents) : 0;
        char text[sizeof(a->status_sent)];

        (void) snprintf(text, sizeof(text), "STATUS=running: %s; %zu checks, %zu active incident%s%s",
                        a->link.connected ? "charon connected" : "charon unreachable",
                        a->checks ? check_set_size(a->checks) : 0, active, active == 1 ? "" : "s",
                        a->reload_rejected ? "; last reload rejected" : "");
        if (strcmp(text, a->status_sent) == 0)
                return;
        (void) service_notify(text);
        memcpy(a->status_sent, text, sizeof(text));
}

static void on_drills_stopped(void *userdata) {
        agent *a = userdata;
        (void) ev_exit(a->event, 0);
}

static int on_stop_timeout(ev_source *s, uint64_t usec, void *userdata) {
        agent *a = userdata;
        log_error("the drill's fault is still being removed after %llu s: stopping anyway (it is removed at the "
                  "next start, or by its deadline)", (unsigned long long) (AGENT_STOP_DRILL_USEC / USEC_PER_SEC));
        (void) ev_exit(a->event, 0);
        return 0;
}

static int on_signal(ev_source *s, const struct signalfd_siginfo *si, void *userdata) {
        agent *a = userdata;

        switch (si->ssi_signo) {
        case SIGHUP:
                (void) agent_reload(a, NULL);
                break;
        case SIGTERM:
        case SIGINT:
                log_info("received %s, stopping", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                (void) service_notify("STOPPING=1\nSTATUS=stopping");
                /* a drill's fault goes before we do (bounded: its deadline and the next start
                 * still cover a revert that hangs) */
                if (a->drills && drill_runner_stop(a->drills, on_drills_stopped, a)) {
                        log_notice("removing the running drill's fault before stopping");
                        if (ev_add_time_relative(a->event, NULL, CLOCK_MONOTONIC, AGENT_STOP_DRILL_USEC, USEC_PER_SEC,
                                                       on_stop_timeout, a) >= 0)
                                break;
                }
                (void) ev_exit(a->event, 0);
                break;
        }
        return 0;
}

static void on_triage_audit(void *userdata, const char *kind, const char *text) {
        agent_audit(userdata, kind, "%s", text);
}

static void on_triage_changed(void *userdata) {
        agent_notify_status(userdata);
}

/* The checks' environment, the audit trail, the incident store and triage over them. */
static int agent_triage_setup(agent *a) {
        int r = check_host_new(&a->checkhost, a->event, a->config);
        if (r >= 0)
                r = agent_audit_open(a);
        if (r >= 0)
                r = triage_open_incidents(&a->incidents, a->config->state_dir);
        if (r < 0)
                return r;
        triage_params p = triage_params_of(a->config);
        r = triage_new(&a->triage, &(triage_deps){ .event = a->event, .incidents = a->incidents,
                                                   .hub = check_host_hub(a->checkhost), .audit = on_triage_audit,
                                                   .changed = on_triage_changed, .userdata = a }, &p);
        if (r < 0)
                return log_error_errno(r, "cannot attach the incident store to the event loop");
        return 0;
}

int agent_new(agent **ret, ikeheal_config *config, int log_level_override) {
        static const int signals[] = { SIGHUP, SIGTERM, SIGINT };
        agent *a;
        sigset_t mask;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a) {
                config_free(config);
                return -ENOMEM;
        }
        a->config = config;
        a->log_level_override = log_level_override;
        a->start_mono_usec = mono_usec();
        a->start_real_usec = real_usec();

        r = ev_default(&a->event);
        if (r < 0)
                goto fail;
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                sigaddset(&mask, signals[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = -errno;
                goto fail;
        }
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                r = ev_add_signal(a->event, NULL, signals[i], on_signal, a);
                if (r < 0)
                        goto fail;
        }
        /* Pings at a fraction of WATCHDOG_USEC from the loop itself; a no-op outside systemd. */
        r = ev_set_watchdog(a->event, true);
        if (r < 0)
                log_warning_errno(r, "cannot enable the systemd watchdog, ignoring");

        r = agent_triage_setup(a);
        if (r < 0)
                goto fail;
        r = notifier_new(&a->notifier, a->event, &a->config->notify);
        if (r < 0) {
                log_error_errno(r, "cannot set up notifications");
                goto fail;
        }
        r = engine_new(&a->engine,
                       &(engine_deps){ .event = a->event, .triage = a->triage, .incidents = a->incidents,
                                       .notifier = a->notifier, .bus = check_host_bus(a->checkhost),
                                       .audit = on_triage_audit, .audit_userdata = a },
                       a->config);
        if (r < 0) {
                log_error_errno(r, "cannot open the runbook engine's state in %s", a->config->state_dir);
                goto fail;
        }
        r = fleet_new(&a->fleet,
                      &(fleet_deps){ .event = a->event, .triage = a->triage, .incidents = a->incidents,
                                     .engine = a->engine, .audit = on_triage_audit, .audit_userdata = a });
        if (r >= 0)
                r = fleet_configure(a->fleet, &a->config->fleet, a->config->state_dir);
        if (r < 0) {
                log_error_errno(r, "cannot set up fleet coordination");
                goto fail;
        }
        r = drill_runner_new(&a->drills,
                             &(drill_deps){ .event = a->event, .triage = a->triage, .incidents = a->incidents,
                                            .engine = a->engine, .notifier = a->notifier, .fleet = a->fleet,
                                            .audit = on_triage_audit, .audit_userdata = a },
                             a->config);
        if (r < 0) {
                log_error_errno(r, "cannot open the drills' state in %s", a->config->state_dir);
                goto fail;
        }
        r = guard_new(&a->guard,
                      &(guard_deps){ .event = a->event, .triage = a->triage, .incidents = a->incidents, .engine = a->engine,
                                     .drills = a->drills, .notifier = a->notifier, .audit = on_triage_audit,
                                     .audit_userdata = a },
                      a->config);
        if (r < 0) {
                log_error_errno(r, "cannot open the guarded change's state in %s", a->config->state_dir);
                goto fail;
        }
        r = observe_new(&a->observe,
                        &(observe_deps){ .event = a->event, .triage = a->triage, .incidents = a->incidents,
                                         .engine = a->engine, .drills = a->drills, .audit_log = &a->audit,
                                         .fleet = a->fleet,
                                         .hub = check_host_hub(a->checkhost), .notifier = a->notifier,
                                         .audit = on_triage_audit,
                                         .audit_userdata = a, .start_real_usec = a->start_real_usec,
                                         .state_dir = a->config->state_dir });
        if (r >= 0) {
                char *err = NULL;
                r = observe_configure(a->observe, &a->config->http, &err);
                if (r < 0) {
                        log_error("cannot start the HTTP listener: %s", err ? err : strerror(-r));
                        free(err);
                        goto fail;
                }
        } else {
                log_error_errno(r, "cannot set up the observe room");
                goto fail;
        }
        r = agent_control_start(a);
        if (r < 0)
                goto fail;
        r = agent_vici_start(a);
        if (r < 0) {
                log_error_errno(r, "cannot start VICI client for %s", config->vici_socket);
                goto fail;
        }
        {
                check_set *set = NULL;
                char *err = NULL;
                r = check_host_prepare(a->checkhost, a->config, triage_on_finding, a->triage, &set, &err);
                if (r < 0) {
                        log_error("cannot set up checks: %s", err ? err : strerror(-r));
                        free(err);
                        goto fail;
                }
                agent_checks_start(a, set);
        }
        *ret = a;
        return 0;
fail:
        agent_free(a);
        return r;
}

int agent_run(agent *a) {
        int r;

        log_fields(LOG_INFO, ((const char *const[]){ LOG_MID_STARTED, NULL }),
                   "ikeheald %s started (config %s, control %s, charon %s)", IKEHEAL_VERSION, a->config->path,
                   a->config->control_socket, a->config->vici_socket);
        agent_audit(a, "agent", "ikeheald %s started, pid %lu, config %s", IKEHEAL_VERSION,
                    (unsigned long) getpid(), a->config->path);
        log_info("%zu runbook%s loaded from the runbook directories", runbook_set_size(a->config->runbooks),
                 runbook_set_size(a->config->runbooks) == 1 ? "" : "s");
        engine_reconfigure(a->engine, a->config, a->link.vici); /* the VICI client exists now */
        (void) engine_start(a->engine);
        (void) drill_runner_start(a->drills);
        (void) guard_start(a->guard);
        (void) service_notifyf("READY=1\nSTATUS=running\nMAINPID=%lu", (unsigned long) getpid());
        r = ev_loop_run(a->event);
        agent_audit(a, "agent", "ikeheald stopping");
        if (r < 0)
                return log_error_errno(r, "event loop failed");
        log_info("stopped");
        return 0;
}

agent *agent_free(agent *a) {
        if (!a)
                return NULL;
        status_verb_abort_all(&a->status_queries, "agent stopping");
        a->guard = guard_free(a->guard);
        a->observe = observe_free(a->observe);
        a->drills = drill_runner_free(a->drills);
        a->fleet = fleet_free(a->fleet);
        a->engine = engine_free(a->engine);
        a->notifier = notifier_free(a->notifier);
        diagnose_verb_abort_all(&a->diagnose_queries, "agent stopping");
        a->checks = check_set_free(a->checks);
        a->triage = triage_free(a->triage);
        a->incidents = incident_store_free(a->incidents);
        a->checkhost = check_host_free(a->checkhost);
        audit_trail_free(a->audit);
        control_server_free(a->control);
        charon_link_stop(&a->link);
        ev_unref(a->event);
        config_free(a->config);
        free(a);
        return NULL;
}
