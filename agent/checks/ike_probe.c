/* See ike_probe.h. A probe = one request packet sent unchanged on every attempt, so a
 * responder's retransmission cache (or its lack) cannot tell attempts apart, one timer that fires
 * at each resend and then at the deadline, and a connected, non-blocking UDP socket
 * (ike_probe_sock): the probe's own, or one kept by the caller between probes to the same address
 * and port, connected afresh for each (a fresh ephemeral port) after what its previous port
 * still held has been thrown away. The first copy leaves from ike_probe_start() itself; an error
 * there, like one from connect(), is delivered from the loop. Datagrams are received into a
 * buffer on the stack; only an unparsable one is kept (for the result), in a buffer allocated
 * when the first one arrives. */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which uses struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/checks/ike_probe.h"
#include "netns.h"
#include "now.h"

#define NATT_MARKER_SIZE 4
/* Datagrams handled per wake-up, so a flood cannot hold the loop. */
#define RECV_BURST 16
/* sd-event's default accuracy (0 = 250 ms) would merge a short probe's resends into its
 * deadline; a millisecond keeps the schedule what the caller asked for. */
#define TIMER_ACCURACY_USEC USEC_PER_MSEC
/* Room for the largest answer we parse, its marker, and one byte to see a longer one. */
#define RX_SIZE (IKEV2_MSG_MAX_SIZE + NATT_MARKER_SIZE + 1)

struct ike_probe_sock {
        unsigned n_ref;
        ev_loop *event;
        ev_source *io;
        int fd, family;
        bool kept;         /* the caller's, between probes: ike_probe_sock_new() */
        bool connected;    /* to the probe's peer: connect() succeeded */
        int pending_error; /* from connect(): no route, the probe's verdict */
        struct sockaddr_storage local;
        bool have_local;
        ike_probe *probe; /* the one waiting for its answer */
        unsigned ends;    /* probes finished on it: one at a time, so a drain can tell */
};

struct ike_probe {
        ev_loop *event;
        ev_source *timer;
        ike_probe_sock *sock;
        struct sockaddr_storage remote;
        bool natt, done;
        int pending_error; /* from connect() or the first send(): delivered on the first tick */
        const char *pending_where;
        uint8_t spi_i[IKEV2_SPI_SIZE];
        uint8_t *pkt; /* request as sent (with marker on 4500) */
        size_t pkt_size;
        unsigned attempts, ticks, max_attempts, garbage;
        uint64_t start_usec, interval_usec, deadline_usec, last_send_usec;
        const char *garbage_reason;
        size_t garbage_size; /* last unparsable datagram, kept in garbage_buf (RX_SIZE) */
        uint8_t *garbage_buf;
        ike_probe_cb cb;
        void *userdata;
};

const char *ike_probe_verdict_to_string(ike_probe_verdict v) {
        static const char *const names[_IKE_PROBE_VERDICT_MAX] = {
                [IKE_PROBE_ANSWERED] = "ANSWERED",       [IKE_PROBE_REFUSED] = "REFUSED",
                [IKE_PROBE_UNREACHABLE] = "UNREACHABLE", [IKE_PROBE_SILENT] = "SILENT",
                [IKE_PROBE_GARBAGE] = "GARBAGE",         [IKE_PROBE_ERROR] = "ERROR",
        };
        return (unsigned) v < _IKE_PROBE_VERDICT_MAX ? names[v] : "?";
}

int ike_probe_netns_name_valid(const char *name) {
        return netns_name_valid(name);
}

