/* See journal_send.h. One socket is kept for the process, connected to journald on first use;
 * an error that says journald's socket went away (journald restarted, or is not running) closes
 * it, and a record that failed on a socket kept from before is tried once more on a fresh one
 * (a socket just made has nothing stale to replace). The send blocks as sd_journal_sendv()'s
 * does: journald reads its socket promptly, and a record must not be dropped because its queue
 * was momentarily full. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal_send.h"
#include "macro.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
/* journald's own limit on a field name */
#define JOURNAL_FIELD_NAME_MAX 64

static int journal_fd = -1;
static char journal_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)] = JOURNAL_SOCKET;

int journal_send_set_path(const char *path) {
        if (!path)
                path = JOURNAL_SOCKET;
        if (!path[0] || strlen(path) >= sizeof(journal_path))
                return -EINVAL;
        strcpy(journal_path, path);
        /* the next record connects to the new path */
        if (journal_fd >= 0)
                (void) close(journal_fd);
        journal_fd = -1;
        return 0;
}

static bool field_name_valid(const char *p, size_t l) {
        if (l == 0 || l > JOURNAL_FIELD_NAME_MAX)
                return false;
        if (p[0] == '_' || (p[0] >= '0' && p[0] <= '9'))
                return false;
        for (size_t i = 0; i < l; i++)
                if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
                        return false;
        return true;
}

/* The record in the native format, in one buffer (it is also what a memfd would hold). */
static int payload_build(const struct iovec *iov, int n, char **ret, size_t *ret_len) {
        size_t size = 0, k = 0;
        char *buf;

        for (int i = 0; i < n; i++) {
                const char *f = iov[i].iov_base, *eq;
                size_t l = iov[i].iov_len, name, vlen;

                if (!f && l > 0)
                        return -EINVAL;
                eq = l > 0 ? memchr(f, '=', l) : NULL;
                if (!eq || !field_name_valid(f, (size_t) (eq - f)))
                        return -EINVAL;
                name = (size_t) (eq - f);
                vlen = l - name - 1;
                /* NAME\n + 8 length bytes + value + \n, or NAME=value\n */
                size += memchr(eq + 1, '\n', vlen) ? name + 1 + 8 + vlen + 1 : l + 1;
        }
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                const char *f = iov[i].iov_base, *eq = memchr(f, '=', iov[i].iov_len);
                size_t name = (size_t) (eq - f), vlen = iov[i].iov_len - name - 1;

                if (memchr(eq + 1, '\n', vlen)) {
                        uint64_t v = vlen;

                        memcpy(buf + k, f, name);
                        k += name;
                        buf[k++] = '\n';
                        for (int b = 0; b < 8; b++, v >>= 8)
                                buf[k++] = (char) (v & 0xff);
                        memcpy(buf + k, eq + 1, vlen);
                        k += vlen;
                } else {
                        memcpy(buf + k, f, iov[i].iov_len);
                        k += iov[i].iov_len;
                }
                buf[k++] = '\n';
        }
        *ret = buf;
        *ret_len = k;
        return 0;
}

static int journal_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = offsetof(struct sockaddr_un, sun_path) + strlen(journal_path) + 1;
        _cleanup_(closep) int fd = -1;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        strcpy(sa.sun_path, journal_path);
        if (connect(fd, (struct sockaddr *) &sa, (socklen_t) len) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int send_retry(int fd, const struct msghdr *mh) {
        ssize_t n;

        do
                n = sendmsg(fd, mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

/* A payload too large for one datagram: in a memfd sealed against any change (journald reads
 * only a descriptor it can trust not to change under it), passed with SCM_RIGHTS. */
static int send_memfd(int fd, const char *buf, size_t len) {
        _cleanup_(closep) int mfd = -1;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = {
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *c;

        mfd = memfd_create("journal-record", MFD_ALLOW_SEALING | MFD_CLOEXEC);
        if (mfd < 0)
                return -errno;
        for (size_t k = 0; k < len;) {
                ssize_t w = write(mfd, buf + k, len - k);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                k += (size_t) w;
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &mfd, sizeof(int));
        return send_retry(fd, &mh);
}

/* Errors after which the kept socket is of no more use: journald's socket went away
 * (ECONNREFUSED once, ENOTCONN after), or was never there (ENOENT). */
static bool socket_gone(int r) {
        return r == -ECONNREFUSED || r == -ENOTCONN || r == -ENOENT || r == -EPIPE ||
               r == -ECONNRESET || r == -EBADF;
}

static int send_payload(const char *buf, size_t len) {
        struct iovec iov = { (void *) buf, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        int r;

        if (journal_fd < 0) {
                r = journal_connect();
                if (r < 0)
                        return r;
                journal_fd = r;
        }
        r = send_retry(journal_fd, &mh);
        if (r == -EMSGSIZE || r == -ENOBUFS)
                r = send_memfd(journal_fd, buf, len);
        return r;
}

int journal_sendv(const struct iovec *iov, int n) {
        _cleanup_(freep) char *buf = NULL;
        bool kept = journal_fd >= 0;
        size_t len;
        int r;

        if (!iov || n < 1)
                return -EINVAL;
        r = payload_build(iov, n, &buf, &len);
        if (r < 0)
                return r;
        r = send_payload(buf, len);
        if (socket_gone(r)) {
                if (journal_fd >= 0)
                        (void) close(journal_fd);
                journal_fd = -1;
                /* a socket kept from before may be the only thing that went stale */
                if (kept)
                        r = send_payload(buf, len);
                if (socket_gone(r) && journal_fd >= 0) {
                        (void) close(journal_fd);
                        journal_fd = -1;
                }
        }
        return r;
}
