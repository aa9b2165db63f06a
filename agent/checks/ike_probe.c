/* See ike_probe.h. One probe = one connected, non-blocking UDP socket, two event sources (the
 * socket, and one timer that fires at each resend and then at the deadline) and one request
 * packet sent unchanged on every attempt, so a responder's retransmission cache (or its lack)
 * cannot tell attempts apart. The first copy leaves from ike_probe_start() itself; an error
 * there, like one from connect(), is delivered from the loop. Datagrams are received into a
 * buffer on the stack; only an unparsable one is kept (for the result), in a buffer allocated
 * when the first one arrives. */
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

struct ike_probe {
        ev_loop *event;
        ev_source *io, *timer;
        int fd;
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

static int open_socket(int family, const char *netns) {
        return netns_socket(netns, family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
}

/* ---- result delivery ---- */

static void probe_stop(ike_probe *p) {
        p->done = true;
        p->io = ev_source_disable_unref(p->io);
        p->timer = ev_source_disable_unref(p->timer);
}

/* Deliver once. The callback may free p, so nothing touches p afterwards. */
static void probe_finish(ike_probe *p, ike_probe_result *res) {
        res->attempts = p->attempts;
        probe_stop(p);
        p->cb(p, res, p->userdata);
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
        n = send(p->fd, p->pkt, p->pkt_size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
                if (errno == EAGAIN || errno == ENOBUFS)
                        return 0; /* a full queue is like a lost datagram: the next try may pass */
                return -errno;
        }
        p->attempts++;
        return 0;
}

static void finish_deadline(ike_probe *p);
static bool drain(ike_probe *p, uint32_t revents);

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
                if (!drain(p, EPOLLERR))
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

static bool read_errqueue(ike_probe *p) {
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

        if (recvmsg(p->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                return false;
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
        if (res.error == 0)
                return false; /* not an error report we understand: keep reading data */
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
        return true;
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

/* Read what the socket holds. True when the probe finished (its callback ran: p may be gone). */
static bool drain(ike_probe *p, uint32_t revents) {
        uint8_t rx[RX_SIZE];

        /* the kernel signals a queued ICMP error with EPOLLERR: look there first, for its
         * details; a plain datagram costs no error-queue read */
        if ((revents & EPOLLERR) && read_errqueue(p))
                return true;
        for (unsigned i = 0; i < RECV_BURST; i++) {
                ikev2_msg_response m;
                const char *why = NULL;
                const uint8_t *d;
                ssize_t n;
                size_t len;

                n = recv(p->fd, rx, sizeof(rx), MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0) {
                        int err = errno;
                        if (err == EAGAIN || err == EINTR)
                                return false;
                        /* an error that arrived during this burst: its details if queued */
                        if (!read_errqueue(p))
                                finish_errno(p, err, "recv");
                        return true;
                }
                len = (size_t) n;
                d = rx;
                if (len > sizeof(rx) - 1) {
                        note_garbage(p, d, sizeof(rx) - 1, "datagram larger than IKEV2_MSG_MAX_SIZE");
                } else if (p->natt && (len < NATT_MARKER_SIZE || memcmp(d, "\0\0\0\0", 4) != 0)) {
                        note_garbage(p, d, len, "no non-ESP marker on port 4500");
                } else {
                        if (p->natt) {
                                d += NATT_MARKER_SIZE;
                                len -= NATT_MARKER_SIZE;
                        }
                        if (ikev2_msg_parse_init_response(d, len, p->spi_i, &m, &why) == 0) {
                                finish_answer(p, &m, d, len);
                                return true;
                        }
                        note_garbage(p, d, len, why);
                }
                if (p->garbage >= IKE_PROBE_GARBAGE_MAX) {
                        ike_probe_result res = {.verdict = IKE_PROBE_GARBAGE};
                        res.response = p->garbage_buf;
                        res.response_size = p->garbage_size;
                        (void) snprintf(res.detail, sizeof(res.detail),
                                        "%u unparsable datagrams, last: %s", p->garbage,
                                        p->garbage_reason);
                        probe_finish(p, &res);
                        return true;
                }
        }
        return false;
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        (void) drain(userdata, revents);
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

/* ---- lifetime ---- */

ike_probe *ike_probe_free(ike_probe *p) {
        if (!p)
                return NULL;
        probe_stop(p);
        p->event = ev_unref(p->event);
        if (p->fd >= 0)
                (void) close(p->fd);
        free(p->pkt);
        free(p->garbage_buf);
        free(p);
        return NULL;
}

static int check_options(const ike_probe_options *o) {
        if (!o->addr)
                return -EINVAL;
        if (o->addr->sa_family == AF_INET) {
                if (o->addr_len < sizeof(struct sockaddr_in))
                        return -EINVAL;
        } else if (o->addr->sa_family == AF_INET6) {
                if (o->addr_len < sizeof(struct sockaddr_in6))
                        return -EINVAL;
        } else
                return -EAFNOSUPPORT;
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
        struct sockaddr_storage remote = {0}, local = {0};
        socklen_t local_len = sizeof(local);
        bool have_local = false;
        uint64_t now;
        int r, one = 1;

        if (!ret || !e || !o || !cb)
                return -EINVAL;
        r = check_options(o);
        if (r < 0)
                return r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->fd = -1;
        p->event = ev_ref(e);
        p->natt = o->natt;
        p->cb = cb;
        p->userdata = userdata;
        p->max_attempts = o->retries + 1;
        p->interval_usec = o->timeout_usec / p->max_attempts;

        memcpy(&remote, o->addr,
               o->addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                             : sizeof(struct sockaddr_in6));
        if (remote.ss_family == AF_INET) {
                struct sockaddr_in *in4 = (struct sockaddr_in *) &remote;
                if (!in4->sin_port)
                        in4->sin_port = htons(o->natt ? IKE_PROBE_PORT_NATT : IKE_PROBE_PORT);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &remote;
                if (!in6->sin6_port)
                        in6->sin6_port = htons(o->natt ? IKE_PROBE_PORT_NATT : IKE_PROBE_PORT);
        }

        r = open_socket(remote.ss_family, o->netns);
        if (r < 0)
                return r;
        p->fd = r;
        /* Without RECVERR a connected UDP socket reports only "hard" ICMP errors (port
         * unreachable); host/net unreachable would look like silence. */
        if (remote.ss_family == AF_INET)
                r = setsockopt(p->fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        else
                r = setsockopt(p->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
        if (r < 0)
                return -errno;
        /* Connected: the kernel filters datagrams from anyone but the peer and hands us the
         * ICMP errors about our datagrams. */
        if (connect(p->fd, (struct sockaddr *) &remote,
                    remote.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                : sizeof(struct sockaddr_in6)) < 0) {
                if (verdict_from_errno(errno) == IKE_PROBE_ERROR)
                        return -errno;
                p->pending_error = errno; /* e.g. no route: the verdict, delivered from the loop */
                p->pending_where = "connect";
        } else if (getsockname(p->fd, (struct sockaddr *) &local, &local_len) == 0)
                have_local = true;

        r = ikev2_msg_build_init(
                &(ikev2_msg_init_options){
                        .ke_group = o->ke_group,
                        .keys = o->keys,
                        .offer = o->offer == IKE_PROBE_OFFER_FULL ? IKEV2_MSG_OFFER_FULL
                                                                  : IKEV2_MSG_OFFER_STATELESS,
                        .local = have_local ? (struct sockaddr *) &local : NULL,
                        .remote = have_local ? (struct sockaddr *) &remote : NULL,
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
        r = ev_add_io(e, &p->io, p->fd, EPOLLIN, on_io, p);
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