static socklen_t addr_len(const struct sockaddr_storage *a) {
        return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static ike_probe_verdict verdict_from_errno(int err) {
        switch (err) {
        case ECONNREFUSED:
                return IKE_PROBE_REFUSED;
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENONET:
        case EACCES: /* ICMPv6 administratively prohibited */
        case EPERM:  /* our own output filter */
                return IKE_PROBE_UNREACHABLE;
        default:
                return IKE_PROBE_ERROR;
        }
}

/* ---- result delivery ---- */

static void sock_release(ike_probe_sock *s);

static void probe_stop(ike_probe *p) {
        p->done = true;
        p->timer = ev_source_disable_unref(p->timer);
        if (p->sock && p->sock->probe == p) {
                p->sock->probe = NULL;
                /* nobody waits: a stray datagram must not wake the agent */
                if (p->sock->kept)
                        sock_release(p->sock);
                else
                        (void) ev_source_set_enabled(p->sock->io, EV_OFF);
        }
}

/* Deliver once. The callback may free p, so nothing touches p afterwards. */
static void probe_finish(ike_probe *p, ike_probe_result *res) {
        res->attempts = p->attempts;
        if (p->sock)
                p->sock->ends++;
        probe_stop(p);
        p->cb(p, res, p->userdata);
}

static void finish_errno(ike_probe *p, int err, const char *where) {
        ike_probe_result res = {.error = err};

        res.verdict = verdict_from_errno(err);
        if (p->attempts > 0)
                res.rtt_usec = mono_usec() - p->last_send_usec;
        (void) snprintf(res.detail, sizeof(res.detail), "%s: %s", where, strerror(err));
        probe_finish(p, &res);
}

/* ---- sending ---- */

static int probe_send(ike_probe *p) {
        ssize_t n;

        p->last_send_usec = mono_usec();
        n = send(p->sock->fd, p->pkt, p->pkt_size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
                if (errno == EAGAIN || errno == ENOBUFS)
                        return 0; /* a full queue is like a lost datagram: the next try may pass */
                return -errno;
        }
        p->attempts++;
        return 0;
}

static void finish_deadline(ike_probe *p);
static bool sock_drain(ike_probe_sock *s, uint32_t revents);

/* Resends at start + k × interval (k = 1 … max_attempts − 1), then the deadline. */
static int on_timer(ev_source *s, uint64_t usec, void *userdata) {
        ike_probe *p = userdata;
        uint64_t next;
        int r;

        if (p->pending_error) {
                finish_errno(p, p->pending_error, p->pending_where);
                return 0;
        }
        if (usec >= p->deadline_usec) {
                /* An answer may wait unread when the loop was busy elsewhere past the deadline
                 * (the timer and the socket became ready in the same iteration): read it before
                 * calling the gateway silent. */
                if (!sock_drain(p->sock, EPOLLERR))
                        finish_deadline(p);
                return 0;
        }
        r = probe_send(p);
        if (r < 0) {
                finish_errno(p, -r, "send");
                return 0;
        }
        /* count ticks, not successful sends, so a persistent EAGAIN still ends the series */
        p->ticks++;
        next = p->deadline_usec;
        if (p->ticks < p->max_attempts && p->start_usec + p->ticks * p->interval_usec < next)
                next = p->start_usec + p->ticks * p->interval_usec;
        r = ev_source_set_time(s, next);
        if (r >= 0)
                r = ev_source_set_enabled(s, EV_ONESHOT);
        if (r < 0)
                finish_errno(p, -r, "probe timer");
        return 0;
}

/* ---- receiving ---- */

/* Read one entry of the error queue: the probe's verdict when it is an error we understand.
 * 1: an entry, 0: none. */
static int sock_read_error(ike_probe_sock *s) {
        uint8_t control[512];
        uint8_t dummy[64];
        struct iovec iov = {.iov_base = dummy, .iov_len = sizeof(dummy)};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control,
                .msg_controllen = sizeof(control),
        };
        ike_probe_result res = {0};
        struct cmsghdr *c;
        ike_probe *p = s->probe;

        if (recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                return 0;
        for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                const struct sock_extended_err *ee;

                if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
                        continue;
                if (c->cmsg_len < CMSG_LEN(sizeof(*ee)))
                        continue;
                ee = (const struct sock_extended_err *) CMSG_DATA(c);
                res.error = (int) ee->ee_errno;
                if (ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6) {
                        res.icmp = true;
                        res.icmp_type = ee->ee_type;
                        res.icmp_code = ee->ee_code;
                }
                break;
        }
        if (res.error == 0 || !p)
                return 1; /* not an error report we understand: keep reading data */
        res.verdict = verdict_from_errno(res.error);
        res.rtt_usec = mono_usec() - p->last_send_usec;
        if (res.icmp)
                (void) snprintf(res.detail, sizeof(res.detail), "ICMP%s type %u code %u: %s",
                                c->cmsg_level == SOL_IPV6 ? "v6" : "", res.icmp_type, res.icmp_code,
                                strerror(res.error));
        else
                (void) snprintf(res.detail, sizeof(res.detail), "local error: %s",
                                strerror(res.error));
        probe_finish(p, &res);
        return 1;
}

