/* See systemd_lib.h. One table of function pointers, filled once by systemd_lib_load(); each
 * forwarder makes sure the library is loaded and then calls through the table. A forwarder given
 * an object loads too rather than assuming an object implies a loaded library: the answer is the
 * same, and it stays right in a process that is also linked with libsystemd, where libsystemd's
 * own calls between its public functions may land here before anything of ours loaded it. Only
 * the destructors given NULL return at once, so that freeing nothing never maps the library. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "dl_table.h"
#include "macro.h"
#include "systemd_lib.h"

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
        int (*bus_open_system)(sd_bus **ret);
        sd_bus *(*bus_flush_close_unref)(sd_bus *bus);
        int (*bus_get_fd)(sd_bus *bus);
        int (*bus_get_events)(sd_bus *bus);
        int (*bus_get_timeout)(sd_bus *bus, uint64_t *timeout_usec);
        int (*bus_is_open)(sd_bus *bus);
        sd_bus *(*bus_ref)(sd_bus *bus);
        sd_bus *(*bus_unref)(sd_bus *bus);
        int (*bus_process)(sd_bus *bus, sd_bus_message **r);
        int (*bus_call_method_asyncv)(sd_bus *bus, sd_bus_slot **slot, const char *destination, const char *path,
                                      const char *interface, const char *member, sd_bus_message_handler_t callback,
                                      void *userdata, const char *types, va_list ap);
        int (*bus_match_signal_async)(sd_bus *bus, sd_bus_slot **ret, const char *sender, const char *path,
                                      const char *interface, const char *member,
                                      sd_bus_message_handler_t match_callback,
                                      sd_bus_message_handler_t add_callback, void *userdata);
        sd_bus_slot *(*bus_slot_unref)(sd_bus_slot *slot);
        int (*bus_message_readv)(sd_bus_message *m, const char *types, va_list ap);
        int (*bus_message_skip)(sd_bus_message *m, const char *types);
        int (*bus_message_enter_container)(sd_bus_message *m, char type, const char *contents);
        int (*bus_message_exit_container)(sd_bus_message *m);
        const sd_bus_error *(*bus_message_get_error)(sd_bus_message *m);
        int (*bus_message_get_errno)(sd_bus_message *m);
        int (*bus_message_is_method_error)(sd_bus_message *m, const char *name);
        int (*journal_open)(sd_journal **ret, int flags);
        void (*journal_close)(sd_journal *j);
        int (*journal_add_match)(sd_journal *j, const void *data, size_t size);
        int (*journal_add_disjunction)(sd_journal *j);
        int (*journal_seek_tail)(sd_journal *j);
        int (*journal_previous)(sd_journal *j);
        int (*journal_next)(sd_journal *j);
        int (*journal_get_data)(sd_journal *j, const char *field, const void **data, size_t *l);
        int (*journal_get_fd)(sd_journal *j);
        int (*journal_get_events)(sd_journal *j);
        int (*journal_process)(sd_journal *j);
} lib;

static const dl_symbol symbols[] = {
#define SYM(field, name) { name, offsetof(__typeof__(lib), field) }
        SYM(bus_open_system, "sd_bus_open_system"),
        SYM(bus_flush_close_unref, "sd_bus_flush_close_unref"),
        SYM(bus_get_fd, "sd_bus_get_fd"),
        SYM(bus_get_events, "sd_bus_get_events"),
        SYM(bus_get_timeout, "sd_bus_get_timeout"),
        SYM(bus_is_open, "sd_bus_is_open"),
        SYM(bus_ref, "sd_bus_ref"),
        SYM(bus_unref, "sd_bus_unref"),
        SYM(bus_process, "sd_bus_process"),
        SYM(bus_call_method_asyncv, "sd_bus_call_method_asyncv"),
        SYM(bus_match_signal_async, "sd_bus_match_signal_async"),
        SYM(bus_slot_unref, "sd_bus_slot_unref"),
        SYM(bus_message_readv, "sd_bus_message_readv"),
        SYM(bus_message_skip, "sd_bus_message_skip"),
        SYM(bus_message_enter_container, "sd_bus_message_enter_container"),
        SYM(bus_message_exit_container, "sd_bus_message_exit_container"),
        SYM(bus_message_get_error, "sd_bus_message_get_error"),
        SYM(bus_message_get_errno, "sd_bus_message_get_errno"),
        SYM(bus_message_is_method_error, "sd_bus_message_is_method_error"),
        SYM(journal_open, "sd_journal_open"),
        SYM(journal_close, "sd_journal_close"),
        SYM(journal_add_match, "sd_journal_add_match"),
        SYM(journal_add_disjunction, "sd_journal_add_disjunction"),
        SYM(journal_seek_tail, "sd_journal_seek_tail"),
        SYM(journal_previous, "sd_journal_previous"),
        SYM(journal_next, "sd_journal_next"),
        SYM(journal_get_data, "sd_journal_get_data"),
        SYM(journal_get_fd, "sd_journal_get_fd"),
        SYM(journal_get_events, "sd_journal_get_events"),
        SYM(journal_process, "sd_journal_process"),
#undef SYM
};

static int load_fail(int r, const char *why) {
        lib.state = r;
        lib.error = why;
        return r;
}

int systemd_lib_load_as(const char *soname) {
        int r;

        if (lib.state)
                return lib.state > 0 ? 0 : lib.state;
        /* RTLD_NOW: a dependency of libsystemd that is missing fails here, not mid-call. The
         * handle is never closed: buses and journals made by the library live until the end. */
        r = dl_table_load(soname, symbols, ELEMENTSOF(symbols), &lib);
        if (r < 0)
                return load_fail(r, r == -ELIBACC ? "cannot load " SYSTEMD_SONAME
                                                  : SYSTEMD_SONAME " lacks a function ikeheald calls");
        lib.state = 1;
        return 0;
}

