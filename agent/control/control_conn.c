/* See control.h: connections and the requests they carry. Each connection is a small state
 * machine on the loop: read into a bounded buffer, dispatch one complete frame at a time, write
 * the reply (buffering if the client reads slowly; control_frame.c), then look at the next
 * buffered frame. While a request is in flight the connection
 * neither reads nor times out, so a client cannot queue work faster than the agent does it, and
 * a slow VICI round trip does not count against the client.
 *
 * Functions below return <0 to mean "close this connection"; only the top-level callbacks
 * (io, timer, control_request_reply, and the listening socket's when it makes room: see
 * control_admit.c) free a connection, so nothing is used after free. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/control/control_internal.h"
#include "log.h"

#define CONTROL_READ_CHUNK 4096u

struct control_request {
        unsigned n_ref;
        control_conn *conn; /* NULL once answered or once the client went away */
        proto_verb verb;
        vici_node *body;
        control_peer peer; /* a copy: a deferred request may outlive its connection */
        vici_builder *reply;
        const vici_builder *handed; /* identity of the builder the handler got; never freed here */
        char *error;
        bool deferred, replied;
};

static int conn_dispatch(control_conn *c);
static int request_finish(control_request *req, int status);

/* ---- requests ---- */

proto_verb control_request_verb(const control_request *req) {
        return req->verb;
}

const vici_node *control_request_body(const control_request *req) {
        return req->body;
}

const control_peer *control_request_peer(const control_request *req) {
        return &req->peer;
}

void control_request_set_error(control_request *req, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return; /* the reply falls back to strerror() */
        if (strlen(s) > CONTROL_ERROR_MAX)
                s[CONTROL_ERROR_MAX] = 0;
        free(req->error);
        req->error = s;
}

control_request *control_request_ref(control_request *req) {
        if (req)
                req->n_ref++;
        return req;
}

control_request *control_request_unref(control_request *req) {
        if (!req || --req->n_ref > 0)
                return NULL;
        if (req->conn && !req->replied) {
                /* A handler dropped a deferred request without answering: answer for it, or
                 * the connection would wait forever, neither reading nor timing out. */
                control_conn *c = req->conn;
                int r;

                control_request_set_error(req, "'%s' was dropped by the agent without an answer",
                                          proto_verb_to_string(req->verb));
                r = request_finish(req, -ECANCELED);
                if (r >= 0)
                        r = conn_dispatch(c);
                if (r < 0 && !c->in_dispatch)
                        control_conn_free(c);
                else if (r < 0)
                        c->closing = true;
        }
        vici_node_free(req->body);
        vici_builder_free(req->reply);
        free(req->peer.groups);
        free(req->error);
        free(req);
        return NULL;
}

void control_request_defer(control_request *req) {
        if (req->deferred || req->replied)
                return;
        req->deferred = true;
        control_request_ref(req);
}


/* Answer `req` on its connection (if it still has one) with `status` and req->reply. */
static int request_finish(control_request *req, int status) {
        control_conn *c = req->conn;
        vici_builder *b = TAKE_PTR(req->reply);

        req->replied = true;
        if (!c) {
                vici_builder_free(b);
                return -ENOTCONN;
        }
        req->conn = NULL;
        if (c->current == req) {
                c->current = NULL;
                c->timer_armed = false; /* a fresh deadline for reading this answer and the next request */
        }
        return control_frame_reply(c, req->verb, status, b, req->error);
}

int control_request_reply(control_request *req, int status, vici_builder *reply) {
        control_conn *c = req->conn;
        int r;

        /* The handler's own builder is already ours (and gone if we answered); any other one
         * is taken over. */
        if (reply && reply != req->handed) {
                vici_builder_free(req->reply);
                req->reply = reply;
        }
        if (req->replied)
                r = -EALREADY;
        else {
                r = request_finish(req, status);
                if (c) {
                        /* the reply might have been the last thing holding the connection */
                        int k = r < 0 ? r : conn_dispatch(c);
                        if (k < 0 && !c->in_dispatch)
                                control_conn_free(c);
                        else if (k < 0)
                                c->closing = true;
                }
        }
        if (req->deferred) {
                req->deferred = false;
                control_request_unref(req);
        }
        return r;
}


static int peer_copy(control_peer *dst, const control_peer *src) {
        *dst = *src;
        dst->groups = NULL;
        if (src->n_groups > 0) {
                dst->groups = malloc(src->n_groups * sizeof(gid_t));
                if (!dst->groups)
                        return -ENOMEM;
                memcpy(dst->groups, src->groups, src->n_groups * sizeof(gid_t));
        }
        return 0;
}

