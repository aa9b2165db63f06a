/* The event loop's timers (common/ev.h) held to their contract: never before their time, within
 * their accuracy, one-shot by default and off inside their callback, re-armed from it, moved while
 * pending (later and earlier), due at 0, on CLOCK_REALTIME, relative to ev_now(), exact with
 * accuracy 1 and within 250 ms with 0 (sd-event's default), and coalesced into one wake-up when
 * their windows overlap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ev_test.h"

static void test_time(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL;
        tm_rec r = { .clock = CLOCK_MONOTONIC };
        uint64_t t, at, got = 0;
        int en = 99;

        if (ev_new(&e) < 0)
                return;

        /* one-shot by default, off inside its callback, never early, within accuracy */
        t = now_usec(CLOCK_MONOTONIC);
        CHECK(ev_add_time_relative(e, &s, CLOCK_MONOTONIC, 100 * MSEC, 10 * MSEC, on_time, &r) == 0, "time: added");
        CHECK(ev_source_get_time(s, &at) >= 0 && at >= t + 100 * MSEC &&
                      at <= now_usec(CLOCK_MONOTONIC) + 100 * MSEC,
              "time: relative to now before the first iteration");
        CHECK(ev_source_get_enabled(s, &en) >= 0 && en == EV_ONESHOT, "time: starts EV_ONESHOT (%d)", en);
        run_until(e, &r.calls, 1, 2 * SEC);
        check_fired("time: +100 ms ±10", &r, 0, at, 10 * MSEC);
        CHECK(r.enabled_inside == EV_OFF, "time: off inside its own callback (%d)", r.enabled_inside);
        CHECK(ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF, "time: off after it fired");
        run_for(e, 150 * MSEC);
        CHECK(r.calls == 1, "time: one-shot fired once (%u)", r.calls);

        /* re-armed from inside its callback */
        r = (tm_rec){ .clock = CLOCK_MONOTONIC, .rearm = 2, .rearm_usec = 30 * MSEC };
        CHECK(ev_source_set_time_relative(s, 30 * MSEC) >= 0 && ev_source_set_enabled(s, EV_ONESHOT) >= 0,
              "time: armed again");
        run_until(e, &r.calls, 3, 3 * SEC);
        CHECK(r.calls == 3, "time: re-armed twice from its callback, fired 3 times (%u)", r.calls);
        for (unsigned i = 1; i < 3 && i < r.calls; i++)
                CHECK(r.at[i] >= r.now[i - 1] + 30 * MSEC && r.iter[i] > r.iter[i - 1],
                      "time: call %u 30 ms after the wake-up of call %u (%lld µs)", i, i - 1,
                      (long long) (r.at[i] - r.now[i - 1]));
        run_for(e, 100 * MSEC);
        CHECK(r.calls == 3, "time: and not again");

        /* a callback that re-arms its timer but returns < 0: the error wins, the timer is off */
        r = (tm_rec){ .clock = CLOCK_MONOTONIC, .rearm = 1, .rearm_usec = 30 * MSEC, .ret = -EIO };
        CHECK(ev_source_set_time_relative(s, 10 * MSEC) >= 0 && ev_source_set_enabled(s, EV_ONESHOT) >= 0,
              "time: armed, its callback re-arms it and fails");
        run_until(e, &r.calls, 1, 2 * SEC);
        CHECK(r.calls == 1 && ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF,
              "time: callback < 0 turned it off though it re-armed itself (enabled %d)", en);
        run_for(e, 100 * MSEC);
        CHECK(r.calls == 1, "time: and it did not fire again");

        /* get_time returns what was set; set_time on a pending source moves it later */
        CHECK(ev_source_set_time(s, 123456789) >= 0 && ev_source_get_time(s, &got) >= 0 && got == 123456789,
              "time: get_time returns the time set (%llu)", (unsigned long long) got);
        r = (tm_rec){ .clock = CLOCK_MONOTONIC };
        t = now_usec(CLOCK_MONOTONIC);
        CHECK(ev_source_set_time(s, t + 50 * MSEC) >= 0 && ev_source_set_time_accuracy(s, EXACT) >= 0 &&
                      ev_source_set_enabled(s, EV_ONESHOT) >= 0,
              "time: armed at +50 ms");
        (void) run1(e, 0);
        CHECK(ev_source_set_time(s, t + 300 * MSEC) >= 0, "time: moved to +300 ms");
        while (now_usec(CLOCK_MONOTONIC) < t + 250 * MSEC)
                (void) run1(e, 10 * MSEC);
        CHECK(r.calls == 0, "time: moved later, did not fire at its old time");
        run_until(e, &r.calls, 1, 2 * SEC);
        check_fired("time: moved to +300 ms", &r, 0, t + 300 * MSEC, 0);

        /* ... and earlier: the loop's wake-up follows */
        r = (tm_rec){ .clock = CLOCK_MONOTONIC };
        t = now_usec(CLOCK_MONOTONIC);
        CHECK(ev_source_set_time(s, t + 10 * SEC) >= 0 && ev_source_set_enabled(s, EV_ONESHOT) >= 0,
              "time: armed at +10 s");
        (void) run1(e, 20 * MSEC);
        CHECK(ev_source_set_time(s, t + 80 * MSEC) >= 0, "time: moved to +80 ms");
        CHECK(run1(e, 3 * SEC) > 0, "time: the loop woke for the earlier time");
        check_fired("time: moved to +80 ms", &r, 0, t + 80 * MSEC, 0);

        /* usec 0: due now, dispatched by the next iteration even without waiting */
        s = ev_source_unref(s);
        r = (tm_rec){ .clock = CLOCK_MONOTONIC };
        CHECK(ev_add_time(e, &s, CLOCK_MONOTONIC, 0, 0, on_time, &r) == 0, "time: at 0");
        CHECK(run1(e, 0) > 0 && r.calls == 1, "time: usec 0 fired on the next iteration (ev_run(e, 0))");
        s = ev_source_unref(s);

        /* CLOCK_REALTIME, absolute and relative */
        r = (tm_rec){ .clock = CLOCK_REALTIME };
        t = now_usec(CLOCK_REALTIME);
        CHECK(ev_add_time(e, &s, CLOCK_REALTIME, t + 60 * MSEC, EXACT, on_time, &r) == 0, "time: realtime at +60 ms");
        run_until(e, &r.calls, 1, 2 * SEC);
        check_fired("time: realtime absolute", &r, 0, t + 60 * MSEC, 0);
        r = (tm_rec){ .clock = CLOCK_REALTIME };
        CHECK(ev_source_set_time_relative(s, 60 * MSEC) >= 0 && ev_source_get_time(s, &at) >= 0 &&
                      ev_source_set_enabled(s, EV_ONESHOT) >= 0,
              "time: realtime relative +60 ms");
        CHECK(at == loop_now(e, CLOCK_REALTIME) + 60 * MSEC, "time: realtime relative to ev_now()");
        run_until(e, &r.calls, 1, 2 * SEC);
        check_fired("time: realtime relative", &r, 0, at, 0);
        s = ev_source_unref(s);

        ev_source *x = (ev_source *) &r;
        CHECK(ev_add_time(e, &x, CLOCK_THREAD_CPUTIME_ID, 0, 0, on_time, &r) < 0 && x == (ev_source *) &r,
              "time: a clock that is neither monotonic nor realtime is refused, ret untouched");
        ev_unref(e);
}

