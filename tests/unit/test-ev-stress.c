/* The event loop (common/ev.h) under many sources at once, with a fixed random seed
 * (TEST_EV_SEED overrides it), printed: 1,000 timers with random times and accuracies whose
 * callbacks re-arm themselves, move, turn off or drop others (each fires at most once per arming,
 * never before its time nor past its window and the slack, never after its last reference went),
 * then 200 pipes written at random
 * whose sources drop or turn off others (each live source reads all that was written to it, owned
 * descriptors are closed with their source). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev_test.h"

/* ---- stress ---- */

#define N_TIMERS 1000
#define N_PIPES 200

typedef struct st_timer {
        unsigned destroys;
        ev_source *s;
        uint64_t at, accuracy;
        bool armed, alive;
} st_timer;

typedef struct st_pipe {
        unsigned destroys;
        ev_source *s;
        int r, w;
        bool alive, own, on;
        uint64_t written, read;
} st_pipe;

static st_timer timers[N_TIMERS];
static st_pipe pipes[N_PIPES];
static struct {
        unsigned early, late, unarmed, dead, armed, rearms, unrefs, moves, offs, fires;
        uint64_t worst_late;
} st;

static uint64_t rnd(uint64_t n) {
        return (uint64_t) random() % n;
}

static uint64_t rnd_accuracy(void) {
        switch (rnd(4)) {
        case 0:
                return 0;
        case 1:
                return 1;
        default:
                return rnd(250 * MSEC);
        }
}

static int on_stress_time(ev_source *s, uint64_t usec, void *userdata) {
        st_timer *t = userdata, *o = &timers[rnd(N_TIMERS)];
        uint64_t n = loop_now(ev_source_get_loop(s), CLOCK_MONOTONIC), c = now_usec(CLOCK_MONOTONIC);
        uint64_t window = t->accuracy ?: DEFAULT_ACCURACY;

        if (!t->alive) {
                st.dead++;
                return 0;
        }
        st.fires++;
        if (!t->armed)
                st.unarmed++;
        else {
                t->armed = false;
                st.armed--;
        }
        if (n < t->at || c < t->at)
                st.early++;
        else if (n - t->at > window) {
                st.worst_late = n - t->at - window > st.worst_late ? n - t->at - window : st.worst_late;
                st.late += n - t->at > window + SLACK;
        }

        switch (rnd(8)) {
        case 0: /* drop itself */
                t->s = ev_source_disable_unref(t->s);
                t->alive = false;
                break;
        case 1: /* drop another, maybe pending in this very iteration */
                if (o != t && o->alive) {
                        st.armed -= o->armed;
                        o->s = ev_source_unref(o->s);
                        o->alive = o->armed = false;
                        st.unrefs++;
                }
                break;
        case 2: /* re-arm itself */
                t->at = n + rnd(200 * MSEC);
                t->accuracy = rnd_accuracy();
                if (ev_source_set_time(s, t->at) >= 0 && ev_source_set_time_accuracy(s, t->accuracy) >= 0 &&
                    ev_source_set_enabled(s, EV_ONESHOT) >= 0) {
                        t->armed = true;
                        st.armed++;
                        st.rearms++;
                }
                break;
        case 3: /* move another that is armed */
                if (o->alive && o->armed) {
                        o->at = n + rnd(300 * MSEC);
                        (void) ev_source_set_time(o->s, o->at);
                        st.moves++;
                }
                break;
        case 4: /* turn another off */
                if (o->alive && o->armed) {
                        (void) ev_source_set_enabled(o->s, EV_OFF);
                        o->armed = false;
                        st.armed--;
                        st.offs++;
                }
                break;
        }
        return 0;
}

static int on_stress_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        st_pipe *p = userdata, *o = &pipes[rnd(N_PIPES)];
        char buf[512];

        if (!p->alive || !p->on) {
                st.dead++;
                return 0;
        }
        for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
                p->read += (uint64_t) n;
        switch (rnd(64)) {
        case 0:
                if (o != p && o->alive) {
                        o->s = ev_source_unref(o->s);
                        o->alive = false;
                        st.unrefs++;
                }
                break;
        case 1:
                if (o != p && o->alive && o->on) {
                        (void) ev_source_set_enabled(o->s, EV_OFF);
                        o->on = false;
                        st.offs++;
                }
                break;
        }
        return 0;
}

