/* The journal's native protocol against a real AF_UNIX datagram socket this test binds in place
 * of journald's: plain fields, a value with newlines in the binary-safe form, a 300 KiB record
 * through a sealed memfd passed with SCM_RIGHTS, field names refused before anything is sent,
 * the socket gone (and replaced, as when journald restarts) and back; and log.c's records sent
 * through it with every field it promises. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal_send.h"
#include "log.h"
#include "log_ids.h"
#include "macro.h"
#include "tap.h"

#define RECORD_MAX (1024 * 1024)

static char dir[] = "/tmp/ikh-journal-XXXXXX";
static char sock_path[256];
static char *rec;      /* the last record received */
static size_t rec_len;
static int rec_fd = -1; /* the descriptor it came in, or -1 */

static int bind_dgram(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        strcpy(sa.sun_path, path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* The next datagram on fd into rec, or the contents of the memfd it carried: 0, -EAGAIN when
 * none waits, -EBADMSG when it holds both bytes and a descriptor or more than one. */
static int recv_record(int fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = { rec, RECORD_MAX };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        ssize_t n;

        if (rec_fd >= 0)
                close(rec_fd);
        rec_fd = -1;
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        rec_len = (size_t) n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        if (c->cmsg_len != CMSG_LEN(sizeof(int)) || rec_fd >= 0)
                                return -EBADMSG;
                        memcpy(&rec_fd, CMSG_DATA(c), sizeof(int));
                }
        if (rec_fd >= 0) {
                struct stat st;
                if (n != 0 || fstat(rec_fd, &st) < 0 || st.st_size > RECORD_MAX)
                        return -EBADMSG;
                rec_len = (size_t) pread(rec_fd, rec, (size_t) st.st_size, 0);
                if (rec_len != (size_t) st.st_size)
                        return -EBADMSG;
        }
        return 0;
}

/* How many times field `name` is in rec, parsed as journald parses the native format (either
 * form); its last value into val (NUL-terminated, at most size - 1 bytes). -1 when rec is not
 * well formed. */
static int field(const char *name, char *val, size_t size) {
        size_t k = 0;
        int count = 0;

        while (k < rec_len) {
                const char *line = rec + k, *nl = memchr(line, '\n', rec_len - k);
                const char *eq;
                size_t nlen, vlen;
                const char *v;

                if (!nl)
                        return -1;
                eq = memchr(line, '=', (size_t) (nl - line));
                if (eq) {
                        nlen = (size_t) (eq - line);
                        v = eq + 1;
                        vlen = (size_t) (nl - v);
                        k = (size_t) (nl - rec) + 1;
                } else {
                        uint64_t l = 0;
                        nlen = (size_t) (nl - line);
                        k = (size_t) (nl - rec) + 1;
                        if (rec_len - k < 8)
                                return -1;
                        for (int b = 7; b >= 0; b--)
                                l = l << 8 | (uint8_t) rec[k + (size_t) b];
                        k += 8;
                        if (l > rec_len - k || rec_len - k - l < 1 || rec[k + l] != '\n')
                                return -1;
                        v = rec + k;
                        vlen = (size_t) l;
                        k += l + 1;
                }
                if (nlen == strlen(name) && memcmp(line, name, nlen) == 0) {
                        count++;
                        if (val) {
                                size_t c = vlen < size - 1 ? vlen : size - 1;
                                memcpy(val, v, c);
                                val[c] = '\0';
                        }
                }
        }
        return count;
}

static int sendv(const char *const *f) {
        struct iovec iov[16];
        int n = 0;

        for (; f[n]; n++)
                iov[n] = (struct iovec){ (void *) f[n], strlen(f[n]) };
        return journal_sendv(iov, n);
}

static void test_fields(int fd) {
        static const char plain[] = "MESSAGE=hello world\nPRIORITY=6\nIKEHEAL_RUN=7\nEMPTY=\nX=a=b\n";
        static const char binary[] = "MESSAGE\n\x0b\0\0\0\0\0\0\0line1\nline2\nPRIORITY=3\n";
        char v[256];

        CHECK(sendv((const char *[]){ "MESSAGE=hello world", "PRIORITY=6", "IKEHEAL_RUN=7", "EMPTY=", "X=a=b", NULL }) == 0,
              "plain fields sent, 0");
        CHECK(recv_record(fd) == 0 && rec_fd < 0, "one datagram, no descriptor");
        CHECK(rec_len == sizeof(plain) - 1 && memcmp(rec, plain, rec_len) == 0, "NAME=value\\n each, in order (%zu bytes)", rec_len);
        CHECK(field("X", v, sizeof(v)) == 1 && strcmp(v, "a=b") == 0, "a value may hold '='");
        CHECK(recv_record(fd) == -EAGAIN, "one datagram per record");

        CHECK(sendv((const char *[]){ "MESSAGE=line1\nline2", "PRIORITY=3", NULL }) == 0, "a value with a newline sent");
        CHECK(recv_record(fd) == 0, "received");
        CHECK(rec_len == sizeof(binary) - 1 && memcmp(rec, binary, rec_len) == 0,
              "binary-safe form: NAME\\n, 64-bit little-endian length 11, value, \\n (%zu bytes)", rec_len);
        CHECK(field("MESSAGE", v, sizeof(v)) == 1 && strcmp(v, "line1\nline2") == 0 && field("PRIORITY", v, sizeof(v)) == 1 &&
                      strcmp(v, "3") == 0,
              "parsed back as journald would");
}

static void test_memfd(int fd) {
        size_t big = 300 * 1024;
        char *m = malloc(big + 9), *v = malloc(big + 1);
        int seals;

        memcpy(m, "MESSAGE=", 8);
        for (size_t i = 0; i < big; i++)
                m[8 + i] = (char) ('a' + i % 26);
        m[8 + big] = '\0';
        m[8 + 1000] = '\n'; /* and in the binary-safe form */
        CHECK(sendv((const char *[]){ m, "PRIORITY=5", NULL }) == 0, "a 300 KiB record sent, 0");
        CHECK(recv_record(fd) == 0 && rec_fd >= 0, "it came as a descriptor in an empty datagram");
        seals = rec_fd >= 0 ? fcntl(rec_fd, F_GET_SEALS) : -1;
        CHECK(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) ==
                                    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
              "the memfd is sealed against shrink, grow, write and more seals (0x%x)", seals);
        CHECK(rec_fd >= 0 && write(rec_fd, "x", 1) < 0, "a write to it fails");
        CHECK(rec_len == 8 + 8 + big + 1 + 11, "it holds the whole record (%zu bytes)", rec_len);
        CHECK(field("MESSAGE", v, big + 1) == 1 && memcmp(v, m + 8, big) == 0 && field("PRIORITY", NULL, 0) == 1,
              "the 300 KiB value and the next field parse back unchanged");
        CHECK(rec_fd < 0 || (fcntl(rec_fd, F_GETFD) & FD_CLOEXEC), "received close-on-exec");
        free(m);
        free(v);
}

