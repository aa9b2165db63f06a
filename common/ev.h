/* The agent's event loop: one thread, one epoll set, and the sources the agent waits on — file
 * descriptors, timers on CLOCK_MONOTONIC and CLOCK_REALTIME, deferred work, signals and inotify
 * watches — dispatched in priority order. It keeps sd-event's contract, which every module of
 * the agent was written against, so that ikeheald needs no libsystemd at all:
 *
 *  - a source's owner holds the reference; a source whose last reference goes is disconnected at
 *    once (no callback runs after that) and freed when it is no longer being dispatched;
 *    a source added with ret == NULL, or made floating, is owned by the loop instead;
 *  - time and defer sources start EV_ONESHOT, the others EV_ON; a one-shot source is turned
 *    off just before its callback runs; a callback that returns < 0 turns its source off;
 *  - a timer fires at its time, or up to `accuracy` later: the loop picks one wake-up for all
 *    timers whose windows overlap, preferring times aligned to 250 ms, 1 s, 10 s and 1 min
 *    boundaries (shifted by a per-boot perturbation), so timers of independent modules share
 *    wake-ups; CLOCK_REALTIME timers follow steps of the wall clock;
 *  - ev_now() is the time the current iteration woke up, the base of *_relative times;
 *  - with ev_set_watchdog(), the loop itself sends WATCHDOG=1 to systemd at a quarter to half
 *    of WATCHDOG_USEC: a ping proves that the loop turns.
 *
 * Errors are -errno. */
#pragma once

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h> /* io events are epoll's */
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <time.h>

typedef struct ev_loop ev_loop;
typedef struct ev_source ev_source;

enum {
        EV_OFF = 0,
        EV_ON = 1,
        EV_ONESHOT = -1,
};

enum {
        EV_PRIORITY_IMPORTANT = -100,
        EV_PRIORITY_NORMAL = 0,
        EV_PRIORITY_IDLE = 100,
};

#define EV_TIME_INFINITY UINT64_MAX

typedef int (*ev_io_handler)(ev_source *s, int fd, uint32_t revents, void *userdata);
/* accuracy 0 means the default, 250 ms, as in sd-event. */
typedef int (*ev_time_handler)(ev_source *s, uint64_t usec, void *userdata);
typedef int (*ev_handler)(ev_source *s, void *userdata);
typedef int (*ev_signal_handler)(ev_source *s, const struct signalfd_siginfo *si, void *userdata);
typedef int (*ev_inotify_handler)(ev_source *s, const struct inotify_event *event, void *userdata);
typedef void (*ev_destroy_handler)(void *userdata);

/* The loop. ev_default() returns a new reference to the calling thread's default loop. */
int ev_new(ev_loop **ret);
int ev_default(ev_loop **ret);
ev_loop *ev_ref(ev_loop *e);
ev_loop *ev_unref(ev_loop *e);

/* One iteration: waits at most timeout_usec (EV_TIME_INFINITY: no limit) for something to do,
 * then dispatches everything that is pending. Returns > 0 if a source was dispatched, 0 if
 * none was, < 0 on error. After ev_exit() it returns 0 at once. */
int ev_run(ev_loop *e, uint64_t timeout_usec);
/* Iterations until ev_exit(); returns the code given to it. */
int ev_loop_run(ev_loop *e);
int ev_exit(ev_loop *e, int code);
/* The number of the current iteration (counted from 1 by ev_run). */
int ev_get_iteration(ev_loop *e, uint64_t *ret);
/* The time this iteration woke up (or, before the first, now); clock is CLOCK_MONOTONIC or
 * CLOCK_REALTIME. */
int ev_now(ev_loop *e, clockid_t clock, uint64_t *ret);
/* Sends WATCHDOG=1 from the loop when systemd asked for it (WATCHDOG_USEC); returns > 0 if it
 * did, 0 if no watchdog is asked for. */
int ev_set_watchdog(ev_loop *e, bool b);

/* Sources. */
int ev_add_io(ev_loop *e, ev_source **ret, int fd, uint32_t events, ev_io_handler cb, void *userdata);
int ev_add_time(ev_loop *e, ev_source **ret, clockid_t clock, uint64_t usec, uint64_t accuracy,
                ev_time_handler cb, void *userdata);
int ev_add_time_relative(ev_loop *e, ev_source **ret, clockid_t clock, uint64_t usec, uint64_t accuracy,
                         ev_time_handler cb, void *userdata);
int ev_add_defer(ev_loop *e, ev_source **ret, ev_handler cb, void *userdata);
/* The signal must be blocked by the caller. */
int ev_add_signal(ev_loop *e, ev_source **ret, int sig, ev_signal_handler cb, void *userdata);
int ev_add_inotify(ev_loop *e, ev_source **ret, const char *path, uint32_t mask, ev_inotify_handler cb,
                   void *userdata);

ev_source *ev_source_ref(ev_source *s);
ev_source *ev_source_unref(ev_source *s);
/* Turns the source off, then drops the caller's reference; returns NULL. */
ev_source *ev_source_disable_unref(ev_source *s);
ev_loop *ev_source_get_loop(ev_source *s);

int ev_source_set_enabled(ev_source *s, int enabled);
int ev_source_get_enabled(ev_source *s, int *ret);
int ev_source_set_priority(ev_source *s, int64_t priority);
/* Floating: the loop holds the source (and frees it with itself); not floating: the caller
 * does. Making a floating source non-floating drops the loop's reference. */
int ev_source_set_floating(ev_source *s, bool b);
/* Called with the userdata when the source is freed. */
int ev_source_set_destroy_callback(ev_source *s, ev_destroy_handler cb);
/* Called before the loop waits, while the source is on: a source whose events depend on
 * another library's state (a D-Bus connection) updates them there. */
int ev_source_set_prepare(ev_source *s, ev_handler cb);

int ev_source_set_time(ev_source *s, uint64_t usec);
int ev_source_set_time_relative(ev_source *s, uint64_t usec);
int ev_source_get_time(ev_source *s, uint64_t *ret);
int ev_source_set_time_accuracy(ev_source *s, uint64_t accuracy);

int ev_source_get_io_fd(ev_source *s);
int ev_source_set_io_events(ev_source *s, uint32_t events);
/* Closes the descriptor when the source is freed. */
int ev_source_set_io_fd_own(ev_source *s, bool own);
