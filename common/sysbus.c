/* See sysbus.h. */
#include <errno.h>
#include <stdlib.h>

#include "bus_ev.h"
#include "now.h"
#include "systemd_lib.h"
#include "sysbus.h"

struct sysbus {
        ev_loop *event;
        sd_bus *bus;
        bus_ev *driver;
        sysbus_failed_cb failed_cb;
        void *userdata;
        int error;
        const char *why;
        uint64_t retry_usec; /* CLOCK_MONOTONIC: no attempt before */
        unsigned generation; /* connections made */
        bool told;
};

int sysbus_new(sysbus **ret, ev_loop *e, sysbus_failed_cb cb, void *userdata) {
        sysbus *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        b->event = ev_ref(e);
        b->failed_cb = cb;
        b->userdata = userdata;
        *ret = b;
        return 0;
}

sysbus *sysbus_free(sysbus *b) {
        if (!b)
                return NULL;
        b->driver = bus_ev_free(b->driver);
        b->bus = sd_bus_flush_close_unref(b->bus);
        ev_unref(b->event);
        free(b);
        return NULL;
}

static int connect_bus(sysbus *b) {
        int r = systemd_lib_load();

        if (r < 0) {
                b->why = systemd_lib_error();
                return r;
        }
        r = sd_bus_open_system(&b->bus);
        if (r < 0) {
                b->why = "cannot connect to the system bus";
                return r;
        }
        r = bus_ev_new(&b->driver, b->event, b->bus);
        if (r < 0) {
                b->bus = sd_bus_flush_close_unref(b->bus);
                b->why = "cannot drive the system bus on the event loop";
                return r;
        }
        b->generation++;
        return 0;
}

/* A connection the broker closed (it restarted, or went away) is dropped: its calls fail, its
 * matches are dead. Holders of its slots keep it alive until they let go. */
static bool drop_closed(sysbus *b) {
        if (!b->bus || (bus_ev_error(b->driver) == 0 && sd_bus_is_open(b->bus) > 0))
                return false;
        b->driver = bus_ev_free(b->driver);
        b->bus = sd_bus_flush_close_unref(b->bus);
        return true;
}

sd_bus *sysbus_get(sysbus *b) {
        uint64_t now;
        int r;

        if (!b)
                return NULL;
        now = mono_usec();
        if (drop_closed(b)) {
                /* once at once: a broker that restarted is back already, as a rule */
                b->error = -ECONNRESET;
                b->why = "the system bus connection was closed";
                b->retry_usec = now;
        }
        if (b->bus)
                return b->bus;
        if (b->error && now < b->retry_usec)
                return NULL;
        r = connect_bus(b);
        if (r >= 0) {
                b->error = 0;
                b->why = NULL;
                b->told = false; /* a later loss is said again, once */
                return b->bus;
        }
        b->error = r;
        b->retry_usec = now + SYSBUS_RETRY_USEC;
        if (!b->told) {
                b->told = true;
                if (b->failed_cb)
                        b->failed_cb(r, b->why, b->userdata);
        }
        return NULL;
}

unsigned sysbus_generation(const sysbus *b) {
        return b ? b->generation : 0;
}

int sysbus_error(const sysbus *b) {
        return b->error;
}

const char *sysbus_reason(const sysbus *b) {
        return b->error ? b->why : NULL;
}
