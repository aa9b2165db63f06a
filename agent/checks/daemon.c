/* The daemon check (kind "daemon"): is charon running and answering? Everything that can push
 * does, so a crash is seen within milliseconds, not at the next interval:
 *
 *  - the VICI connection (agent/charon_hub.h): its EOF runs this check at once; a reconnect
 *    that fails with ENOENT means the socket was removed (an orderly stop), ECONNREFUSED that
 *    it was left behind by a process that died;
 *  - charon's own last words: "signal of type SIGTERM received. Shutting down" arrives as a
 *    VICI log event before the socket closes, which tells a stop from a crash (SIGKILL, abort)
 *    when no service manager can;
 *  - the systemd unit (params `unit`, default the config's charon.unit): ActiveState, SubState,
 *    Result, ExecMainCode/Status, NRestarts and MainPID, refreshed on every run and pushed by
 *    PropertiesChanged; our own restart counter, because NRestarts resets on a manual restart;
 *  - a pid file (params `pidfile`): the process watched through a pidfd (readable when it exits).
 *
 * Verdicts: FAIL class=daemon with reason crashed / stopped / not_running / vici_unreachable;
 * WARN reason flapping (more than `flap_max` starts within `flap_window`). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "agent/charon_hub.h"
#include "agent/checks/daemon.h"
#include "agent/config.h"
#include "agent/vici.h"
#include "atomic_file.h"
#include "yaml_bind.h"

#define STARTS_MAX 32u

typedef struct unit_props {
        char load[32], active[32], sub[32], result[32];
        char path[256];
        uint32_t main_pid, n_restarts;
        int32_t exec_code, exec_status;
        bool known;
} unit_props;

typedef struct daemon_state {
        /* params */
        char *unit;     /* "" or "none": no unit */
        char *pidfile;
        uint64_t flap_window_usec;
        uint32_t flap_max;

        check *check;
        const check_env *env;
        charon_listener *listener;
        sd_bus_slot *match_slot, *call_slot;
        sd_event_source *pidfd_source;
        pid_t watched_pid;
        bool pid_exited;

        check_run *run;
        finding *pending; /* the finding being completed by the bus call */

        unit_props props;
        char prev_active[32];
        uint32_t prev_main_pid;
        uint64_t starts[STARTS_MAX]; /* CLOCK_MONOTONIC of starts seen, ring */
        unsigned n_starts, starts_head;
        uint64_t restarts_seen;      /* ours: never reset by a manual restart */

        bool stop_announced;         /* charon logged an orderly shutdown */
        uint64_t disconnected_usec;  /* CLOCK_MONOTONIC */
        sd_event_source *settle;     /* re-run once the reconnect attempt has spoken */
} daemon_state;

/* After an EOF the VICI client retries after its backoff minimum; its error then tells a
 * removed socket (stop) from an abandoned one (crash). Re-run once that has happened: the
 * first verdict comes at once, this one may refine its reason. */
#define SETTLE_SLACK_USEC (50 * USEC_PER_MSEC)

#define DOFF(f) offsetof(daemon_state, f)