/* One complete frame (after the length prefix). */
static int conn_handle_frame(control_conn *c, const uint8_t *buf, size_t len) {
        control_server *s = c->server;
        const control_peer *p = &c->peer;
        _cleanup_(vici_node_freep) vici_node *body = NULL;
        control_request *req;
        proto_header h;
        const char *name;
        char why[CONTROL_ERROR_MAX];
        int r;

        r = proto_header_parse(buf, len, &h);
        if (r == -EPROTONOSUPPORT) {
                log_debug("control: uid %u pid %d speaks protocol version %u, closing",
                          (unsigned) p->uid, (int) p->pid, h.version);
                c->closing = true;
                return control_frame_error(c, 0, -EPROTONOSUPPORT,
                                       "unsupported protocol version %u (this agent speaks %u)",
                                       h.version, PROTO_VERSION);
        }
        if (r < 0 || h.kind != PROTO_KIND_REQUEST) {
                log_debug("control: malformed frame header from uid %u pid %d, closing",
                          (unsigned) p->uid, (int) p->pid);
                c->closing = true;
                return control_frame_error(c, 0, -EBADMSG, "malformed request: %s",
                                       r < 0 ? "bad frame header" : "not a request");
        }
        if (!proto_verb_is_valid(h.verb))
                return control_frame_error(c, h.verb, -EOPNOTSUPP,
                                       "unknown verb %u (this agent, version %s, knows 1..%d)",
                                       h.verb, IKEHEAL_VERSION, _PROTO_VERB_MAX - 1);
        name = proto_verb_to_string(h.verb);

        if (!control_auth_check(s->cfg, p, proto_verb_is_write(h.verb), why, sizeof(why), name)) {
                log_notice("control: refused '%s' to uid %u (%s) pid %d", name, (unsigned) p->uid,
                           p->user, (int) p->pid);
                return control_frame_reply(c, h.verb, -EPERM, NULL, why);
        }
        if (!s->slots[h.verb].handler)
                return control_frame_error(c, h.verb, -EOPNOTSUPP,
                                       "'%s' is not implemented by this agent (version %s)", name,
                                       IKEHEAL_VERSION);

        r = vici_msg_parse(buf + PROTO_HEADER_SIZE, len - PROTO_HEADER_SIZE, &body);
        if (r < 0) {
                log_debug("control: malformed '%s' body from uid %u pid %d, closing", name,
                          (unsigned) p->uid, (int) p->pid);
                c->closing = true;
                return control_frame_error(c, h.verb, r == -ENOMEM ? -ENOMEM : -EBADMSG,
                                       "malformed request body for '%s': %s", name, strerror(-r));
        }

        if (proto_verb_is_write(h.verb))
                log_info("control: '%s' from uid %u (%s) pid %d", name, (unsigned) p->uid, p->user,
                         (int) p->pid);
        else
                log_debug("control: '%s' from uid %u (%s) pid %d", name, (unsigned) p->uid,
                          p->user, (int) p->pid);

        req = calloc(1, sizeof(*req));
        if (!req)
                return control_frame_error(c, h.verb, -ENOMEM, "out of memory");
        req->n_ref = 1;
        req->verb = h.verb;
        req->body = TAKE_PTR(body);
        r = peer_copy(&req->peer, p);
        if (r >= 0)
                r = vici_builder_new(&req->reply);
        req->handed = req->reply;
        if (r < 0) {
                control_request_unref(req);
                return control_frame_error(c, h.verb, r, "cannot start request: %s", strerror(-r));
        }
        req->conn = c;
        c->current = req;

        r = s->slots[h.verb].handler(req, req->reply, s->slots[h.verb].userdata);
        if (!req->replied && (r < 0 || !req->deferred))
                r = request_finish(req, r < 0 ? r : 0);
        else
                r = 0;
        control_request_unref(req);
        return r;
}

static int conn_read(control_conn *c) {
        const size_t cap = PROTO_LENGTH_SIZE + PROTO_REQUEST_MAX;

        if (c->rlen == c->ralloc) {
                size_t n = c->ralloc ? c->ralloc * 2 : CONTROL_READ_CHUNK;
                uint8_t *p;

                if (n > cap)
                        n = cap;
                if (n == c->ralloc)
                        return 0; /* full: a frame waits for dispatch */
                p = realloc(c->rbuf, n);
                if (!p)
                        return -ENOMEM;
                c->rbuf = p;
                c->ralloc = n;
        }
        for (;;) {
                ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->ralloc - c->rlen, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                if (n == 0)
                        return -ECONNRESET; /* client closed */
                c->rlen += (size_t) n;
                return 0;
        }
}

