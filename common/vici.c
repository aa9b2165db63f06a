/* See vici.h. The client is a small state machine around one socket:
 *
 *   idle ──start──► connecting ──ok──► connected ──EOF/error/timeout──► (backoff) ─► connecting
 *                        └──fail──► (backoff) ──timer──┘
 *
 * Requests are "ops": a command is one step (CMD_REQUEST → CMD_RESPONSE), a stream three
 * (EVENT_REGISTER → CMD_REQUEST … CMD_RESPONSE → EVENT_UNREGISTER), a subscription's wire
 * registration one (EVENT_REGISTER → EVENT_CONFIRM). The head of the FIFO is the op in flight;
 * every packet charon sends that is not an EVENT must answer its current step, anything else is
 * a protocol error.
 *
 * Re-entrancy: user callbacks may free the client. Every entry from the loop holds a
 * dispatch count; vici_client_free() inside a callback only tears the connection down and marks
 * the client dead, and the outermost entry frees the memory on its way out. Code after a
 * callback checks `dead` before touching anything. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "now.h"
#include "vici.h"
#include "vici_op.h"

/* A timeout that finds bytes waiting unread gives the reader this long to take them first. */
#define VICI_READ_GRACE_USEC (10 * USEC_PER_MSEC)

typedef struct subscription {
        char *event;
        vici_event_cb cb;
        void *userdata;
        bool registered; /* charon confirmed the registration on this connection */
} subscription;

struct vici_client {
        ev_loop *event;
        char *path;
        uint64_t timeout_usec, backoff_min_usec, backoff_max_usec, backoff_usec;
        vici_state_cb state_cb;
        void *userdata;
        vici_packet_cb packet_cb;
        void *packet_userdata;

        int fd;
        bool started, connecting, connected;
        bool reported; /* the state callback has been told the current state */
        int last_error;
        pid_t peer_pid;        /* charon's pid (SO_PEERCRED) on this connection; 0: unknown */
        uint64_t progress_usec; /* CLOCK_MONOTONIC of the last answer or streamed item */
        ev_source *io, *timeout_timer, *retry_timer, *kick_source;

        uint8_t *rbuf;
        size_t rlen, rsize;
        uint8_t *wbuf;
        size_t wlen, wsize;

        vici_op_queue ops;

        subscription subs[VICI_CLIENT_SUBSCRIPTIONS_MAX];
        size_t n_subs;

        bool events_deferred; /* vici_client_defer_events() */

        unsigned dispatching; /* nesting of loop entries, see the top */
        bool dead;            /* freed from inside a callback */
};

static void client_disconnect(vici_client *c, int reason);
static void client_kick(vici_client *c);

static bool subscribed_registered(vici_client *c, const char *event) {
        for (size_t i = 0; i < c->n_subs; i++)
                if (c->subs[i].registered && strcmp(c->subs[i].event, event) == 0)
                        return true;
        return false;
}

/* ---- loop entry bookkeeping ---- */

static void client_really_free(vici_client *c) {
        vici_op_queue_clear(&c->ops);
        for (size_t i = 0; i < c->n_subs; i++)
                free(c->subs[i].event);
        ev_unref(c->event);
        free(c->rbuf);
        free(c->wbuf);
        free(c->path);
        free(c);
}

static void dispatch_enter(vici_client *c) {
        c->dispatching++;
}

/* Returns false if the client is gone and the caller must not touch it. */
static bool dispatch_leave(vici_client *c) {
        if (--c->dispatching == 0 && c->dead) {
                client_really_free(c);
                return false;
        }
        return !c->dead;
}

/* ---- timers ---- */

static int on_timeout(ev_source *s, uint64_t usec, void *userdata);
static int on_retry(ev_source *s, uint64_t usec, void *userdata);

/* From the clock now, not from the loop iteration's timestamp: a request queued at the end of
 * a busy iteration still gets its whole timeout. */
static int timer_arm(vici_client *c, ev_source **s, uint64_t usec,
                     ev_time_handler handler) {
        uint64_t at = mono_usec() + usec;
        int r;

        if (*s) {
                r = ev_source_set_time(*s, at);
                if (r >= 0)
                        r = ev_source_set_enabled(*s, EV_ONESHOT);
                return r;
        }
        return ev_add_time(c->event, s, CLOCK_MONOTONIC, at, 0, handler, c);
}