/* A timer added from a callback, earlier than the one the loop would otherwise wake for: the
 * wake-up follows it (both exact). */
typedef struct add_rec {
        unsigned destroys;
        ev_source *t;
        tm_rec *r;
        uint64_t at;
} add_rec;

static int on_time_add(ev_source *s, uint64_t usec, void *userdata) {
        add_rec *a = userdata;
        ev_loop *e = ev_source_get_loop(s);

        a->at = loop_now(e, CLOCK_MONOTONIC) + 50 * MSEC;
        (void) ev_add_time(e, &a->t, CLOCK_MONOTONIC, a->at, EXACT, on_time, a->r);
        return 0;
}

static void test_time_added_earlier(void) {
        ev_loop *e = NULL;
        ev_source *far = NULL, *first = NULL;
        tm_rec r = { .clock = CLOCK_MONOTONIC }, rfar = { .clock = CLOCK_MONOTONIC };
        add_rec a = { .r = &r };

        if (ev_new(&e) < 0)
                return;
        CHECK(ev_add_time_relative(e, &far, CLOCK_MONOTONIC, 5 * SEC, EXACT, on_time, &rfar) == 0 &&
                      ev_add_time_relative(e, &first, CLOCK_MONOTONIC, 30 * MSEC, EXACT, on_time_add, &a) == 0,
              "added earlier: timers at +5 s and +30 ms, the second adds one 50 ms after it");
        run_until(e, &r.calls, 1, 3 * SEC);
        check_fired("added earlier: the timer added from a callback", &r, 0, a.at, 0);
        CHECK(rfar.calls == 0, "added earlier: the far one not yet");
        a.t = ev_source_unref(a.t);
        first = ev_source_unref(first);
        far = ev_source_unref(far);
        ev_unref(e);
}

