/* See ev.h. One iteration: run the prepare callbacks, pick the wake-up time from the timers'
 * windows, wait in epoll_pwait2() (nanosecond timeouts, so a monotonic timer needs no timerfd and
 * no re-arming syscall; CLOCK_REALTIME timers share one absolute timerfd, which the kernel moves
 * with the wall clock), then mark what is ready as pending and dispatch the pending sources in
 * priority order. Timers are kept in two binary heaps per clock, by their time and by their time
 * plus accuracy: the wake-up lies between the earliest time and the earliest deadline.
 *
 * Lifetimes follow sd-event's: a non-floating source holds a reference on its loop; the loop
 * holds one on each floating source; a source whose last reference goes is disconnected at once
 * and freed (destroy callback) once no dispatch pass holds it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ev.h"
#include "macro.h"
#include "service_notify.h"

#define DEFAULT_ACCURACY_USEC (250 * 1000ULL)
#define MAX_EVENTS 64
#define NOT_ARMED UINT64_MAX

static inline uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

enum kind { KIND_IO, KIND_TIME, KIND_DEFER, KIND_SIGNAL, KIND_INOTIFY };
enum { CLK_MONO, CLK_REAL, _CLK_MAX };

typedef struct heap {
        ev_source **v;
        size_t n, cap;
} heap;

struct ev_source {
        ev_loop *loop; /* NULL once disconnected */
        unsigned n_ref;
        unsigned busy; /* held by the pending list of a dispatch pass */
        enum kind kind;
        int enabled;
        bool floating, pending, registered;
        int64_t priority;
        uint64_t pending_seq;
        void *userdata;
        ev_destroy_handler destroy;
        ev_handler prepare;
        ev_source *prev, *next; /* the loop's sources */
        union {
                struct {
                        int fd;
                        uint32_t events, revents;
                        bool own;
                        ev_io_handler cb;
                } io;
                struct {
                        int clk;
                        uint64_t next, accuracy;
                        size_t idx[2]; /* positions in the clock's two heaps */
                        bool queued;
                        ev_time_handler cb;
                } time;
                struct {
                        ev_handler cb;
                        ev_source *prev, *next; /* the loop's defer sources */
                } defer;
                struct {
                        int fd;
                        ev_signal_handler cb;
                } signal;
                struct {
                        int fd;
                        ev_inotify_handler cb;
                } inotify;
        };
};

struct ev_loop {
        unsigned n_ref;
        int epfd;
        struct {
                heap by[2]; /* [0] by time, [1] by time + accuracy */
                size_t n;   /* time sources of this clock: the heaps' reserved size */
        } clocks[_CLK_MAX];
        int real_tfd;        /* the realtime timers' wake-up; -1 until one is needed */
        uint64_t real_armed; /* what it is armed for; NOT_ARMED */
        ev_source *sources;
        ev_source *defers; /* looked at in every iteration: a list of their own */
        size_t n_sources;
        ev_source **prepare_list; /* the sources with a prepare callback (NULL: left meanwhile) */
        size_t n_prepare, cap_prepare;
        bool in_prepare;
        ev_source **pending;
        size_t n_pending, cap_pending;
        uint64_t seq, iteration;
        uint64_t now[_CLK_MAX];
        bool have_now;
        uint64_t perturb;
        bool exiting;
        int exit_code;
        uint64_t watchdog_period, watchdog_last; /* 0: no watchdog */
};

static _Thread_local ev_loop *default_loop;

static const clockid_t clock_ids[_CLK_MAX] = { CLOCK_MONOTONIC, CLOCK_REALTIME };

static int clock_index(clockid_t clock) {
        for (int i = 0; i < _CLK_MAX; i++)
                if (clock_ids[i] == clock)
                        return i;
        return -EOPNOTSUPP;
}

