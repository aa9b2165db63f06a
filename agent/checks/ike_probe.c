/* See ike_probe.h. A probe = one request packet sent unchanged on every attempt, so a
 * responder's retransmission cache (or its lack) cannot tell attempts apart, one timer that fires
 * at each resend and then at the deadline, and a place on a UDP socket (ike_probe_sock):
 *
 *  - a lone probe has a connected socket of its own: the kernel filters datagrams from anyone but
 *    the peer, and every error of the socket is the probe's;
 *  - the probes of one round to one address (one per port) share one socket (ike_probe_sock_new()),
 *    bound where a connected one would have been: datagrams go to the probe whose address and
 *    port they come from, ICMP errors to the probe whose datagram the error queue names. Half the
 *    sockets, descriptors, epoll registrations and (with a netns) helper threads of one per probe.
 *
 * The first copy leaves from ike_probe_start() itself; an error there, like one from connect(),
 * is delivered from the loop. Datagrams are received into a buffer on the stack; only an
 * unparsable one is kept (for the result), in a buffer allocated when the first one arrives. */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

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
        int fd;
        bool shared;
        int pending_error; /* from connect(): no route, every probe's verdict */
        struct sockaddr_storage addr; /* the address connected to (any port) */
        struct sockaddr_storage local;
        bool have_local;
        /* the probes still waiting for their answer */
        ike_probe *probes[IKE_PROBE_SOCK_PROBES_MAX];
        size_t n_probes;
        /* while the socket is read for one probe's deadline: did that probe finish? */
        const ike_probe *watching;
        bool watched_done;
};

struct ike_probe {
        ev_loop *event;
        ev_source *timer;
        ike_probe_sock *sock;
        struct sockaddr_storage remote;
        socklen_t remote_len;
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

/* Same address; same port too unless any_port. */
static bool addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b, bool any_port) {
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *x = (const struct sockaddr_in *) a, *y = (const struct sockaddr_in *) b;
                return x->sin_addr.s_addr == y->sin_addr.s_addr && (any_port || x->sin_port == y->sin_port);
        }
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) a, *y = (const struct sockaddr_in6 *) b;
        return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) && (any_port || x->sin6_port == y->sin6_port);
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

static void sock_detach(ike_probe_sock *s, const ike_probe *p) {
        size_t w = 0;

        for (size_t i = 0; i < s->n_probes; i++)
                if (s->probes[i] != p)
                        s->probes[w++] = s->probes[i];
        s->n_probes = w;
        if (w == 0) /* nobody waits: a stray datagram must not wake the agent */
                (void) ev_source_set_enabled(s->io, EV_OFF);
}

static void probe_stop(ike_probe *p) {
        p->done = true;
        p->timer = ev_source_disable_unref(p->timer);
        if (p->sock)
                sock_detach(p->sock, p);
}

/* Deliver once. The callback may free p, so nothing touches p afterwards. */
static void probe_finish(ike_probe *p, ike_probe_result *res) {
        res->attempts = p->attempts;
        if (p->sock && p->sock->watching == p)
                p->sock->watched_done = true;
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
        const ike_probe_sock *s = p->sock;

        for (unsigned k = 0;; k++) {
                ssize_t n;

                p->last_send_usec = mono_usec();
                n = s->shared ? sendto(s->fd, p->pkt, p->pkt_size, MSG_DONTWAIT | MSG_NOSIGNAL,
                                       (const struct sockaddr *) &p->remote, p->remote_len)
                              : send(s->fd, p->pkt, p->pkt_size, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n >= 0) {
                        p->attempts++;
                        return 0;
                }
                if (errno == EAGAIN || errno == ENOBUFS)
                        return 0; /* a full queue is like a lost datagram: the next try may pass */
                /* On a shared socket the error may be the socket's pending one, left by an ICMP
                 * error about another port's datagram (whichever call comes first takes it; the
                 * error queue keeps whose it was, and gives it to that probe): once more, and a
                 * second failure is this datagram's own. */
                if (!s->shared || k > 0)
                        return -errno;
        }
}

static void finish_deadline(ike_probe *p);
static bool sock_drain(ike_probe_sock *s, uint32_t revents, const ike_probe *watch);

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
                if (!sock_drain(p->sock, EPOLLERR, p))
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

/* The probe a datagram from `from` (or an error about a datagram to it) belongs to. */
static ike_probe *sock_probe_for(const ike_probe_sock *s, const struct sockaddr_storage *from) {
        if (!s->shared) /* connected: only the peer reaches it */
                return s->n_probes ? s->probes[0] : NULL;
        for (size_t i = 0; i < s->n_probes; i++)
                if (addr_same(&s->probes[i]->remote, from, false))
                        return s->probes[i];
        return NULL;
}

/* Read one entry of the error queue and give it to the probe whose datagram it is about (an
 * entry we do not understand, or about nobody's, is dropped). 1: an entry, 0: none. */