int control_conn_update(control_conn *c) {
        uint32_t events = 0;
        int r;

        if (c->closing && c->wlen == 0)
                return -ECONNABORTED;
        if (c->wlen > 0)
                events |= EPOLLOUT;
        else if (!c->current && !c->closing)
                events |= EPOLLIN;
        r = ev_source_set_io_events(c->io, events);
        if (r < 0)
                return r;

        /* The request deadline runs only while we wait for the client (for its request, or for
         * it to read our answer), and is armed once per request: input does not push it back,
         * or a client trickling a byte at a time could hold its slot for ever. */
        if (c->current || c->server->request_usec == 0) {
                c->timer_armed = false;
                return ev_source_set_enabled(c->timer, EV_OFF);
        }
        if (c->timer_armed)
                return 0;
        r = ev_source_set_time_relative(c->timer, c->server->request_usec);
        if (r < 0)
                return r;
        c->timer_armed = true;
        return ev_source_set_enabled(c->timer, EV_ONESHOT);
}

/* Handle every complete buffered frame we may handle now, then update the event mask. */
static int conn_dispatch(control_conn *c) {
        int r = 0;

        if (c->in_dispatch)
                return 0;
        c->in_dispatch = true;
        while (!c->current && !c->closing && c->wlen == 0) {
                size_t flen;

                r = proto_frame_peek(c->rbuf, c->rlen, PROTO_REQUEST_MAX, &flen);
                if (r == -EAGAIN) {
                        r = 0;
                        break;
                }
                if (r == -EMSGSIZE || r == -EBADMSG) {
                        uint32_t n = (uint32_t) c->rbuf[0] << 24 | (uint32_t) c->rbuf[1] << 16 |
                                     (uint32_t) c->rbuf[2] << 8 | c->rbuf[3];
                        c->closing = true;
                        if (r == -EMSGSIZE)
                                r = control_frame_error(c, 0, -EMSGSIZE,
                                                    "request of %u bytes exceeds the limit of %u",
                                                    n, PROTO_REQUEST_MAX);
                        else
                                r = control_frame_error(c, 0, -EBADMSG,
                                                    "malformed request: frame length %u", n);
                        break;
                }
                if (r < 0 || c->rlen < flen) {
                        r = r < 0 ? r : 0;
                        break;
                }
                r = conn_handle_frame(c, c->rbuf + PROTO_LENGTH_SIZE, flen - PROTO_LENGTH_SIZE);
                memmove(c->rbuf, c->rbuf + flen, c->rlen - flen);
                c->rlen -= flen;
                if (r < 0)
                        break;
        }
        c->in_dispatch = false;
        if (r < 0)
                return r;
        return control_conn_update(c);
}

static int on_conn_io(ev_source *es, int fd, uint32_t revents, void *userdata) {
        control_conn *c = userdata;
        int r = 0;

        if (revents & (EPOLLHUP | EPOLLERR)) {
                /* the client is gone; nobody would read an answer */
                control_conn_free(c);
                return 0;
        }
        if (revents & EPOLLOUT)
                r = control_frame_flush(c);
        if (r >= 0 && (revents & EPOLLIN))
                r = conn_read(c);
        if (r >= 0)
                r = conn_dispatch(c);
        if (r < 0)
                control_conn_free(c);
        return 0;
}

static int on_conn_timer(ev_source *es, uint64_t usec, void *userdata) {
        control_conn *c = userdata;

        log_debug("control: closing the connection of uid %u pid %d: no complete request (or its answer not "
                  "read) within the deadline", (unsigned) c->peer.uid, (int) c->peer.pid);
        control_conn_free(c);
        return 0;
}

void control_conn_free(control_conn *c) {
        control_server *s = c->server;

        if (c->current)
                c->current->conn = NULL; /* its handler may still answer; the answer is dropped */
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        ev_source_disable_unref(c->io);
        ev_source_disable_unref(c->timer);
        if (c->fd >= 0)
                (void) close(c->fd);
        free(c->peer.groups);
        free(c->rbuf);
        free(c->wbuf);
        free(c);
}

int control_conn_new(control_server *s, int fd, control_peer *peer, bool privileged) {
        control_conn *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                (void) close(fd);
                free(peer->groups);
                return -ENOMEM;
        }
        c->server = s;
        c->fd = fd;
        c->peer = *peer;
        c->privileged = privileged;
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;

        r = ev_add_io(s->event, &c->io, fd, EPOLLIN, on_conn_io, c);
        if (r >= 0)
                r = ev_add_time_relative(s->event, &c->timer, CLOCK_MONOTONIC,
                                               s->request_usec ?: CONTROL_REQUEST_TIMEOUT_USEC, 0,
                                               on_conn_timer, c);
        if (r >= 0)
                r = ev_source_set_enabled(c->timer, EV_OFF);
        if (r >= 0)
                r = control_conn_update(c);
        if (r < 0) {
                control_conn_free(c);
                return r;
        }
        log_debug("control: connection from uid %u (%s) gid %u pid %d%s", (unsigned) c->peer.uid,
                  c->peer.user, (unsigned) c->peer.gid, (int) c->peer.pid,
                  privileged ? " (root, operator or approver)" : "");
        return 0;
}

/* ---- the listening socket ---- */
