/* The daemon check's state, shared by its parts: daemon.c (the run, the liveness request, push
 * sources), daemon_unit.c (the systemd unit over D-Bus), daemon_history.c (restarts and
 * crashes by process identity) and daemon_verdict.c (what it all means). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <sys/types.h>

#include "agent/checks/check.h"
#include "now.h"
#include "proc_stat.h"
#include "sysbus.h"

#define DAEMON_STARTS_MAX 32u
#define DAEMON_LOG_TAIL 4u

typedef struct charon_listener charon_listener;

typedef struct daemon_unit_props {
        char load[32], active[32], sub[32], result[32];
        char path[256];
        uint32_t main_pid, n_restarts;
        int32_t exec_code, exec_status;
        bool known;
} daemon_unit_props;

/* One crash: when, which process, how it ended. */
typedef struct daemon_crash {
        uint64_t mono_usec, realtime_usec;
        pid_t pid;
        char how[96];
} daemon_crash;

typedef struct daemon_state {
        /* params */
        char *unit; /* "" or "none": no unit */
        char *pidfile;
        uint64_t flap_window_usec;
        uint32_t flap_max;
        uint64_t heartbeat_usec;     /* a run (and so a request) this often; 0: only at the interval */
        uint64_t answer_within_usec; /* a request unanswered this long, without progress: no answer */
        uint64_t busy_within_usec;   /* … unless charon works meanwhile (uses CPU, or waits for one),
                                      * up to this long: busy, not hung */

        check *check;
        const check_env *env;
        charon_listener *listener;
        ev_source *heartbeat;

        /* the run in flight */
        check_run *run;
        finding *pending;
        uint64_t run_started;
        bool waited;                 /* the wait timer fired: decide with what there is */
        ev_source *wait_timer;
        bool last_ok;                /* the last verdict was OK */

        /* the liveness request */
        bool ping_out;
        uint64_t ping_sent_usec;
        uint64_t unanswered_since;   /* CLOCK_MONOTONIC of the oldest request not answered; 0: none */
        uint64_t cpu_ticks_asked;    /* the process's CPU time (ps.cpu_ticks) then */
        uint64_t answered_usec;      /* CLOCK_MONOTONIC of the last answer; 0: never */
        uint64_t answered_rt_usec;   /* the same, CLOCK_REALTIME (a fact) */
        int ping_error;

        /* the unit */
        sd_bus_slot *match_slot, *call_slot;
        unsigned match_generation; /* the system bus connection match_slot was made on */
        daemon_unit_props props;
        bool props_busy;             /* a read over the bus is in flight for this run */
        /* daemon.c's continuation once the bus replies are in (daemon_unit.c calls it) */
        void (*props_done)(struct daemon_state *s);
        bool props_dirty;            /* PropertiesChanged since the last read */
        uint64_t props_read_usec;
        uint32_t prev_n_restarts;
        bool have_n_restarts;

        /* the process */
        pid_t vici_pid;              /* the VICI socket's peer, last seen */
        const char *pid_source;      /* "unit", "pidfile", "vici" */
        ev_source *pidfd_source;
        pid_t watched_pid;
        bool pid_exited;
        pid_t stat_pid;              /* stat_fd is open on this process's /proc/PID/stat; 0: none */
        int stat_fd;
        proc_stat ps;                /* valid when ps_error == 0 */
        int ps_error;
        uint64_t sampled_usec;       /* when ps was last read (mono); 0: never */
        uint64_t prev_cpu_ticks;
        uint64_t prev_cpu_usec;      /* when prev_cpu_ticks was read; 0: never */
        bool cpu_moved;              /* the process used CPU since the previous sample */

        /* history */
        pid_t ident_pid;             /* the process seen alive last */
        uint64_t ident_start;
        bool ident_known;
        pid_t prev_pid;              /* the one before it */
        uint64_t prev_start;
        bool have_prev;
        pid_t crash_counted_pid;     /* the last process whose death was counted as a crash */
        uint64_t crash_counted_start;
        uint64_t starts[DAEMON_STARTS_MAX]; /* CLOCK_MONOTONIC of restarts seen, ring */
        unsigned n_starts, starts_head;
        uint64_t restarts_seen;      /* ours: never reset by a manual restart */
        daemon_crash crashes[DAEMON_STARTS_MAX]; /* ring */
        unsigned n_crashes, crashes_head;

        /* charon's words */
        bool stop_announced;         /* charon logged an orderly shutdown */
        char log_tail[DAEMON_LOG_TAIL][160];
        unsigned log_head, n_log;
        uint64_t disconnected_usec;  /* CLOCK_MONOTONIC */
        uint64_t connected_rt_usec;  /* CLOCK_REALTIME of the last connect (a fact) */
        ev_source *settle;     /* re-run once the reconnect attempt has spoken */
} daemon_state;

/* daemon_state.c */
const char *daemon_unit_name(const daemon_state *s);
/* A liveness request unanswered for longer than answer_within, with nothing else from charon
 * in that time either, and charon not working on something meanwhile (daemon_busy) — or
 * unanswered for longer than busy_within whatever it does. */
bool daemon_overdue(const daemon_state *s, uint64_t now);
/* The process used CPU since the oldest unanswered request was sent, or is runnable (R). */
bool daemon_busy(const daemon_state *s);
/* The process is known and neither gone, a zombie, nor reported exited by its pidfd. */
bool daemon_alive(const daemon_state *s);

/* daemon_unit.c */
bool daemon_props_stale(const daemon_state *s);
int daemon_props_refresh(daemon_state *s);
void daemon_props_cancel(daemon_state *s);
void daemon_props_done_unit(daemon_state *s);

/* daemon_history.c */
void daemon_identity_track(daemon_state *s, pid_t pid, uint64_t start_ticks);
void daemon_crash_note(daemon_state *s, const char *how);
void daemon_unit_restarts_track(daemon_state *s);
unsigned daemon_starts_within(const daemon_state *s, uint64_t window);
unsigned daemon_crashes_within(const daemon_state *s, uint64_t window);

/* daemon_verdict.c */
void daemon_verdict(daemon_state *s, finding *f);
