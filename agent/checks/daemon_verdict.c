/* The daemon check's verdict, from what its run gathered: the VICI connection and whether the
 * last request was answered, the process (alive, stopped, exited), the unit, and the history of
 * crashes. Healthy is an answer. Alive without an answer is hung; gone is stopped (it said so,
 * or removed its socket) or crashed (it did not); down after more than flap_max crashes within
 * flap_window is a crash loop, which a restart does not cure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/daemon_state.h"
#include "vici.h"
#include "duration.h"

static void crash_evidence(const daemon_state *s, finding *f) {
        uint64_t now = mono_usec();

        for (unsigned i = 0; i < s->n_crashes; i++) {
                const daemon_crash *c = &s->crashes[(s->crashes_head + DAEMON_STARTS_MAX - s->n_crashes + i) % DAEMON_STARTS_MAX];
                char when[32] = "?";
                time_t t = (time_t) (c->realtime_usec / USEC_PER_SEC);
                struct tm tm;

                if (now - c->mono_usec > s->flap_window_usec)
                        continue;
                if (gmtime_r(&t, &tm))
                        (void) strftime(when, sizeof(when), "%H:%M:%SZ", &tm);
                if (c->pid)
                        (void) finding_evidence(f, "crash at %s: pid %d, %s", when, (int) c->pid, c->how);
                else
                        (void) finding_evidence(f, "crash at %s: %s", when, c->how);
        }
        for (unsigned i = 0; i < s->n_log; i++)
                (void) finding_evidence(f, "charon logged: %s",
                                        s->log_tail[(s->log_head + DAEMON_LOG_TAIL - s->n_log + i) % DAEMON_LOG_TAIL]);
}

static void facts(daemon_state *s, finding *f, bool connected, int reason, unsigned crashes) {
        const daemon_unit_props *u = &s->props;
        uint64_t now = mono_usec();

        (void) finding_fact_set(f, "vici", "%s", connected ? "connected" : "disconnected");
        if (!connected && reason)
                (void) finding_fact_set(f, "vici_error", "%s", strerror(-reason));
        if (s->disconnected_usec)
                (void) finding_fact_set(f, "down_ms", "%llu",
                                        (unsigned long long) ((now - s->disconnected_usec) / USEC_PER_MSEC));
        /* only with a heartbeat: diagnosis holds a silent probe until charon answered after it
         * began, which without one could take a whole interval */
        if (s->answered_rt_usec && s->heartbeat_usec)
                (void) finding_fact_set(f, "answered_usec", "%llu", (unsigned long long) s->answered_rt_usec);
        if (s->connected_rt_usec && s->heartbeat_usec)
                (void) finding_fact_set(f, "connected_usec", "%llu", (unsigned long long) s->connected_rt_usec);
        if (s->unanswered_since)
                (void) finding_fact_set(f, "unanswered_ms", "%llu",
                                        (unsigned long long) ((now - s->unanswered_since) / USEC_PER_MSEC));
        (void) finding_fact_set(f, "restarts_seen", "%llu", (unsigned long long) s->restarts_seen);
        (void) finding_fact_set(f, "starts_in_window", "%u", daemon_starts_within(s, s->flap_window_usec));
        (void) finding_fact_set(f, "crashes_in_window", "%u", crashes);
        if (s->watched_pid) {
                (void) finding_fact_set(f, "pid", "%d", (int) s->watched_pid);
                (void) finding_fact_set(f, "pid_source", "%s", s->pid_source ? s->pid_source : "?");
                if (s->ps_error == 0) {
                        (void) finding_fact_set(f, "process_state", "%c", s->ps.state);
                        (void) finding_fact_set(f, "start_ticks", "%llu", (unsigned long long) s->ps.start_ticks);
                } else
                        (void) finding_fact_set(f, "process_state", "gone");
        }
        if (u->known) {
                (void) finding_fact_set(f, "unit", "%s", daemon_unit_name(s));
                (void) finding_fact_set(f, "active_state", "%s", u->active);
                (void) finding_fact_set(f, "sub_state", "%s", u->sub);
                (void) finding_fact_set(f, "result", "%s", u->result);
                (void) finding_fact_set(f, "exec_main_status", "%d", (int) u->exec_status);
                (void) finding_fact_set(f, "n_restarts", "%u", u->n_restarts);
                (void) finding_fact_set(f, "main_pid", "%u", u->main_pid);
        }
}