static void test_refused(int fd) {
        static const char *const bad[] = { "message=lower", "_PID=1", "__CURSOR=x", "1ABC=x", "NOEQUALS", "=x",
                                           "A-B=x", "A B=x", "", NULL };
        char n64[80], n65[80];

        memset(n65, 'N', 65);
        strcpy(n65 + 65, "=65");
        memset(n64, 'N', 64);
        strcpy(n64 + 64, "=64");
        CHECK(sendv((const char *[]){ "MESSAGE=ok", n65, NULL }) == -EINVAL, "a 65-character name refused, -EINVAL");
        for (size_t i = 0; bad[i]; i++)
                CHECK(sendv((const char *[]){ "MESSAGE=ok", bad[i], NULL }) == -EINVAL, "field '%.20s' refused, -EINVAL", bad[i]);
        CHECK(recv_record(fd) == -EAGAIN, "nothing was sent for any of them");
        CHECK(journal_sendv(NULL, 0) == -EINVAL && journal_sendv((struct iovec[]){ { "A=1", 3 } }, 0) == -EINVAL,
              "no fields: -EINVAL");
        CHECK(sendv((const char *[]){ n64, "B_9=1", NULL }) == 0,
              "a 64-character name and digits and '_' after the first character are taken");
        CHECK(recv_record(fd) == 0 && field("B_9", NULL, 0) == 1, "received");
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        CHECK(journal_send_set_path(longp) == -EINVAL, "a socket path longer than sun_path: -EINVAL");
}

/* The kept socket after journald's socket goes away: replaced at once (a restart), and gone for
 * a while then back. */
static int test_gone(int fd) {
        int r;

        CHECK(sendv((const char *[]){ "MESSAGE=before", NULL }) == 0 && recv_record(fd) == 0, "sent on the kept socket");
        close(fd);
        unlink(sock_path);
        fd = bind_dgram(sock_path);
        CHECK(sendv((const char *[]){ "MESSAGE=after restart", NULL }) == 0, "socket replaced: reopened, sent, 0");
        CHECK(recv_record(fd) == 0 && field("MESSAGE", NULL, 0) == 1 && memcmp(rec, "MESSAGE=after restart\n", rec_len) == 0,
              "arrived at the new socket");
        close(fd);
        unlink(sock_path);
        r = sendv((const char *[]){ "MESSAGE=nobody", NULL });
        CHECK(r == -ECONNREFUSED || r == -ENOENT, "socket gone: -errno (%d)", r);
        r = sendv((const char *[]){ "MESSAGE=nobody", NULL });
        CHECK(r == -ECONNREFUSED || r == -ENOENT, "still gone: -errno (%d)", r);
        fd = bind_dgram(sock_path);
        CHECK(sendv((const char *[]){ "MESSAGE=back", NULL }) == 0, "socket back: sent, 0");
        CHECK(recv_record(fd) == 0 && memcmp(rec, "MESSAGE=back\n", rec_len) == 0, "arrived");
        return fd;
}

