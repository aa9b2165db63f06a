/* service-notify: speak the sd_notify protocol with common/service_notify.h, for the integration
 * tests (a real PID 1 must take what the unit test's own socket took). Sends
 * "STATUS=watchdog N" with the period service_watchdog_usec() read (or "none", or its error),
 * then each argument as one message; with --wait, stays until a signal ends it, as a
 * Type=notify service's main process does.
 *
 *   service-notify [--wait] STATE…
 *
 * Exit: 0 every message sent (or $NOTIFY_SOCKET unset), 1 a send failed (the error on stderr). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service_notify.h"

int main(int argc, char **argv) {
        int wait = argc > 1 && strcmp(argv[1], "--wait") == 0;
        uint64_t usec = 0;
        int r, w;

        w = service_watchdog_usec(&usec);
        r = w > 0 ? service_notifyf("STATUS=watchdog %llu", (unsigned long long) usec)
                  : service_notifyf("STATUS=watchdog %s", w == 0 ? "none" : strerror(-w));
        for (int i = 1 + wait; r >= 0 && i < argc; i++)
                r = service_notify(argv[i]);
        if (r < 0) {
                fprintf(stderr, "service-notify: %s\n", strerror(-r));
                return 1;
        }
        while (wait)
                pause();
        return 0;
}
