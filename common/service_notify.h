/* systemd's notification protocol (sd_notify(3)), spoken without libsystemd: a datagram to
 * $NOTIFY_SOCKET. Results: > 0 sent, 0 not under systemd (no $NOTIFY_SOCKET), < 0 -errno. */
#pragma once

#include <stdint.h>

#include "macro.h"

int service_notify(const char *state);
_printf_(1, 2) int service_notifyf(const char *fmt, ...);
/* > 0 with the period when systemd asked this process for watchdog pings ($WATCHDOG_USEC, and
 * $WATCHDOG_PID unset or ours), 0 when it did not, -EINVAL when the variables are garbage. */
int service_watchdog_usec(uint64_t *ret);
