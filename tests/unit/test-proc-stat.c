/* /proc/PID/stat parsing: state, CPU ticks and start time found after the command name even
 * when that name holds spaces and parentheses; malformed text refused; this process read live,
 * a stopped child seen as T, a dead unreaped one as Z, a reaped one as gone. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_stat.h"
#include "tap.h"

static int parse(const char *text, proc_stat *p) {
        return proc_stat_parse(text, strlen(text), p);
}

/* poll until the child's state is `want` (bounded) */
static char wait_state(pid_t pid, char want) {
        proc_stat p = {};
        for (int i = 0; i < 400; i++) {
                if (proc_stat_read(pid, &p) == 0 && p.state == want)
                        return p.state;
                usleep(5000);
        }
        return p.state;
}

int main(void) {
        proc_stat p;
        const char *line = "1234 (charon) S 1 1234 1234 0 -1 4194560 2000 0 0 0 17 5 0 0 20 0 17 0 987654 "
                           "1200000000 3000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

        CHECK(parse(line, &p) == 0 && p.pid == 1234 && p.state == 'S' && p.cpu_ticks == 22 && p.start_ticks == 987654,
              "plain line: pid, state S, utime+stime 22, starttime 987654");
        CHECK(parse("77 (a) b) (c) T 1 77 77 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 55 0 0\n", &p) == 0 && p.state == 'T' &&
                      p.cpu_ticks == 7 && p.start_ticks == 55,
              "a command name with spaces and ')': fields found after the last ')'");
        CHECK(parse("", &p) == -EBADMSG, "empty refused");
        CHECK(parse("12 (x S 1 2", &p) == -EBADMSG, "no ')' refused");
        CHECK(parse("12 (x) S 1 2 3", &p) == -EBADMSG, "truncated refused");
        CHECK(parse("(x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", &p) == -EBADMSG, "no pid refused");
        CHECK(parse("12 (x) S 1 2 3 4 5 6 7 8 9 10 1x 12 13 14 15 16 17 18 19 20", &p) == -EBADMSG,
              "a bad number refused");
        CHECK(parse("12 (x) S 1 2 3 4 5 6 7 8 9 10 99999999999999999999 1 13 14 15 16 17 18 19 20", &p) == -EBADMSG,
              "an overflowing number refused");

        CHECK(proc_stat_read(getpid(), &p) == 0 && p.pid == getpid() && p.state == 'R' && p.start_ticks > 0,
              "this process: running, with a start time");
        CHECK(proc_stat_read(0, &p) == -EINVAL, "pid 0 refused");

        pid_t child = fork();
        if (child == 0) {
                pause();
                _exit(0);
        }
        CHECK(child > 0 && wait_state(child, 'S') == 'S', "child sleeping: S");
        proc_stat before = {};
        (void) proc_stat_read(child, &before);
        int fd = proc_stat_open(child);
        CHECK(fd >= 0 && proc_stat_pread(fd, &p) == 0 && p.state == 'S' && proc_stat_pread(fd, &p) == 0 &&
                      p.pid == child && p.start_ticks == before.start_ticks,
              "kept open: read again and again");
        kill(child, SIGSTOP);
        CHECK(wait_state(child, 'T') == 'T' && proc_stat_read(child, &p) == 0 && proc_stat_stopped(&p) &&
                      !proc_stat_exited(&p),
              "SIGSTOP: T, stopped, not exited");
        CHECK(p.start_ticks == before.start_ticks, "same process: same start time");
        kill(child, SIGKILL);
        CHECK(wait_state(child, 'Z') == 'Z' && proc_stat_read(child, &p) == 0 && proc_stat_exited(&p),
              "SIGKILL, not yet reaped: Z, exited");
        CHECK(fd >= 0 && proc_stat_pread(fd, &p) == 0 && p.state == 'Z', "kept open: Z too");
        (void) waitpid(child, NULL, 0);
        CHECK(proc_stat_read(child, &p) == -ESRCH, "reaped: -ESRCH");
        CHECK(fd >= 0 && proc_stat_pread(fd, &p) == -ESRCH, "kept open, reaped: -ESRCH");
        if (fd >= 0)
                close(fd);
        CHECK(proc_stat_open(child) == -ESRCH && proc_stat_open(0) == -EINVAL, "open: gone -ESRCH, pid 0 refused");
        CHECK(strcmp(proc_stat_state_string('T'), "stopped by a signal (T)") == 0, "state words");
        return TAP_END();
}