/* Asked only once charon is not connected: a healthy run (every heartbeat) has no use for it. */
static bool socket_gone(const daemon_state *s) {
        const char *sock = s->env->charon.vici_socket;
        return sock && access(sock, F_OK) < 0 && errno == ENOENT;
}

void daemon_verdict(daemon_state *s, finding *f) {
        const charon_hub *hub = s->env->hub;
        uint64_t now = mono_usec();
        bool connected = hub ? charon_hub_connected(hub) : vici_client_is_connected(s->env->vici);
        /* the latest attempt's error, not just the one of the moment it went away */
        int reason = s->env->vici && vici_client_last_error(s->env->vici) ? vici_client_last_error(s->env->vici)
                     : hub                                                 ? charon_hub_last_reason(hub)
                                                                           : 0;
        const daemon_unit_props *u = &s->props;
        bool unit_down = u->known && (strcmp(u->active, "inactive") == 0 || strcmp(u->active, "failed") == 0);
        bool unit_crashed = u->known && (strcmp(u->result, "signal") == 0 || strcmp(u->result, "core-dump") == 0 ||
                                         strcmp(u->result, "exit-code") == 0 || strcmp(u->result, "watchdog") == 0);
        bool gave_up = u->known && strcmp(u->result, "start-limit-hit") == 0;
        bool alive = daemon_alive(s), stopped = alive && proc_stat_stopped(&s->ps);
        bool overdue = daemon_overdue(s, now);
        bool answered = connected && s->answered_usec && !s->unanswered_since &&
                        (!hub || s->answered_usec >= charon_hub_state_since(hub));
        char w[32];
        const char *why;

        if (hub && charon_hub_state_since(hub) == 0 && !u->known) {
                /* the first connection attempt has not finished: no verdict yet (its outcome
                 * runs this check again) */
                (void) finding_set(f, CHECK_UNKNOWN, "first connection to charon still in progress");
                return;
        }
        (void) duration_format(s->flap_window_usec, w, sizeof(w));

        if (!unit_down && !stopped && connected && answered) {
                unsigned crashes = daemon_crashes_within(s, s->flap_window_usec);
                facts(s, f, connected, reason, crashes);
                if (crashes > s->flap_max) {
                        /* up and answering: a restart would only drop every SA */
                        (void) finding_set(f, CHECK_WARN, "charon is up and answers, but crashed %u times within %s "
                                           "(a crash loop): nothing to restart, a human should look", crashes, w);
                        (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon");
                        (void) finding_fact_set(f, CHECK_FACT_REASON, "crash_loop");
                        crash_evidence(s, f);
                } else
                        (void) finding_set(f, CHECK_OK, "charon is running and answers on VICI%s%s",
                                           u->known ? ", unit " : "", u->known ? u->active : "");
                return;
        }
        if (!unit_down && !stopped && connected && !overdue) {
                facts(s, f, connected, reason, daemon_crashes_within(s, s->flap_window_usec));
                (void) finding_set(f, CHECK_UNKNOWN, "charon has not answered yet (asked %llu ms ago)",
                                   (unsigned long long) (s->unanswered_since ? (now - s->unanswered_since) / USEC_PER_MSEC : 0));
                return;
        }

        if (!unit_down && !stopped && alive && !overdue && s->unanswered_since && daemon_busy(s)) {
                /* its requests timed out (the link was dropped) while it works: busy, not hung,
                 * for as long as daemon_overdue() gives a working charon */
                facts(s, f, connected, reason, daemon_crashes_within(s, s->flap_window_usec));
                (void) finding_set(f, CHECK_UNKNOWN, "charon is busy: it uses CPU (or waits for one) and has not answered "
                                   "yet (asked %llu ms ago)", (unsigned long long) ((now - s->unanswered_since) / USEC_PER_MSEC));
                return;
        }
        if (unit_down)
                why = gave_up ? "crash_loop" : unit_crashed ? "crashed" : "stopped";
        else if (stopped)
                why = "hung"; /* SIGSTOP or a tracer: alive, and cannot answer */
        else if (connected)
                why = "hung"; /* connected, asked, no answer and no progress */
        else if (s->stop_announced || reason == -ENOENT || socket_gone(s))
                why = "stopped"; /* charon removes its socket when it shuts down in order */
        else if (alive && !(s->vici_pid && s->vici_pid != s->watched_pid))
                /* alive and not answering: hung when a request timed out or went unanswered,
                 * else its VICI socket refuses us (the plugin, a full backlog). (Not when the
                 * process we were connected to is another one: that one died, and this is its
                 * successor, started by systemd before we reconnected.) */
                why = overdue || reason == -ETIMEDOUT || s->ping_error == -ETIMEDOUT ? "hung" : "vici_unreachable";
        else if (reason == -ECONNRESET || reason == -ECONNREFUSED || s->pid_exited || s->watched_pid)
                why = "crashed"; /* gone without saying goodbye: SIGKILL, abort, OOM */
        else
                why = "not_running";

        if (strcmp(why, "crashed") == 0) {
                char how[96];
                if (unit_down)
                        (void) snprintf(how, sizeof(how), "unit result %.31s, exit %s %d", u->result,
                                        u->exec_code == 1 ? "status" : "code", (int) u->exec_status);
                else
                        (void) snprintf(how, sizeof(how), "died without shutting down (%s)",
                                        reason ? strerror(-reason) : "process gone");
                daemon_crash_note(s, how);
        }
        unsigned crashes = daemon_crashes_within(s, s->flap_window_usec);
        if (crashes > s->flap_max && (strcmp(why, "crashed") == 0 || strcmp(why, "not_running") == 0))
                why = "crash_loop";
        facts(s, f, connected, reason, crashes);
        (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon");
        (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", why);
        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        if (strcmp(why, "stopped") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon was stopped (orderly shutdown): no peer can connect");
        else if (strcmp(why, "crashed") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon died without shutting down (killed or crashed): "
                                                  "no peer can connect");
        else if (strcmp(why, "crash_loop") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon crashed %u times within %s and is down: a crash loop, "
                                   "which a restart does not cure; a human must look", crashes, w);
        else if (strcmp(why, "hung") == 0) {
                if (stopped)
                        (void) finding_set(f, CHECK_FAIL, "charon (pid %d) is alive but %s: it answers nothing",
                                           (int) s->watched_pid, proc_stat_state_string(s->ps.state));
                else {
                        /* the time it has owed the answer is a fact (unanswered_ms), not part of
                         * the summary: an incident would be rewritten every heartbeat */
                        char aw[32];
                        (void) duration_format(s->answer_within_usec, aw, sizeof(aw));
                        (void) finding_set(f, CHECK_FAIL, "charon%s does not answer: a VICI request unanswered for "
                                           "more than %s, and nothing else from it", alive ? "'s process is alive but" : "",
                                           aw);
                }
                if (alive && !stopped)
                        (void) finding_evidence(f, "process %d: %s, %s since the previous look", (int) s->watched_pid,
                                                proc_stat_state_string(s->ps.state),
                                                s->cpu_moved ? "used CPU" : "no CPU used");
        } else if (strcmp(why, "vici_unreachable") == 0)
                (void) finding_set(f, CHECK_FAIL, "charon's process is alive but its VICI socket refuses us");
        else
                (void) finding_set(f, CHECK_FAIL, "charon is not running");
        if (reason)
                (void) finding_evidence(f, "VICI %s: %s", s->env->charon.vici_socket ?: "socket", strerror(-reason));
        if (s->stop_announced)
                (void) finding_evidence(f, "charon logged: signal received, shutting down");
        if (u->known)
                (void) finding_evidence(f, "unit %s: %s/%s, result %s, main exit status %d", daemon_unit_name(s),
                                        u->active, u->sub, u->result, (int) u->exec_status);
        if (strcmp(why, "crash_loop") == 0)
                crash_evidence(s, f);
}
