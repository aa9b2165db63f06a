/* The daemon check's memory of charon's life: restarts and crashes, counted by the process —
 * a new pid or start time, an automatic restart systemd counted (NRestarts) — never by the VICI
 * connection coming back, which also happens when the agent timed out a request to a process
 * that never went away. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/checks/daemon_state.h"
#include "now.h"

static void start_note(daemon_state *s) {
        s->starts[s->starts_head] = mono_usec();
        s->starts_head = (s->starts_head + 1) % DAEMON_STARTS_MAX;
        if (s->n_starts < DAEMON_STARTS_MAX)
                s->n_starts++;
        s->restarts_seen++;
}

/* A process seen alive: a restart when it is not the one seen before. */
void daemon_identity_track(daemon_state *s, pid_t pid, uint64_t start_ticks) {
        if (s->ident_known && s->ident_pid == pid && s->ident_start == start_ticks) {
                uint64_t now = mono_usec();
                s->cpu_moved = s->prev_cpu_usec && s->ps.cpu_ticks != s->prev_cpu_ticks;
                s->prev_cpu_ticks = s->ps.cpu_ticks;
                s->prev_cpu_usec = now;
                return;
        }
        if (s->ident_known) {
                start_note(s);
                s->prev_pid = s->ident_pid;
                s->prev_start = s->ident_start;
                s->have_prev = true;
                /* what the old process owed us, it no longer does */
                s->unanswered_since = s->ping_out ? s->ping_sent_usec : 0;
                s->cpu_ticks_asked = s->ps.cpu_ticks;
        }
        s->ident_known = true;
        s->ident_pid = pid;
        s->ident_start = start_ticks;
        s->prev_cpu_ticks = s->ps.cpu_ticks;
        s->prev_cpu_usec = mono_usec();
        s->cpu_moved = false;
}

static bool crash_counted(const daemon_state *s) {
        return s->ident_known && s->crash_counted_pid == s->ident_pid && s->crash_counted_start == s->ident_start;
}

static bool prev_counted(const daemon_state *s) {
        return s->have_prev && s->crash_counted_pid == s->prev_pid && s->crash_counted_start == s->prev_start;
}

static void crash_add(daemon_state *s, pid_t pid, const char *how) {
        daemon_crash *c = &s->crashes[s->crashes_head];

        *c = (daemon_crash){ .mono_usec = mono_usec(), .realtime_usec = real_usec(), .pid = pid };
        (void) snprintf(c->how, sizeof(c->how), "%s", how);
        s->crashes_head = (s->crashes_head + 1) % DAEMON_STARTS_MAX;
        if (s->n_crashes < DAEMON_STARTS_MAX)
                s->n_crashes++;
}

static void crash_mark(daemon_state *s) {
        s->crash_counted_pid = s->ident_pid;
        s->crash_counted_start = s->ident_start;
}

/* A process died abnormally (counted once per process): the one seen alive last, or — when a
 * new one already runs (systemd restarted it before we looked) — the one before it. */
void daemon_crash_note(daemon_state *s, const char *how) {
        if (s->ident_known && daemon_alive(s) && s->watched_pid == s->ident_pid) {
                if (!s->have_prev || prev_counted(s))
                        return;
                s->crash_counted_pid = s->prev_pid;
                s->crash_counted_start = s->prev_start;
                crash_add(s, s->prev_pid, how);
                return;
        }
        if (!s->ident_known || crash_counted(s))
                return;
        crash_mark(s);
        crash_add(s, s->ident_pid, how);
}

/* systemd's NRestarts counts its automatic restarts, each after a failure: crashes we may have
 * missed between two reads (a fast Restart=). It resets on a manual restart; only a rise
 * counts. Called before the new main pid is taken as the identity: the first of the restarts
 * is the end of the process seen last, unless its crash is counted already. */
void daemon_unit_restarts_track(daemon_state *s) {
        uint32_t n = s->props.n_restarts;

        if (s->have_n_restarts && n > s->prev_n_restarts) {
                uint32_t d = n - s->prev_n_restarts;
                char how[96];

                (void) snprintf(how, sizeof(how), "restarted by systemd after result %.31s, exit %s %d", s->props.result,
                                s->props.exec_code == 1 ? "status" : "code", (int) s->props.exec_status);
                if (d > DAEMON_STARTS_MAX)
                        d = DAEMON_STARTS_MAX;
                if (s->ident_known && !crash_counted(s)) {
                        daemon_crash_note(s, how);
                        d--;
                } else if (crash_counted(s))
                        d--;
                for (uint32_t i = 0; i < d; i++)
                        crash_add(s, 0, how); /* processes that came and went between two reads */
        }
        s->prev_n_restarts = n;
        s->have_n_restarts = true;
}

unsigned daemon_starts_within(const daemon_state *s, uint64_t window) {
        uint64_t now = mono_usec();
        unsigned n = 0;
        for (unsigned i = 0; i < s->n_starts; i++)
                if (now - s->starts[i] <= window)
                        n++;
        return n;
}

unsigned daemon_crashes_within(const daemon_state *s, uint64_t window) {
        uint64_t now = mono_usec();
        unsigned n = 0;
        for (unsigned i = 0; i < s->n_crashes; i++)
                if (now - s->crashes[i].mono_usec <= window)
                        n++;
        return n;
}
