/* See proc_stat.h. Fields of /proc/PID/stat after the command name (proc(5)): 3 state,
 * 14 utime, 15 stime, 22 starttime. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_stat.h"
#include "macro.h"

/* One unsigned decimal field; *p advanced past it and the following blank. */
static int field_u64(const char **p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        const char *q = *p;

        if (q >= end || *q < '0' || *q > '9')
                return -EBADMSG;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (*q - '0');
        }
        if (q < end && *q != ' ' && *q != '\n')
                return -EBADMSG;
        *p = q < end ? q + 1 : q;
        *ret = v;
        return 0;
}

/* Skip one field of any content (a signed number). */
static int field_skip(const char **p, const char *end) {
        const char *q = *p;
        if (q >= end || *q == ' ')
                return -EBADMSG;
        while (q < end && *q != ' ' && *q != '\n')
                q++;
        *p = q < end ? q + 1 : q;
        return 0;
}

int proc_stat_parse(const char *buf, size_t len, proc_stat *ret) {
        const char *end = buf + len, *p, *close = NULL;
        uint64_t pid, utime, stime, start;
        int r;

        for (const char *q = buf; q < end; q++)
                if (*q == ')')
                        close = q;
        p = buf;
        if (!close || (r = field_u64(&p, close, &pid)) < 0 || pid == 0 || pid > INT32_MAX || *p != '(')
                return -EBADMSG;
        p = close + 1;
        if (end - p < 3 || p[0] != ' ' || p[1] < 'A' || p[1] > 'z' || p[2] != ' ')
                return -EBADMSG;
        char state = p[1];
        p += 3;
        /* fields 4..13 skipped, 14 utime, 15 stime, 16..21 skipped, 22 starttime */
        for (int i = 4; i <= 13; i++)
                if ((r = field_skip(&p, end)) < 0)
                        return r;
        if ((r = field_u64(&p, end, &utime)) < 0 || (r = field_u64(&p, end, &stime)) < 0)
                return r;
        for (int i = 16; i <= 21; i++)
                if ((r = field_skip(&p, end)) < 0)
                        return r;
        if ((r = field_u64(&p, end, &start)) < 0)
                return r;
        *ret = (proc_stat){
                .pid = (pid_t) pid,
                .state = state,
                .cpu_ticks = utime > UINT64_MAX - stime ? UINT64_MAX : utime + stime,
                .start_ticks = start,
        };
        return 0;
}

int proc_stat_open(pid_t pid) {
        char path[64];
        int fd;

        if (pid <= 0)
                return -EINVAL;
        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        return fd;
}

int proc_stat_pread(int fd, proc_stat *ret) {
        char buf[1024];
        ssize_t n = pread(fd, buf, sizeof(buf), 0);

        if (n < 0)
                return -errno; /* ESRCH: the process is gone */
        if (n == 0)
                return -ESRCH;
        return proc_stat_parse(buf, (size_t) n, ret);
}

int proc_stat_read(pid_t pid, proc_stat *ret) {
        _cleanup_(closep) int fd = proc_stat_open(pid);

        if (fd < 0)
                return fd;
        return proc_stat_pread(fd, ret);
}

bool proc_stat_exited(const proc_stat *p) {
        return p->state == 'Z' || p->state == 'X' || p->state == 'x';
}

bool proc_stat_stopped(const proc_stat *p) {
        return p->state == 'T' || p->state == 't';
}

const char *proc_stat_state_string(char state) {
        switch (state) {
        case 'R':
                return "running (R)";
        case 'S':
                return "sleeping (S)";
        case 'D':
                return "uninterruptible sleep (D)";
        case 'T':
                return "stopped by a signal (T)";
        case 't':
                return "stopped by a tracer (t)";
        case 'Z':
                return "zombie (Z)";
        case 'X':
        case 'x':
                return "dead (X)";
        case 'I':
                return "idle (I)";
        default:
                return "unknown state";
        }
}
