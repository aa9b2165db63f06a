/* See service_notify.h. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service_notify.h"

int service_notify(const char *state) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len;
        int fd, r = 1;

        if (!path || !*path)
                return 0;
        len = strlen(path);
        if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, len);
        if (path[0] == '@')
                sa.sun_path[0] = 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'))) < 0)
                r = -errno;
        close(fd);
        return r;
}

int service_notifyf(const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -EINVAL;
        return service_notify(buf);
}

int service_watchdog_usec(uint64_t *ret) {
        const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        char *end;

        if (!usec)
                return 0;
        if (pid) {
                errno = 0;
                unsigned long p = strtoul(pid, &end, 10);
                if (errno || end == pid || *end)
                        return -EINVAL;
                if ((pid_t) p != getpid())
                        return 0;
        }
        errno = 0;
        unsigned long long u = strtoull(usec, &end, 10);
        if (errno || end == usec || *end || u == 0)
                return -EINVAL;
        *ret = u;
        return 1;
}