/* Relative times count from ev_now(), the iteration's time, not from the moment of the call. */
typedef struct rel_rec {
        unsigned destroys;
        unsigned calls;
        ev_source *t;
        uint64_t now, got, got_set;
        tm_rec fired;
} rel_rec;

static int on_defer_relative(ev_source *s, void *userdata) {
        rel_rec *r = userdata;
        ev_loop *e = ev_source_get_loop(s);

        r->calls++;
        usleep(60 * MSEC); /* the callback takes time: relative times must not count it */
        r->now = loop_now(e, CLOCK_MONOTONIC);
        if (ev_add_time_relative(e, &r->t, CLOCK_MONOTONIC, 500 * MSEC, 0, on_time, &r->fired) < 0)
                return 0;
        (void) ev_source_get_time(r->t, &r->got);
        (void) ev_source_set_time_relative(r->t, 700 * MSEC);
        (void) ev_source_get_time(r->t, &r->got_set);
        return 0;
}

static void test_time_relative(void) {
        ev_loop *e = NULL;
        ev_source *d = NULL, *s = NULL;
        rel_rec r = {};
        uint64_t n, got = 0;

        if (ev_new(&e) < 0)
                return;
        CHECK(ev_add_defer(e, &d, on_defer_relative, &r) == 0 && run1(e, SEC) > 0 && r.calls == 1,
              "relative: a defer ran");
        CHECK(r.got == r.now + 500 * MSEC, "relative: add_time_relative in a slow callback counts from ev_now() (%+lld µs)",
              (long long) (r.got - r.now - 500 * MSEC));
        CHECK(r.got_set == r.now + 700 * MSEC, "relative: set_time_relative too (%+lld µs)",
              (long long) (r.got_set - r.now - 700 * MSEC));
        /* between iterations: still the last iteration's time */
        usleep(60 * MSEC);
        n = loop_now(e, CLOCK_MONOTONIC);
        CHECK(n == r.now, "relative: between iterations ev_now() is the last wake-up's time");
        CHECK(ev_add_time_relative(e, &s, CLOCK_MONOTONIC, 500 * MSEC, 0, on_time, &r.fired) == 0 &&
                      ev_source_get_time(s, &got) >= 0 && got == n + 500 * MSEC,
              "relative: add_time_relative between iterations counts from ev_now() (%+lld µs)",
              (long long) (got - n - 500 * MSEC));
        s = ev_source_unref(s);
        r.t = ev_source_unref(r.t);
        d = ev_source_unref(d);
        ev_unref(e);
}

/* Five timers in a row, each 60 ms after the previous one fired. With accuracy 1 ("exact") each
 * fires at its time, not at the next aligned boundary: a loop that pushed them to a 250 ms
 * boundary would make all but the first 190 ms late, a mean of at least 152 ms; the bound is a
 * mean of 100 ms. With accuracy 0 (sd-event's default, 250 ms) each fires within 250 ms. */