static const yfield daemon_fields[] = {
        { "unit", YF_STRING, DOFF(unit), .max = 255 },
        { "pidfile", YF_PATH, DOFF(pidfile), .max = 4096 },
        { "flap_window", YF_DURATION, DOFF(flap_window_usec), .min = USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        { "flap_max", YF_U32, DOFF(flap_max), .min = 1, .max = 100 },
        {}
};

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int daemon_parse(void *state, const ynode *params, ydiag *d) {
        daemon_state *s = state;
        s->flap_window_usec = 10 * 60 * USEC_PER_SEC;
        s->flap_max = 3;
        return ybind(params, daemon_fields, s, d);
}

static const char *unit_name(const daemon_state *s) {
        const char *u = s->unit ? s->unit : s->env && s->env->config ? s->env->config->charon_unit : NULL;
        return u && *u && strcmp(u, "none") != 0 ? u : NULL;
}

/* A start of charon: for our own restart counter and the flapping verdict. */
static void note_start(daemon_state *s) {
        s->starts[s->starts_head] = mono_usec();
        s->starts_head = (s->starts_head + 1) % STARTS_MAX;
        if (s->n_starts < STARTS_MAX)
                s->n_starts++;
        s->restarts_seen++;
}

static unsigned starts_within(const daemon_state *s, uint64_t window) {
        uint64_t now = mono_usec();
        unsigned n = 0;
        for (unsigned i = 0; i < s->n_starts; i++)
                if (now - s->starts[i] <= window)
                        n++;
        return n;
}

/* ---- push sources ---- */

static void on_log(const char *event, const vici_node *msg, void *userdata) {
        daemon_state *s = userdata;
        const char *m = vici_node_str(msg, "msg");

        /* charon: "signal of type SIGTERM received. Shutting down"; charon-systemd:
         * "SIGTERM received, shutting down" (also SIGINT) */
        if (m && (strstr(m, "received. Shutting down") || strstr(m, "received, shutting down")))
                s->stop_announced = true;
}

static int on_settle(sd_event_source *src, uint64_t usec, void *userdata) {
        daemon_state *s = userdata;
        s->settle = sd_event_source_disable_unref(s->settle);
        (void) check_trigger(s->check);
        return 0;
}

static void on_state(bool connected, int reason, void *userdata) {
        daemon_state *s = userdata;

        if (connected) {
                /* charon came back: a (re)start — counted here only when no unit tells us
                 * (the unit's transitions count it otherwise, once) */
                if (s->disconnected_usec && !s->props.known)
                        note_start(s);
                s->disconnected_usec = 0;
                s->stop_announced = false;
        } else if (!s->disconnected_usec) {
                s->disconnected_usec = mono_usec();
                uint64_t settle = (s->env->config ? s->env->config->vici_reconnect_min_usec : 100 * USEC_PER_MSEC) +
                                  SETTLE_SLACK_USEC;
                if (!s->settle)
                        (void) sd_event_add_time_relative(s->env->event, &s->settle, CLOCK_MONOTONIC, settle,
                                                          5 * USEC_PER_MSEC, on_settle, s);
        }
        (void) check_trigger(s->check);
}

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        daemon_state *s = userdata;
        s->pid_exited = true;
        s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
        (void) check_trigger(s->check);
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        (void) check_trigger(s->check); /* the run reads everything afresh */
        return 0;
}

static int daemon_attach(void *state, check *c, const check_env *env) {
        daemon_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        if (env->hub) {
                r = charon_hub_listen(env->hub, "log", on_log, on_state, s, &s->listener);
                if (r < 0)
                        return r;
                if (!charon_hub_connected(env->hub))
                        s->disconnected_usec = mono_usec();
        }
        return 0;
}

/* ---- pid file ---- */

static int pid_read(const char *path, pid_t *ret) {
        _cleanup_(freep) char *buf = NULL;
        char *end;
        long v;
        int r = atomic_file_read(path, 64, &buf, NULL);

        if (r < 0)
                return r;
        errno = 0;
        v = strtol(buf, &end, 10);
        if (errno || end == buf || (*end && *end != '\n') || v <= 1 || v > 4194304)
                return -EINVAL;
        *ret = (pid_t) v;
        return 0;
}

static void pid_watch(daemon_state *s, pid_t pid) {
        int fd;

        if (pid == s->watched_pid && (s->pidfd_source || s->pid_exited))
                return;
        s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
        s->watched_pid = pid;
        s->pid_exited = false;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                s->pid_exited = errno == ESRCH;
                return;
        }
        if (sd_event_add_io(s->env->event, &s->pidfd_source, fd, EPOLLIN, on_pidfd, s) < 0) {
                close(fd);
                return;
        }
        (void) sd_event_source_set_io_fd_own(s->pidfd_source, true);
}

