/* The system bus on the agent's own loop (common/sysbus.h, common/bus_ev.h), against a real
 * dbus-daemon standing in for the system bus: nothing is loaded or connected until the bus is
 * first asked for; a bus that cannot be had is NULL with the reason, told once to the owner, and
 * not tried again at once; one that can is connected once and driven by ev — a call's reply, a
 * burst of replies (more than one wake-up processes), a signal match, and when the broker goes
 * away, the pending call answered with an error and the driver stopped with the reason; a
 * broker that comes back is connected to again at the next ask, as a new generation. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_daemon.h"
#include "lib_test.h"
#include "bus_ev.h"
#include "ev.h"
#include "now.h"
#include "sysbus.h"
#include "systemd_lib.h"
#include "tap.h"

#define BURST 200

typedef struct told {
        int calls, r;
        const char *why;
} told;

static void on_failed(int r, const char *why, void *userdata) {
        told *t = userdata;
        t->calls++;
        t->r = r;
        t->why = why;
}

/* Run the loop until *n reaches want, or 5 s. */
static void run_until(ev_loop *e, const int *n, int want) {
        uint64_t end = mono_usec() + 5 * USEC_PER_SEC;

        while (*n < want && mono_usec() < end)
                (void) ev_run(e, 100 * USEC_PER_MSEC);
}

typedef struct counts {
        int replies, good, errors, signals;
        char error[128], name[64];
} counts;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        counts *c = userdata;
        const char *id = NULL;

        c->replies++;
        if (sd_bus_message_is_method_error(m, NULL) > 0) {
                c->errors++;
                snprintf(c->error, sizeof(c->error), "%s", sd_bus_message_get_error(m)->name);
        } else if (sd_bus_message_read(m, "s", &id) >= 0 && id && strlen(id) == 32)
                c->good++;
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        counts *c = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && name[0] == ':' && !old[0]) {
                c->signals++;
                snprintf(c->name, sizeof(c->name), "%s", name);
        }
        return 0;
}