static int sock_read_error(ike_probe_sock *s) {
        uint8_t control[512];
        uint8_t dummy[64];
        struct sockaddr_storage offender = {0};
        struct iovec iov = {.iov_base = dummy, .iov_len = sizeof(dummy)};
        struct msghdr mh = {
                .msg_name = &offender,
                .msg_namelen = sizeof(offender),
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control,
                .msg_controllen = sizeof(control),
        };
        ike_probe_result res = {0};
        struct cmsghdr *c;
        ike_probe *p;

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
        p = sock_probe_for(s, &offender);
        if (res.error == 0 || !p)
                return 1;
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

/* Read what the socket holds and hand it to its probes. True when `watch` (if any) finished:
 * its callback ran, it may be gone. */
static bool sock_drain(ike_probe_sock *s, uint32_t revents, const ike_probe *watch) {
        uint8_t rx[RX_SIZE];
        bool done;

        sock_ref(s); /* the callbacks may free every probe, and with the last one the socket */
        s->watching = watch;
        s->watched_done = false;
        /* the kernel signals a queued ICMP error with EPOLLERR: look there first, for its
         * details; a plain datagram costs no error-queue read */
        if (revents & EPOLLERR)
                while (s->n_probes > 0 && sock_read_error(s) > 0)
                        ;
        for (unsigned i = 0; i < RECV_BURST && s->n_probes > 0; i++) {
                struct sockaddr_storage from = {0};
                socklen_t from_len = sizeof(from);
                ike_probe *p;
                ssize_t n;

                n = recvfrom(s->fd, rx, sizeof(rx), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &from_len);
                if (n < 0) {
                        int err = errno, read = 0;
                        if (err == EAGAIN || err == EINTR)
                                break;
                        /* an ICMP error (the socket's pending one): the error queue says whose */
                        while (s->n_probes > 0 && sock_read_error(s) > 0)
                                read++;
                        /* a connected socket's error is its probe's; a shared socket's error
                         * that names nobody stays unattributed (that probe ends silent) */
                        if (!read && !s->shared && s->n_probes > 0)
                                finish_errno(s->probes[0], err, "recv");
                        continue;
                }
                p = sock_probe_for(s, &from);
                if (p)
                        probe_datagram(p, rx, (size_t) n);
        }
        done = s->watched_done;
        s->watching = NULL;
        (void) ike_probe_sock_unref(s);
        return done;
}

static int on_sock_io(ev_source *src, int fd, uint32_t revents, void *userdata) {
        (void) sock_drain(userdata, revents, NULL);
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

/* A shared socket keeps the local address and port connect() chose, unconnected: bound there
 * explicitly (disconnecting releases an automatic port), or to a new port of that address when
 * another socket took it in between. */
static int sock_unconnect(ike_probe_sock *s) {
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        socklen_t len = addr_len(&s->local);

        if (connect(s->fd, &unspec, sizeof(unspec)) < 0)
                return -errno;
        if (bind(s->fd, (struct sockaddr *) &s->local, len) == 0)
                return 0;
        if (errno != EADDRINUSE)
                return -errno;
        if (s->local.ss_family == AF_INET)
                ((struct sockaddr_in *) &s->local)->sin_port = 0;
        else
                ((struct sockaddr_in6 *) &s->local)->sin6_port = 0;
        if (bind(s->fd, (struct sockaddr *) &s->local, len) < 0 ||
            getsockname(s->fd, (struct sockaddr *) &s->local, &len) < 0)
                return -errno;
        return 0;
}

static int sock_open(ike_probe_sock **ret, ev_loop *e, const struct sockaddr_storage *addr, const char *netns,
                     bool shared) {
        _cleanup_(ike_probe_sock_unrefp) ike_probe_sock *s = NULL;
        socklen_t len = sizeof(struct sockaddr_storage);
        int r, one = 1;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->fd = -1;
        s->shared = shared;
        s->addr = *addr;
        s->event = ev_ref(e);
        r = netns_socket(netns, addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
        if (r < 0)
                return r;
        s->fd = r;
        /* Without RECVERR a UDP socket reports only "hard" ICMP errors (port unreachable) and
         * only when connected; host/net unreachable would look like silence. */
        if (addr->ss_family == AF_INET)
                r = setsockopt(s->fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        else
                r = setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
        if (r < 0)
                return -errno;
        /* Connected: the route's local address and a port for NAT-D; a lone probe's socket stays
         * so (the kernel filters datagrams from anyone but the peer). */
        if (connect(s->fd, (const struct sockaddr *) addr, addr_len(addr)) < 0) {
                if (verdict_from_errno(errno) == IKE_PROBE_ERROR)
                        return -errno;
                s->pending_error = errno; /* e.g. no route: the verdict, delivered from the loop */
        } else if (getsockname(s->fd, (struct sockaddr *) &s->local, &len) == 0) {
                s->have_local = true;
                if (shared && (r = sock_unconnect(s)) < 0)
                        return r;
        } else if (shared)
                return -errno;
        r = ev_add_io(e, &s->io, s->fd, EPOLLIN, on_sock_io, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int default_port(struct sockaddr_storage *a, bool natt) {
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
        return 0;
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

int ike_probe_sock_new(ike_probe_sock **ret, ev_loop *e, const struct sockaddr *addr, socklen_t len,
                       const char *netns) {
        struct sockaddr_storage a = {0};
        int r;

        if (!ret || !e)
                return -EINVAL;
        r = check_addr(addr, len);
        if (r < 0)
                return r;
        if (netns && ike_probe_netns_name_valid(netns) < 0)
                return -EINVAL;
        memcpy(&a, addr, addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
        (void) default_port(&a, false);
        return sock_open(ret, e, &a, netns, true);
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
        (void) default_port(&p->remote, o->natt);
        p->remote_len = addr_len(&p->remote);

        if (o->sock) {
                /* one of the round's probes to this address: its socket, loop and room */
                if (!addr_same(&o->sock->addr, &p->remote, true) || o->sock->event != e)
                        return -EINVAL;
                if (o->sock->n_probes >= IKE_PROBE_SOCK_PROBES_MAX)
                        return -ENOSPC;
                p->sock = sock_ref(o->sock);
        } else {
                r = sock_open(&p->sock, e, &p->remote, o->netns, false);
                if (r < 0)
                        return r;
        }
        s = p->sock;
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
        s->probes[s->n_probes++] = p;
        r = ev_source_set_enabled(s->io, EV_ON);
        if (r < 0)
                return r;
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
