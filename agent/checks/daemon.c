/* The daemon check (kind "daemon"): is charon running and answering? Healthy means a request
 * answered, never a socket that connects: a stopped or deadlocked charon still accepts
 * connections into its listen backlog. Every run asks charon something ("version") and waits
 * for the answer; a heartbeat runs the check every `heartbeat` so that a hang is found without
 * waiting for the interval. Everything that can push does, so a crash is seen within
 * milliseconds:
 *
 *  - the VICI connection (agent/checks/charon_hub.h): its EOF runs this check at once; a reconnect
 *    that fails with ENOENT means the socket was removed (an orderly stop), ECONNREFUSED that
 *    it was left behind by a process that died;
 *  - charon's own last words: "signal of type SIGTERM received. Shutting down" arrives as a
 *    VICI log event before the socket closes, which tells a stop from a crash (SIGKILL, abort)
 *    when no service manager can;
 *  - the systemd unit (params `unit`, default the config's charon.unit): ActiveState, SubState,
 *    Result, ExecMainCode/Status, NRestarts and MainPID, pushed by PropertiesChanged;
 *  - the process itself (common/proc_stat.h), found by the unit's MainPID, a pid file (params
 *    `pidfile`) or the VICI socket's peer credentials: watched through a pidfd (readable when
 *    it exits), its state read from /proc (T: stopped, Z: dead) and its identity (pid + start
 *    time), by which restarts are counted — a reconnect is not a restart.
 *
 * Verdicts: FAIL class=daemon with reason crashed / stopped / not_running / hung /
 * vici_unreachable / crash_loop (down after more than `flap_max` crashes within `flap_window`);
 * WARN reason crash_loop when charon is up and answering after such a loop. The fact
 * `answered_usec` says when charon last answered (diagnosis: a probe that went silent before
 * charon answered again is not yet a boundary problem). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/daemon.h"
#include "agent/checks/daemon_state.h"
#include "now.h"
#include "vici.h"
#include "atomic_file.h"
#include "yaml_bind.h"

/* After an EOF the VICI client retries after its backoff minimum; its error then tells a
 * removed socket (stop) from an abandoned one (crash). Re-run once that has happened: the
 * first verdict comes at once, this one may refine its reason. */
#define SETTLE_SLACK_USEC (50 * USEC_PER_MSEC)
/* The socket closes while the process is still on its way out (its files are closed before it
 * becomes a zombie): after an EOF a process that still looks alive gets this long to show its
 * exit through the pidfd before it is judged alive. */
#define EXIT_GRACE_USEC (300 * USEC_PER_MSEC)

#define DOFF(f) offsetof(daemon_state, f)