static void timer_disarm(ev_source **s) {
        *s = ev_source_disable_unref(*s);
}

/* ---- output ---- */

static int io_update(vici_client *c) {
        uint32_t events = EPOLLIN;

        if (!c->io)
                return 0;
        /* Nothing owed: what charon pushes waits in the socket until a request goes out (its
         * answer comes after everything sent before it) or charon closes the connection
         * (EPOLLRDHUP, and EPOLLHUP that epoll always reports), so an idle link does not wake
         * the loop for every event. */
        if (c->events_deferred && c->connected && !c->ops.head)
                events = EPOLLRDHUP;
        if (c->connecting || c->wlen > 0)
                events |= EPOLLOUT;
        if (c->connecting)
                events = EPOLLOUT;
        return ev_source_set_io_events(c->io, events);
}

static int client_flush(vici_client *c) {
        while (c->wlen > 0) {
                ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t) n);
                c->wlen -= (size_t) n;
        }
        return io_update(c);
}

static int client_send(vici_client *c, const uint8_t *pkt, size_t len) {
        if (c->wlen + len > c->wsize) {
                size_t want = c->wlen + len;
                uint8_t *p = realloc(c->wbuf, want);
                if (!p)
                        return -ENOMEM;
                c->wbuf = p;
                c->wsize = want;
        }
        memcpy(c->wbuf + c->wlen, pkt, len);
        c->wlen += len;
        return client_flush(c);
}

/* ---- the op in flight ---- */

static int op_send_step(vici_client *c, vici_op *op) {
        int r = client_send(c, op->pkt[op->step], op->pkt_len[op->step]);
        if (r < 0)
                return r;
        return timer_arm(c, &c->timeout_timer, c->timeout_usec, on_timeout);
}

/* Move the head op to its next used step after `from`, or finish it. Returns false if the
 * client went away inside a callback. */
static bool op_advance(vici_client *c, vici_op *op, int from) {
        for (int s = from + 1; s < _STEP_MAX; s++) {
                if (!op->pkt[s])
                        continue;
                if (op->kind == OP_STREAM && op->skip_registration && s == STEP_UNREGISTER)
                        continue;
                op->step = (op_step) s;
                int r = op_send_step(c, op);
                if (r < 0) {
                        client_disconnect(c, r);
                        return !c->dead;
                }
                return true;
        }
        /* done */
        timer_disarm(&c->timeout_timer);
        vici_op_free(vici_op_queue_pop(&c->ops));
        client_kick(c);
        if (!c->dead && !c->ops.head)
                (void) io_update(c);
        return !c->dead;
}

static bool op_reply(vici_client *c, vici_op *op, int error, const vici_node *reply) {
        if (op->replied || !op->reply_cb)
                return true;
        op->replied = true;
        op->reply_cb(c, error, reply, op->userdata);
        return !c->dead;
}

static void client_kick(vici_client *c) {
        vici_op *op = c->ops.head;

        if (!c->connected || !op || op->started || c->dead)
                return;

        /* start the head op at its first used step */
        op->started = true;
        if (op->kind == OP_STREAM)
                op->skip_registration = subscribed_registered(c, op->event);
        int first = op->kind == OP_STREAM && op->skip_registration ? STEP_REGISTER : -1;
        (void) op_advance(c, op, first);
}

/* ---- incoming packets ---- */

/* charon answered a request or streamed an item of one: it works on what it was asked
 * (pushed events alone say nothing about that: another thread may send them) */
static void progress(vici_client *c) {
        c->progress_usec = mono_usec();
}