/* ---- verdict ---- */

static void verdict(daemon_state *s, finding *f) {
        const charon_hub *hub = s->env->hub;
        bool connected = hub && charon_hub_connected(hub);
        /* the latest attempt's error, not just the one of the moment it went away */
        int reason = s->env->vici && vici_client_last_error(s->env->vici)
                             ? vici_client_last_error(s->env->vici)
                     : hub ? charon_hub_last_reason(hub)
                           : 0;
        const char *sock = s->env->config ? s->env->config->vici_socket : NULL;
        bool socket_gone = sock && access(sock, F_OK) < 0 && errno == ENOENT;
        const unit_props *u = &s->props;
        bool unit_down = u->known && (strcmp(u->active, "inactive") == 0 ||
                                      strcmp(u->active, "failed") == 0);
        bool unit_crashed = u->known && (strcmp(u->result, "signal") == 0 ||
                                         strcmp(u->result, "core-dump") == 0 ||
                                         strcmp(u->result, "exit-code") == 0 ||
                                         strcmp(u->result, "watchdog") == 0);
        unsigned recent = starts_within(s, s->flap_window_usec);

        if (hub && charon_hub_state_since(hub) == 0 && !u->known) {
                /* the first connection attempt has not finished: no verdict yet (its outcome
                 * runs this check again) */
                (void) finding_set(f, CHECK_UNKNOWN, "first connection to charon still in progress");
                return;
        }
        (void) finding_fact_set(f, "vici", "%s", connected ? "connected" : "disconnected");
        if (!connected && reason)
                (void) finding_fact_set(f, "vici_error", "%s", strerror(-reason));
        if (s->disconnected_usec)
                (void) finding_fact_set(f, "down_ms", "%llu",
                                        (unsigned long long) ((mono_usec() - s->disconnected_usec) / USEC_PER_MSEC));
        (void) finding_fact_set(f, "restarts_seen", "%llu", (unsigned long long) s->restarts_seen);
        (void) finding_fact_set(f, "starts_in_window", "%u", recent);
        if (s->watched_pid)
                (void) finding_fact_set(f, "pid", "%d", (int) s->watched_pid);
        if (u->known) {
                (void) finding_fact_set(f, "unit", "%s", unit_name(s));
                (void) finding_fact_set(f, "active_state", "%s", u->active);
                (void) finding_fact_set(f, "sub_state", "%s", u->sub);
                (void) finding_fact_set(f, "result", "%s", u->result);
                (void) finding_fact_set(f, "exec_main_status", "%d", (int) u->exec_status);
                (void) finding_fact_set(f, "n_restarts", "%u", u->n_restarts);
                (void) finding_fact_set(f, "main_pid", "%u", u->main_pid);
        }

        if (connected && !unit_down) {
                if (recent > s->flap_max) {
                        (void) finding_set(f, CHECK_WARN, "charon is up but restarted %u times within %llus",
                                           recent, (unsigned long long) (s->flap_window_usec / USEC_PER_SEC));
                        (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon");
                        (void) finding_fact_set(f, CHECK_FACT_REASON, "flapping");
                } else
                        (void) finding_set(f, CHECK_OK, "charon is running and answers on VICI%s%s",
                                           u->known ? ", unit " : "", u->known ? u->active : "");
                return;
        }

        const char *why;
        if (connected) /* VICI fine, yet the unit says it is down: trust the unit */
                why = unit_crashed ? "crashed" : "stopped";
        else if (unit_down)
                why = unit_crashed ? "crashed" : "stopped";
        else if (s->stop_announced || reason == -ENOENT || socket_gone)
                why = "stopped"; /* charon removes its socket when it shuts down in order */
        else if (s->pidfile && s->watched_pid && !s->pid_exited && kill(s->watched_pid, 0) == 0)
                why = "vici_unreachable"; /* alive, not answering: hung, or VICI unloaded */
        else if (reason == -ECONNRESET || reason == -ECONNREFUSED || s->pid_exited)
                why = "crashed"; /* gone without saying goodbye: SIGKILL, abort, OOM */
        else
                why = "not_running";
        (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon");
        (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", why);
        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        if (strcmp(why, "stopped") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon was stopped (orderly shutdown): no peer can connect");
        else if (strcmp(why, "crashed") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon died without shutting down (killed or crashed): "
                                                  "no peer can connect");
        else if (strcmp(why, "vici_unreachable") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon's process is alive but its VICI socket does not answer");
        else
                (void) finding_set(f, CHECK_FAIL, "charon is not running");
        if (reason)
                (void) finding_evidence(f, "VICI %s: %s", s->env->config ? s->env->config->vici_socket : "socket",
                                        strerror(-reason));
        if (s->stop_announced)
                (void) finding_evidence(f, "charon logged: signal received, shutting down");
        if (u->known)
                (void) finding_evidence(f, "unit %s: %s/%s, result %s, main exit status %d", unit_name(s),
                                        u->active, u->sub, u->result, (int) u->exec_status);
}

static void run_finish(daemon_state *s) {
        finding *f = TAKE_PTR(s->pending);
        check_run *run = TAKE_PTR(s->run);

        if (!f)
                return;
        verdict(s, f);
        if (run)
                check_run_done(run, f);
        else
                finding_free(f);
}

/* ---- the unit over D-Bus ---- */

static void props_track(daemon_state *s) {
        /* a transition into active/activating after being down (or a new main pid) is a start */
        bool was_down = s->prev_active[0] && (strcmp(s->prev_active, "inactive") == 0 ||
                                              strcmp(s->prev_active, "failed") == 0 ||
                                              strcmp(s->prev_active, "deactivating") == 0);
        bool up = strcmp(s->props.active, "active") == 0 || strcmp(s->props.active, "activating") == 0;
        if (up && (was_down || (s->prev_main_pid && s->props.main_pid && s->props.main_pid != s->prev_main_pid)))
                note_start(s);
        snprintf(s->prev_active, sizeof(s->prev_active), "%s", s->props.active);
        if (s->props.main_pid)
                s->prev_main_pid = s->props.main_pid;
}

static int read_props(sd_bus_message *m, unit_props *p) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *v;
                if ((r = sd_bus_message_read(m, "s", &name)) < 0)
                        return r;
                if (strcmp(name, "ActiveState") == 0 || strcmp(name, "SubState") == 0 ||
                    strcmp(name, "Result") == 0 || strcmp(name, "LoadState") == 0) {
                        if ((r = sd_bus_message_read(m, "v", "s", &v)) < 0)
                                return r;
                        char *dst = name[0] == 'A' ? p->active : name[0] == 'S' ? p->sub
                                                : name[0] == 'L'          ? p->load
                                                                          : p->result;
                        snprintf(dst, 32, "%s", v);
                } else if (strcmp(name, "MainPID") == 0 || strcmp(name, "NRestarts") == 0) {
                        uint32_t u;
                        if ((r = sd_bus_message_read(m, "v", "u", &u)) < 0)
                                return r;
                        if (name[0] == 'M')
                                p->main_pid = u;
                        else
                                p->n_restarts = u;
                } else if (strcmp(name, "ExecMainCode") == 0 || strcmp(name, "ExecMainStatus") == 0) {
                        int32_t i;
                        if ((r = sd_bus_message_read(m, "v", "i", &i)) < 0)
                                return r;
                        if (strcmp(name, "ExecMainCode") == 0)
                                p->exec_code = i;
                        else
                                p->exec_status = i;
                } else if ((r = sd_bus_message_skip(m, "v")) < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int on_service_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (!sd_bus_message_is_method_error(m, NULL) && read_props(m, &s->props) >= 0) {
                s->props.known = true;
                props_track(s);
        } else if (s->pending)
                (void) finding_evidence(s->pending, "cannot read unit %s: %s", unit_name(s),
                                        sd_bus_message_get_error(m) ? sd_bus_message_get_error(m)->message : "bad reply");
        run_finish(s);
        return 0;
}

static int on_unit_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        int r;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (sd_bus_message_is_method_error(m, NULL) || read_props(m, &s->props) < 0 ||
            strcmp(s->props.load, "loaded") != 0) {
                /* no such unit here (charon runs some other way): VICI and the pid decide */
                if (s->pending && s->props.load[0])
                        (void) finding_fact_set(s->pending, "unit_load_state", "%s", s->props.load);
                s->props.known = false;
                run_finish(s);
                return 0;
        }
        /* then the Service interface: MainPID, NRestarts, ExecMain* */
        r = sd_bus_call_method_async(s->env->bus, &s->call_slot, "org.freedesktop.systemd1", s->props.path,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_service_props, s, "s",
                                     "org.freedesktop.systemd1.Service");
        if (r < 0)
                run_finish(s);
        return 0;
}

static int on_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        const char *path;
        int r;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "o", &path) < 0) {
                if (s->pending)
                        (void) finding_evidence(s->pending, "systemd does not know unit %s", unit_name(s));
                run_finish(s);
                return 0;
        }
        if (strcmp(path, s->props.path) != 0) {
                snprintf(s->props.path, sizeof(s->props.path), "%s", path);
                s->match_slot = sd_bus_slot_unref(s->match_slot);
                /* push: every change of the unit's properties runs the check */
                (void) sd_bus_match_signal_async(s->env->bus, &s->match_slot, "org.freedesktop.systemd1", path,
                                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                                 on_properties_changed, NULL, s);
        }
        r = sd_bus_call_method_async(s->env->bus, &s->call_slot, "org.freedesktop.systemd1", path,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_unit_props, s, "s",
                                     "org.freedesktop.systemd1.Unit");
        if (r < 0)
                run_finish(s);
        return 0;
}

static int daemon_start(void *state, const check_env *env, check_run *run) {
        daemon_state *s = state;
        int r;

        r = finding_new(&s->pending);
        if (r < 0)
                return r;
        s->run = run;
        if (s->pidfile) {
                pid_t pid;
                r = pid_read(s->pidfile, &pid);
                if (r >= 0)
                        pid_watch(s, pid);
                else
                        (void) finding_evidence(s->pending, "pid file %s: %s", s->pidfile, strerror(-r));
        }
        if (env->bus && unit_name(s)) {
                r = sd_bus_call_method_async(env->bus, &s->call_slot, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             "LoadUnit", on_load_unit, s, "s", unit_name(s));
                if (r >= 0)
                        return 0; /* finished by the bus replies */
        }
        /* no service manager to ask: the VICI connection and the pid decide, synchronously —
         * this is the path that turns a socket EOF into a finding in the same loop iteration */
        run_finish(s);
        return 0;
}

static void daemon_cancel(void *state) {
        daemon_state *s = state;
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        s->pending = finding_free(s->pending);
        s->run = NULL;
}

static void daemon_done(void *state) {
        daemon_state *s = state;
        daemon_cancel(s);
        s->match_slot = sd_bus_slot_unref(s->match_slot);
        s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
        s->settle = sd_event_source_disable_unref(s->settle);
        charon_listener_free(s->listener);
        free(s->unit);
        free(s->pidfile);
}

const check_ops daemon_check_ops = {
        .kind = "daemon",
        .description = "charon is running and answers on VICI; its unit, restarts and exits",
        .state_size = sizeof(daemon_state),
        .parse = daemon_parse,
        .attach = daemon_attach,
        .start = daemon_start,
        .cancel = daemon_cancel,
        .done = daemon_done,
};
