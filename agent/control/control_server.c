/* See control.h: the listening socket (made, owned, given its mode and group, removed), the
 * verb table and the server's figures. Who gets a connection is control_admit.c; connections
 * and their requests are control_conn.c. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/control/control_internal.h"

static int control_group_gid(const ikeheal_config *cfg, gid_t *ret) {
        struct group *g;

        if (!cfg->control_group || !cfg->control_group[0]) {
                *ret = 0;
                return 0;
        }
        errno = 0;
        g = getgrnam(cfg->control_group);
        if (!g)
                return errno > 0 ? -errno : -ENOENT;
        *ret = g->gr_gid;
        return 0;
}

/* mkdir the socket's parent if it is missing (one level only: /run/ikeheal under /run). */
static int control_parent_make(const char *path) {
        _cleanup_(freep) char *dir = strdup(path);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* A socket file left at path: stale (nobody listening) is removed; a live one is in use. */
static int control_stale_remove(const char *path, const struct sockaddr_un *sa) {
        _cleanup_(closep) int fd = -1;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) >= 0 || errno == EAGAIN)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int control_apply_mode(control_server *s, const ikeheal_config *cfg) {
        struct stat st;
        gid_t gid;
        int r;

        r = control_group_gid(cfg, &gid);
        if (r < 0)
                return r;
        /* only touch the file if it is still the socket we bound */
        if (lstat(s->path, &st) < 0)
                return -errno;
        if (st.st_dev != s->dev || st.st_ino != s->ino)
                return -ESTALE;
        if (lchown(s->path, 0, gid) < 0)
                return -errno;
        if (chmod(s->path, cfg->control_mode & 0777) < 0)
                return -errno;
        return 0;
}

int control_server_new(control_server **ret, ev_loop *e, const ikeheal_config *cfg) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        control_server *s;
        struct stat st;
        mode_t old_umask;
        int r;

        if (!cfg->control_socket || strlen(cfg->control_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, cfg->control_socket);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->event = ev_ref(e);
        s->cfg = cfg;
        s->request_usec = CONTROL_REQUEST_TIMEOUT_USEC;
        s->path = strdup(cfg->control_socket);
        if (!s->path) {
                r = -ENOMEM;
                goto fail;
        }

        r = control_parent_make(s->path);
        if (r < 0)
                goto fail;
        r = control_stale_remove(s->path, &sa);
        if (r < 0)
                goto fail;
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                r = -errno;
                goto fail;
        }
        /* Born owner-only, then opened up to the configured mode and group; authorisation per
         * request does not depend on this, but the file should never be wider than asked. The
         * agent is single-threaded, so the process-wide umask is safe to switch here. */
        old_umask = umask(0177);
        r = bind(s->fd, (struct sockaddr *) &sa, sizeof(sa));
        if (r < 0)
                r = -errno;
        (void) umask(old_umask);
        if (r < 0)
                goto fail;
        if (lstat(s->path, &st) < 0) {
                r = -errno;
                goto fail;
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        r = control_apply_mode(s, cfg);
        if (r < 0)
                goto fail_unlink;
        if (listen(s->fd, SOMAXCONN) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        r = ev_add_io(e, &s->listen_source, s->fd, EPOLLIN, control_admit_on_listen, s);
        if (r < 0)
                goto fail_unlink;
        *ret = s;
        return 0;

fail_unlink:
        (void) unlink(s->path);
fail:
        s->dev = s->ino = 0; /* nothing of ours to remove */
        control_server_free(s);
        return r;
}

control_server *control_server_free(control_server *s) {
        struct stat st;

        if (!s)
                return NULL;
        while (s->conns)
                control_conn_free(s->conns);
        ev_source_disable_unref(s->listen_source);
        control_admit_done(s);
        if (s->fd >= 0)
                (void) close(s->fd);
        if (s->path && s->ino != 0 && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
            st.st_ino == s->ino)
                (void) unlink(s->path);
        ev_unref(s->event);
        free(s->path);
        free(s);
        return NULL;
}

int control_server_set_config(control_server *s, const ikeheal_config *cfg) {
        /* Always take the new config: the caller frees the old one right after. */
        s->cfg = cfg;
        if (!cfg->control_socket || strcmp(cfg->control_socket, s->path) != 0)
                return -EXDEV; /* still listening on the old path; a new server is needed */
        return control_apply_mode(s, cfg);
}

int control_server_register(control_server *s, proto_verb verb, control_handler handler,
                            void *userdata) {
        if (!proto_verb_is_valid(verb))
                return -EINVAL;
        s->slots[verb] = (control_slot){ handler, userdata };
        return 0;
}

void control_server_set_request_timeout(control_server *s, uint64_t usec) {
        s->request_usec = usec;
        for (control_conn *c = s->conns; c; c = c->next) {
                c->timer_armed = false; /* re-armed with the new length */
                (void) control_conn_update(c);
        }
}

void control_server_set_refusal_interval(control_server *s, uint64_t usec) {
        control_admit_done_refusals(s); /* the running interval ends now */
        s->refusals.interval_usec = usec;
}

unsigned control_server_n_clients(const control_server *s) {
        return s->n_conns;
}

uint64_t control_server_n_refused(const control_server *s) {
        return s->refusals.total;
}

uint64_t control_server_n_evicted(const control_server *s) {
        return s->evicted;
}
