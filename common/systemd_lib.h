/* libsystemd's system bus (sd-bus) and journal reader (sd-journal), loaded the first time one is
 * needed rather than when ikeheald starts.
 *
 * Why: libsystemd brings libgcrypt, libgpg-error, libzstd, liblzma, liblz4 and libcap with it;
 * being merely linked costs every ikeheald their mapping, relocation and constructors at exec
 * (about 1.3 MiB of resident memory), whether it reads a unit over D-Bus or the journal or not.
 * So ikeheald is not linked with libsystemd: it defines the sd_bus_* and sd_journal_* functions
 * the project calls as thin forwarders, and the first call dlopen()s libsystemd.so.0 and resolves
 * them all at once. Callers use the ordinary sd-bus and sd-journal API (the headers stay) and
 * need not know; a bus is driven on the agent's loop by bus_ev.h, not by sd-event.
 *
 * A libsystemd that cannot be loaded or lacks a function (older than the one ikeheald was built
 * for) is refused as a whole: every forwarder then fails as libsystemd itself fails on an object
 * it cannot use (-errno of the load failure, NULL), nothing is called through a missing pointer,
 * and systemd_lib_error() says why. The variadic functions forward through their va_list twins
 * (sd_bus_message_readv, sd_bus_call_method_asyncv). Adding a call to another sd_bus_* or
 * sd_journal_* function means adding its forwarder to systemd_lib.c (the link fails until then). */
#pragma once

#include <stdbool.h>

#define SYSTEMD_SONAME "libsystemd.so.0"

/* Load and resolve libsystemd once; later calls return the first result. 0, or -ELIBACC (cannot
 * be loaded), -ELIBBAD (a function missing). */
int systemd_lib_load(void);
/* The same from another file name, for tests: a library that does not exist, or one that lacks
 * the functions, is refused as SYSTEMD_SONAME would be. Only the first load of a process counts. */
int systemd_lib_load_as(const char *soname);
/* Whether libsystemd is in the process (loaded successfully). */
bool systemd_lib_loaded(void);
/* Why loading failed (a static string), or NULL if it did not fail or was not tried. */
const char *systemd_lib_error(void);