static bool deliver_event(vici_client *c, const char *name, const vici_node *msg) {
        vici_op *op = c->ops.head;

        if (op && op->started && op->kind == OP_STREAM && op->step == STEP_COMMAND &&
            strcmp(op->event, name) == 0) {
                /* progress: the timeout measures silence, not the length of a long list */
                progress(c);
                (void) timer_arm(c, &c->timeout_timer, c->timeout_usec, on_timeout);
                if (op->item_cb) {
                        op->item_cb(c, name, msg, op->userdata);
                        if (c->dead)
                                return false;
                }
        }
        /* subscribers; a callback may subscribe more, so index rather than cache n_subs */
        for (size_t i = 0; i < c->n_subs; i++) {
                if (strcmp(c->subs[i].event, name) != 0 || !c->subs[i].cb)
                        continue;
                c->subs[i].cb(c, name, msg, c->subs[i].userdata);
                if (c->dead)
                        return false;
        }
        return true;
}

static void mark_registered(vici_client *c, const char *event, bool registered) {
        for (size_t i = 0; i < c->n_subs; i++)
                if (strcmp(c->subs[i].event, event) == 0)
                        c->subs[i].registered = registered;
}

/* Handle one whole packet. Returns <0 for a protocol error (caller disconnects), 0 to go on,
 * 1 if the client is gone or the connection was reset meanwhile. */
static int client_packet(vici_client *c, const uint8_t *buf, size_t len) {
        _cleanup_(vici_node_freep) vici_node *msg = NULL;
        _cleanup_(freep) char *name = NULL;
        vici_packet_type type;
        vici_op *op = c->ops.head;
        int r;

        if (c->packet_cb) {
                c->packet_cb(c, buf, len, c->packet_userdata);
                if (c->dead || !c->connected)
                        return 1;
        }
        r = vici_packet_parse(buf, len, &type, &name, &msg);
        if (r < 0)
                return r;

        switch (type) {
        case VICI_EVENT:
                return deliver_event(c, name, msg) && c->connected ? 0 : 1;

        case VICI_CMD_RESPONSE:
        case VICI_CMD_UNKNOWN:
                if (!op || !op->started || op->step != STEP_COMMAND)
                        return -EPROTO;
                progress(c);
                if (!op_reply(c, op, type == VICI_CMD_UNKNOWN ? -EOPNOTSUPP : 0, msg))
                        return 1;
                if (!c->connected || c->ops.head != op)
                        return 1;
                return op_advance(c, op, STEP_COMMAND) && c->connected ? 0 : 1;

        case VICI_EVENT_CONFIRM:
        case VICI_EVENT_UNKNOWN:
                if (!op || !op->started ||
                    (op->step != STEP_REGISTER && op->step != STEP_UNREGISTER))
                        return -EPROTO;
                progress(c);
                if (op->kind == OP_REGISTER) {
                        mark_registered(c, op->event, type == VICI_EVENT_CONFIRM);
                        return op_advance(c, op, _STEP_MAX) && c->connected ? 0 : 1;
                }
                if (op->step == STEP_REGISTER && type == VICI_EVENT_UNKNOWN) {
                        /* no such stream event: the command would stream into the void */
                        if (!op_reply(c, op, -EOPNOTSUPP, NULL))
                                return 1;
                        if (!c->connected || c->ops.head != op)
                                return 1;
                        return op_advance(c, op, _STEP_MAX) && c->connected ? 0 : 1;
                }
                return op_advance(c, op, op->step) && c->connected ? 0 : 1;

        default:
                /* requests and registrations flow the other way only */
                return -EPROTO;
        }
}