static void test_time_exact(uint64_t accuracy) {
        ev_loop *e = NULL;
        ev_source *s = NULL;
        tm_rec r = { .clock = CLOCK_MONOTONIC };
        uint64_t at, sum = 0, worst = 0;
        unsigned n = 0;

        if (ev_new(&e) < 0)
                return;
        for (unsigned i = 0; i < 5; i++) {
                r.calls = 0;
                at = now_usec(CLOCK_MONOTONIC) + 60 * MSEC;
                if (!s ? ev_add_time(e, &s, CLOCK_MONOTONIC, at, accuracy, on_time, &r) < 0
                       : ev_source_set_time(s, at) < 0 || ev_source_set_enabled(s, EV_ONESHOT) < 0)
                        break;
                (void) run_until(e, &r.calls, 1, 2 * SEC);
                if (r.calls != 1 || r.at[0] < at) {
                        CHECK(false, "exact: accuracy %llu, timer %u fired %u times, %+lld µs", (unsigned long long) accuracy,
                              i, r.calls, (long long) (r.at[0] - at));
                        break;
                }
                sum += r.at[0] - at;
                worst = r.at[0] - at > worst ? r.at[0] - at : worst;
                n++;
        }
        if (accuracy == 0)
                CHECK(n == 5 && worst <= DEFAULT_ACCURACY + SLACK,
                      "exact: accuracy 0, 5 timers never early, within the default 250 ms (worst %llu µs late)",
                      (unsigned long long) worst);
        else
                CHECK(n == 5 && sum / 5 < 100 * MSEC,
                      "exact: accuracy %llu µs, 5 timers on time, never early (mean %llu µs late)",
                      (unsigned long long) accuracy, (unsigned long long) (n ? sum / n : 0));
        printf("figure: timer lateness with accuracy %llu µs: mean %llu µs, worst %llu µs\n", (unsigned long long) accuracy,
               (unsigned long long) (n ? sum / n : 0), (unsigned long long) worst);
        s = ev_source_unref(s);
        ev_unref(e);
}

/* Coalescing: A at +100 ms and B at +200 ms, both with accuracy 250 ms, overlap in [200, 350]:
 * they fire in one wake-up, in that window. Tried at five phases 50 ms apart relative to the
 * previous wake-up, so that wherever the loop's aligned boundaries lie, some phase puts one
 * between A's and B's times. The loop runs with no timeout of its own (a guard timer far off). */
static void test_time_coalesce(void) {
        ev_loop *e = NULL;
        ev_source *a = NULL, *b = NULL, *guard = NULL;
        tm_rec ra = { .clock = CLOCK_MONOTONIC }, rb = { .clock = CLOCK_MONOTONIC }, rg = { .clock = CLOCK_MONOTONIC };
        unsigned together = 0, wakeups = 0;

        if (ev_new(&e) < 0)
                return;
        for (unsigned k = 0; k < 5; k++) {
                uint64_t base = now_usec(CLOCK_MONOTONIC) + 20 * MSEC + k * 50 * MSEC;
                unsigned it0 = g_iter;
                ra.calls = rb.calls = rg.calls = 0;
                if (ev_add_time(e, &a, CLOCK_MONOTONIC, base + 100 * MSEC, 250 * MSEC, on_time, &ra) < 0 ||
                    ev_add_time(e, &b, CLOCK_MONOTONIC, base + 200 * MSEC, 250 * MSEC, on_time, &rb) < 0 ||
                    ev_add_time(e, &guard, CLOCK_MONOTONIC, base + 3 * SEC, 0, on_time, &rg) < 0)
                        break;
                while ((!ra.calls || !rb.calls) && !rg.calls)
                        if (run1(e, EV_TIME_INFINITY) < 0)
                                break;
                CHECK(ra.calls == 1 && rb.calls == 1 && !rg.calls, "coalesce %u: both fired", k);
                CHECK(ra.iter[0] == rb.iter[0] && ra.now[0] == rb.now[0],
                      "coalesce %u: in one wake-up (A at +%lld ms in wake-up %u, B at +%lld ms in wake-up %u)", k,
                      (long long) (ra.now[0] - base) / 1000, ra.iter[0] - it0, (long long) (rb.now[0] - base) / 1000,
                      rb.iter[0] - it0);
                CHECK(ra.now[0] >= base + 200 * MSEC && ra.at[0] <= base + 350 * MSEC + SLACK,
                      "coalesce %u: woke inside both windows [200, 350] ms (+%lld ms)", k,
                      (long long) (ra.now[0] - base) / 1000);
                together += ra.iter[0] == rb.iter[0];
                wakeups += g_iter - it0;
                a = ev_source_unref(a);
                b = ev_source_unref(b);
                guard = ev_source_unref(guard);
        }
        printf("figure: coalescing: %u of 5 pairs in one wake-up, %u wake-ups in all\n", together, wakeups);
        ev_unref(e);
}

int main(void) {
        alarm(120); /* a loop that never wakes fails the test rather than hanging the suite */
        setvbuf(stdout, NULL, _IOLBF, 0);
        test_time();
        test_time_relative();
        test_time_added_earlier();
        test_time_exact(0);
        test_time_exact(1);
        test_time_coalesce();
        return TAP_END();
}
