/* See check_child.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions/spawn.h"
#include "agent/checks/check_child.h"
#include "agent/checks/finding_wire.h"

struct check_child {
        ev_loop *event;
        pid_t pid; /* 0 once reaped */
        int pidfd, fd;
        ev_source *pid_src, *out_src;
        char *buf;
        size_t size, cap;
        bool eof, too_big;
        siginfo_t exit;
        check_child_done done;
        void *userdata;
};

typedef struct child_args {
        pid_t parent;
        check_child_work work;
        void *userdata;
} child_args;

static void child(int fd, void *args) {
        const child_args *a = args;
        pid_t parent = a->parent;
        check_child_work work = a->work;
        void *userdata = a->userdata;
        finding *f = NULL;
        char *buf = NULL;
        size_t size = 0, off = 0;

        /* the agent's death ends it; a signal the agent blocks for its loop stays blocked */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(3);
        if (finding_new(&f) < 0)
                _exit(2);
        work(userdata, f);
        if (finding_pack(f, &buf, &size) < 0)
                _exit(2);
        while (off < size) {
                ssize_t k = write(fd, buf + off, size - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        _exit(2);
                off += (size_t) k;
        }
        _exit(0);
}

static void finish(check_child *c) {
        finding *f = NULL;
        char why[160];
        int r;

        if (!c->eof || c->pid)
                return; /* both the end of its output and its exit */
        if (c->exit.si_code != CLD_EXITED)
                (void) snprintf(why, sizeof(why), "the child (pid %d) was killed by signal %d (%s)", (int) c->exit.si_pid,
                                c->exit.si_status, strsignal(c->exit.si_status));
        else if (c->exit.si_status != 0)
                (void) snprintf(why, sizeof(why), "the child (pid %d) exited with status %d", (int) c->exit.si_pid,
                                c->exit.si_status);
        else if (c->too_big)
                (void) snprintf(why, sizeof(why), "the child's finding is larger than %u bytes or memory ran out",
                                CHECK_CHILD_OUTPUT_MAX);
        else if ((r = finding_unpack(c->buf, c->size, &f)) < 0)
                (void) snprintf(why, sizeof(why), "the child's finding cannot be read: %s",
                                r == -EBADMSG ? "malformed" : strerror(-r));
        c->done(c, f, f ? NULL : why, c->userdata);
}

static void keep(check_child *c, const char *d, size_t n) {
        char *b;

        if (c->too_big)
                return;
        if (c->size + n > CHECK_CHILD_OUTPUT_MAX) {
                c->too_big = true;
                free(c->buf);
                c->buf = NULL;
                c->size = c->cap = 0;
                return;
        }
        if (c->size + n > c->cap) {
                size_t cap = c->cap ? c->cap : 4096;
                while (cap < c->size + n)
                        cap *= 2;
                b = realloc(c->buf, cap);
                if (!b) {
                        c->too_big = true; /* cannot keep it whole: refused as a whole */
                        return;
                }
                c->buf = b;
                c->cap = cap;
        }
        memcpy(c->buf + c->size, d, n);
        c->size += n;
}

static int on_output(ev_source *src, int fd, uint32_t revents, void *userdata) {
        check_child *c = userdata;
        char buf[16384];
        ssize_t k;

        while ((k = read(fd, buf, sizeof(buf))) > 0)
                keep(c, buf, (size_t) k);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        c->eof = true; /* the end, or an error that ends it */
        c->out_src = ev_source_disable_unref(c->out_src);
        finish(c);
        return 0;
}

static int on_exit_pidfd(ev_source *src, int fd, uint32_t revents, void *userdata) {
        check_child *c = userdata;
        siginfo_t si = { 0 };

        if (waitid(P_PIDFD, (id_t) c->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0; /* not yet */
        c->exit = si;
        c->pid = 0;
        c->pid_src = ev_source_disable_unref(c->pid_src);
        finish(c);
        return 0;
}

int check_child_start(check_child **ret, ev_loop *e, check_child_work work, check_child_done done,
                      void *userdata) {
        _cleanup_(check_child_freep) check_child *c = NULL;
        int r;

        if (!ret || !e || !work || !done)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (check_child){ .event = ev_ref(e), .pidfd = -1, .fd = -1, .done = done, .userdata = userdata };
        r = spawn_fork(child, &(child_args){ getpid(), work, userdata }, &c->pid, &c->pidfd, &c->fd);
        if (r < 0)
                return r;
        r = ev_add_io(e, &c->pid_src, c->pidfd, EPOLLIN, on_exit_pidfd, c);
        if (r >= 0)
                r = ev_add_io(e, &c->out_src, c->fd, EPOLLIN, on_output, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

check_child *check_child_free(check_child *c) {
        if (!c)
                return NULL;
        c->pid_src = ev_source_disable_unref(c->pid_src);
        c->out_src = ev_source_disable_unref(c->out_src);
        if (c->pid > 0)
                spawn_reap_later(c->event, c->pid, &c->pidfd);
        if (c->pidfd >= 0)
                close(c->pidfd);
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        ev_unref(c->event);
        free(c);
        return NULL;
}
