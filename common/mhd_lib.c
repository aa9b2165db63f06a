/* See mhd_lib.h. One table of function pointers, filled once by mhd_lib_load(); each forwarder
 * calls through it. Only mhd_lib_load() loads: every other forwarder takes an object that only
 * a loaded library can have made (a daemon, a connection, a response), except the two response
 * constructors, which fail like libmicrohttpd itself (NULL) when it is not loaded. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "dl_table.h"
#include "macro.h"
#include "mhd_lib.h"

#define MHD_SONAME "libmicrohttpd.so.12"

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
        const char *(*get_version)(void);
        struct MHD_Daemon *(*start_daemon_va)(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                              void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls,
                                              va_list ap);
        void (*stop_daemon)(struct MHD_Daemon *daemon);
        const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *daemon,
                                                        enum MHD_DaemonInfoType info_type, ...);
        enum MHD_Result (*get_timeout)(struct MHD_Daemon *daemon, MHD_UNSIGNED_LONG_LONG *timeout);
        enum MHD_Result (*run)(struct MHD_Daemon *daemon);
        enum MHD_Result (*add_connection)(struct MHD_Daemon *daemon, MHD_socket client_socket,
                                          const struct sockaddr *addr, socklen_t addrlen);
        const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *connection,
                                                                enum MHD_ConnectionInfoType info_type, ...);
        struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                             enum MHD_ResponseMemoryMode mode);
        struct MHD_Response *(*create_response_from_buffer_with_free_callback)(size_t size, void *buffer,
                                                                               MHD_ContentReaderFreeCallback crfc);
        enum MHD_Result (*add_response_header)(struct MHD_Response *response, const char *header,
                                               const char *content);
        enum MHD_Result (*queue_response)(struct MHD_Connection *connection, unsigned int status_code,
                                          struct MHD_Response *response);
        void (*destroy_response)(struct MHD_Response *response);
        const char *(*lookup_connection_value)(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                               const char *key);
        void (*suspend_connection)(struct MHD_Connection *connection);
        void (*resume_connection)(struct MHD_Connection *connection);
} lib;

static const dl_symbol symbols[] = {
#define SYM(field, name) { name, offsetof(__typeof__(lib), field) }
        SYM(get_version, "MHD_get_version"),
        SYM(start_daemon_va, "MHD_start_daemon_va"),
        SYM(stop_daemon, "MHD_stop_daemon"),
        SYM(get_daemon_info, "MHD_get_daemon_info"),
        SYM(get_timeout, "MHD_get_timeout"),
        SYM(run, "MHD_run"),
        SYM(add_connection, "MHD_add_connection"),
        SYM(get_connection_info, "MHD_get_connection_info"),
        SYM(create_response_from_buffer, "MHD_create_response_from_buffer"),
        SYM(create_response_from_buffer_with_free_callback, "MHD_create_response_from_buffer_with_free_callback"),
        SYM(add_response_header, "MHD_add_response_header"),
        SYM(queue_response, "MHD_queue_response"),
        SYM(destroy_response, "MHD_destroy_response"),
        SYM(lookup_connection_value, "MHD_lookup_connection_value"),
        SYM(suspend_connection, "MHD_suspend_connection"),
        SYM(resume_connection, "MHD_resume_connection"),
#undef SYM
};

static int load_fail(int r, const char *why) {
        lib.state = r;
        lib.error = why;
        return r;
}

/* "0.9.75" → 0x00097500, the form of MHD_VERSION (each part's decimal digits read as hex
 * digits, one byte per part). 0 when it is not of that form. */
static unsigned long version_number(const char *v) {
        unsigned long n = 0;
        int part = 0;

        while (v && part < 4) {
                unsigned long x;
                char *end;

                if (*v < '0' || *v > '9')
                        return 0;
                x = strtoul(v, &end, 16);
                if (x > 0xff)
                        return 0;
                n |= x << (8 * (3 - part++));
                v = *end == '.' ? end + 1 : NULL;
        }
        return part >= 3 ? n : 0;
}

int mhd_lib_load(void) {
        int r;

        if (lib.state)
                return lib.state > 0 ? 0 : lib.state;
        /* RTLD_NOW: a dependency that is missing fails here, not at the first request. The
         * handle is never closed: a daemon made by the library may outlive any one listener. */
        r = dl_table_load(MHD_SONAME, symbols, ELEMENTSOF(symbols), &lib);
        if (r < 0)
                return load_fail(r, r == -ELIBACC ? "cannot load " MHD_SONAME
                                                  : MHD_SONAME " lacks a function ikeheald calls");
        if (version_number(lib.get_version()) < MHD_VERSION)
                return load_fail(-ENOPKG, MHD_SONAME " is older than the libmicrohttpd ikeheald was built with");
        lib.state = 1;
        return 0;
}

bool mhd_lib_loaded(void) {
        return lib.state > 0;
}

const char *mhd_lib_error(void) {
        return lib.state < 0 ? lib.error : NULL;
}

/* ---- the forwarders ---- */

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...) {
        struct MHD_Daemon *d;
        va_list ap;

        if (mhd_lib_load() < 0) {
                errno = ELIBACC;
                return NULL;
        }
        va_start(ap, dh_cls);
        d = lib.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
        va_end(ap);
        return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon) {
        if (mhd_lib_loaded()) /* a daemon exists only if the library was loaded */
                lib.stop_daemon(daemon);
}

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon, enum MHD_DaemonInfoType info_type, ...) {
        return mhd_lib_loaded() ? lib.get_daemon_info(daemon, info_type) : NULL;
}

enum MHD_Result MHD_get_timeout(struct MHD_Daemon *daemon, MHD_UNSIGNED_LONG_LONG *timeout) {
        return mhd_lib_loaded() ? lib.get_timeout(daemon, timeout) : MHD_NO;
}

enum MHD_Result MHD_run(struct MHD_Daemon *daemon) {
        return mhd_lib_loaded() ? lib.run(daemon) : MHD_NO;
}

enum MHD_Result MHD_add_connection(struct MHD_Daemon *daemon, MHD_socket client_socket,
                                   const struct sockaddr *addr, socklen_t addrlen) {
        return mhd_lib_loaded() ? lib.add_connection(daemon, client_socket, addr, addrlen) : MHD_NO;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *connection,
                                                        enum MHD_ConnectionInfoType info_type, ...) {
        return mhd_lib_loaded() ? lib.get_connection_info(connection, info_type) : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode) {
        return mhd_lib_loaded() ? lib.create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer_with_free_callback(size_t size, void *buffer,
                                                                        MHD_ContentReaderFreeCallback crfc) {
        return mhd_lib_loaded() ? lib.create_response_from_buffer_with_free_callback(size, buffer, crfc) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header, const char *content) {
        return mhd_lib_loaded() ? lib.add_response_header(response, header, content) : MHD_NO;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response) {
        return mhd_lib_loaded() ? lib.queue_response(connection, status_code, response) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response) {
        if (mhd_lib_loaded())
                lib.destroy_response(response);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind, const char *key) {
        return mhd_lib_loaded() ? lib.lookup_connection_value(connection, kind, key) : NULL;
}

void MHD_suspend_connection(struct MHD_Connection *connection) {
        if (mhd_lib_loaded())
                lib.suspend_connection(connection);
}

void MHD_resume_connection(struct MHD_Connection *connection) {
        if (mhd_lib_loaded())
                lib.resume_connection(connection);
}
