/* See netns.h. setns() moves only the calling thread; doing it on a throw-away thread means no
 * code of the agent ever runs in the other namespace, whatever happens. Joining is a few
 * system calls: waiting for the thread does not stall the event loop in practice. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

int netns_name_valid(const char *name) {
        size_t n;

        if (!name)
                return -EINVAL;
        n = strnlen(name, 65);
        if (n == 0 || n > 64 || !strcmp(name, ".") || !strcmp(name, ".."))
                return -EINVAL;
        if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
                return -EINVAL;
        return 0;
}

typedef struct netns_job {
        char path[96];
        int domain, type, protocol;
        int fd;
        int error;
} netns_job;

static void *netns_thread(void *arg) {
        netns_job *j = arg;
        int nsfd;

        nsfd = open(j->path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
                j->error = errno;
                return NULL;
        }
        if (setns(nsfd, CLONE_NEWNET) < 0) {
                j->error = errno;
                (void) close(nsfd);
                return NULL;
        }
        (void) close(nsfd);
        j->fd = socket(j->domain, j->type, j->protocol);
        if (j->fd < 0)
                j->error = errno;
        return NULL;
}

int netns_socket(const char *netns, int domain, int type, int protocol) {
        netns_job j = { .domain = domain, .type = type, .protocol = protocol, .fd = -1 };
        pthread_t t;
        int r;

        if (!netns) {
                int fd = socket(domain, type, protocol);
                return fd < 0 ? -errno : fd;
        }
        if (netns_name_valid(netns) < 0)
                return -EINVAL;
        (void) snprintf(j.path, sizeof(j.path), "/run/netns/%s", netns);
        r = pthread_create(&t, NULL, netns_thread, &j);
        if (r != 0)
                return -r;
        r = pthread_join(t, NULL);
        if (r != 0)
                return -r;
        if (j.fd < 0)
                return -(j.error ? j.error : EIO);
        return j.fd;
}

typedef struct netns_call {
        char path[96];
        int (*fn)(void *userdata);
        void *userdata;
        int result;
} netns_call;

static void *netns_call_thread(void *arg) {
        netns_call *c = arg;
        int nsfd = open(c->path, O_RDONLY | O_CLOEXEC);

        if (nsfd < 0) {
                c->result = -errno;
                return NULL;
        }
        if (setns(nsfd, CLONE_NEWNET) < 0) {
                c->result = -errno;
                (void) close(nsfd);
                return NULL;
        }
        (void) close(nsfd);
        c->result = c->fn(c->userdata);
        return NULL;
}

int netns_run(const char *netns, int (*fn)(void *userdata), void *userdata) {
        netns_call c = { .fn = fn, .userdata = userdata, .result = -EIO };
        pthread_t t;
        int r;

        if (!netns)
                return fn(userdata);
        if (netns_name_valid(netns) < 0)
                return -EINVAL;
        (void) snprintf(c.path, sizeof(c.path), "/run/netns/%s", netns);
        r = pthread_create(&t, NULL, netns_call_thread, &c);
        if (r != 0)
                return -r;
        r = pthread_join(t, NULL);
        return r != 0 ? -r : c.result;
}
