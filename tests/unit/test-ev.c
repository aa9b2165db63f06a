/* The agent's event loop (common/ev.h) held to its contract, one case per rule, each written so
 * that a loop breaking the rule fails it: the loop itself (default loops, references), file
 * descriptors (level-triggered, events switched, descriptors owned, hang-ups, prepare callbacks),
 * deferred work, priorities, signals, inotify, exit, ev_now() and the watchdog. Timers are
 * tested in test-ev-time.c, the lifetime of sources in test-ev-lifetime.c, many sources at once
 * in test-ev-stress.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ev_test.h"

/* ---- file descriptors ---- */

/* Every record starts with its destroy count, so that on_destroy() serves them all. */
typedef struct io_rec {
        unsigned destroys;
        unsigned calls;
        uint32_t revents;
        int fd;
        bool drain;
        int ret;
} io_rec;

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        io_rec *r = userdata;
        char buf[256];

        r->calls++;
        r->revents = revents;
        r->fd = fd;
        if (r->drain)
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
        return r->ret;
}

static void test_io(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL;
        int p[2], sv[2], en = 99;
        io_rec r = {};

        if (ev_new(&e) < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
                CHECK(false, "io: set up");
                return;
        }
        CHECK(ev_add_io(e, &s, p[0], EPOLLIN, on_io, &r) == 0 && s, "io: added");
        CHECK(ev_source_get_io_fd(s) == p[0], "io: get_io_fd");
        CHECK(ev_source_get_enabled(s, &en) >= 0 && en == EV_ON, "io: starts EV_ON (%d)", en);
        CHECK(ev_source_get_loop(s) == e, "io: get_loop is its loop");
        CHECK(run1(e, 0) == 0 && r.calls == 0, "io: nothing readable, nothing dispatched");

        (void) !write(p[1], "x", 1);
        for (int i = 0; i < 3; i++)
                CHECK(run1(e, SEC) > 0, "io: iteration %d dispatched", i);
        CHECK(r.calls == 3, "io: level-triggered, an undrained fd is called every iteration (%u)", r.calls);
        CHECK(r.revents == EPOLLIN && r.fd == p[0], "io: revents EPOLLIN (0x%x) and fd passed", r.revents);
        r.drain = true;
        (void) run1(e, SEC);
        CHECK(r.calls == 4, "io: called to drain");
        CHECK(run1(e, 50 * MSEC) == 0 && r.calls == 4, "io: drained, not called again");

        /* EV_OFF stops, EV_ON resumes, EV_ONESHOT once */
        (void) !write(p[1], "x", 1);
        CHECK(ev_source_set_enabled(s, EV_OFF) >= 0 && ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF,
              "io: set EV_OFF");
        CHECK(run1(e, 50 * MSEC) == 0 && r.calls == 4, "io: off, readable, not called (%u)", r.calls);
        r.drain = false;
        CHECK(ev_source_set_enabled(s, EV_ONESHOT) >= 0, "io: set EV_ONESHOT");
        (void) run1(e, SEC);
        (void) run1(e, 50 * MSEC);
        CHECK(r.calls == 5 && ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF,
              "io: one-shot called once, then off (%u calls, enabled %d)", r.calls, en);
        r.drain = true;
        CHECK(ev_source_set_enabled(s, EV_ON) >= 0 && run1(e, SEC) > 0 && r.calls == 6, "io: EV_ON resumes");

        /* a callback returning < 0 turns its source off */
        (void) !write(p[1], "x", 1);
        r.drain = false;
        r.ret = -EIO;
        CHECK(run1(e, SEC) > 0 && r.calls == 7, "io: the failing callback ran");
        CHECK(ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF, "io: callback < 0 turned it off (%d)", en);
        CHECK(run1(e, 50 * MSEC) == 0 && r.calls == 7, "io: and it is not called again");
        s = ev_source_unref(s);
        CHECK(!s, "io: unref returns NULL");
        CHECK(fd_open(p[0]), "io: a source not owning its fd leaves it open");

        /* switching events: EPOLLIN ↔ EPOLLOUT on a connected socket with nothing to read */
        r = (io_rec){};
        CHECK(ev_add_io(e, &s, sv[0], EPOLLIN, on_io, &r) == 0, "io: socket added for EPOLLIN");
        CHECK(run1(e, 50 * MSEC) == 0 && r.calls == 0, "io: nothing to read, not called");
        CHECK(ev_source_set_io_events(s, EPOLLOUT) >= 0, "io: set_io_events EPOLLOUT");
        CHECK(run1(e, SEC) > 0 && r.calls == 1 && (r.revents & EPOLLOUT) && !(r.revents & EPOLLIN),
              "io: writable reported (revents 0x%x)", r.revents);
        CHECK(ev_source_set_io_events(s, EPOLLIN) >= 0 && run1(e, 50 * MSEC) == 0 && r.calls == 1,
              "io: back to EPOLLIN, not called");
        (void) !write(sv[1], "y", 1);
        CHECK(run1(e, SEC) > 0 && r.calls == 2 && r.revents == EPOLLIN, "io: readable reported (0x%x)", r.revents);
        /* events changed while off take effect when turned on */
        CHECK(ev_source_set_enabled(s, EV_OFF) >= 0 && ev_source_set_io_events(s, EPOLLOUT) >= 0,
              "io: set_io_events while off");
        CHECK(run1(e, 50 * MSEC) == 0 && r.calls == 2, "io: still off");
        CHECK(ev_source_set_enabled(s, EV_ON) >= 0 && run1(e, SEC) > 0 && r.calls == 3 && (r.revents & EPOLLOUT),
              "io: on again with the new events (0x%x)", r.revents);
        s = ev_source_unref(s);

        /* hang-ups */
        r = (io_rec){};
        CHECK(ev_add_io(e, &s, sv[0], EPOLLIN | EPOLLRDHUP, on_io, &r) == 0, "io: socket for EPOLLRDHUP");
        r.drain = true;
        (void) run1(e, 50 * MSEC); /* drain the "y" */
        (void) shutdown(sv[1], SHUT_WR);
        unsigned before = r.calls;
        (void) run1(e, SEC);
        CHECK(r.calls > before && (r.revents & EPOLLRDHUP), "io: peer shut down, EPOLLRDHUP delivered (0x%x)", r.revents);
        s = ev_source_unref(s);
        r = (io_rec){ .drain = true };
        CHECK(ev_add_io(e, &s, p[0], EPOLLIN, on_io, &r) == 0, "io: pipe for EPOLLHUP");
        close(p[1]);
        (void) run1(e, SEC);
        CHECK(r.calls == 1 && (r.revents & EPOLLHUP), "io: writer closed, EPOLLHUP delivered (0x%x)", r.revents);
        s = ev_source_unref(s);
        close(p[0]);
        close(sv[0]);
        close(sv[1]);

        /* ownership of the descriptor */
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        CHECK(ev_add_io(e, &s, p[0], EPOLLIN, on_io, &r) == 0 && ev_source_set_io_fd_own(s, true) >= 0, "io: owned fd");
        CHECK(fd_open(p[0]), "io: owned fd open while the source lives");
        s = ev_source_unref(s);
        CHECK(!fd_open(p[0]), "io: owned fd closed when the source is freed");
        close(p[1]);
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        CHECK(ev_add_io(e, &s, p[0], EPOLLIN, on_io, &r) == 0 && ev_source_set_io_fd_own(s, true) >= 0 &&
                      ev_source_set_io_fd_own(s, false) >= 0,
              "io: owned, then not");
        s = ev_source_unref(s);
        CHECK(fd_open(p[0]), "io: fd no longer owned is left open");
        /* a descriptor epoll refuses (a regular file): an error, nothing half-applied */
        int f = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ev_source *y = (ev_source *) &r;
        CHECK(f >= 0 && ev_add_io(e, &y, f, EPOLLIN, on_io, &r) == -EPERM && y == (ev_source *) &r && fd_open(f),
              "io: a regular file is refused with -EPERM, ret untouched, the fd left to the caller");
        if (f >= 0)
                close(f);
        /* a floating owner: the loop closes it when it frees the source, with itself */
        r = (io_rec){};
        CHECK(ev_add_io(e, &s, p[0], EPOLLIN, on_io, &r) == 0 && ev_source_set_io_fd_own(s, true) >= 0 &&
                      ev_source_set_destroy_callback(s, on_destroy) >= 0 && ev_source_set_floating(s, true) >= 0,
              "io: owned fd, floating source");
        s = ev_source_unref(s);
        CHECK(fd_open(p[0]) && r.destroys == 0, "io: the caller's unref leaves a floating source and its fd alone");
        close(p[1]);
        ev_unref(e);
        CHECK(!fd_open(p[0]) && r.destroys == 1, "io: freed with the loop: fd closed, destroyed once (%u)", r.destroys);
}