static void test_stress(unsigned seed) {
        ev_loop *e = NULL;
        uint64_t base, t;
        unsigned wakeups = 0, added = 0, destroys = 0, quiet = 0;
        bool ok = true;

        srandom(seed);
        memset(&st, 0, sizeof(st));
        if (ev_new(&e) < 0)
                return;
        base = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < N_TIMERS; i++) {
                st_timer *x = &timers[i];
                *x = (st_timer){ .at = base + rnd(500 * MSEC), .accuracy = rnd_accuracy(), .alive = true, .armed = true };
                if (ev_add_time(e, &x->s, CLOCK_MONOTONIC, x->at, x->accuracy, on_stress_time, x) < 0 ||
                    ev_source_set_destroy_callback(x->s, on_destroy) < 0)
                        break;
                added++;
        }
        st.armed = added;
        CHECK(added == N_TIMERS, "stress: %u timers armed", added);
        while (st.armed > 0 && (t = now_usec(CLOCK_MONOTONIC)) < base + 10 * SEC && run1(e, base + 10 * SEC - t) >= 0)
                wakeups++;
        CHECK(st.armed == 0, "stress: every armed timer fired (%u left)", st.armed);
        CHECK(st.early == 0, "stress: none before its time (%u early)", st.early);
        CHECK(st.late == 0, "stress: none later than its accuracy (0: 250 ms) and the slack (%u late)", st.late);
        CHECK(st.unarmed == 0, "stress: none fired twice for one arming, or after being turned off (%u)", st.unarmed);
        CHECK(st.dead == 0, "stress: none called after its last reference went (%u)", st.dead);
        printf("figure: stress timers: %u fires (%u re-armed, %u moved, %u turned off, %u unref'd by others) in %u "
               "wake-ups, %llu ms; worst lateness beyond accuracy %llu µs\n",
               st.fires, st.rearms, st.moves, st.offs, st.unrefs, wakeups,
               (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - base) / MSEC), (unsigned long long) st.worst_late);
        for (unsigned i = 0; i < N_TIMERS; i++) {
                timers[i].s = ev_source_unref(timers[i].s);
                destroys += timers[i].destroys == 1;
        }
        CHECK(destroys == added, "stress: each timer destroyed exactly once (%u of %u)", destroys, added);

        memset(&st, 0, sizeof(st));
        for (unsigned i = 0; i < N_PIPES && ok; i++) {
                int p[2];
                st_pipe *x = &pipes[i];
                ok = pipe2(p, O_NONBLOCK | O_CLOEXEC) >= 0;
                *x = (st_pipe){ .r = ok ? p[0] : -1, .w = ok ? p[1] : -1, .alive = ok, .on = ok, .own = i % 2 };
                ok = ok && ev_add_io(e, &x->s, x->r, EPOLLIN, on_stress_io, x) >= 0 &&
                     ev_source_set_destroy_callback(x->s, on_destroy) >= 0 && ev_source_set_io_fd_own(x->s, x->own) >= 0;
        }
        CHECK(ok, "stress: %d pipes watched", N_PIPES);
        for (unsigned round = 0; ok && round < 40; round++) {
                for (unsigned k = 0; k < 50; k++) {
                        st_pipe *x = &pipes[rnd(N_PIPES)];
                        char buf[64] = {};
                        size_t n = 1 + rnd(sizeof(buf));
                        if (x->alive && write(x->w, buf, n) == (ssize_t) n)
                                x->written += n;
                        if (rnd(8) == 0 && x->alive && !x->on && ev_source_set_enabled(x->s, EV_ON) >= 0)
                                x->on = true;
                }
                for (unsigned i = 0; i < 100 && run1(e, 0) > 0; i++)
                        ;
                for (unsigned i = 0; i < N_PIPES; i++)
                        if (pipes[i].alive && pipes[i].on && pipes[i].read != pipes[i].written)
                                quiet++;
        }
        for (unsigned i = 0; i < N_PIPES; i++)
                if (pipes[i].alive && !pipes[i].on && ev_source_set_enabled(pipes[i].s, EV_ON) >= 0)
                        pipes[i].on = true;
        for (unsigned i = 0; i < 100 && run1(e, 0) > 0; i++)
                ;
        unsigned short_read = 0, alive = 0, closed = 0, owned_dead = 0;
        for (unsigned i = 0; i < N_PIPES; i++) {
                alive += pipes[i].alive;
                short_read += pipes[i].alive && pipes[i].read != pipes[i].written;
        }
        CHECK(quiet == 0, "stress: after each round every source on drained its pipe (%u not)", quiet);
        CHECK(short_read == 0, "stress: every live source read all written to it (%u not)", short_read);
        CHECK(st.dead == 0, "stress: no pipe's callback after its last reference went or while off (%u)", st.dead);
        printf("figure: stress pipes: %u of %d alive at the end, %u unref'd and %u turned off by others\n", alive, N_PIPES,
               st.unrefs, st.offs);
        destroys = 0;
        for (unsigned i = 0; i < N_PIPES; i++) {
                pipes[i].s = ev_source_unref(pipes[i].s);
                destroys += pipes[i].destroys == 1;
                if (pipes[i].own) {
                        owned_dead++;
                        closed += !fd_open(pipes[i].r);
                } else if (pipes[i].r >= 0)
                        close(pipes[i].r);
                if (pipes[i].w >= 0)
                        close(pipes[i].w);
        }
        CHECK(destroys == N_PIPES, "stress: each pipe's source destroyed exactly once (%u)", destroys);
        CHECK(closed == owned_dead, "stress: every owned fd closed with its source (%u of %u)", closed, owned_dead);
        ev_unref(e);
}

int main(void) {
        const char *s = getenv("TEST_EV_SEED");
        unsigned seed = s ? (unsigned) strtoul(s, NULL, 10) : 20261207;

        alarm(120); /* a loop that never wakes fails the test rather than hanging the suite */
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("seed %u (TEST_EV_SEED)\n", seed);
        test_stress(seed);
        return TAP_END();
}