static uint64_t clock_now(int clk) {
        struct timespec ts;

        (void) clock_gettime(clock_ids[clk], &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- the timer heaps ---- */

static uint64_t heap_key(const ev_source *s, int k) {
        return k ? add_sat(s->time.next, s->time.accuracy) : s->time.next;
}

static void heap_set(heap *h, int k, size_t i, ev_source *s) {
        h->v[i] = s;
        s->time.idx[k] = i;
}

static void heap_up(heap *h, int k, size_t i) {
        ev_source *s = h->v[i];

        while (i > 0 && heap_key(h->v[(i - 1) / 2], k) > heap_key(s, k)) {
                heap_set(h, k, i, h->v[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        heap_set(h, k, i, s);
}

static void heap_down(heap *h, int k, size_t i) {
        ev_source *s = h->v[i];

        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= h->n)
                        break;
                if (c + 1 < h->n && heap_key(h->v[c + 1], k) < heap_key(h->v[c], k))
                        c++;
                if (heap_key(h->v[c], k) >= heap_key(s, k))
                        break;
                heap_set(h, k, i, h->v[c]);
                i = c;
        }
        heap_set(h, k, i, s);
}

static int heap_reserve(heap *h, size_t n) {
        if (n <= h->cap)
                return 0;
        size_t cap = max_size(n, h->cap * 2);
        ev_source **v = reallocarray(h->v, cap, sizeof(*v));
        if (!v)
                return -ENOMEM;
        h->v = v;
        h->cap = cap;
        return 0;
}

/* Room was reserved when the source was made: never fails. */
static void heap_push(heap *h, int k, ev_source *s) {
        h->v[h->n] = s;
        s->time.idx[k] = h->n++;
        heap_up(h, k, h->n - 1);
}

static void heap_remove(heap *h, int k, ev_source *s) {
        size_t i = s->time.idx[k];
        ev_source *last = h->v[--h->n];

        if (i == h->n)
                return;
        heap_set(h, k, i, last);
        heap_up(h, k, i);
        heap_down(h, k, last->time.idx[k]);
}

/* A timer is in its clock's heaps exactly while it is connected, on and not pending. */
static void time_sync(ev_source *s) {
        bool want = s->loop && s->enabled != EV_OFF && !s->pending;
        if (s->kind != KIND_TIME || want == s->time.queued)
                return;
        for (int k = 0; k < 2; k++) {
                heap *h = &s->loop->clocks[s->time.clk].by[k];
                if (want)
                        heap_push(h, k, s);
                else
                        heap_remove(h, k, s);
        }
        s->time.queued = want;
}

static void time_moved(ev_source *s) {
        if (s->kind != KIND_TIME || !s->time.queued)
                return;
        for (int k = 0; k < 2; k++) {
                heap *h = &s->loop->clocks[s->time.clk].by[k];
                heap_up(h, k, s->time.idx[k]);
                heap_down(h, k, s->time.idx[k]);
        }
}

/* ---- sources: epoll registration, pending state, lifetime ---- */

static int source_fd(const ev_source *s) {
        switch (s->kind) {
        case KIND_IO:
                return s->io.fd;
        case KIND_SIGNAL:
                return s->signal.fd;
        case KIND_INOTIFY:
                return s->inotify.fd;
        default:
                return -1;
        }
}

/* fd sources are in the epoll set exactly while they are connected and on. */
static int source_register(ev_source *s) {
        int fd = source_fd(s);
        bool want = s->loop && s->enabled != EV_OFF;

        if (fd < 0 || want == s->registered)
                return 0;
        if (!want) { /* connected: a disconnect clears registered itself */
                (void) epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, fd, NULL);
                s->registered = false;
                return 0;
        }
        struct epoll_event ev = { .events = s->kind == KIND_IO ? s->io.events : EPOLLIN, .data.ptr = s };
        if (epoll_ctl(s->loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        s->registered = true;
        return 0;
}

static void source_set_pending(ev_source *s, bool b) {
        if (s->pending == b)
                return;
        s->pending = b;
        if (b) {
                ev_loop *e = s->loop;
                s->pending_seq = ++e->seq;
                s->busy++;
                e->pending[e->n_pending++] = s; /* room reserved per source */
        }
        time_sync(s);
}

static void source_free(ev_source *s) {
        if (s->destroy)
                s->destroy(s->userdata);
        free(s);
}

/* Out of the prepare list; while run_prepare() walks it, the slot is only emptied. */
static void prepare_forget(ev_loop *e, ev_source *s) {
        for (size_t i = 0; i < e->n_prepare; i++) {
                if (e->prepare_list[i] != s)
                        continue;
                if (e->in_prepare)
                        e->prepare_list[i] = NULL;
                else
                        e->prepare_list[i] = e->prepare_list[--e->n_prepare];
                return;
        }
}

static void source_disconnect(ev_source *s) {
        ev_loop *e = s->loop;
        int fd = source_fd(s);

        if (!e)
                return;
        s->pending = false; /* the pass skips it; its busy hold stays until the pass ends */
        if (s->registered) {
                (void) epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
                s->registered = false;
        }
        if (s->kind == KIND_TIME && s->time.queued) {
                for (int k = 0; k < 2; k++)
                        heap_remove(&e->clocks[s->time.clk].by[k], k, s);
                s->time.queued = false;
        }
        if (s->kind == KIND_TIME)
                e->clocks[s->time.clk].n--;
        if ((s->kind == KIND_IO && s->io.own) || s->kind == KIND_SIGNAL || s->kind == KIND_INOTIFY)
                closep(&fd);
        if (s->prepare)
                prepare_forget(e, s);
        if (s->kind == KIND_DEFER) {
                if (s->defer.prev)
                        s->defer.prev->defer.next = s->defer.next;
                else
                        e->defers = s->defer.next;
                if (s->defer.next)
                        s->defer.next->defer.prev = s->defer.prev;
        }
        if (s->prev)
                s->prev->next = s->next;
        else
                e->sources = s->next;
        if (s->next)
                s->next->prev = s->prev;
        e->n_sources--;
        s->loop = NULL;
        if (!s->floating)
                ev_unref(e);
}

static ev_source *source_new(ev_loop *e, ev_source **ret, enum kind kind, void *userdata) {
        ev_source *s;

        if (e->cap_pending < e->n_sources + 1) {
                size_t cap = max_size(16, e->cap_pending * 2);
                ev_source **p = reallocarray(e->pending, cap, sizeof(*p));
                if (!p)
                        return NULL;
                e->pending = p;
                e->cap_pending = cap;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        *s = (ev_source){ .loop = e, .n_ref = 1, .kind = kind, .floating = !ret, .userdata = userdata,
                          .enabled = kind == KIND_TIME || kind == KIND_DEFER ? EV_ONESHOT : EV_ON };
        if (!s->floating)
                ev_ref(e);
        s->next = e->sources;
        if (s->next)
                s->next->prev = s;
        e->sources = s;
        e->n_sources++;
        return s;
}

/* The last step of every ev_add_*: register, and hand the source to the caller or the loop. */
static int source_add(ev_source *s, ev_source **ret) {
        int r = source_register(s);

        if (r < 0) {
                if (s->kind == KIND_IO)
                        s->io.fd = -1; /* the caller still owns it */
                source_disconnect(s);
                source_free(s);
                return r;
        }
        time_sync(s);
        if (ret)
                *ret = s;
        return 0;
}

ev_source *ev_source_ref(ev_source *s) {
        if (s)
                s->n_ref++;
        return s;
}

ev_source *ev_source_unref(ev_source *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        source_disconnect(s);
        if (!s->busy)
                source_free(s);
        return NULL;
}

ev_source *ev_source_disable_unref(ev_source *s) {
        if (s)
                (void) ev_source_set_enabled(s, EV_OFF);
        return ev_source_unref(s);
}

ev_loop *ev_source_get_loop(ev_source *s) {
        return s->loop;
}

int ev_source_set_enabled(ev_source *s, int enabled) {
        int r;

        if (!s->loop)
                return enabled == EV_OFF ? 0 : -ESTALE;
        if (enabled != EV_OFF && enabled != EV_ON && enabled != EV_ONESHOT)
                return -EINVAL;
        s->enabled = enabled;
        if (enabled == EV_OFF)
                s->pending = false; /* the pass skips it */
        r = source_register(s);
        if (r < 0) {
                s->enabled = EV_OFF;
                return r;
        }
        time_sync(s);
        return 0;
}

int ev_source_get_enabled(ev_source *s, int *ret) {
        *ret = s->enabled;
        return s->enabled != EV_OFF;
}

int ev_source_set_priority(ev_source *s, int64_t priority) {
        s->priority = priority;
        return 0;
}

int ev_source_set_floating(ev_source *s, bool b) {
        if (s->floating == b)
                return 0;
        if (!s->loop)
                return -ESTALE;
        s->floating = b;
        if (b) {
                ev_source_ref(s);
                ev_unref(s->loop);
        } else {
                ev_ref(s->loop);
                ev_source_unref(s);
        }
        return 1;
}

int ev_source_set_destroy_callback(ev_source *s, ev_destroy_handler cb) {
        s->destroy = cb;
        return 0;
}

int ev_source_set_prepare(ev_source *s, ev_handler cb) {
        ev_loop *e = s->loop;

        if (!e)
                return -ESTALE;
        if (cb && !s->prepare) {
                if (e->in_prepare)
                        return -EBUSY; /* run_prepare() walks the list it would grow */
                if (e->cap_prepare < e->n_prepare + 1) {
                        size_t cap = max_size(4, e->cap_prepare * 2);
                        ev_source **l = reallocarray(e->prepare_list, cap, sizeof(*l));
                        if (!l)
                                return -ENOMEM;
                        e->prepare_list = l;
                        e->cap_prepare = cap;
                }
                e->prepare_list[e->n_prepare++] = s;
        } else if (!cb && s->prepare)
                prepare_forget(e, s);
        s->prepare = cb;
        return 0;
}

int ev_source_set_time(ev_source *s, uint64_t usec) {
        if (s->kind != KIND_TIME)
                return -EDOM;
        if (!s->loop)
                return -ESTALE;
        s->pending = false;
        s->time.next = usec;
        time_moved(s);
        time_sync(s);
        return 0;
}

int ev_source_set_time_relative(ev_source *s, uint64_t usec) {
        uint64_t now;

        if (s->kind != KIND_TIME)
                return -EDOM;
        if (!s->loop)
                return -ESTALE;
        (void) ev_now(s->loop, clock_ids[s->time.clk], &now);
        return ev_source_set_time(s, add_sat(now, usec));
}

int ev_source_get_time(ev_source *s, uint64_t *ret) {
        if (s->kind != KIND_TIME)
                return -EDOM;
        *ret = s->time.next;
        return 0;
}

int ev_source_set_time_accuracy(ev_source *s, uint64_t accuracy) {
        if (s->kind != KIND_TIME)
                return -EDOM;
        s->time.accuracy = accuracy ?: DEFAULT_ACCURACY_USEC;
        time_moved(s);
        return 0;
}

int ev_source_get_io_fd(ev_source *s) {
        return s->kind == KIND_IO ? s->io.fd : -EDOM;
}

int ev_source_set_io_events(ev_source *s, uint32_t events) {
        if (s->kind != KIND_IO)
                return -EDOM;
        if (s->io.events == events)
                return 0;
        if (s->registered) {
                struct epoll_event ev = { .events = events, .data.ptr = s };
                if (epoll_ctl(s->loop->epfd, EPOLL_CTL_MOD, s->io.fd, &ev) < 0)
                        return -errno;
        }
        s->io.events = events;
        return 0;
}

int ev_source_set_io_fd_own(ev_source *s, bool own) {
        if (s->kind != KIND_IO)
                return -EDOM;
        s->io.own = own;
        return 0;
}

/* ---- adding sources ---- */

int ev_add_io(ev_loop *e, ev_source **ret, int fd, uint32_t events, ev_io_handler cb, void *userdata) {
        ev_source *s;

        if (fd < 0 || !cb)
                return -EINVAL;
        s = source_new(e, ret, KIND_IO, userdata);
        if (!s)
                return -ENOMEM;
        s->io.fd = fd;
        s->io.events = events;
        s->io.cb = cb;
        return source_add(s, ret);
}

int ev_add_time(ev_loop *e, ev_source **ret, clockid_t clock, uint64_t usec, uint64_t accuracy,
                ev_time_handler cb, void *userdata) {
        int clk = clock_index(clock);
        ev_source *s;

        if (clk < 0)
                return clk;
        if (!cb)
                return -EINVAL;
        for (int k = 0; k < 2; k++)
                if (heap_reserve(&e->clocks[clk].by[k], e->clocks[clk].n + 1) < 0)
                        return -ENOMEM;
        s = source_new(e, ret, KIND_TIME, userdata);
        if (!s)
                return -ENOMEM;
        e->clocks[clk].n++;
        s->time.clk = clk;
        s->time.next = usec;
        s->time.accuracy = accuracy ?: DEFAULT_ACCURACY_USEC;
        s->time.cb = cb;
        return source_add(s, ret);
}

int ev_add_time_relative(ev_loop *e, ev_source **ret, clockid_t clock, uint64_t usec, uint64_t accuracy,
                         ev_time_handler cb, void *userdata) {
        uint64_t now;
        int r = ev_now(e, clock, &now);

        if (r < 0)
                return r;
        return ev_add_time(e, ret, clock, add_sat(now, usec), accuracy, cb, userdata);
}

int ev_add_defer(ev_loop *e, ev_source **ret, ev_handler cb, void *userdata) {
        ev_source *s;

        if (!cb)
                return -EINVAL;
        s = source_new(e, ret, KIND_DEFER, userdata);
        if (!s)
                return -ENOMEM;
        s->defer.cb = cb;
        s->defer.next = e->defers;
        if (e->defers)
                e->defers->defer.prev = s;
        e->defers = s;
        return source_add(s, ret);
}

int ev_add_signal(ev_loop *e, ev_source **ret, int sig, ev_signal_handler cb, void *userdata) {
        sigset_t mask;
        ev_source *s;

        if (!cb || sig <= 0 || sig >= _NSIG)
                return -EINVAL;
        sigemptyset(&mask);
        sigaddset(&mask, sig);
        int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        s = source_new(e, ret, KIND_SIGNAL, userdata);
        if (!s) {
                close(fd);
                return -ENOMEM;
        }
        s->signal.fd = fd;
        s->signal.cb = cb;
        return source_add(s, ret);
}

int ev_add_inotify(ev_loop *e, ev_source **ret, const char *path, uint32_t mask, ev_inotify_handler cb,
                   void *userdata) {
        ev_source *s;

        if (!cb || !path)
                return -EINVAL;
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (inotify_add_watch(fd, path, mask) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        s = source_new(e, ret, KIND_INOTIFY, userdata);
        if (!s) {
                close(fd);
                return -ENOMEM;
        }
        s->inotify.fd = fd;
        s->inotify.cb = cb;
        return source_add(s, ret);
}

/* ---- the loop ---- */

static uint64_t boot_perturb(void) {
        char id[64] = "";
        uint64_t h = 14695981039346656037ULL; /* FNV-1a of the boot id */
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

        if (f) {
                if (!fgets(id, sizeof(id), f))
                        id[0] = 0;
                fclose(f);
        }
        for (const char *p = id; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        return h % (60 * USEC_PER_SEC);
}

int ev_new(ev_loop **ret) {
        ev_loop *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->n_ref = 1;
        e->real_tfd = -1;
        e->real_armed = NOT_ARMED;
        e->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (e->epfd < 0) {
                int r = -errno;
                free(e);
                return r;
        }
        e->perturb = boot_perturb();
        *ret = e;
        return 0;
}

int ev_default(ev_loop **ret) {
        if (!default_loop) {
                int r = ev_new(&default_loop);
                if (r < 0)
                        return r;
                *ret = default_loop;
                return 1;
        }
        *ret = ev_ref(default_loop);
        return 0;
}

ev_loop *ev_ref(ev_loop *e) {
        if (e)
                e->n_ref++;
        return e;
}

static void loop_free(ev_loop *e) {
        /* only floating sources are left: every other one holds a reference on the loop */
        e->n_ref = 1; /* their disconnect must not free the loop again */
        while (e->sources) {
                ev_source *s = e->sources;
                source_disconnect(s);
                if (--s->n_ref == 0 && !s->busy)
                        source_free(s);
        }
        for (int c = 0; c < _CLK_MAX; c++)
                for (int k = 0; k < 2; k++)
                        free(e->clocks[c].by[k].v);
        free(e->pending);
        free(e->prepare_list);
        closep(&e->real_tfd);
        closep(&e->epfd);
        if (default_loop == e)
                default_loop = NULL;
        free(e);
}

ev_loop *ev_unref(ev_loop *e) {
        if (e && --e->n_ref == 0)
                loop_free(e);
        return NULL;
}

int ev_now(ev_loop *e, clockid_t clock, uint64_t *ret) {
        int clk = clock_index(clock);

        if (clk < 0)
                return clk;
        if (!e->have_now) {
                *ret = clock_now(clk);
                return 1;
        }
        *ret = e->now[clk];
        return 0;
}

int ev_exit(ev_loop *e, int code) {
        if (!e->exiting) {
                e->exiting = true;
                e->exit_code = code;
        }
        return 0;
}

int ev_get_iteration(ev_loop *e, uint64_t *ret) {
        *ret = e->iteration;
        return 0;
}

int ev_set_watchdog(ev_loop *e, bool b) {
        uint64_t period = 0;

        if (b) {
                int r = service_watchdog_usec(&period);
                if (r <= 0)
                        return r;
                (void) service_notify("WATCHDOG=1");
        }
        e->watchdog_period = period;
        e->watchdog_last = clock_now(CLK_MONO);
        return !!period;
}

/* The latest time in [a, b] on a minute, 10 s, 1 s or 250 ms boundary shifted by the boot's
 * perturbation, so that timers of every process on the machine tend to share wake-ups; b when
 * none is in range. */
static uint64_t sleep_between(const ev_loop *e, uint64_t a, uint64_t b) {
        static const uint64_t steps[] = { 60 * USEC_PER_SEC, 10 * USEC_PER_SEC, USEC_PER_SEC,
                                          250 * 1000ULL };

        if (a == UINT64_MAX)
                return UINT64_MAX;
        if (b <= a + 1)
                return a;
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                uint64_t c = b / steps[i] * steps[i] + e->perturb % steps[i];
                if (c >= b) {
                        if (c < steps[i])
                                return b;
                        c -= steps[i];
                }
                if (c >= a)
                        return c;
        }
        return b;
}

/* The latest time among the timers due by `deadline` (a walk of the time heap that stops below
 * every node due later). */
static uint64_t latest_due(const heap *h, size_t i, uint64_t deadline) {
        if (i >= h->n || h->v[i]->time.next > deadline)
                return 0;
        uint64_t a = latest_due(h, 2 * i + 1, deadline), b = latest_due(h, 2 * i + 2, deadline);
        uint64_t m = a > b ? a : b;
        return m > h->v[i]->time.next ? m : h->v[i]->time.next;
}

/* One wake-up for every timer whose window holds the earliest deadline: not before the latest of
 * their times, not after that deadline. */
static uint64_t clock_wake(const ev_loop *e, int clk) {
        const heap *by = e->clocks[clk].by;

        if (by[0].n == 0)
                return UINT64_MAX;
        uint64_t deadline = heap_key(by[1].v[0], 1);
        return sleep_between(e, latest_due(&by[0], 0, deadline), deadline);
}

static int arm_realtime(ev_loop *e, uint64_t wake) {
        if (wake == e->real_armed)
                return 0;
        if (e->real_tfd < 0) {
                e->real_tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
                if (e->real_tfd < 0)
                        return -errno;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
                if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->real_tfd, &ev) < 0)
                        return -errno;
        }
        struct itimerspec its = {}; /* all zero disarms it */
        if (wake != NOT_ARMED) {
                its.it_value.tv_sec = (time_t) (wake / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (wake % USEC_PER_SEC) * 1000;
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1; /* the epoch itself: at once, not disarmed */
        }
        if (timerfd_settime(e->real_tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                return -errno;
        e->real_armed = wake;
        return 0;
}

static void run_prepare(ev_loop *e) {
        size_t n = e->n_prepare, kept = 0;

        e->in_prepare = true;
        for (size_t i = 0; i < n; i++) {
                ev_source *s = e->prepare_list[i];
                if (!s || s->enabled == EV_OFF)
                        continue;
                s->busy++;
                if (s->prepare(s, s->userdata) < 0 && s->loop)
                        (void) ev_source_set_enabled(s, EV_OFF);
                if (--s->busy == 0 && s->n_ref == 0)
                        source_free(s);
        }
        e->in_prepare = false;
        for (size_t i = 0; i < n; i++) /* the slots of sources that left meanwhile */
                if (e->prepare_list[i])
                        e->prepare_list[kept++] = e->prepare_list[i];
        e->n_prepare = kept;
}

/* How long to wait, in ns (-1: no limit). */
static int64_t wait_ns(ev_loop *e, uint64_t timeout_usec) {
        uint64_t wake = clock_wake(e, CLK_MONO), limit = UINT64_MAX;

        for (ev_source *s = e->defers; s; s = s->defer.next)
                if (s->enabled != EV_OFF)
                        return 0;
        if (e->watchdog_period)
                wake = min_u64(wake, sleep_between(e, e->watchdog_last + e->watchdog_period / 4,
                                                   e->watchdog_last + e->watchdog_period / 2));
        if (timeout_usec != EV_TIME_INFINITY)
                limit = timeout_usec;
        if (wake != UINT64_MAX) {
                uint64_t now = clock_now(CLK_MONO);
                limit = min_u64(limit, wake > now ? wake - now : 0);
        }
        if (limit == UINT64_MAX)
                return -1;
        return limit > INT64_MAX / 1000 ? INT64_MAX : (int64_t) limit * 1000;
}

static int pending_cmp(const void *a, const void *b) {
        const ev_source *x = *(ev_source *const *) a, *y = *(ev_source *const *) b;

        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return x->pending_seq < y->pending_seq ? -1 : x->pending_seq > y->pending_seq;
}

static void collect(ev_loop *e, const struct epoll_event *evs, int n) {
        for (int i = 0; i < n; i++) {
                ev_source *s = evs[i].data.ptr;
                if (!s) {
                        uint64_t expirations;
                        (void) !read(e->real_tfd, &expirations, sizeof(expirations));
                        e->real_armed = NOT_ARMED;
                        continue;
                }
                if (s->enabled == EV_OFF)
                        continue;
                if (s->kind == KIND_IO)
                        s->io.revents = evs[i].events;
                source_set_pending(s, true);
        }
        for (int c = 0; c < _CLK_MAX; c++) {
                heap *h = &e->clocks[c].by[0];
                while (h->n > 0 && h->v[0]->time.next <= e->now[c])
                        source_set_pending(h->v[0], true); /* leaves the heaps */
        }
        for (ev_source *s = e->defers; s; s = s->defer.next)
                if (s->enabled != EV_OFF)
                        source_set_pending(s, true);
}

static int dispatch_one(ev_source *s) {
        switch (s->kind) {
        case KIND_IO:
                return s->io.cb(s, s->io.fd, s->io.revents, s->userdata);
        case KIND_TIME:
                return s->time.cb(s, s->time.next, s->userdata);
        case KIND_DEFER:
                return s->defer.cb(s, s->userdata);
        case KIND_SIGNAL: {
                struct signalfd_siginfo si;
                ssize_t n = read(s->signal.fd, &si, sizeof(si));
                if (n != (ssize_t) sizeof(si))
                        return 0;
                return s->signal.cb(s, &si, s->userdata);
        }
        case KIND_INOTIFY: {
                char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t n = read(s->inotify.fd, buf, sizeof(buf));
                /* the first event even to a one-shot source (turned off before its dispatch) */
                for (ssize_t off = 0; n > 0 && off < n && s->loop && (off == 0 || s->enabled != EV_OFF);) {
                        const struct inotify_event *ie = (const struct inotify_event *) (buf + off);
                        int r = s->inotify.cb(s, ie, s->userdata);
                        if (r < 0)
                                return r;
                        off += (ssize_t) (sizeof(*ie) + ie->len);
                }
                return 0;
        }
        }
        return 0;
}

static int dispatch(ev_loop *e) {
        size_t n = e->n_pending;
        int dispatched = 0;

        if (n == 0)
                return 0;
        qsort(e->pending, n, sizeof(*e->pending), pending_cmp);
        for (size_t i = 0; i < n; i++) {
                ev_source *s = e->pending[i];
                if (!s->pending || !s->loop)
                        continue;
                s->pending = false;
                if (s->enabled == EV_ONESHOT)
                        (void) ev_source_set_enabled(s, EV_OFF);
                else
                        time_sync(s);
                int r = dispatch_one(s);
                if (r < 0 && s->loop)
                        (void) ev_source_set_enabled(s, EV_OFF);
                dispatched = 1;
        }
        for (size_t i = 0; i < n; i++) {
                ev_source *s = e->pending[i];
                if (--s->busy == 0 && s->n_ref == 0)
                        source_free(s);
        }
        e->n_pending = 0;
        return dispatched;
}

static void watchdog_ping(ev_loop *e) {
        if (!e->watchdog_period || e->now[CLK_MONO] < e->watchdog_last + e->watchdog_period / 4)
                return;
        (void) service_notify("WATCHDOG=1");
        e->watchdog_last = e->now[CLK_MONO];
}

int ev_run(ev_loop *e, uint64_t timeout_usec) {
        struct epoll_event evs[MAX_EVENTS];
        int n, r;

        if (e->exiting)
                return 0;
        ev_ref(e); /* a callback may drop the last outside reference */
        if (e->n_prepare)
                run_prepare(e);
        r = arm_realtime(e, clock_wake(e, CLK_REAL));
        if (r < 0)
                goto out;
        int64_t ns = wait_ns(e, timeout_usec);
        struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
        n = epoll_pwait2(e->epfd, evs, MAX_EVENTS, ns < 0 ? NULL : &ts, NULL);
        if (n < 0 && errno == ENOSYS) /* before Linux 5.11: whole milliseconds, rounded up */
                n = epoll_wait(e->epfd, evs, MAX_EVENTS,
                               ns < 0 ? -1 : (int) min_u64((uint64_t) (ns + 999999) / 1000000, INT32_MAX));
        if (n < 0) {
                if (errno != EINTR) {
                        r = -errno;
                        goto out;
                }
                n = 0;
        }
        for (int c = 0; c < _CLK_MAX; c++)
                e->now[c] = clock_now(c);
        e->have_now = true;
        e->iteration++;
        collect(e, evs, n);
        watchdog_ping(e);
        r = dispatch(e);
out:
        ev_unref(e);
        return r;
}

int ev_loop_run(ev_loop *e) {
        int r;

        ev_ref(e);
        while (!e->exiting) {
                r = ev_run(e, EV_TIME_INFINITY);
                if (r < 0) {
                        ev_unref(e);
                        return r;
                }
        }
        r = e->exit_code;
        ev_unref(e);
        return r;
}