static void note_garbage(ike_probe *p, const uint8_t *d, size_t n, const char *why) {
        p->garbage++;
        p->garbage_reason = why;
        if (!p->garbage_buf)
                p->garbage_buf = malloc(RX_SIZE);
        /* without memory the count and the reason still stand; only the sample is lost */
        p->garbage_size = p->garbage_buf ? (n < RX_SIZE ? n : RX_SIZE) : 0;
        if (p->garbage_size)
                memcpy(p->garbage_buf, d, p->garbage_size);
}

static void finish_answer(ike_probe *p, const ikev2_msg_response *m, const uint8_t *d, size_t n) {
        ike_probe_result res = {
                .verdict = IKE_PROBE_ANSWERED,
                .rtt_usec = mono_usec() - p->last_send_usec,
                .notify = m->notify,
                .ke_group = m->ke_group,
                .has_sa = m->has_sa,
                .has_ke = m->has_ke,
                .has_nonce = m->has_nonce,
                .cookie = m->cookie,
                .response = d,
                .response_size = n,
        };
        const char *name = ikev2_msg_notify_to_string(m->notify);

        if (m->notify == IKEV2_N_INVALID_KE_PAYLOAD)
                (void) snprintf(res.detail, sizeof(res.detail),
                                "N(INVALID_KE_PAYLOAD) asks for group %u", m->ke_group);
        else if (m->notify && name)
                (void) snprintf(res.detail, sizeof(res.detail), "N(%s)", name);
        else if (m->notify)
                (void) snprintf(res.detail, sizeof(res.detail), "N(%u)", m->notify);
        else if (m->cookie)
                (void) snprintf(res.detail, sizeof(res.detail), "N(COOKIE)");
        else if (m->redirect)
                (void) snprintf(res.detail, sizeof(res.detail), "N(REDIRECT)");
        else
                (void) snprintf(res.detail, sizeof(res.detail),
                                "SA/KE/Nonce: encr %u/%u prf %u integ %u group %u", m->encr,
                                m->encr_keylen, m->prf, m->integ, m->dh);
        probe_finish(p, &res);
}

/* One datagram from the probe's peer: its answer, or garbage (too much of it ends the probe). */
static void probe_datagram(ike_probe *p, const uint8_t *rx, size_t len) {
        ikev2_msg_response m;
        const char *why = NULL;
        const uint8_t *d = rx;

        if (len > RX_SIZE - 1) {
                note_garbage(p, d, RX_SIZE - 1, "datagram larger than IKEV2_MSG_MAX_SIZE");
        } else if (p->natt && (len < NATT_MARKER_SIZE || memcmp(d, "\0\0\0\0", 4) != 0)) {
                note_garbage(p, d, len, "no non-ESP marker on port 4500");
        } else {
                if (p->natt) {
                        d += NATT_MARKER_SIZE;
                        len -= NATT_MARKER_SIZE;
                }
                if (ikev2_msg_parse_init_response(d, len, p->spi_i, &m, &why) == 0) {
                        finish_answer(p, &m, d, len);
                        return;
                }
                note_garbage(p, d, len, why);
        }
        if (p->garbage >= IKE_PROBE_GARBAGE_MAX) {
                ike_probe_result res = {.verdict = IKE_PROBE_GARBAGE};
                res.response = p->garbage_buf;
                res.response_size = p->garbage_size;
                (void) snprintf(res.detail, sizeof(res.detail), "%u unparsable datagrams, last: %s",
                                p->garbage, p->garbage_reason);
                probe_finish(p, &res);
        }
}