static int client_read(vici_client *c) {
        ssize_t n;

        if (c->rsize - c->rlen < 4096) {
                size_t want = c->rsize ? c->rsize * 2 : 16384;
                uint8_t *p;
                if (want > 4 + VICI_PACKET_MAX + 4096)
                        want = 4 + VICI_PACKET_MAX + 4096;
                if (want <= c->rsize)
                        return -EMSGSIZE; /* cannot happen: packets are cut below */
                p = realloc(c->rbuf, want);
                if (!p)
                        return -ENOMEM;
                c->rbuf = p;
                c->rsize = want;
        }
        n = recv(c->fd, c->rbuf + c->rlen, c->rsize - c->rlen, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -ECONNRESET; /* EOF: charon went away */
        c->rlen += (size_t) n;

        /* cut whole packets: u32 BE length, then that many bytes */
        size_t off = 0;
        while (c->rlen - off >= 4) {
                const uint8_t *p = c->rbuf + off;
                uint32_t plen =
                        (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
                int r;

                if (plen > VICI_PACKET_MAX)
                        return -EMSGSIZE;
                if (plen == 0)
                        return -EBADMSG;
                if (c->rlen - off - 4 < plen)
                        break;
                r = client_packet(c, p + 4, plen);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 1; /* gone or reset: the buffer is no longer ours */
                off += 4 + plen;
        }
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
        return 0;
}

/* ---- connection ---- */

static void client_report(vici_client *c, bool connected, int reason) {
        c->reported = true;
        if (c->state_cb)
                c->state_cb(c, connected, reason, c->userdata);
}

static void client_schedule_retry(vici_client *c) {
        uint64_t d = c->backoff_usec;

        c->backoff_usec = c->backoff_usec > c->backoff_max_usec / 2 ? c->backoff_max_usec
                                                                    : c->backoff_usec * 2;
        if (timer_arm(c, &c->retry_timer, d, on_retry) < 0)
                /* without a timer we could never come back: try on the next loop turn */
                (void) timer_arm(c, &c->retry_timer, 0, on_retry);
}

static void client_close(vici_client *c) {
        c->io = ev_source_disable_unref(c->io);
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -1;
        c->rlen = c->wlen = 0;
        c->connecting = c->connected = false;
        c->peer_pid = 0;
        timer_disarm(&c->timeout_timer);
        for (size_t i = 0; i < c->n_subs; i++)
                c->subs[i].registered = false;
}

/* Lose the connection: fail every request, tell the owner, come back after the backoff. */
static void client_disconnect(vici_client *c, int reason) {
        bool was_connected = c->connected;

        client_close(c);
        c->last_error = reason;
        while (c->ops.head) {
                vici_op *op = vici_op_queue_pop(&c->ops);
                bool alive = op_reply(c, op, -ECONNRESET, NULL);
                vici_op_free(op);
                if (!alive)
                        return;
        }
        if (was_connected || !c->reported) {
                client_report(c, false, reason);
                if (c->dead)
                        return;
        }
        if (!c->connected && !c->connecting)
                client_schedule_retry(c);
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata);

static void client_connected(vici_client *c) {
        struct ucred cred = {};
        socklen_t cl = sizeof(cred);

        timer_disarm(&c->timeout_timer);
        /* who listens there: the credentials the listener had at listen(), so also known for a
         * process that is stopped and answers nothing */
        c->peer_pid = getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 ? cred.pid : 0;
        c->connecting = false;
        c->connected = true;
        c->last_error = 0;
        c->backoff_usec = c->backoff_min_usec;
        (void) io_update(c);

        /* subscriptions first, so the owner's requests from the callback queue behind them */
        for (size_t i = 0; i < c->n_subs; i++) {
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup = dup || strcmp(c->subs[j].event, c->subs[i].event) == 0;
                if (dup)
                        continue;
                int r = vici_op_queue_register(&c->ops, c->subs[i].event);
                if (r < 0) {
                        client_disconnect(c, r);
                        return;
                }
        }
        client_report(c, true, 0);
        if (c->dead || !c->connected)
                return;
        client_kick(c);
}

static void client_connect(vici_client *c) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int r;

        client_close(c);
        strncpy(sa.sun_path, c->path, sizeof(sa.sun_path) - 1);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                client_disconnect(c, -errno);
                return;
        }
        r = ev_add_io(c->event, &c->io, c->fd, EPOLLIN, on_io, c);
        if (r < 0) {
                client_disconnect(c, r);
                return;
        }
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EINPROGRESS) {
                        /* ENOENT, ECONNREFUSED: no charon; EAGAIN: its backlog is full */
                        client_disconnect(c, -errno);
                        return;
                }
                c->connecting = true;
                r = io_update(c);
                if (r >= 0) /* a connect that never completes must not stall us for good */
                        r = timer_arm(c, &c->timeout_timer, c->timeout_usec, on_timeout);
                if (r < 0)
                        client_disconnect(c, r);
                return;
        }
        client_connected(c);
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        vici_client *c = userdata;
        int r = 0;

        dispatch_enter(c);
        if (c->connecting) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err)
                        client_disconnect(c, -err);
                else
                        client_connected(c);
                (void) dispatch_leave(c);
                return 0;
        }
        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                r = client_read(c);
        if (r == 0 && c->connected && (revents & EPOLLOUT))
                r = client_flush(c);
        if (r < 0 && !c->dead && c->connected)
                client_disconnect(c, r);
        (void) dispatch_leave(c);
        return 0;
}

