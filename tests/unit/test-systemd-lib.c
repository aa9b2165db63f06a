/* libsystemd loaded on first use (common/systemd_lib.h): this binary is linked the way ikeheald
 * is (without libsystemd), so libsystemd must be absent from the process until a bus or journal
 * function is called — freeing nothing does not count. A library that cannot be loaded, or lacks
 * the functions, is refused as a whole with the reason, and every forwarder then fails cleanly.
 * The logs check's journal source then says the journal is unavailable and why, and goes on.
 * The real library then loads: the journal reader opens (the logs check's too), and on a
 * private dbus-daemon standing in for the system bus the forwarders hand every argument
 * through — the variadic ones through their va_list twins (several arguments of several types),
 * method errors, and a signal match. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "agent/checks/logs_tail.h"
#include "bus_daemon.h"
#include "ev.h"
#include "now.h"
#include "systemd_lib.h"
#include "lib_test.h"
#include "tap.h"

static void on_line(const char *line, size_t len, void *userdata) {
}

/* The logs check's journal source: unavailable, with the reason, when libsystemd is not. */
static void journal_source(bool expect_open) {
        static char *const units[] = { (char *) "strongswan.service", NULL };
        ev_loop *e = NULL;
        logs_tail *t = NULL;

        CHECK(ev_new(&e) >= 0 && logs_tail_new(&t, e, NULL, units, on_line, NULL) == 0 && t,
              "the logs check's journal source made");
        if (!t) {
                ev_unref(e);
                return;
        }
        if (expect_open)
                CHECK(!logs_tail_journal_unavailable(t) && !logs_tail_journal_reason(t), "the journal opened");
        else
                CHECK(logs_tail_journal_unavailable(t) && logs_tail_journal_reason(t) &&
                              strcmp(logs_tail_journal_reason(t), "cannot load " SYSTEMD_SONAME) == 0,
                      "reported unavailable, with the reason: %s", logs_tail_journal_reason(t) ?: "(none)");
        logs_tail_pump(t);
        logs_tail_free(t);
        ev_unref(e);
}

static void refused_as_missing(void) {
        sd_journal *j = NULL;
        sd_bus *bus = NULL;

        CHECK(systemd_lib_load_as("libsystemd-absent.so.0") == -ELIBACC, "a missing library: -ELIBACC");
        CHECK(!systemd_lib_loaded() && systemd_lib_error() &&
                      strcmp(systemd_lib_error(), "cannot load " SYSTEMD_SONAME) == 0,
              "refused, the reason kept: %s", systemd_lib_error() ?: "(none)");
        CHECK(systemd_lib_load() == -ELIBACC, "later loads return the first result");
        CHECK(sd_bus_open_system(&bus) == -ELIBACC && !bus, "sd_bus_open_system fails with it, no bus");
        CHECK(sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) == -ELIBACC && !j, "sd_journal_open fails with it");
        CHECK(sd_bus_message_read(NULL, "s", NULL) == -ELIBACC, "a variadic forwarder too");
        CHECK(!sd_bus_message_get_error(NULL) && sd_bus_message_get_errno(NULL) == ELIBACC,
              "the message accessors: NULL, a positive errno as libsystemd's");
        CHECK(!sd_bus_slot_unref(NULL) && !sd_bus_flush_close_unref(NULL), "destructors take NULL");
        sd_journal_close(NULL);
        journal_source(false);
        CHECK(!lib_mapped("/libsystemd.so"), "nothing of libsystemd in the process");
}

static void refused_as_incomplete(void) {
        CHECK(systemd_lib_load_as("libc.so.6") == -ELIBBAD, "a library without the functions: -ELIBBAD");
        CHECK(!systemd_lib_loaded() && systemd_lib_error() && strstr(systemd_lib_error(), "lacks a function"),
              "refused, the reason kept: %s", systemd_lib_error() ?: "(none)");
}

/* Process the buses until *done or 5 s, waiting in poll() as sd-bus asks. */
static void pump(sd_bus **buses, size_t n, const bool *done) {
        uint64_t end = mono_usec() + 5 * USEC_PER_SEC;

        while (!*done && mono_usec() < end) {
                struct pollfd p[4];
                for (size_t i = 0; i < n; i++) {
                        while (sd_bus_process(buses[i], NULL) > 0)
                                ;
                        p[i] = (struct pollfd){ .fd = sd_bus_get_fd(buses[i]),
                                                .events = (short) sd_bus_get_events(buses[i]) };
                }
                if (!*done)
                        (void) poll(p, n, 50);
        }
}

typedef struct reply {
        bool done;
        char text[128];
        int b, is_error, err;
} reply;

static int on_id(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        reply *r = userdata;
        const char *s = NULL;

        r->done = true;
        if (sd_bus_message_read(m, "s", &s) >= 0 && s)
                snprintf(r->text, sizeof(r->text), "%s", s);
        return 0;
}

static int on_has_owner(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        reply *r = userdata;

        r->done = true;
        r->b = -1;
        (void) sd_bus_message_read(m, "b", &r->b);
        return 0;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        reply *r = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        r->done = true;
        r->is_error = sd_bus_message_is_method_error(m, "org.freedesktop.DBus.Error.NameHasNoOwner");
        r->err = sd_bus_message_get_errno(m);
        snprintf(r->text, sizeof(r->text), "%s", err && err->name ? err->name : "");
        return 0;
}