static ike_probe_sock *sock_ref(ike_probe_sock *s) {
        s->n_ref++;
        return s;
}

/* Read what the socket holds for its probe. True when the probe finished (its callback ran: it
 * may be gone). */
static bool sock_drain(ike_probe_sock *s, uint32_t revents) {
        uint8_t rx[RX_SIZE];
        unsigned ends = s->ends;

        if (!s->probe) {
                /* nobody waits (a kept socket between probes hears nothing unless its release
                 * failed): whatever woke us is thrown away, not left to wake us again */
                if (s->kept)
                        sock_release(s);
                else
                        (void) ev_source_set_enabled(s->io, EV_OFF);
                return false;
        }
        sock_ref(s); /* the callback may free the probe, and with it the socket */
        /* the kernel signals a queued ICMP error with EPOLLERR: look there first, for its
         * details; a plain datagram costs no error-queue read */
        if (revents & EPOLLERR)
                while (s->probe && sock_read_error(s) > 0)
                        ;
        for (unsigned i = 0; i < RECV_BURST && s->probe; i++) {
                ssize_t n = recv(s->fd, rx, sizeof(rx), MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0) {
                        int err = errno;
                        bool read = false;
                        if (err == EAGAIN || err == EINTR)
                                break;
                        /* an error that arrived during this burst: its details if queued */
                        while (s->probe && sock_read_error(s) > 0)
                                read = true;
                        if (!read && s->probe)
                                finish_errno(s->probe, err, "recv");
                        break;
                }
                probe_datagram(s->probe, rx, (size_t) n);
        }
        ends = s->ends - ends;
        (void) ike_probe_sock_unref(s);
        return ends > 0;
}

static int on_sock_io(ev_source *src, int fd, uint32_t revents, void *userdata) {
        (void) sock_drain(userdata, revents);
        return 0;
}

static void finish_deadline(ike_probe *p) {
        ike_probe_result res = {.verdict = p->garbage ? IKE_PROBE_GARBAGE : IKE_PROBE_SILENT};

        if (p->garbage) {
                res.response = p->garbage_buf;
                res.response_size = p->garbage_size;
                (void) snprintf(res.detail, sizeof(res.detail),
                                "%u unparsable datagram%s, last: %s", p->garbage,
                                p->garbage == 1 ? "" : "s", p->garbage_reason);
        } else
                (void) snprintf(res.detail, sizeof(res.detail), "no answer to %u datagram%s",
                                p->attempts, p->attempts == 1 ? "" : "s");
        probe_finish(p, &res);
}

/* ---- the socket ---- */

ike_probe_sock *ike_probe_sock_unref(ike_probe_sock *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        s->io = ev_source_disable_unref(s->io);
        if (s->fd >= 0)
                (void) close(s->fd);
        s->event = ev_unref(s->event);
        free(s);
        return NULL;
}

