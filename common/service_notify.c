/* See service_notify.h. A socket is opened, used and closed per message: messages are rare (a
 * state change, a watchdog ping every few seconds), and an unconnected socket of our own never
 * goes stale when the service manager re-creates its socket. The parsed address is kept while
 * $NOTIFY_SOCKET holds the same text, so a ping only compares a string before sending.
 *
 * The send blocks as sd_notify(3)'s does: the service manager reads its socket promptly, and a
 * READY=1 or STOPPING=1 must not be dropped because its queue was momentarily full. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service_notify.h"

/* The last $NOTIFY_SOCKET seen and the address made of it. */
static struct {
        char text[sizeof(((struct sockaddr_un *) NULL)->sun_path) + 1];
        struct sockaddr_un sa;
        socklen_t len;
} notify_addr;

static int notify_addr_set(const char *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(e);
        socklen_t len;

        if (e[0] == '/') {
                /* room for the terminating NUL, which the kernel accepts either way */
                if (l >= sizeof(sa.sun_path))
                        return -EINVAL;
                memcpy(sa.sun_path, e, l);
                len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
        } else if (e[0] == '@' && l > 1) {
                /* abstract: every byte of the length is the name, no terminator */
                if (l > sizeof(sa.sun_path))
                        return -EINVAL;
                sa.sun_path[0] = '\0';
                memcpy(sa.sun_path + 1, e + 1, l - 1);
                len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l);
        } else
                return -EINVAL;

        memcpy(notify_addr.text, e, l + 1);
        notify_addr.sa = sa;
        notify_addr.len = len;
        return 0;
}

int service_notify(const char *state) {
        const char *e = getenv("NOTIFY_SOCKET");
        struct iovec iov;
        struct msghdr mh = {};
        ssize_t n;
        int fd, r;

        if (!e)
                return 0;
        if (!state || !state[0])
                return -EINVAL;
        if (notify_addr.len == 0 || strcmp(notify_addr.text, e) != 0) {
                notify_addr.len = 0;
                r = notify_addr_set(e);
                if (r < 0)
                        return r;
        }

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        iov = (struct iovec){ (void *) state, strlen(state) };
        mh.msg_name = &notify_addr.sa;
        mh.msg_namelen = notify_addr.len;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        r = n < 0 ? -errno : (size_t) n != iov.iov_len ? -EMSGSIZE : 1;
        (void) close(fd);
        return r;
}

int service_notifyf(const char *fmt, ...) {
        _cleanup_(freep) char *s = NULL;
        va_list ap;
        int k;

        if (!getenv("NOTIFY_SOCKET"))
                return 0;
        va_start(ap, fmt);
        k = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (k < 0) {
                s = NULL;
                return -ENOMEM;
        }
        return service_notify(s);
}

/* A decimal number, digits only (no sign, no blanks), that fits `max`. */
static int parse_decimal(const char *s, unsigned long long max, unsigned long long *ret) {
        unsigned long long v = 0;

        if (!s[0])
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (max - (unsigned) (*s - '0')) / 10)
                        return -EINVAL;
                v = v * 10 + (unsigned) (*s - '0');
        }
        *ret = v;
        return 0;
}

int service_watchdog_usec(uint64_t *ret) {
        const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
        unsigned long long usec, pid;
        int r;

        if (!u)
                return 0;
        /* UINT64_MAX is systemd's "infinity", never a period */
        r = parse_decimal(u, UINT64_MAX - 1, &usec);
        if (r < 0)
                return r;
        if (usec == 0)
                return -EINVAL;
        if (p) {
                r = parse_decimal(p, INT_MAX, &pid);
                if (r < 0)
                        return r;
                if (pid == 0)
                        return -EINVAL;
                /* the variables were meant for another process (inherited from a parent) */
                if ((pid_t) pid != getpid())
                        return 0;
        }
        *ret = usec;
        return 1;
}