static int on_timeout(ev_source *s, uint64_t usec, void *userdata) {
        vici_client *c = userdata;
        vici_op *op = c->ops.head;
        int queued = 0;

        /* an answer that came while the loop was busy elsewhere is read before it is missed */
        if (!c->connecting && c->fd >= 0 && ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0) {
                (void) timer_arm(c, &c->timeout_timer, VICI_READ_GRACE_USEC, on_timeout);
                return 0;
        }
        dispatch_enter(c);
        timer_disarm(&c->timeout_timer);
        if (c->connecting)
                client_disconnect(c, -ETIMEDOUT);
        else if (op && op_reply(c, op, -ETIMEDOUT, NULL) && c->connected)
                client_disconnect(c, -ETIMEDOUT);
        (void) dispatch_leave(c);
        return 0;
}

static int on_kick(ev_source *s, void *userdata) {
        vici_client *c = userdata;

        dispatch_enter(c);
        c->kick_source = ev_source_disable_unref(c->kick_source);
        client_kick(c);
        (void) dispatch_leave(c);
        return 0;
}

/* API calls only queue; sending happens from the loop, so that a send error (which
 * disconnects and fails requests) never calls back into the owner inside the API call. */
static int client_kick_later(vici_client *c) {
        int r;

        if (c->kick_source)
                return 0;
        r = ev_add_defer(c->event, &c->kick_source, on_kick, c);
        if (r < 0)
                return r;
        return ev_source_set_enabled(c->kick_source, EV_ONESHOT);
}

static int on_retry(ev_source *s, uint64_t usec, void *userdata) {
        vici_client *c = userdata;

        dispatch_enter(c);
        timer_disarm(&c->retry_timer);
        client_connect(c);
        (void) dispatch_leave(c);
        return 0;
}

/* ---- API ---- */

