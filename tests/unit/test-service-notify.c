/* The sd_notify protocol against real AF_UNIX datagram sockets this test binds: a path socket
 * and an abstract one (reached only through the exact address length), the message arriving
 * byte for byte, the address following $NOTIFY_SOCKET when it changes, bad addresses refused,
 * no descriptor left behind, and $WATCHDOG_USEC / $WATCHDOG_PID read as systemd means them. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "service_notify.h"
#include "tap.h"

static char dir[] = "/tmp/ikh-notify-XXXXXX";

/* a datagram socket bound at `path` ("@name" for an abstract one, its exact length) */
static int bind_dgram(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(path);
        socklen_t len;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        memcpy(sa.sun_path, path, l);
        if (path[0] == '@') {
                sa.sun_path[0] = '\0';
                len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l);
        } else
                len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
        if (bind(fd, (struct sockaddr *) &sa, len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* the next datagram on fd, NUL-terminated; its length, or -errno (-EAGAIN: none waiting) */
static ssize_t recv_one(int fd, char *buf, size_t size) {
        ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return n;
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_notify(void) {
        char path[256], path2[256], abs_name[64], buf[4096];
        int fd, fd2, afd, fds;
        ssize_t n;

        (void) unsetenv("NOTIFY_SOCKET");
        CHECK(service_notify("READY=1") == 0, "not under systemd ($NOTIFY_SOCKET unset): a no-op, 0");
        CHECK(service_notifyf("STATUS=%d", 1) == 0, "service_notifyf too");

        snprintf(path, sizeof(path), "%s/notify", dir);
        fd = bind_dgram(path);
        CHECK(fd >= 0, "bound %s", path);
        setenv("NOTIFY_SOCKET", path, 1);
        fds = count_fds();
        CHECK(service_notify("READY=1\nSTATUS=running") == 1, "path socket: sent, 1");
        n = recv_one(fd, buf, sizeof(buf));
        CHECK(n == 22 && strcmp(buf, "READY=1\nSTATUS=running") == 0, "the datagram is the state, byte for byte (%zd)", n);
        CHECK(recv_one(fd, buf, sizeof(buf)) == -EAGAIN, "one datagram per call");
        CHECK(service_notifyf("STATUS=%s %d", "checks", 42) == 1, "service_notifyf: sent");
        n = recv_one(fd, buf, sizeof(buf));
        CHECK(n > 0 && strcmp(buf, "STATUS=checks 42") == 0, "formatted: '%s'", n > 0 ? buf : "");
        CHECK(count_fds() == fds, "no descriptor kept or leaked (%d before and after)", fds);
        CHECK(getenv("NOTIFY_SOCKET") && strcmp(getenv("NOTIFY_SOCKET"), path) == 0, "$NOTIFY_SOCKET left as it was");
        CHECK(service_notify("") == -EINVAL && service_notify(NULL) == -EINVAL, "an empty state refused, -EINVAL");

        /* the address follows the variable when it changes */
        snprintf(path2, sizeof(path2), "%s/notify2", dir);
        fd2 = bind_dgram(path2);
        setenv("NOTIFY_SOCKET", path2, 1);
        CHECK(service_notify("WATCHDOG=1") == 1, "sent to a second path");
        CHECK(recv_one(fd2, buf, sizeof(buf)) == 10 && strcmp(buf, "WATCHDOG=1") == 0, "arrived at the second socket");
        CHECK(recv_one(fd, buf, sizeof(buf)) == -EAGAIN, "not at the first");

        /* abstract: '@' is a leading NUL, and the name is exactly the bytes after it */
        snprintf(abs_name, sizeof(abs_name), "@ikh-notify-test-%d", (int) getpid());
        afd = bind_dgram(abs_name);
        CHECK(afd >= 0, "bound abstract %s", abs_name);
        setenv("NOTIFY_SOCKET", abs_name, 1);
        CHECK(service_notify("STOPPING=1") == 1, "abstract socket: sent, 1");
        CHECK(recv_one(afd, buf, sizeof(buf)) == 10 && strcmp(buf, "STOPPING=1") == 0, "arrived at the abstract socket");

        /* refused addresses, nothing sent */
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        setenv("NOTIFY_SOCKET", longp, 1);
        CHECK(service_notify("READY=1") == -EINVAL, "a path longer than sun_path: -EINVAL");
        longp[0] = '@';
        CHECK(service_notify("READY=1") == -EINVAL, "an abstract name longer than sun_path: -EINVAL");
        /* the boundary: 107 bytes and the NUL fit sun_path[108], 108 do not */
        char edge[109];
        memset(edge, 'e', 108);
        edge[0] = '/';
        edge[107] = '\0';
        setenv("NOTIFY_SOCKET", edge, 1);
        int e107 = service_notify("READY=1");
        CHECK(e107 == -ENOENT, "a 107-byte path is taken (nothing there: -ENOENT, %d)", e107);
        edge[107] = 'e';
        edge[108] = '\0';
        setenv("NOTIFY_SOCKET", edge, 1);
        CHECK(service_notify("READY=1") == -EINVAL, "a 108-byte path: -EINVAL");
        setenv("NOTIFY_SOCKET", "relative/notify", 1);
        CHECK(service_notify("READY=1") == -EINVAL, "a relative path: -EINVAL");
        setenv("NOTIFY_SOCKET", "@", 1);
        CHECK(service_notify("READY=1") == -EINVAL, "an empty abstract name: -EINVAL");
        setenv("NOTIFY_SOCKET", path, 1);
        CHECK(service_notify("READY=1") == 1, "back to a good path after bad ones");
        CHECK(recv_one(fd, buf, sizeof(buf)) == 7, "arrived");
        close(fd);
        unlink(path);
        fds = count_fds();
        int r = service_notify("READY=1");
        CHECK(r == -ENOENT || r == -ECONNREFUSED, "socket gone: -errno of the send (%d)", r);
        CHECK(count_fds() == fds, "no descriptor leaked after errors");
        close(fd2);
        close(afd);
        unlink(path2);
        (void) unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog(void) {
        char pid[32], other[32];
        uint64_t u = 7;

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        snprintf(other, sizeof(other), "%d", (int) getpid() + 1);
        (void) unsetenv("WATCHDOG_PID");
        (void) unsetenv("WATCHDOG_USEC");
        CHECK(service_watchdog_usec(&u) == 0 && u == 7, "no $WATCHDOG_USEC: 0, ret untouched");
        setenv("WATCHDOG_USEC", "2000000", 1);
        CHECK(service_watchdog_usec(&u) == 1 && u == 2000000, "WATCHDOG_USEC=2000000, no pid: 1, %llu µs", (unsigned long long) u);
        setenv("WATCHDOG_USEC", "30000000", 1);
        setenv("WATCHDOG_PID", pid, 1);
        CHECK(service_watchdog_usec(&u) == 1 && u == 30000000, "WATCHDOG_PID is ours: 1, %llu µs", (unsigned long long) u);
        u = 7;
        setenv("WATCHDOG_PID", other, 1);
        CHECK(service_watchdog_usec(&u) == 0 && u == 7, "WATCHDOG_PID of another process: 0, ret untouched");
        setenv("WATCHDOG_PID", "12x", 1);
        CHECK(service_watchdog_usec(&u) == -EINVAL, "WATCHDOG_PID garbage: -EINVAL");
        setenv("WATCHDOG_PID", "", 1);
        CHECK(service_watchdog_usec(&u) == -EINVAL, "WATCHDOG_PID empty: -EINVAL");
        (void) unsetenv("WATCHDOG_PID");
        static const char *const bad[] = { "0", "", "abc", "-5", " 5", "5 ", "+5", "5x", "0x10",
                                           "18446744073709551615", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = 7;
                setenv("WATCHDOG_USEC", bad[i], 1);
                CHECK(service_watchdog_usec(&u) == -EINVAL && u == 7, "WATCHDOG_USEC='%s': -EINVAL", bad[i]);
        }
        setenv("WATCHDOG_USEC", "18446744073709551614", 1);
        CHECK(service_watchdog_usec(&u) == 1 && u == UINT64_MAX - 1, "the largest finite period is taken");
        (void) unsetenv("WATCHDOG_USEC");
}

int main(void) {
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_notify();
        test_watchdog();
        rmdir(dir);
        return TAP_END();
}