static int sock_open(ike_probe_sock **ret, ev_loop *e, int family, const char *netns) {
        _cleanup_(ike_probe_sock_unrefp) ike_probe_sock *s = NULL;
        int r, one = 1;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->fd = -1;
        s->family = family;
        s->event = ev_ref(e);
        r = netns_socket(netns, family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
        if (r < 0)
                return r;
        s->fd = r;
        /* Without RECVERR a connected UDP socket reports only "hard" ICMP errors (port
         * unreachable); host/net unreachable would look like silence. */
        if (family == AF_INET)
                r = setsockopt(s->fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        else
                r = setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
        if (r < 0)
                return -errno;
        /* a kept socket stays registered: unconnected between its probes, it hears nothing */
        r = ev_add_io(e, &s->io, s->fd, EPOLLIN, on_sock_io, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* A kept socket between probes: disconnected, which releases its port — nothing more can
 * arrive — and emptied of what that port received (a late answer, an ICMP error and the error it
 * left pending), so none of it can pass for the next probe's; idle and silent until then. */
static void sock_release(ike_probe_sock *s) {
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        uint8_t dummy[64], control[512];
        struct iovec iov = {.iov_base = dummy, .iov_len = sizeof(dummy)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

        if (s->connected && connect(s->fd, &unspec, sizeof(unspec)) == 0)
                s->connected = false;
        /* datagrams, and the pending error (returned once): the queue is bounded by the receive
         * buffer and nothing joins it once unconnected; the cap only guards against a kernel that
         * would keep failing */
        for (unsigned i = 0; i < 1u << 16; i++) {
                ssize_t n = recv(s->fd, dummy, sizeof(dummy), MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
        }
        for (unsigned i = 0; i < 1u << 16; i++) {
                mh.msg_control = control;
                mh.msg_controllen = sizeof(control);
                if (recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                        break;
        }
}

/* Connect the socket to the probe's peer: a fresh ephemeral port. */
static int sock_connect(ike_probe_sock *s, const struct sockaddr_storage *remote) {
        socklen_t len = sizeof(s->local);

        if (s->connected) /* a kept socket is released when its probe ends */
                return -EBUSY;
        s->pending_error = 0;
        s->have_local = false;
        if (connect(s->fd, (const struct sockaddr *) remote, addr_len(remote)) < 0) {
                if (verdict_from_errno(errno) == IKE_PROBE_ERROR)
                        return -errno;
                s->pending_error = errno; /* e.g. no route: the verdict, delivered from the loop */
                return 0;
        }
        s->connected = true;
        if (getsockname(s->fd, (struct sockaddr *) &s->local, &len) == 0)
                s->have_local = true;
        return 0;
}

static void default_port(struct sockaddr_storage *a, bool natt) {
        uint16_t port = htons(natt ? IKE_PROBE_PORT_NATT : IKE_PROBE_PORT);

        if (a->ss_family == AF_INET) {
                struct sockaddr_in *in4 = (struct sockaddr_in *) a;
                if (!in4->sin_port)
                        in4->sin_port = port;
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) a;
                if (!in6->sin6_port)
                        in6->sin6_port = port;
        }
}

static int check_addr(const struct sockaddr *addr, socklen_t len) {
        if (!addr)
                return -EINVAL;
        if (addr->sa_family == AF_INET)
                return len < sizeof(struct sockaddr_in) ? -EINVAL : 0;
        if (addr->sa_family == AF_INET6)
                return len < sizeof(struct sockaddr_in6) ? -EINVAL : 0;
        return -EAFNOSUPPORT;
}

int ike_probe_sock_new(ike_probe_sock **ret, ev_loop *e, int family, const char *netns) {
        int r;

        if (!ret || !e)
                return -EINVAL;
        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;
        if (netns && ike_probe_netns_name_valid(netns) < 0)
                return -EINVAL;
        r = sock_open(ret, e, family, netns);
        if (r >= 0)
                (*ret)->kept = true;
        return r;
}

/* ---- lifetime ---- */

ike_probe *ike_probe_free(ike_probe *p) {
        if (!p)
                return NULL;
        probe_stop(p);
        p->sock = ike_probe_sock_unref(p->sock);
        p->event = ev_unref(p->event);
        free(p->pkt);
        free(p->garbage_buf);
        free(p);
        return NULL;
}

static int check_options(const ike_probe_options *o) {
        int r = check_addr(o->addr, o->addr_len);

        if (r < 0)
                return r;
        if (o->timeout_usec < USEC_PER_MSEC || o->timeout_usec > IKE_PROBE_TIMEOUT_MAX_USEC)
                return -EINVAL;
        if (o->retries > IKE_PROBE_RETRIES_MAX)
                return -EINVAL;
        if (o->offer != IKE_PROBE_OFFER_STATELESS && o->offer != IKE_PROBE_OFFER_FULL)
                return -EINVAL;
        if (o->ke_group && o->ke_group != IKEV2_GROUP_X25519 && o->ke_group != IKEV2_GROUP_ECP256)
                return -EINVAL;
        if (o->keys && o->ke_group && o->ke_group != ikev2_msg_keys_group(o->keys))
                return -EINVAL;
        if (o->netns && ike_probe_netns_name_valid(o->netns) < 0)
                return -EINVAL;
        return 0;
}

int ike_probe_start(ike_probe **ret, ev_loop *e, const ike_probe_options *o, ike_probe_cb cb,
                    void *userdata) {
        _cleanup_(ike_probe_freep) ike_probe *p = NULL;
        ikev2_msg_request *req = NULL;
        ike_probe_sock *s;
        uint64_t now;
        int r;

        if (!ret || !e || !o || !cb)
                return -EINVAL;
        r = check_options(o);
        if (r < 0)
                return r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->event = ev_ref(e);
        p->natt = o->natt;
        p->cb = cb;
        p->userdata = userdata;
        p->max_attempts = o->retries + 1;
        p->interval_usec = o->timeout_usec / p->max_attempts;
        memcpy(&p->remote, o->addr,
               o->addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
        default_port(&p->remote, o->natt);

        if (o->sock) {
                /* the caller's kept socket: same loop and family, one probe at a time */
                if (o->sock->family != p->remote.ss_family || o->sock->event != e)
                        return -EINVAL;
                if (o->sock->probe)
                        return -EBUSY;
                p->sock = sock_ref(o->sock);
        } else {
                r = sock_open(&p->sock, e, p->remote.ss_family, o->netns);
                if (r < 0)
                        return r;
        }
        s = p->sock;
        r = sock_connect(s, &p->remote);
        if (r < 0)
                return r;
        s->probe = p; /* from here a failure releases the socket (probe_stop) */
        if (s->pending_error) {
                p->pending_error = s->pending_error;
                p->pending_where = "connect";
        }

        r = ikev2_msg_build_init(
                &(ikev2_msg_init_options){
                        .ke_group = o->ke_group,
                        .keys = o->keys,
                        .offer = o->offer == IKE_PROBE_OFFER_FULL ? IKEV2_MSG_OFFER_FULL
                                                                  : IKEV2_MSG_OFFER_STATELESS,
                        .local = s->have_local ? (struct sockaddr *) &s->local : NULL,
                        .remote = s->have_local ? (struct sockaddr *) &p->remote : NULL,
                },
                &req);
        if (r < 0)
                return r;
        memcpy(p->spi_i, req->spi_i, IKEV2_SPI_SIZE);
        p->pkt_size = req->size + (o->natt ? NATT_MARKER_SIZE : 0);
        p->pkt = calloc(1, p->pkt_size); /* marker = 4 zero bytes, left by calloc */
        if (p->pkt)
                memcpy(p->pkt + (o->natt ? NATT_MARKER_SIZE : 0), req->data, req->size);
        req = ikev2_msg_request_free(req);
        if (!p->pkt)
                return -ENOMEM;

        /* the clock now, not the loop iteration's timestamp: after a busy iteration that one lies
         * in the past and the probe would be given less than its timeout */
        now = mono_usec();
        p->start_usec = now;
        p->deadline_usec = now + o->timeout_usec;
        /* The first copy goes now; whatever comes of it is read from the loop, so cb never
         * runs inside ike_probe_start(). */
        if (!p->pending_error) {
                r = probe_send(p);
                if (r < 0) {
                        p->pending_error = -r;
                        p->pending_where = "send";
                }
                p->ticks = 1;
        }
        r = ev_add_time(e, &p->timer, CLOCK_MONOTONIC,
                              p->pending_error          ? now
                              : p->max_attempts > 1 ? now + p->interval_usec
                                                        : p->deadline_usec,
                              TIMER_ACCURACY_USEC, on_timer, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
