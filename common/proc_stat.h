/* A process as /proc/PID/stat shows it: what tells a process that is alive but stopped (state
 * T, SIGSTOP) or in uninterruptible sleep (D) from one that runs, whether it burns CPU (utime +
 * stime, for "no progress"), and its start time, which with the pid names one process across a
 * pid's reuse: a daemon was restarted only when this identity changed, never because a socket
 * to it was reconnected. Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct proc_stat {
        pid_t pid;
        char state;          /* R S D T t Z X I … */
        uint64_t cpu_ticks;  /* utime + stime, clock ticks */
        uint64_t start_ticks; /* starttime: clock ticks after boot */
} proc_stat;

/* Parse the text of /proc/PID/stat (len bytes, need not end in NUL). The command name may
 * hold spaces and parentheses: the fields after it are found from its last ')'. -EBADMSG if
 * malformed. */
int proc_stat_parse(const char *buf, size_t len, proc_stat *ret);
/* Read and parse /proc/PID/stat. -ESRCH when the process does not exist (any more). */
int proc_stat_read(pid_t pid, proc_stat *ret);
/* For a process sampled again and again: open its /proc/PID/stat once (an fd, or -ESRCH when
 * it does not exist) and read it with proc_stat_pread() each time, without an open and close
 * per sample. The fd names the process it was opened for, not the pid: once that process is
 * reaped every read fails with -ESRCH, even after the pid was given to another process. */
int proc_stat_open(pid_t pid);
int proc_stat_pread(int fd, proc_stat *ret);

/* Dead, or on its way out: a zombie (Z) or being reaped (X, x). */
bool proc_stat_exited(const proc_stat *p);
/* Alive but cannot answer anything right now: stopped by a signal or a tracer (T, t). */
bool proc_stat_stopped(const proc_stat *p);
/* A word for the state, for people ("stopped (T)", "uninterruptible sleep (D)" …). */
const char *proc_stat_state_string(char state);
