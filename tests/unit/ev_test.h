/* What the unit tests of the event loop (test-ev*.c) share: the clocks, one iteration counted,
 * iterations until a condition, destroy callbacks counted, and the records that timer and defer
 * callbacks fill.
 *
 * Timing: a timer must never fire before its time; "on time" allows SLACK of scheduling delay,
 * because the suite runs beside the lab's tests on two shared cores. Lateness is printed as
 * figures. */
#pragma once

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/ev.h"
#include "tap.h"

#define MSEC 1000ULL
#define SEC (1000 * MSEC)
/* The scheduling delay allowed on a loaded machine beyond a timer's accuracy. */
#define SLACK (250 * MSEC)
/* Accuracies: 1 µs is "exact"; 0 means sd-event's default window, 250 ms. */
#define EXACT 1
#define DEFAULT_ACCURACY (250 * MSEC)

static unsigned g_iter; /* ev_run() calls so far: which wake-up a callback ran in */

static inline uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

static inline uint64_t loop_now(ev_loop *e, clockid_t clock) {
        uint64_t t = 0;
        (void) ev_now(e, clock, &t);
        return t;
}

static inline int run1(ev_loop *e, uint64_t timeout) {
        int r = ev_run(e, timeout);
        g_iter++;
        return r;
}

/* Iterations until *count reaches want or `within` µs passed; each waits at most until then, so
 * the loop's own timing decides when it wakes. Returns the number of iterations. */
static inline unsigned run_until(ev_loop *e, const unsigned *count, unsigned want, uint64_t within) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + within;
        unsigned n = 0;

        for (uint64_t t; *count < want && (t = now_usec(CLOCK_MONOTONIC)) < end; n++)
                if (run1(e, end - t) < 0)
                        break;
        return n;
}

static inline void run_for(ev_loop *e, uint64_t within) {
        static const unsigned never = 0;
        (void) run_until(e, &never, 1, within);
}

static inline bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

static unsigned destroyed; /* destroy callbacks of counted sources */

static inline void on_destroy(void *userdata) {
        unsigned *n = userdata; /* each record's first field */
        (*n)++;
        destroyed++;
}

typedef struct tm_rec {
        unsigned destroys;
        unsigned calls;
        clockid_t clock;
        uint64_t at[8];       /* the clock at each call */
        uint64_t now[8];      /* ev_now() at each call */
        unsigned iter[8];     /* the wake-up of each call */
        int enabled_inside;   /* the source's state inside its callback */
        unsigned rearm;       /* re-arm this many more times, rearm_usec after ev_now() */
        uint64_t rearm_usec;
        int ret;
} tm_rec;

static inline int on_time(ev_source *s, uint64_t usec, void *userdata) {
        tm_rec *r = userdata;
        unsigned i = r->calls < 8 ? r->calls : 7;

        r->at[i] = now_usec(r->clock);
        r->now[i] = loop_now(ev_source_get_loop(s), r->clock);
        r->iter[i] = g_iter;
        r->calls++;
        (void) ev_source_get_enabled(s, &r->enabled_inside);
        if (r->rearm) {
                r->rearm--;
                (void) ev_source_set_time_relative(s, r->rearm_usec);
                (void) ev_source_set_enabled(s, EV_ONESHOT);
        }
        return r->ret;
}

/* A timer at `at` (µs of r->clock) with `accuracy`, its call checked: never early, then within
 * accuracy and SLACK. */
static inline void check_fired(const char *what, const tm_rec *r, unsigned i, uint64_t at, uint64_t accuracy) {
        CHECK(r->calls > i, "%s: fired", what);
        if (r->calls <= i)
                return;
        CHECK(r->at[i] >= at && r->now[i] >= at, "%s: not before its time (%+lld µs, ev_now %+lld µs)", what,
              (long long) (r->at[i] - at), (long long) (r->now[i] - at));
        CHECK(r->at[i] <= at + accuracy + SLACK, "%s: within accuracy %llu ms + slack (%lld µs late)", what,
              (unsigned long long) (accuracy / MSEC), (long long) (r->at[i] - at));
}

typedef struct cnt_rec {
        unsigned destroys;
        unsigned calls;
        int enabled_inside;
        uint64_t now_mono, now_real;
        unsigned iter;
        useconds_t busy;       /* take this long */
        ev_loop *exit_loop;    /* ev_exit(exit_loop, exit_code) when called */
        int exit_code;
} cnt_rec;

static inline int on_defer(ev_source *s, void *userdata) {
        cnt_rec *r = userdata;
        ev_loop *e = ev_source_get_loop(s);

        r->calls++;
        r->iter = g_iter;
        (void) ev_source_get_enabled(s, &r->enabled_inside);
        r->now_mono = loop_now(e, CLOCK_MONOTONIC);
        r->now_real = loop_now(e, CLOCK_REALTIME);
        if (r->busy)
                usleep(r->busy);
        if (r->exit_loop)
                (void) ev_exit(r->exit_loop, r->exit_code);
        return 0;
}

static inline int on_time_exit(ev_source *s, uint64_t usec, void *userdata) {
        (void) ev_exit(ev_source_get_loop(s), *(int *) userdata);
        return 0;
}