int vici_client_new(vici_client **ret, ev_loop *e, const char *path, uint64_t timeout_usec,
                    uint64_t backoff_min_usec, uint64_t backoff_max_usec, vici_state_cb cb,
                    void *userdata) {
        vici_client *c;

        if (!ret || !e || !path || !*path || timeout_usec == 0 || backoff_min_usec == 0 ||
            backoff_max_usec < backoff_min_usec)
                return -EINVAL;
        if (strlen(path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -ENAMETOOLONG;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->path = strdup(path);
        if (!c->path) {
                free(c);
                return -ENOMEM;
        }
        c->event = ev_ref(e);
        c->fd = -1;
        c->timeout_usec = timeout_usec;
        c->backoff_min_usec = c->backoff_usec = backoff_min_usec;
        c->backoff_max_usec = backoff_max_usec;
        c->state_cb = cb;
        c->userdata = userdata;
        *ret = c;
        return 0;
}

vici_client *vici_client_free(vici_client *c) {
        if (!c || c->dead)
                return NULL;
        client_close(c);
        timer_disarm(&c->retry_timer);
        c->kick_source = ev_source_disable_unref(c->kick_source);
        vici_op_queue_clear(&c->ops);
        c->state_cb = NULL;
        c->packet_cb = NULL;
        if (c->dispatching > 0) {
                c->dead = true; /* the loop entry below us frees it on its way out */
                return NULL;
        }
        client_really_free(c);
        return NULL;
}

int vici_client_start(vici_client *c) {
        if (!c || c->dead)
                return -EINVAL;
        if (c->started)
                return -EALREADY;
        c->started = true;
        /* from the loop, so that no callback ever runs inside this call */
        return timer_arm(c, &c->retry_timer, 0, on_retry);
}

bool vici_client_is_connected(const vici_client *c) {
        return c && c->connected;
}

int vici_client_last_error(const vici_client *c) {
        return c ? c->last_error : -EINVAL;
}

int vici_client_reconnect_now(vici_client *c) {
        if (!c || c->dead || !c->started)
                return -EINVAL;
        if (c->connected || c->connecting)
                return 0;
        c->backoff_usec = c->backoff_min_usec;
        return timer_arm(c, &c->retry_timer, 0, on_retry);
}

pid_t vici_client_peer_pid(const vici_client *c) {
        return c && c->connected ? c->peer_pid : 0;
}

uint64_t vici_client_last_progress(const vici_client *c) {
        return c ? c->progress_usec : 0;
}

size_t vici_client_pending(const vici_client *c) {
        return c ? c->ops.n_user : 0;
}

static int name_check(const char *name) {
        if (!name || !*name)
                return -EINVAL;
        if (strlen(name) > 255)
                return -E2BIG;
        return 0;
}

static int op_enqueue(vici_client *c, op_kind kind, const char *cmd, const char *event,
                      const uint8_t *msg, size_t len, vici_item_cb item_cb, vici_reply_cb cb,
                      void *userdata) {
        _cleanup_(vici_op_freep) vici_op *op = NULL;
        int r;

        if (!c || c->dead || (!msg && len > 0))
                return -EINVAL;
        r = name_check(cmd);
        if (r >= 0 && kind == OP_STREAM)
                r = name_check(event);
        if (r < 0)
                return r;
        if (!c->connected)
                return -ENOTCONN;
        if (c->ops.n_user >= VICI_CLIENT_QUEUE_MAX)
                return -ENOBUFS;

        r = vici_op_new_request(kind, cmd, event, msg, len, item_cb, cb, userdata, &op);
        if (r < 0)
                return r;
        r = client_kick_later(c);
        if (r < 0)
                return r;
        vici_op_queue_append(&c->ops, TAKE_PTR(op));
        return 0;
}

int vici_client_command(vici_client *c, const char *cmd, const uint8_t *msg, size_t len,
                        vici_reply_cb cb, void *userdata) {
        return op_enqueue(c, OP_COMMAND, cmd, NULL, msg, len, NULL, cb, userdata);
}

int vici_client_stream(vici_client *c, const char *cmd, const char *event, const uint8_t *msg,
                       size_t len, vici_item_cb item_cb, vici_reply_cb done_cb, void *userdata) {
        return op_enqueue(c, OP_STREAM, cmd, event, msg, len, item_cb, done_cb, userdata);
}

void vici_client_forget(vici_client *c, const void *userdata) {
        /* the requests stay queued (charon's answers must still be consumed in order); they
         * just have nobody to tell any more */
        if (c)
                vici_op_queue_forget(&c->ops, userdata);
}

int vici_client_subscribe(vici_client *c, const char *event, vici_event_cb cb, void *userdata) {
        subscription *sub;
        bool known = false;
        int r;

        if (!c || c->dead || !cb)
                return -EINVAL;
        r = name_check(event);
        if (r < 0)
                return r;
        if (c->n_subs >= VICI_CLIENT_SUBSCRIPTIONS_MAX)
                return -ENOBUFS;
        for (size_t i = 0; i < c->n_subs; i++)
                known = known || strcmp(c->subs[i].event, event) == 0;

        sub = &c->subs[c->n_subs];
        *sub = (subscription){.event = strdup(event), .cb = cb, .userdata = userdata};
        if (!sub->event)
                return -ENOMEM;
        if (known) {
                /* the wire registration is shared: inherit its state */
                sub->registered = subscribed_registered(c, event);
                c->n_subs++;
                return 0;
        }
        if (c->connected) {
                /* registered now; after a reconnect client_connected() does it */
                r = client_kick_later(c);
                if (r >= 0)
                        r = vici_op_queue_register(&c->ops, event);
                if (r < 0) {
                        free(sub->event);
                        return r;
                }
        }
        c->n_subs++;
        return 0;
}

void vici_client_set_packet_hook(vici_client *c, vici_packet_cb cb, void *userdata) {
        if (!c)
                return;
        c->packet_cb = cb;
        c->packet_userdata = userdata;
}

int vici_client_defer_events(vici_client *c, bool defer) {
        if (!c || c->events_deferred == defer)
                return 0;
        c->events_deferred = defer;
        return io_update(c);
}
