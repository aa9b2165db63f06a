/* The system bus, connected the first time a caller needs it rather than when ikeheald starts:
 * a gateway whose checks and runbooks never ask systemd anything over D-Bus never loads
 * libsystemd (common/systemd_lib.h) nor connects. The first sysbus_get() loads libsystemd, opens
 * the system bus and drives it on the loop (common/bus_ev.h); later calls return the same bus.
 * Where that fails, sysbus_get() returns NULL, keeps the reason (sysbus_error()) and does not
 * try again until SYSBUS_RETRY_USEC have passed (a bus broker that starts after ikeheald is found
 * then; a libsystemd that cannot be loaded stays refused). A connection the broker closed — a
 * dbus-daemon restarted by an upgrade, say — is dropped at the next sysbus_get(), which connects
 * again at once (then, failing, every SYSBUS_RETRY_USEC); matches made on the old connection are
 * dead, so their owners compare sysbus_generation() and make them again. The owner may be told
 * of the first failure, to say so once (this module does not log).
 *
 * Errors are -errno. */
#pragma once

#include <systemd/sd-bus.h>

#include "ev.h"
#include "macro.h"

#define SYSBUS_RETRY_USEC (10 * USEC_PER_SEC)

typedef struct sysbus sysbus;
/* The bus could not be had, the first time: r is -errno, why a static string. */
typedef void (*sysbus_failed_cb)(int r, const char *why, void *userdata);

/* Nothing is loaded or connected here. cb may be NULL. */
int sysbus_new(sysbus **ret, ev_loop *e, sysbus_failed_cb cb, void *userdata);
/* Flushes what is queued on the bus and closes it; a slot still held on it sees a closed bus
 * (its owner unrefs it as usual). */
sysbus *sysbus_free(sysbus *b);
DEFINE_FREE_FUNC(sysbus, sysbus_free);

/* The connected bus, connecting on the first call; NULL if it cannot be had now (b may be NULL:
 * no bus here). */
sd_bus *sysbus_get(sysbus *b);
/* How many connections were made: a match made on an earlier one is dead. 0 for b NULL. */
unsigned sysbus_generation(const sysbus *b);
/* 0 if the bus was had or not yet asked for; else the last attempt's -errno. */
int sysbus_error(const sysbus *b);
/* Which step of the last attempt failed (a static string), or NULL if it did not fail. */
const char *sysbus_reason(const sysbus *b);
