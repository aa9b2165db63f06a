/* See bus_ev.h. sd_bus_process() is called until it has nothing left to do, at most BATCH times
 * per wake-up: a burst of signals then yields to the rest of the loop, and the timer, armed at
 * "now" while messages wait, brings the loop back at once. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "bus_ev.h"

#define BATCH 64

struct bus_ev {
        sd_bus *bus;
        ev_source *io, *timer;
        int error;
};

static void stop(bus_ev *b, int r) {
        b->error = r;
        (void) ev_source_set_enabled(b->io, EV_OFF);
        (void) ev_source_set_enabled(b->timer, EV_OFF);
}

static void process(bus_ev *b) {
        for (int i = 0; i < BATCH; i++) {
                int r = sd_bus_process(b->bus, NULL);
                if (r < 0) {
                        stop(b, r);
                        return;
                }
                if (r == 0)
                        return;
        }
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        process(userdata);
        return 0;
}

static int on_time(ev_source *s, uint64_t usec, void *userdata) {
        process(userdata);
        return 0;
}

/* Before every wait: the bus's wishes may have changed with every call made on it since (a
 * queued message to write: POLLOUT; a method call: a deadline). */
static int on_prepare(ev_source *s, void *userdata) {
        bus_ev *b = userdata;
        uint64_t until;
        int events, r;

        events = sd_bus_get_events(b->bus);
        if (events < 0) {
                stop(b, events);
                return 0;
        }
        r = ev_source_set_io_events(b->io, (uint32_t) events & (POLLIN | POLLOUT));
        if (r >= 0)
                r = sd_bus_get_timeout(b->bus, &until);
        if (r > 0) { /* a deadline: absolute, CLOCK_MONOTONIC; 0 is now */
                r = ev_source_set_time(b->timer, until);
                if (r >= 0)
                        r = ev_source_set_enabled(b->timer, EV_ONESHOT);
        } else if (r == 0)
                r = ev_source_set_enabled(b->timer, EV_OFF);
        if (r < 0)
                stop(b, r);
        return 0;
}

int bus_ev_new(bus_ev **ret, ev_loop *e, sd_bus *bus) {
        _cleanup_(bus_ev_freep) bus_ev *b = NULL;
        int fd, r;

        fd = sd_bus_get_fd(bus);
        if (fd < 0)
                return fd;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->bus = bus;
        r = ev_add_io(e, &b->io, fd, 0, on_io, b);
        if (r < 0)
                return r;
        r = ev_source_set_prepare(b->io, on_prepare);
        if (r < 0)
                return r;
        r = ev_add_time(e, &b->timer, CLOCK_MONOTONIC, 0, 0, on_time, b);
        if (r < 0)
                return r;
        r = ev_source_set_enabled(b->timer, EV_OFF); /* the first prepare arms it */
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

bus_ev *bus_ev_free(bus_ev *b) {
        if (!b)
                return NULL;
        b->io = ev_source_disable_unref(b->io);
        b->timer = ev_source_disable_unref(b->timer);
        free(b);
        return NULL;
}

int bus_ev_error(const bus_ev *b) {
        return b->error;
}