/* ---- prepare ---- */

static unsigned prep_calls;

static int on_prepare(ev_source *s, void *userdata) {
        prep_calls++;
        return ev_source_set_io_events(s, EPOLLOUT);
}

/* A prepare callback that counts in its source's userdata. */
static int on_prepare_count(ev_source *s, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

static int on_io_ignore(ev_source *s, int fd, uint32_t revents, void *userdata) {
        return 0;
}

static void test_prepare(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL;
        int sv[2];
        io_rec r = {};

        if (ev_new(&e) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                return;
        CHECK(ev_add_io(e, &s, sv[0], EPOLLIN, on_io, &r) == 0 && ev_source_set_prepare(s, on_prepare) >= 0,
              "prepare: set on a socket waiting for EPOLLIN");
        CHECK(run1(e, SEC) > 0 && prep_calls >= 1 && r.calls == 1 && (r.revents & EPOLLOUT),
              "prepare: ran before the wait and its EPOLLOUT took effect in that iteration (%u prepares, revents 0x%x)",
              prep_calls, r.revents);
        (void) ev_source_set_enabled(s, EV_OFF);
        unsigned c = prep_calls;
        (void) run1(e, 20 * MSEC);
        CHECK(prep_calls == c, "prepare: not called while the source is off");
        s = ev_source_unref(s);
        close(sv[0]);
        close(sv[1]);

        /* every source's prepare callback runs, however many sources have one */
        enum { N_PREP = 40 };
        ev_source *many[N_PREP] = {};
        unsigned counts[N_PREP] = {}, ran = 0, added = 0;
        for (unsigned i = 0; i < N_PREP; i++) {
                int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
                if (fd < 0 || ev_add_io(e, &many[i], fd, EPOLLIN, on_io_ignore, &counts[i]) < 0) {
                        if (fd >= 0)
                                close(fd);
                        break;
                }
                if (ev_source_set_io_fd_own(many[i], true) < 0 || ev_source_set_prepare(many[i], on_prepare_count) < 0)
                        break;
                added++;
        }
        (void) run1(e, 0);
        for (unsigned i = 0; i < added; i++)
                ran += counts[i] == 1;
        CHECK(added == N_PREP && ran == N_PREP, "prepare: each of %u sources' prepare callbacks ran once (%u did)", added,
              ran);
        for (unsigned i = 0; i < N_PREP; i++)
                many[i] = ev_source_unref(many[i]);
        ev_unref(e);
}

static void test_defer(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL, *guard = NULL;
        cnt_rec r = {};
        tm_rec rg = { .clock = CLOCK_MONOTONIC };
        int en = 99;

        if (ev_new(&e) < 0)
                return;
        CHECK(ev_add_defer(e, &s, on_defer, &r) == 0 && ev_source_get_enabled(s, &en) >= 0 && en == EV_ONESHOT,
              "defer: starts EV_ONESHOT (%d)", en);
        uint64_t t = now_usec(CLOCK_MONOTONIC);
        CHECK(run1(e, EV_TIME_INFINITY) > 0 && r.calls == 1 && r.enabled_inside == EV_OFF,
              "defer: ran at once, off inside its callback (%d)", r.enabled_inside);
        CHECK(run1(e, 0) == 0 && r.calls == 1, "defer: once");

        CHECK(ev_add_time(e, &guard, CLOCK_MONOTONIC, t + 3 * SEC, 0, on_time, &rg) == 0 &&
                      ev_source_set_enabled(s, EV_ON) >= 0,
              "defer: EV_ON, a guard timer at +3 s");
        t = now_usec(CLOCK_MONOTONIC);
        unsigned i;
        for (i = 0; i < 50 && !rg.calls; i++)
                if (run1(e, EV_TIME_INFINITY) <= 0)
                        break;
        t = now_usec(CLOCK_MONOTONIC) - t;
        CHECK(i == 50 && r.calls == 51 && !rg.calls, "defer: EV_ON ran in each of 50 iterations, which never slept (%u calls)",
              r.calls);
        printf("figure: 50 iterations of an EV_ON defer: %llu µs\n", (unsigned long long) t);

        /* a defer always on does not starve a timer */
        rg = (tm_rec){ .clock = CLOCK_MONOTONIC };
        uint64_t at = now_usec(CLOCK_MONOTONIC) + 50 * MSEC;
        CHECK(ev_source_set_time(guard, at) >= 0 && ev_source_set_time_accuracy(guard, EXACT) >= 0 &&
                      ev_source_set_enabled(guard, EV_ONESHOT) >= 0,
              "defer: a timer at +50 ms beside it");
        run_until(e, &rg.calls, 1, 2 * SEC);
        check_fired("defer: the timer beside an EV_ON defer", &rg, 0, at, 0);
        guard = ev_source_unref(guard);
        s = ev_source_unref(s);
        ev_unref(e);
}

/* ---- priorities ---- */

static int order[8], norder;

static int on_prio_defer(ev_source *s, void *userdata) {
        order[norder++ & 7] = *(int *) userdata;
        return 0;
}

static int on_prio_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        return on_prio_defer(s, userdata);
}

static int on_prio_time(ev_source *s, uint64_t usec, void *userdata) {
        return on_prio_defer(s, userdata);
}

/* Sources pending in one iteration run lowest priority first, whatever their kind or the order
 * they were added in. The order among equal priorities (sd-event: the order they became pending)
 * is not asserted: ev.h does not promise it. */
static void test_priority(void) {
        static int prio[] = { 10, EV_PRIORITY_IMPORTANT, 0, -7, 5, EV_PRIORITY_IDLE };
        static const int want[] = { EV_PRIORITY_IMPORTANT, -7, 0, 5, 10, EV_PRIORITY_IDLE };
        ev_loop *e = NULL;
        ev_source *s[6] = {};
        int p[2];
        bool ok = true;

        if (ev_new(&e) < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        (void) !write(p[1], "x", 1);
        /* added in an order unrelated to their priorities, of three kinds */
        ok = ok && ev_add_defer(e, &s[0], on_prio_defer, &prio[0]) == 0;
        ok = ok && ev_add_time(e, &s[1], CLOCK_MONOTONIC, 0, 0, on_prio_time, &prio[1]) == 0;
        ok = ok && ev_add_defer(e, &s[2], on_prio_defer, &prio[2]) == 0;
        ok = ok && ev_add_io(e, &s[3], p[0], EPOLLIN, on_prio_io, &prio[3]) == 0;
        ok = ok && ev_add_defer(e, &s[4], on_prio_defer, &prio[4]) == 0;
        ok = ok && ev_add_time(e, &s[5], CLOCK_MONOTONIC, 0, 0, on_prio_time, &prio[5]) == 0;
        for (int i = 0; ok && i < 6; i++)
                ok = ev_source_set_priority(s[i], prio[i]) >= 0;
        CHECK(ok, "priority: six sources of three kinds");
        CHECK(run1(e, SEC) > 0 && norder == 6, "priority: all six pending dispatched in one iteration (%d)", norder);
        CHECK(norder == 6 && memcmp(order, want, sizeof(want)) == 0,
              "priority: in priority order, lowest first (%d %d %d %d %d %d)", order[0], order[1], order[2], order[3],
              order[4], order[5]);
        for (int i = 0; i < 6; i++)
                s[i] = ev_source_unref(s[i]);
        close(p[0]);
        close(p[1]);
        ev_unref(e);
}

/* ---- signals, inotify ---- */

typedef struct sig_rec {
        unsigned destroys;
        unsigned calls;
        uint32_t signo;
        pid_t pid;
} sig_rec;

static int on_signal(ev_source *s, const struct signalfd_siginfo *si, void *userdata) {
        sig_rec *r = userdata;
        r->calls++;
        r->signo = si->ssi_signo;
        r->pid = (pid_t) si->ssi_pid;
        return 0;
}

static void test_signal(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL;
        sig_rec r = {};
        sigset_t set;
        int en = 99;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || ev_new(&e) < 0)
                return;
        CHECK(ev_add_signal(e, &s, SIGUSR1, on_signal, &r) == 0 && ev_source_get_enabled(s, &en) >= 0 && en == EV_ON,
              "signal: SIGUSR1 added, EV_ON");
        CHECK(run1(e, 0) == 0 && r.calls == 0, "signal: nothing yet");
        raise(SIGUSR1);
        run_until(e, &r.calls, 1, 2 * SEC);
        CHECK(r.calls == 1 && r.signo == SIGUSR1 && r.pid == getpid(), "signal: delivered with ssi_signo %u from pid %d",
              r.signo, (int) r.pid);
        raise(SIGUSR1);
        run_until(e, &r.calls, 2, 2 * SEC);
        CHECK(r.calls == 2, "signal: and again");
        CHECK(ev_source_set_enabled(s, EV_ONESHOT) >= 0, "signal: set EV_ONESHOT");
        raise(SIGUSR1);
        run_until(e, &r.calls, 3, 2 * SEC);
        CHECK(r.calls == 3 && r.signo == SIGUSR1 && ev_source_get_enabled(s, &en) >= 0 && en == EV_OFF,
              "signal: a one-shot source called, then off (%u calls, enabled %d)", r.calls, en);
        s = ev_source_unref(s);
        ev_unref(e);
}

typedef struct ino_rec {
        unsigned destroys;
        unsigned calls;
        uint32_t mask;
        char name[64];
} ino_rec;

static int on_inotify(ev_source *s, const struct inotify_event *ev, void *userdata) {
        ino_rec *r = userdata;
        r->calls++;
        r->mask = ev->mask;
        snprintf(r->name, sizeof(r->name), "%s", ev->len ? ev->name : "");
        return 0;
}

static void test_inotify(void) {
        char a[] = "/tmp/test-ev.XXXXXX", b[] = "/tmp/test-ev.XXXXXX", path[64];
        ev_loop *e = NULL;
        ev_source *sa = NULL, *sb = NULL, *x;
        ino_rec ra = {}, rb = {};
        int fd;

        if (!mkdtemp(a) || !mkdtemp(b) || ev_new(&e) < 0)
                return;
        CHECK(ev_add_inotify(e, &sa, a, IN_CREATE, on_inotify, &ra) == 0 &&
                      ev_add_inotify(e, &sb, b, IN_CREATE, on_inotify, &rb) == 0,
              "inotify: two directories watched");
        snprintf(path, sizeof(path), "%s/hello", b);
        if ((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
                close(fd);
        run_until(e, &rb.calls, 1, 2 * SEC);
        run_for(e, 20 * MSEC);
        CHECK(rb.calls == 1 && (rb.mask & IN_CREATE) && strcmp(rb.name, "hello") == 0,
              "inotify: the file created named to its directory's watch ('%s', mask 0x%x)", rb.name, rb.mask);
        CHECK(ra.calls == 0, "inotify: the other directory's watch not called (%u)", ra.calls);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/world", a);
        if ((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
                close(fd);
        run_until(e, &ra.calls, 1, 2 * SEC);
        CHECK(ra.calls == 1 && strcmp(ra.name, "world") == 0, "inotify: and the other ('%s')", ra.name);
        (void) unlink(path);

        /* one-shot: called once, then off (its event is not swallowed by turning it off) */
        int en = 99;
        rb = (ino_rec){};
        CHECK(ev_source_set_enabled(sb, EV_ONESHOT) >= 0, "inotify: set EV_ONESHOT");
        snprintf(path, sizeof(path), "%s/once", b);
        if ((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
                close(fd);
        run_until(e, &rb.calls, 1, 2 * SEC);
        CHECK(rb.calls == 1 && strcmp(rb.name, "once") == 0, "inotify: a one-shot source called ('%s', %u calls)", rb.name,
              rb.calls);
        CHECK(ev_source_get_enabled(sb, &en) >= 0 && en == EV_OFF, "inotify: then off (%d)", en);
        (void) unlink(path);

        x = sa;
        snprintf(path, sizeof(path), "%s/missing/dir", a);
        CHECK(ev_add_inotify(e, &x, path, IN_CREATE, on_inotify, &ra) == -ENOENT && x == sa,
              "inotify: a missing path is -ENOENT, ret untouched");
        sa = ev_source_unref(sa);
        sb = ev_source_unref(sb);
        ev_unref(e);
        (void) rmdir(a);
        (void) rmdir(b);
}

/* Two sources on one directory (inotify gives both one watch descriptor) stay independent: each
 * gets its own mask's events, and one's removal leaves the other watching. Last in this test: a
 * loop that spins here hides no other case. */
static void test_inotify_shared(void) {
        char a[] = "/tmp/test-ev.XXXXXX", path[64];
        ev_loop *e = NULL;
        ev_source *sa = NULL, *sd = NULL;
        ino_rec ra = {}, rd = {};
        int fd;

        if (!mkdtemp(a) || ev_new(&e) < 0)
                return;
        CHECK(ev_add_inotify(e, &sa, a, IN_CREATE, on_inotify, &ra) == 0 &&
                      ev_add_inotify(e, &sd, a, IN_DELETE, on_inotify, &rd) == 0,
              "inotify shared: two watches of one directory, IN_CREATE and IN_DELETE");
        snprintf(path, sizeof(path), "%s/again", a);
        if ((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
                close(fd);
        (void) unlink(path);
        run_until(e, &rd.calls, 1, 2 * SEC);
        run_for(e, 20 * MSEC);
        CHECK(ra.calls == 1 && (ra.mask & IN_CREATE) && rd.calls == 1 && (rd.mask & IN_DELETE),
              "inotify shared: each source gets its own mask's events (create %u, delete %u)", ra.calls, rd.calls);
        sa = ev_source_unref(sa);
        if ((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
                close(fd);
        (void) unlink(path);
        run_until(e, &rd.calls, 2, 2 * SEC);
        CHECK(rd.calls == 2 && ra.calls == 1, "inotify shared: one source gone, the other still watches (%u)", rd.calls);
        sd = ev_source_unref(sd);
        ev_unref(e);
        (void) rmdir(a);
}

/* ---- exit, ev_now ---- */

/* A timer that adds a readable fd's source, then exits: after the exit, ev_run() must not
 * dispatch it. */
typedef struct exit_rec {
        unsigned destroys;
        int code, fd;
        ev_source *io;
        io_rec *r;
} exit_rec;

static int on_time_exit_add(ev_source *s, uint64_t usec, void *userdata) {
        exit_rec *x = userdata;
        (void) ev_add_io(ev_source_get_loop(s), &x->io, x->fd, EPOLLIN, on_io, x->r);
        return ev_exit(ev_source_get_loop(s), x->code);
}

static void test_exit(void) {
        ev_loop *e = NULL;
        ev_source *t = NULL;
        io_rec r = {};
        int p[2];

        if (ev_new(&e) < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        exit_rec x = { .code = 7, .fd = p[0], .r = &r };
        (void) !write(p[1], "x", 1);
        CHECK(ev_add_time_relative(e, &t, CLOCK_MONOTONIC, 30 * MSEC, 0, on_time_exit_add, &x) == 0,
              "exit: a timer that adds a readable fd's source and exits with 7");
        CHECK(ev_loop_run(e) == 7, "exit: ev_loop_run returns the code given to ev_exit");
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        CHECK(x.io && run1(e, EV_TIME_INFINITY) == 0 && r.calls == 0,
              "exit: ev_run afterwards returns 0, dispatches nothing (%u)", r.calls);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < SLACK, "exit: at once");
        x.io = ev_source_unref(x.io);
        t = ev_source_unref(t);
        ev_unref(e);
        close(p[0]);
        close(p[1]);
}

static void test_now(void) {
        ev_loop *e = NULL;
        ev_source *a = NULL, *b = NULL;
        cnt_rec ra = { .busy = 30 * MSEC }, rb = {};
        uint64_t m0, m1, r0, r1, n;

        if (ev_new(&e) < 0)
                return;
        m0 = now_usec(CLOCK_MONOTONIC);
        r0 = now_usec(CLOCK_REALTIME);
        CHECK(ev_now(e, CLOCK_MONOTONIC, &n) >= 0 && n >= m0 && n <= now_usec(CLOCK_MONOTONIC),
              "now: before the first iteration, monotonic now");
        CHECK(ev_now(e, CLOCK_REALTIME, &n) >= 0 && n >= r0 && n <= now_usec(CLOCK_REALTIME),
              "now: before the first iteration, realtime now");
        n = 42;
        CHECK(ev_now(e, CLOCK_THREAD_CPUTIME_ID, &n) < 0 && n == 42, "now: another clock is refused, ret untouched");

        if (ev_add_defer(e, &a, on_defer, &ra) < 0 || ev_add_defer(e, &b, on_defer, &rb) < 0)
                return;
        (void) ev_source_set_priority(b, 1);
        m0 = now_usec(CLOCK_MONOTONIC);
        (void) run1(e, SEC);
        m1 = now_usec(CLOCK_MONOTONIC);
        CHECK(ra.calls == 1 && rb.calls == 1 && ra.iter == rb.iter, "now: two sources in one iteration");
        CHECK(ra.now_mono == rb.now_mono && ra.now_real == rb.now_real,
              "now: constant within the iteration, though the first callback took 30 ms");
        CHECK(ra.now_mono >= m0 && ra.now_mono <= m1 && loop_now(e, CLOCK_MONOTONIC) == ra.now_mono,
              "now: the wake-up's time, kept after it");
        usleep(20 * MSEC);
        m0 = ra.now_mono;
        r0 = ra.now_real;
        (void) ev_source_set_enabled(a, EV_ONESHOT);
        (void) run1(e, SEC);
        CHECK(ra.calls == 2 && ra.now_mono >= m0 + 20 * MSEC && ra.now_real >= r0 + 20 * MSEC,
              "now: advances across iterations, both clocks (%lld µs, %lld µs)", (long long) (ra.now_mono - m0),
              (long long) (ra.now_real - r0));
        m1 = loop_now(e, CLOCK_MONOTONIC);
        r1 = loop_now(e, CLOCK_REALTIME);
        CHECK(m1 == ra.now_mono && r1 == ra.now_real, "now: between iterations, the last one's");
        a = ev_source_unref(a);
        b = ev_source_unref(b);
        ev_unref(e);
}

/* ---- the loop itself ---- */

static void *thread_default(void *arg) {
        ev_loop *e = NULL;
        if (ev_default(&e) >= 0)
                *(ev_loop **) arg = e;
        ev_unref(e);
        return NULL;
}

static void test_loop(void) {
        ev_loop *a = NULL, *b = NULL, *other = NULL;
        pthread_t th;

        CHECK(ev_default(&a) >= 0 && ev_default(&b) >= 0 && a && a == b, "loop: ev_default is one loop per thread");
        if (pthread_create(&th, NULL, thread_default, &other) == 0)
                (void) pthread_join(th, NULL);
        CHECK(other && other != a, "loop: another thread's default is another loop");
        b = ev_unref(b);
        a = ev_unref(a);
        CHECK(ev_default(&a) >= 0 && a, "loop: a default loop again after the last unref");
        a = ev_unref(a);
}

/* A loop to which no source was ever added: an iteration has nothing to wait for but its
 * timeout, and nothing to dispatch. Last in this test: under UBSan an error aborts the binary. */
static void test_loop_empty(void) {
        ev_loop *e = NULL;
        uint64_t t;

        if (ev_new(&e) < 0)
                return;
        CHECK(run1(e, 0) == 0, "empty loop: ev_run(e, 0) returns 0");
        t = now_usec(CLOCK_MONOTONIC);
        CHECK(run1(e, 20 * MSEC) == 0 && now_usec(CLOCK_MONOTONIC) - t < 20 * MSEC + SLACK,
              "empty loop: ev_run(e, 20 ms) returns 0 after its timeout");
        ev_unref(e);
}

/* ---- the watchdog ---- */

static unsigned count_pings(int fd, unsigned *others) {
        char buf[256];
        unsigned pings = 0;

        for (ssize_t n; (n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0;) {
                buf[n] = 0;
                if (strstr(buf, "WATCHDOG=1"))
                        pings++;
                else
                        (*others)++;
        }
        return pings;
}

/* A callback that blocks the loop: no ping may be sent meanwhile (a ping proves that the loop
 * turns, so a watchdog beside the loop, in a thread or a timer signal, fails here). */
typedef struct block_rec {
        unsigned destroys;
        int fd;
        unsigned others;
        int pings_during;
} block_rec;

static int on_block(ev_source *s, void *userdata) {
        block_rec *b = userdata;

        (void) count_pings(b->fd, &b->others);
        usleep(700 * MSEC);
        b->pings_during = (int) count_pings(b->fd, &b->others);
        return 0;
}

/* The test's end of the notify socket, read on the loop itself: the datagrams queued on a socket
 * nobody reads are few (net.unix.max_dgram_qlen, 10 by default), then the sender blocks. */
typedef struct ping_rec {
        unsigned destroys;
        unsigned pings, others;
} ping_rec;

static int on_ping(ev_source *s, int fd, uint32_t revents, void *userdata) {
        ping_rec *p = userdata;
        p->pings += count_pings(fd, &p->others);
        return 0;
}

/* Runs a loop for `usec` with the watchdog asked as the environment says, beside a defer that is
 * always on (busy) or one that blocks once (block); returns its pings. */
static int watchdog_run(int fd, uint64_t usec, int *ret_set, unsigned *others, bool busy, block_rec *block) {
        ev_loop *e = NULL;
        ev_source *d = NULL, *rx = NULL;
        cnt_rec rd = {};
        ping_rec p = {};
        int pings = -1;

        if (ev_new(&e) < 0)
                return -1;
        (void) count_pings(fd, others);
        *ret_set = ev_set_watchdog(e, true);
        if (ev_add_io(e, &rx, fd, EPOLLIN, on_ping, &p) >= 0 &&
            (!busy || (ev_add_defer(e, &d, on_defer, &rd) >= 0 && ev_source_set_enabled(d, EV_ON) >= 0)) &&
            (!block || ev_add_defer(e, &d, on_block, block) >= 0)) {
                run_for(e, usec);
                pings = (int) (p.pings + count_pings(fd, others));
                *others += p.others;
        }
        rx = ev_source_unref(rx);
        d = ev_source_unref(d);
        ev_unref(e);
        return pings;
}

static void test_watchdog(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char name[64], env[80], pid[32];
        unsigned others = 0;
        int fd, set = 99, pings;

        snprintf(name, sizeof(name), "ikeheal-test-ev-%d", (int) getpid());
        memcpy(sa.sun_path + 1, name, strlen(name)); /* abstract */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 +
                                                                     strlen(name))) < 0) {
                CHECK(false, "watchdog: a notify socket bound");
                return;
        }
        snprintf(env, sizeof(env), "@%s", name);
        unsetenv("WATCHDOG_PID");
        unsetenv("WATCHDOG_USEC");
        setenv("NOTIFY_SOCKET", env, 1);
        pings = watchdog_run(fd, 300 * MSEC, &set, &others, false, NULL);
        CHECK(set == 0 && pings == 0, "watchdog: not asked (no WATCHDOG_USEC): 0, no pings (%d)", pings);

        setenv("WATCHDOG_USEC", "400000", 1);
        uint64_t t = now_usec(CLOCK_MONOTONIC);
        pings = watchdog_run(fd, SEC, &set, &others, false, NULL);
        t = now_usec(CLOCK_MONOTONIC) - t;
        CHECK(set > 0, "watchdog: asked for 400 ms, ev_set_watchdog > 0 (%d)", set);
        CHECK(pings >= 3, "watchdog: WATCHDOG=1 every 100 to 200 ms while an idle loop runs: %d in %llu ms", pings,
              (unsigned long long) (t / MSEC));
        printf("figure: watchdog pings at WATCHDOG_USEC=400000: %d in %llu ms\n", pings, (unsigned long long) (t / MSEC));

        /* "a quarter to half of WATCHDOG_USEC": at 100 ms, an idle loop pings every 25 to 50 ms,
         * at least 20 times in 1 s less the scheduling delays; at least 16 is asked (a mean
         * interval of 62 ms at most), which pings at half to three quarters (13 to 20) miss. */
        setenv("WATCHDOG_USEC", "100000", 1);
        pings = watchdog_run(fd, SEC, &set, &others, false, NULL);
        CHECK(pings >= 16, "watchdog: asked for 100 ms, an idle loop pings every 25 to 50 ms: %d in 1 s", pings);
        printf("figure: watchdog pings at WATCHDOG_USEC=100000: %d in 1 s\n", pings);
        setenv("WATCHDOG_USEC", "400000", 1);

        pings = watchdog_run(fd, SEC, &set, &others, true, NULL);
        CHECK(pings >= 3, "watchdog: and while the loop is busy with an EV_ON defer: %d in 1 s", pings);
        block_rec b = { .fd = fd, .pings_during = -1 };
        pings = watchdog_run(fd, SEC, &set, &others, false, &b);
        CHECK(b.pings_during == 0, "watchdog: none while a callback blocks the loop for 700 ms (%d)", b.pings_during);
        others += b.others;

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        setenv("WATCHDOG_PID", pid, 1);
        pings = watchdog_run(fd, 500 * MSEC, &set, &others, false, NULL);
        CHECK(set > 0 && pings >= 1, "watchdog: WATCHDOG_PID naming this process: pings (%d)", pings);

        snprintf(pid, sizeof(pid), "%d", (int) getpid() + 1);
        setenv("WATCHDOG_PID", pid, 1);
        pings = watchdog_run(fd, 600 * MSEC, &set, &others, false, NULL);
        CHECK(set == 0 && pings == 0, "watchdog: WATCHDOG_PID naming another process: 0, no pings (%d, %d)", set, pings);
        CHECK(others == 0, "watchdog: nothing but WATCHDOG=1 sent (%u others)", others);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        close(fd);
}

int main(void) {
        alarm(120); /* a loop that never wakes fails the test rather than hanging the suite */
        setvbuf(stdout, NULL, _IOLBF, 0);
        test_loop();
        test_io();
        test_prepare();
        test_defer();
        test_priority();
        test_signal();
        test_inotify();
        test_exit();
        test_now();
        test_watchdog();
        test_inotify_shared();
        test_loop_empty();
        return TAP_END();
}
