/* Telling the service manager how the agent is doing: the sd_notify protocol systemd documents
 * (sd_notify(3)), spoken by this small module instead of linking libsystemd, whose footprint
 * (and that of the libraries it pulls in) every agent would carry for a few datagrams.
 *
 * A message is one datagram of newline-separated "VARIABLE=value" lines (READY=1, RELOADING=1,
 * STOPPING=1, STATUS=…, WATCHDOG=1) sent to the AF_UNIX socket named by $NOTIFY_SOCKET: a path,
 * or an abstract name written with a leading '@'. Outside systemd the variable is unset and
 * every call is a no-op. The environment is read, never changed. */
#pragma once

#include <stdint.h>

#include "macro.h"

/* Sends `state` as one datagram to $NOTIFY_SOCKET: 1 when sent, 0 when $NOTIFY_SOCKET is unset,
 * -EINVAL for an empty state or an address that is neither an absolute path nor '@'-abstract or
 * does not fit sun_path, else the -errno of socket() or sendmsg(). */
int service_notify(const char *state);
int service_notifyf(const char *fmt, ...) _printf_(1, 2);

/* The watchdog period systemd asks for: 1 and *ret (µs) when $WATCHDOG_USEC is a positive decimal
 * number and $WATCHDOG_PID is unset or this process's pid; 0 (ret untouched) when not asked,
 * or asked of another process; -EINVAL when either variable is not a valid number. The caller
 * sends service_notify("WATCHDOG=1") well within the period (systemd's advice: every half). */
int service_watchdog_usec(uint64_t *ret);