static const yfield daemon_fields[] = {
        { "unit", YF_STRING, DOFF(unit), .max = 255 },
        { "pidfile", YF_PATH, DOFF(pidfile), .max = 4096 },
        { "flap_window", YF_DURATION, DOFF(flap_window_usec), .min = USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        { "flap_max", YF_U32, DOFF(flap_max), .min = 1, .max = 100 },
        { "heartbeat", YF_DURATION, DOFF(heartbeat_usec), .max = 3600 * USEC_PER_SEC },
        { "answer_within", YF_DURATION, DOFF(answer_within_usec), .min = 50 * USEC_PER_MSEC,
          .max = 600 * USEC_PER_SEC },
        { "busy_within", YF_DURATION, DOFF(busy_within_usec), .max = 3600 * USEC_PER_SEC },
        {}
};

static int daemon_parse(void *state, const ynode *params, ydiag *d) {
        daemon_state *s = state;
        s->flap_window_usec = 10 * 60 * USEC_PER_SEC;
        s->flap_max = 3;
        s->heartbeat_usec = USEC_PER_SEC;
        s->answer_within_usec = 2 * USEC_PER_SEC;
        s->busy_within_usec = 15 * USEC_PER_SEC;
        return ybind(params, daemon_fields, s, d);
}

/* ---- the liveness request ---- */

static void run_evaluate(daemon_state *s);

static void on_ping(vici_client *c, int error, const vici_node *reply, void *userdata) {
        daemon_state *s = userdata;
        bool was_failing = !s->last_ok;

        s->ping_out = false;
        if (error == 0) {
                s->answered_usec = mono_usec();
                s->answered_rt_usec = real_usec();
                s->unanswered_since = 0;
                s->ping_error = 0;
        } else
                s->ping_error = error;
        if (s->pending)
                run_evaluate(s);
        else if (error == 0 && was_failing)
                (void) check_trigger(s->check); /* an answer again: say so now */
}

/* Ask charon something, once at a time: a second request behind an unanswered one would only
 * wait in the same queue. */
static void ping_send(daemon_state *s) {
        if (s->ping_out || !s->env->vici || !vici_client_is_connected(s->env->vici))
                return;
        if (vici_client_command(s->env->vici, "version", NULL, 0, on_ping, s) < 0)
                return;
        s->ping_out = true;
        s->ping_sent_usec = mono_usec();
        if (!s->unanswered_since) {
                s->unanswered_since = s->ping_sent_usec;
                s->cpu_ticks_asked = s->ps.cpu_ticks;
        }
}

/* ---- push sources ---- */

static void on_log(const char *event, const vici_node *msg, void *userdata) {
        daemon_state *s = userdata;
        const char *m = vici_node_str(msg, "msg");

        if (!m)
                return;
        /* charon: "signal of type SIGTERM received. Shutting down"; charon-systemd:
         * "SIGTERM received, shutting down" (also SIGINT) */
        if (strstr(m, "received. Shutting down") || strstr(m, "received, shutting down"))
                s->stop_announced = true;
        /* its last words, for a crash loop's evidence */
        (void) snprintf(s->log_tail[s->log_head], sizeof(s->log_tail[0]), "%s", m);
        s->log_head = (s->log_head + 1) % DAEMON_LOG_TAIL;
        if (s->n_log < DAEMON_LOG_TAIL)
                s->n_log++;
}

static int on_settle(ev_source *src, uint64_t usec, void *userdata) {
        daemon_state *s = userdata;
        s->settle = ev_source_disable_unref(s->settle);
        (void) check_trigger(s->check);
        return 0;
}

static void on_state(bool connected, int reason, void *userdata) {
        daemon_state *s = userdata;

        if (connected) {
                s->disconnected_usec = 0;
                s->stop_announced = false;
                s->connected_rt_usec = real_usec();
                if (s->env->vici && vici_client_peer_pid(s->env->vici) > 0)
                        s->vici_pid = vici_client_peer_pid(s->env->vici);
        } else if (!s->disconnected_usec) {
                s->disconnected_usec = mono_usec();
                uint64_t settle = (s->env->charon.reconnect_min_usec ? s->env->charon.reconnect_min_usec : 100 * USEC_PER_MSEC) +
                                  SETTLE_SLACK_USEC;
                if (!s->settle)
                        (void) ev_add_time_relative(s->env->event, &s->settle, CLOCK_MONOTONIC, settle,
                                                          5 * USEC_PER_MSEC, on_settle, s);
        }
        (void) check_trigger(s->check);
}

static int on_pidfd(ev_source *src, int fd, uint32_t revents, void *userdata) {
        daemon_state *s = userdata;
        s->pid_exited = true;
        s->pidfd_source = ev_source_disable_unref(s->pidfd_source);
        if (s->pending)
                run_evaluate(s);
        else
                (void) check_trigger(s->check);
        return 0;
}

static int on_heartbeat(ev_source *src, uint64_t usec, void *userdata) {
        daemon_state *s = userdata;
        int r = ev_source_set_time_relative(src, s->heartbeat_usec);
        if (r >= 0)
                r = ev_source_set_enabled(src, EV_ON);
        (void) check_trigger(s->check);
        return r < 0 ? r : 0;
}

static int daemon_attach(void *state, check *c, const check_env *env) {
        daemon_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        s->last_ok = true;
        if (env->hub) {
                r = charon_hub_listen(env->hub, "log", on_log, on_state, s, &s->listener);
                if (r < 0)
                        return r;
                /* charon's lines are kept for the evidence, and its stop notice is read when
                 * the socket closes, after every line before it; the heartbeat's request reads
                 * them at least once a heartbeat. Nothing here needs a line the moment it comes. */
                charon_listener_set_delivery(s->listener, s->heartbeat_usec > 0 && env->vici ? CHARON_DELIVER_LATER_ASKS
                                                                                              : CHARON_DELIVER_NOW);
                if (!charon_hub_connected(env->hub))
                        s->disconnected_usec = mono_usec();
        }
        if (s->heartbeat_usec > 0 && env->vici) {
                r = ev_add_time_relative(env->event, &s->heartbeat, CLOCK_MONOTONIC, s->heartbeat_usec,
                                               s->heartbeat_usec / 20, on_heartbeat, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the process ---- */

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
        s->pidfd_source = ev_source_disable_unref(s->pidfd_source);
        s->watched_pid = pid;
        s->pid_exited = false;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                s->pid_exited = errno == ESRCH;
                return;
        }
        if (ev_add_io(s->env->event, &s->pidfd_source, fd, EPOLLIN, on_pidfd, s) < 0) {
                close(fd);
                return;
        }
        (void) ev_source_set_io_fd_own(s->pidfd_source, true);
}

static void stat_close(daemon_state *s) {
        if (s->stat_pid)
                (void) close(s->stat_fd);
        s->stat_pid = 0;
}

/* The process's /proc/PID/stat, read through an fd kept open across runs (sampled once per run,
 * again while the run waits). The fd names the process it was opened for: when that one is gone
 * the pid is opened again, as it may name another process now. */
static int stat_sample(daemon_state *s, pid_t pid) {
        int r;

        if (s->stat_pid == pid) {
                r = proc_stat_pread(s->stat_fd, &s->ps);
                if (r != -ESRCH)
                        return r;
        }
        stat_close(s);
        r = proc_stat_open(pid);
        if (r < 0)
                return r;
        s->stat_fd = r;
        s->stat_pid = pid;
        r = proc_stat_pread(s->stat_fd, &s->ps);
        if (r < 0)
                stat_close(s);
        return r;
}

/* Which process is charon: the unit's main pid, the pid file's, or the one listening on the
 * VICI socket (also remembered after it went away: that is the one that died). */
static void process_sample(daemon_state *s) {
        pid_t pid = 0;
        int r;

        if (s->props.known && s->props.main_pid) {
                pid = (pid_t) s->props.main_pid;
                s->pid_source = "unit";
        } else if (s->pidfile) {
                r = pid_read(s->pidfile, &pid);
                if (r < 0) {
                        (void) finding_evidence(s->pending, "pid file %s: %s", s->pidfile, strerror(-r));
                        pid = 0;
                } else
                        s->pid_source = "pidfile";
        }
        if (!pid && s->vici_pid) {
                pid = s->vici_pid;
                s->pid_source = "vici";
        }
        s->ps_error = -ESRCH;
        if (!pid)
                return;
        pid_watch(s, pid);
        s->ps_error = stat_sample(s, pid);
        s->sampled_usec = mono_usec();
        if (s->ps_error < 0 || proc_stat_exited(&s->ps))
                return;
        daemon_identity_track(s, pid, s->ps.start_ticks);
}

/* ---- the run ---- */

static void run_finish(daemon_state *s) {
        finding *f = TAKE_PTR(s->pending);
        check_run *run = TAKE_PTR(s->run);

        s->wait_timer = ev_source_disable_unref(s->wait_timer);
        if (!f)
                return;
        daemon_verdict(s, f);
        s->last_ok = f->status == CHECK_OK;
        if (run)
                check_run_done(run, f);
        else
                finding_free(f);
}

static int on_wait_timer(ev_source *src, uint64_t usec, void *userdata) {
        daemon_state *s = userdata;
        s->wait_timer = ev_source_disable_unref(s->wait_timer);
        s->waited = true;
        run_evaluate(s);
        return 0;
}

/* Until when the run waits for evidence still on its way, or 0 to decide now. */
static uint64_t wait_until(daemon_state *s, uint64_t now) {
        bool connected = s->env->hub && charon_hub_connected(s->env->hub);
        bool alive = daemon_alive(s);

        if (s->waited)
                return 0;
        if (alive && proc_stat_stopped(&s->ps))
                return 0; /* stopped: it cannot answer, no need to ask */
        if (connected && s->ping_out && !daemon_overdue(s, now))
                return s->unanswered_since + s->answer_within_usec + USEC_PER_MSEC;
        /* the socket closed (EOF) and the process still looks alive: it may be on its way out */
        if (!connected && alive && s->disconnected_usec && now - s->disconnected_usec < EXIT_GRACE_USEC &&
            s->env->hub && charon_hub_last_reason(s->env->hub) == -ECONNRESET)
                return s->disconnected_usec + EXIT_GRACE_USEC;
        return 0;
}

static void run_evaluate(daemon_state *s) {
        uint64_t now = mono_usec(), until;
        const check_schedule *sc;

        if (!s->pending)
                return;
        if (s->props_busy)
                return; /* the bus replies continue the run */
        /* each run wants an answer of its own (asked again here: charon may have come back
         * while the run waited) */
        if (s->answered_usec < s->run_started)
                ping_send(s);
        /* An answer to this run's request, after this run read the process, from a process
         * whose pidfd has not signalled its exit: the answer says more than a second read of
         * /proc a millisecond after the first (a run waiting for its answer, or resumed by
         * anything else, reads it again). */
        if (!(s->sampled_usec >= s->run_started && s->answered_usec >= s->sampled_usec &&
              s->ps_error == 0 && !s->pid_exited))
                process_sample(s);
        until = wait_until(s, now);
        if (until > now) {
                /* never past the runner's own timeout: a verdict beats an "unknown: timed out" */
                sc = s->check ? check_get_schedule(s->check) : NULL;
                if (sc && sc->timeout_usec && until > s->run_started + sc->timeout_usec * 9 / 10)
                        until = s->run_started + sc->timeout_usec * 9 / 10;
        }
        if (until <= now) {
                run_finish(s);
                return;
        }
        s->wait_timer = ev_source_disable_unref(s->wait_timer);
        if (ev_add_time(s->env->event, &s->wait_timer, CLOCK_MONOTONIC, until, USEC_PER_MSEC, on_wait_timer, s) < 0)
                run_finish(s);
}

/* The unit's properties are read (or there is no unit): ask charon, then decide. */
static void daemon_props_done(daemon_state *s) {
        s->props_busy = false;
        run_evaluate(s);
}

static int daemon_start(void *state, const check_env *env, check_run *run) {
        daemon_state *s = state;
        int r;

        r = finding_new(&s->pending);
        if (r < 0)
                return r;
        s->run = run;
        s->run_started = mono_usec();
        s->props_done = daemon_props_done;
        s->waited = false;
        /* the bus is connected (and libsystemd loaded) only when a unit is to be read */
        if (daemon_unit_name(s) && daemon_props_stale(s) && sysbus_get(env->bus)) {
                s->props_busy = true;
                r = daemon_props_refresh(s);
                if (r >= 0)
                        return 0; /* continued by the bus replies */
                s->props_busy = false;
        }
        /* no service manager to ask, or nothing new from it: this is the path that turns a
         * socket EOF into a finding in the same loop iteration */
        daemon_props_done(s);
        return 0;
}

static void daemon_cancel(void *state) {
        daemon_state *s = state;
        daemon_props_cancel(s);
        s->wait_timer = ev_source_disable_unref(s->wait_timer);
        s->pending = finding_free(s->pending);
        s->run = NULL;
}

static void daemon_done(void *state) {
        daemon_state *s = state;
        daemon_cancel(s);
        if (s->env && s->env->vici)
                vici_client_forget(s->env->vici, s);
        daemon_props_done_unit(s);
        s->pidfd_source = ev_source_disable_unref(s->pidfd_source);
        stat_close(s);
        s->settle = ev_source_disable_unref(s->settle);
        s->heartbeat = ev_source_disable_unref(s->heartbeat);
        charon_listener_free(s->listener);
        free(s->unit);
        free(s->pidfile);
}

const check_ops daemon_check_ops = {
        .kind = "daemon",
        .description = "charon is running and answers a VICI request; its process, unit, restarts and exits",
        .state_size = sizeof(daemon_state),
        .parse = daemon_parse,
        .attach = daemon_attach,
        .start = daemon_start,
        .cancel = daemon_cancel,
        .done = daemon_done,
};