static int on_names(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        reply *r = userdata;
        const char *s;
        int k;

        r->done = true;
        if (sd_bus_message_enter_container(m, 'a', "s") <= 0)
                return 0;
        while ((k = sd_bus_message_read(m, "s", &s)) > 0)
                if (strcmp(s, "org.freedesktop.DBus") == 0)
                        r->b = 1;
        r->err = sd_bus_message_exit_container(m);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        reply *r = userdata;
        const char *name, *old, *new;

        /* three string arguments through one variadic read */
        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && name[0] == ':' && !old[0] && new[0] == ':' &&
            strcmp(name, new) == 0) {
                snprintf(r->text, sizeof(r->text), "%s", name);
                r->done = true;
        }
        return 0;
}

static void real_bus(void) {
        const char *why = NULL;
        sd_bus *bus = NULL, *other = NULL, *both[2];
        sd_bus_slot *slot = NULL, *match = NULL;
        bus_daemon d;
        reply r;

        if (bus_daemon_start(&d, &why) < 0) {
                printf("skip the bus part: %s\n", why);
                bus_daemon_stop(&d);
                return;
        }
        CHECK(sd_bus_open_system(&bus) >= 0, "sd_bus_open_system on a private dbus-daemon");
        if (!bus) {
                bus_daemon_stop(&d);
                return;
        }
        r = (reply){ 0 };
        CHECK(sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetId", on_id, &r, "") >= 0,
              "a call with no argument");
        pump(&bus, 1, &r.done);
        CHECK(r.done && strlen(r.text) == 32, "its reply read: the bus id %s", r.text);
        slot = sd_bus_slot_unref(slot);

        r = (reply){ 0 };
        CHECK(sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", on_has_owner, &r, "s",
                                       "org.freedesktop.DBus") >= 0,
              "a call with a string argument");
        pump(&bus, 1, &r.done);
        CHECK(r.done && r.b == 1, "a boolean read back: %d", r.b);
        slot = sd_bus_slot_unref(slot);

        r = (reply){ 0 };
        CHECK(sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner", on_owner, &r, "s",
                                       "org.example.nobody") >= 0,
              "a call that fails");
        pump(&bus, 1, &r.done);
        CHECK(r.done && r.is_error > 0 && r.err > 0 && strcmp(r.text, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0,
              "the method error: is_method_error %d, errno %d, %s", r.is_error, r.err, r.text);
        slot = sd_bus_slot_unref(slot);

        r = (reply){ 0 };
        CHECK(sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "ListNames", on_names, &r, "") >= 0,
              "a call answering an array");
        pump(&bus, 1, &r.done);
        CHECK(r.done && r.b == 1 && r.err >= 0, "the array entered, read and left");
        slot = sd_bus_slot_unref(slot);

        r = (reply){ 0 };
        CHECK(sd_bus_match_signal_async(bus, &match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, NULL,
                                        &r) >= 0,
              "a signal match");
        /* the match is installed once the broker has answered the AddMatch: a round trip */
        {
                reply id = { 0 };
                (void) sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                "org.freedesktop.DBus", "GetId", on_id, &id, "");
                pump(&bus, 1, &id.done);
                slot = sd_bus_slot_unref(slot);
        }
        CHECK(sd_bus_open_system(&other) >= 0, "a second connection");
        both[0] = bus;
        both[1] = other;
        pump(both, 2, &r.done);
        CHECK(r.done && r.text[0] == ':', "its NameOwnerChanged signal received: %s", r.text);
        match = sd_bus_slot_unref(match);
        other = sd_bus_flush_close_unref(other);
        bus = sd_bus_flush_close_unref(bus);
        CHECK(!bus && !other, "both closed");
        bus_daemon_stop(&d);
}

int main(void) {
        sd_journal *j = NULL;

        CHECK(!systemd_lib_loaded() && !systemd_lib_error() && !lib_mapped("/libsystemd.so"),
              "libsystemd is not in the process at start");
        CHECK(lib_in_child(refused_as_missing) == 0, "a missing library is refused (in a child)");
        CHECK(lib_in_child(refused_as_incomplete) == 0, "an incomplete library is refused (in a child)");

        CHECK(!sd_bus_slot_unref(NULL) && !sd_bus_flush_close_unref(NULL), "destructors given NULL");
        sd_journal_close(NULL);
        CHECK(!systemd_lib_loaded() && !lib_mapped("/libsystemd.so"), "freeing nothing does not load it");

        CHECK(sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) >= 0 && j,
              "sd_journal_open loads the real library and opens the journal");
        CHECK(systemd_lib_loaded() && !systemd_lib_error() && lib_mapped("/libsystemd.so"), "loaded and mapped");
        CHECK(systemd_lib_load() == 0, "loading again is a no-op");
        if (j) {
                CHECK(sd_journal_add_match(j, "_SYSTEMD_UNIT=ikeheal-none.service", 0) >= 0 &&
                              sd_journal_add_disjunction(j) >= 0 &&
                              sd_journal_add_match(j, "_SYSTEMD_UNIT=ikeheal-none2.service", 0) >= 0,
                      "matches added");
                CHECK(sd_journal_seek_tail(j) >= 0 && sd_journal_previous(j) >= 0 && sd_journal_next(j) >= 0,
                      "seek to the tail, step");
                CHECK(sd_journal_get_fd(j) >= 0 && sd_journal_get_events(j) > 0 && sd_journal_process(j) >= 0,
                      "its descriptor and events for the loop");
                sd_journal_close(j);
        }
        journal_source(true);
        real_bus();
        return TAP_END();
}