/* every socket this process opened (its own and the kept one) is close-on-exec */
static void test_cloexec(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int sockets = 0, leaky = 0;

        while (d && (e = readdir(d))) {
                struct stat st;
                int f = atoi(e->d_name);
                if (e->d_name[0] == '.' || f <= STDERR_FILENO || f == dirfd(d) || fstat(f, &st) < 0 || !S_ISSOCK(st.st_mode))
                        continue;
                sockets++;
                leaky += !(fcntl(f, F_GETFD) & FD_CLOEXEC);
        }
        if (d)
                closedir(d);
        CHECK(sockets == 2 && leaky == 0, "the kept socket is close-on-exec (%d sockets, %d without)", sockets, leaky);
}

static void test_log(int fd) {
        const char *fields[] = { LOG_MID_RUN_STEP, "IKEHEAL_RUN=42", "IKEHEAL_STEP=restart\ncharon", NULL };
        char v[256], line[16];
        int r;

        log_setup("ikh-test", LOG_TARGET_JOURNAL);
        r = log_fields(LOG_WARNING, fields, "step %d of %s", 3, "run");
        snprintf(line, sizeof(line), "%d", __LINE__ - 1);
        CHECK(r == 0 && recv_record(fd) == 0, "log_fields(): one record");
        CHECK(field("MESSAGE", v, sizeof(v)) == 1 && strcmp(v, "step 3 of run") == 0, "MESSAGE=%s", v);
        CHECK(field("PRIORITY", v, sizeof(v)) == 1 && strcmp(v, "4") == 0, "PRIORITY=%s", v);
        CHECK(field("SYSLOG_IDENTIFIER", v, sizeof(v)) == 1 && strcmp(v, "ikh-test") == 0, "SYSLOG_IDENTIFIER=%s", v);
        CHECK(field("CODE_FILE", v, sizeof(v)) == 1 && strcmp(v, __FILE__) == 0, "CODE_FILE=%s, the caller's", v);
        CHECK(field("CODE_LINE", v, sizeof(v)) == 1 && strcmp(v, line) == 0, "CODE_LINE=%s", v);
        CHECK(field("CODE_FUNC", v, sizeof(v)) == 1 && strcmp(v, "test_log") == 0, "CODE_FUNC=%s", v);
        CHECK(field("ERRNO", NULL, 0) == 0, "no ERRNO without an error");
        CHECK(field("MESSAGE_ID", v, sizeof(v)) == 1 && strcmp(v, "0de501bd301c49e59e065e0253d13005") == 0, "MESSAGE_ID=%s", v);
        CHECK(field("IKEHEAL_RUN", v, sizeof(v)) == 1 && strcmp(v, "42") == 0, "IKEHEAL_RUN=%s", v);
        CHECK(field("IKEHEAL_STEP", v, sizeof(v)) == 1 && strcmp(v, "restart\ncharon") == 0, "a field with a newline");

        r = log_error_errno(-ENOENT, "open %s", "x");
        CHECK(r == -ENOENT && recv_record(fd) == 0, "log_error_errno(): one record, returns -ENOENT");
        CHECK(field("MESSAGE", v, sizeof(v)) == 1 && strcmp(v, "open x: No such file or directory") == 0, "MESSAGE=%s", v);
        CHECK(field("ERRNO", v, sizeof(v)) == 1 && strcmp(v, "2") == 0 && field("PRIORITY", v, sizeof(v)) == 1 &&
                      strcmp(v, "3") == 0,
              "ERRNO=2, PRIORITY=3");
        log_setup("ikh-test", LOG_TARGET_STDERR);
}

int main(void) {
        int fd;

        rec = malloc(RECORD_MAX);
        if (!mkdtemp(dir) || !rec) {
                perror("setup");
                return 1;
        }
        snprintf(sock_path, sizeof(sock_path), "%s/socket", dir);
        fd = bind_dgram(sock_path);
        CHECK(fd >= 0, "bound %s", sock_path);
        CHECK(journal_send_set_path(sock_path) == 0, "pointed at it");
        test_fields(fd);
        test_memfd(fd);
        test_refused(fd);
        fd = test_gone(fd);
        test_cloexec();
        test_log(fd);
        CHECK(journal_send_set_path(NULL) == 0, "the default path restored");
        close(fd);
        if (rec_fd >= 0)
                close(rec_fd);
        unlink(sock_path);
        rmdir(dir);
        free(rec);
        return TAP_END();
}