int systemd_lib_load(void) {
        return systemd_lib_load_as(SYSTEMD_SONAME);
}

bool systemd_lib_loaded(void) {
        return lib.state > 0;
}

const char *systemd_lib_error(void) {
        return lib.state < 0 ? lib.error : NULL;
}

/* ---- sd-bus ---- */

int sd_bus_open_system(sd_bus **ret) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_open_system(ret);
}

sd_bus *sd_bus_flush_close_unref(sd_bus *bus) {
        if (!bus || systemd_lib_load() < 0)
                return NULL;
        return lib.bus_flush_close_unref(bus);
}

int sd_bus_get_fd(sd_bus *bus) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_get_fd(bus);
}

int sd_bus_get_events(sd_bus *bus) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_get_events(bus);
}

int sd_bus_get_timeout(sd_bus *bus, uint64_t *timeout_usec) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_get_timeout(bus, timeout_usec);
}

int sd_bus_is_open(sd_bus *bus) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_is_open(bus);
}

sd_bus *sd_bus_ref(sd_bus *bus) {
        if (!bus || systemd_lib_load() < 0)
                return NULL;
        return lib.bus_ref(bus);
}

sd_bus *sd_bus_unref(sd_bus *bus) {
        if (!bus || systemd_lib_load() < 0)
                return NULL;
        return lib.bus_unref(bus);
}

int sd_bus_process(sd_bus *bus, sd_bus_message **ret) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_process(bus, ret);
}

int sd_bus_call_method_async(sd_bus *bus, sd_bus_slot **slot, const char *destination, const char *path,
                             const char *interface, const char *member, sd_bus_message_handler_t callback,
                             void *userdata, const char *types, ...) {
        va_list ap;
        int r = systemd_lib_load();

        if (r < 0)
                return r;
        va_start(ap, types);
        r = lib.bus_call_method_asyncv(bus, slot, destination, path, interface, member, callback, userdata, types,
                                       ap);
        va_end(ap);
        return r;
}

int sd_bus_match_signal_async(sd_bus *bus, sd_bus_slot **ret, const char *sender, const char *path,
                              const char *interface, const char *member, sd_bus_message_handler_t match_callback,
                              sd_bus_message_handler_t add_callback, void *userdata) {
        int r = systemd_lib_load();
        return r < 0 ? r
                     : lib.bus_match_signal_async(bus, ret, sender, path, interface, member, match_callback,
                                                  add_callback, userdata);
}

sd_bus_slot *sd_bus_slot_unref(sd_bus_slot *slot) {
        if (!slot || systemd_lib_load() < 0)
                return NULL;
        return lib.bus_slot_unref(slot);
}

int sd_bus_message_read(sd_bus_message *m, const char *types, ...) {
        va_list ap;
        int r = systemd_lib_load();

        if (r < 0)
                return r;
        va_start(ap, types);
        r = lib.bus_message_readv(m, types, ap);
        va_end(ap);
        return r;
}

int sd_bus_message_skip(sd_bus_message *m, const char *types) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_message_skip(m, types);
}

int sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_message_enter_container(m, type, contents);
}

int sd_bus_message_exit_container(sd_bus_message *m) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_message_exit_container(m);
}

const sd_bus_error *sd_bus_message_get_error(sd_bus_message *m) {
        return systemd_lib_load() < 0 ? NULL : lib.bus_message_get_error(m);
}

int sd_bus_message_get_errno(sd_bus_message *m) {
        int r = systemd_lib_load();
        return r < 0 ? -r : lib.bus_message_get_errno(m); /* a positive errno, as libsystemd's */
}

int sd_bus_message_is_method_error(sd_bus_message *m, const char *name) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.bus_message_is_method_error(m, name);
}

/* ---- sd-journal (the reader) ---- */

int sd_journal_open(sd_journal **ret, int flags) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_open(ret, flags);
}

void sd_journal_close(sd_journal *j) {
        if (j && systemd_lib_load() >= 0)
                lib.journal_close(j);
}

int sd_journal_add_match(sd_journal *j, const void *data, size_t size) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_add_match(j, data, size);
}

int sd_journal_add_disjunction(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_add_disjunction(j);
}

int sd_journal_seek_tail(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_seek_tail(j);
}

int sd_journal_previous(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_previous(j);
}

int sd_journal_next(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_next(j);
}

int sd_journal_get_data(sd_journal *j, const char *field, const void **data, size_t *l) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_get_data(j, field, data, l);
}

int sd_journal_get_fd(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_get_fd(j);
}

int sd_journal_get_events(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_get_events(j);
}

int sd_journal_process(sd_journal *j) {
        int r = systemd_lib_load();
        return r < 0 ? r : lib.journal_process(j);
}