static int call_id(sd_bus *bus, sd_bus_slot **slot, counts *c) {
        return sd_bus_call_method_async(bus, slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetId", on_reply, c, "");
}

int main(void) {
        static sd_bus_slot *burst[BURST];
        const char *why = NULL;
        char name[64];
        ev_loop *e = NULL;
        sysbus *b = NULL, *none = NULL;
        sd_bus *bus, *other = NULL;
        sd_bus_slot *slot = NULL, *match = NULL, *hang = NULL;
        bus_ev *driver = NULL;
        bus_daemon d;
        told t = { 0 };
        counts c = { 0 };
        uint64_t t0;
        int r;

        CHECK(ev_new(&e) >= 0, "ev_new");
        CHECK(sysbus_new(&none, e, on_failed, &t) == 0 && sysbus_error(none) == 0 && !sysbus_reason(none),
              "a sysbus made: no error yet");
        CHECK(!systemd_lib_loaded() && !lib_mapped("/libsystemd.so"), "nothing loaded by making it");
        CHECK(!sysbus_get(NULL), "no sysbus: no bus");

        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/ikeheal-test-bus", 1);
        CHECK(!sysbus_get(none), "no broker: NULL");
        r = sysbus_error(none);
        why = sysbus_reason(none);
        CHECK(r < 0 && why && strcmp(why, "cannot connect to the system bus") == 0, "the reason kept: %s (%s)",
              why ?: "(none)", strerror(-r));
        CHECK(t.calls == 1 && t.r == r && t.why == why, "the owner told once");

        if (bus_daemon_start(&d, &why) < 0) {
                printf("skip the rest: %s\n", why);
                bus_daemon_stop(&d);
                none = sysbus_free(none);
                ev_unref(e);
                return TAP_END();
        }
        CHECK(!sysbus_get(none) && t.calls == 1, "a broker now, but not tried again at once, not told again");
        none = sysbus_free(none);

        CHECK(sysbus_new(&b, e, on_failed, &t) == 0, "another sysbus");
        bus = sysbus_get(b);
        CHECK(bus && sysbus_get(b) == bus && sysbus_error(b) == 0 && t.calls == 1,
              "connected on first need, the same bus after");
        if (!bus)
                goto out;

        CHECK(call_id(bus, &slot, &c) >= 0, "a call");
        run_until(e, &c.replies, 1);
        CHECK(c.good == 1, "its reply, driven by ev");
        slot = sd_bus_slot_unref(slot);

        c = (counts){ 0 };
        t0 = mono_usec();
        for (int i = 0; i < BURST; i++)
                (void) call_id(bus, &burst[i], &c);
        run_until(e, &c.replies, BURST);
        CHECK(c.good == BURST, "a burst of %d calls all answered: %d", BURST, c.good);
        printf("figure: %d D-Bus round trips on ev in %.1f ms\n", BURST, (double) (mono_usec() - t0) / 1000.0);
        for (int i = 0; i < BURST; i++)
                burst[i] = sd_bus_slot_unref(burst[i]);

        c = (counts){ 0 };
        CHECK(sd_bus_match_signal_async(bus, &match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, NULL,
                                        &c) >= 0,
              "a signal match");
        (void) call_id(bus, &slot, &c); /* the broker has the match once this is answered */
        run_until(e, &c.replies, 1);
        slot = sd_bus_slot_unref(slot);
        CHECK(sd_bus_open_system(&other) >= 0 && bus_ev_new(&driver, e, other) == 0,
              "a second connection, on its own driver");
        run_until(e, &c.signals, 1);
        CHECK(c.signals >= 1, "its NameOwnerChanged received on the first: %s", c.name);

        /* a call to the second connection, which it does not answer (nothing of its own is
         * driven now), then the broker goes away */
        driver = bus_ev_free(driver);
        snprintf(name, sizeof(name), "%s", c.name);
        c = (counts){ 0 };
        CHECK(sd_bus_call_method_async(bus, &hang, name, "/", "org.example.Nothing", "Wait", on_reply, &c, "") >= 0,
              "a call in flight");
        (void) ev_run(e, 10 * USEC_PER_MSEC);
        CHECK(c.replies == 0, "not answered");
        kill(d.pid, SIGKILL);
        kill(d.pid, SIGKILL);
        run_until(e, &c.replies, 1);
        CHECK(c.replies == 1 && c.errors == 1, "the broker gone: the pending call answered with an error (%s)",
              c.error);
        CHECK(bus_ev_new(&driver, e, other) == 0, "the second connection driven again");
        for (uint64_t end = mono_usec() + 5 * USEC_PER_SEC; bus_ev_error(driver) == 0 && mono_usec() < end;)
                (void) ev_run(e, 100 * USEC_PER_MSEC);
        CHECK(bus_ev_error(driver) < 0, "its driver stopped with the reason: %s", strerror(-bus_ev_error(driver)));
        CHECK(ev_run(e, 0) >= 0, "the loop turns on");

        /* the broker restarted (an upgrade): the closed connection is dropped at the next ask and
         * a new one made at once, as a new generation; a call on it is answered */
        bus_daemon_stop(&d);
        CHECK(sysbus_generation(b) == 1, "one connection so far");
        if (bus_daemon_start(&d, &why) < 0) {
                printf("skip the restart: %s\n", why);
                goto out;
        }
        {
                sd_bus *again = sysbus_get(b);
                CHECK(again && sd_bus_is_open(again) > 0 && sysbus_generation(b) == 2 && sysbus_error(b) == 0,
                      "the broker back: connected again at the next ask (generation %u)", sysbus_generation(b));
                c = (counts){ 0 };
                if (again && call_id(again, &slot, &c) >= 0)
                        run_until(e, &c.replies, 1);
                CHECK(c.good == 1, "a call on the new connection answered");
                slot = sd_bus_slot_unref(slot);
                CHECK(sysbus_get(b) == again && sysbus_generation(b) == 2, "and kept while it is open");
        }

out:
        hang = sd_bus_slot_unref(hang);
        match = sd_bus_slot_unref(match);
        driver = bus_ev_free(driver);
        other = sd_bus_flush_close_unref(other);
        b = sysbus_free(b);
        bus_daemon_stop(&d);
        ev_unref(e);
        return TAP_END();
}
