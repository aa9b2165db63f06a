/* See spawn.h. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions/spawn.h"

struct spawn {
        ev_loop *event;
        pid_t pid;
        int pidfd, out_fd;
        ev_source *pid_src, *out_src;
        char out[SPAWN_OUTPUT_KEEP];
        size_t out_len;
        bool out_cut;
        spawn_done_cb cb;
        void *userdata;
};

static void keep_output(spawn *s, const char *buf, size_t n) {
        if (n >= sizeof(s->out)) {
                memcpy(s->out, buf + n - sizeof(s->out), sizeof(s->out));
                s->out_len = sizeof(s->out);
                s->out_cut = true;
                return;
        }
        if (s->out_len + n > sizeof(s->out)) {
                size_t drop = s->out_len + n - sizeof(s->out);
                memmove(s->out, s->out + drop, s->out_len - drop);
                s->out_len -= drop;
                s->out_cut = true;
        }
        memcpy(s->out + s->out_len, buf, n);
        s->out_len += n;
}

static void drain(spawn *s) {
        char buf[4096];
        ssize_t k;

        while (s->out_fd >= 0 && (k = read(s->out_fd, buf, sizeof(buf))) > 0)
                keep_output(s, buf, (size_t) k);
}

static int on_output(ev_source *src, int fd, uint32_t revents, void *userdata) {
        spawn *s = userdata;
        char buf[4096];
        ssize_t k = read(fd, buf, sizeof(buf));

        if (k > 0)
                keep_output(s, buf, (size_t) k);
        else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                s->out_src = ev_source_disable_unref(s->out_src);
        return 0;
}

/* The output as one line for the audit log: newlines become "; ", control characters spaces. */
static void output_line(spawn *s, char *line, size_t n) {
        size_t w = 0;
        if (s->out_cut && n > 4)
                w = (size_t) snprintf(line, n, "…");
        for (size_t i = 0; i < s->out_len && w + 3 < n; i++) {
                char ch = s->out[i];
                if (ch == '\n') {
                        if (i + 1 < s->out_len) {
                                line[w++] = ';';
                                line[w++] = ' ';
                        }
                } else
                        line[w++] = (unsigned char) ch < 0x20 ? ' ' : ch;
        }
        line[w] = 0;
}

static int on_exit_pidfd(ev_source *src, int fd, uint32_t revents, void *userdata) {
        spawn *s = userdata;
        char out[SPAWN_OUTPUT_KEEP + 8];
        siginfo_t si = { 0 };

        if (waitid(P_PIDFD, (id_t) s->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0; /* not yet */
        s->pid = 0;
        s->pid_src = ev_source_disable_unref(s->pid_src);
        /* what it left running in its group goes with it */
        (void) kill(-si.si_pid, SIGKILL);
        drain(s);
        output_line(s, out, sizeof(out));
        if (s->cb)
                s->cb(s, si.si_code, si.si_status, out, s->userdata);
        return 0;
}

int spawn_fork(spawn_child_fn fn, void *userdata, pid_t *ret_pid, int *ret_pidfd, int *ret_out) {
        int pipefd[2], pidfd, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                close(pipefd[0]);
                fn(pipefd[1], userdata);
                _exit(127);
        }
        close(pipefd[1]);
        (void) fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) { /* cannot watch it: it must not outlive us unseen */
                r = -errno;
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0); /* just killed: returns at once */
                close(pipefd[0]);
                return r;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        *ret_out = pipefd[0];
        return 0;
}

typedef struct exec_args {
        int exe_fd, null_fd;
        char *const *argv, *const *envp;
} exec_args;

static _Noreturn void child(int out_fd, void *userdata) {
        const exec_args *a = userdata;
        int exe_fd = a->exe_fd, null_fd = a->null_fd;
        char *const *argv = a->argv, *const *envp = a->envp;
        sigset_t none;

        (void) setsid();
        (void) umask(022);
        if (chdir("/") < 0)
                _exit(127);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0 || dup2(exe_fd, 3) < 0)
                _exit(127);
        /* fd 3 stays open across exec: a "#!" script's interpreter reads it as /dev/fd/3 */
        (void) syscall(SYS_close_range, 4u, ~0u, 0u);
        (void) fexecve(3, argv, envp);
        _exit(127);
}

int spawn_start(spawn **ret, ev_loop *e, int exe_fd, char *const argv[], char *const envp[], spawn_done_cb cb,
                void *userdata) {
        _cleanup_(closep) int null_fd = -1;
        spawn *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (spawn){ .event = ev_ref(e), .pidfd = -1, .out_fd = -1, .cb = cb, .userdata = userdata };
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        r = null_fd < 0 ? -errno
                        : spawn_fork(child, &(exec_args){ exe_fd, null_fd, argv, envp }, &s->pid, &s->pidfd, &s->out_fd);
        if (r >= 0)
                r = ev_add_io(e, &s->pid_src, s->pidfd, EPOLLIN, on_exit_pidfd, s);
        if (r >= 0)
                r = ev_add_io(e, &s->out_src, s->out_fd, EPOLLIN, on_output, s);
        if (r < 0) {
                spawn_free(s); /* a child started is killed and reaped later */
                return r;
        }
        *ret = s;
        return 0;
}

/* A process killed on free is reaped when it is gone, without blocking the loop. */
typedef struct reaper {
        ev_source *src;
} reaper;

static int on_reap(ev_source *src, int fd, uint32_t revents, void *userdata) {
        reaper *rp = userdata;
        siginfo_t si = { 0 };

        if (waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0) {
                ev_source_disable_unref(rp->src);
                free(rp);
        }
        return 0;
}

void spawn_reap_later(ev_loop *e, pid_t pid, int *pidfd) {
        siginfo_t si = { 0 };
        reaper *rp;

        (void) kill(-pid, SIGKILL);
        (void) kill(pid, SIGKILL);
        if (*pidfd >= 0 && waitid(P_PIDFD, (id_t) *pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0 &&
            (rp = calloc(1, sizeof(*rp)))) {
                if (ev_add_io(e, &rp->src, *pidfd, EPOLLIN, on_reap, rp) >= 0) {
                        (void) ev_source_set_io_fd_own(rp->src, true);
                        *pidfd = -1; /* the reaper owns it now */
                } else
                        free(rp);
        }
}

spawn *spawn_free(spawn *s) {
        if (!s)
                return NULL;
        s->pid_src = ev_source_disable_unref(s->pid_src);
        s->out_src = ev_source_disable_unref(s->out_src);
        if (s->pid > 0)
                spawn_reap_later(s->event, s->pid, &s->pidfd);
        if (s->pidfd >= 0)
                close(s->pidfd);
        if (s->out_fd >= 0)
                close(s->out_fd);
        ev_unref(s->event);
        free(s);
        return NULL;
}
