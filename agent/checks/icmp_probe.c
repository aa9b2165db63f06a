/* See icmp_probe.h. One timer drives the probe: it fires at each copy's send time and then at
 * the deadline; the socket's reader ends the probe at the first matching reply. A setup error
 * (socket, bind, connect) is kept and delivered by the first tick. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/checks/icmp_probe.h"
#include "icmp_echo.h"
#include "netns.h"
#include "now.h"

#define TIMER_ACCURACY_USEC USEC_PER_MSEC
#define RECV_BURST 16 /* datagrams read per wake-up: a flood cannot hold the loop */

struct icmp_probe {
        icmp_probe_options o;
        ev_source *io, *timer;
        int fd;
        uint16_t id;
        unsigned sent, ticks; /* copies that left; copies tried (the next one's sequence) */
        int pending_error;
        const char *pending_where;
        uint64_t start_usec, sent_usec[ICMP_PROBE_COUNT_MAX];
        uint8_t pkt[ICMP_ECHO_MAX_TOTAL];
        icmp_probe_cb cb;
        void *userdata;
};

const char *icmp_probe_verdict_to_string(icmp_probe_verdict v) {
        static const char *const names[_ICMP_PROBE_VERDICT_MAX] = {
                [ICMP_PROBE_ANSWERED] = "ANSWERED",
                [ICMP_PROBE_SILENT] = "SILENT",
                [ICMP_PROBE_TOO_BIG] = "TOO_BIG",
                [ICMP_PROBE_ERROR] = "ERROR",
        };
        return (unsigned) v < _ICMP_PROBE_VERDICT_MAX ? names[v] : "?";
}

/* Deliver once; the callback may free p. */
static void finish(icmp_probe *p, icmp_probe_result *r) {
        r->sent = p->sent;
        p->io = ev_source_disable_unref(p->io);
        p->timer = ev_source_disable_unref(p->timer);
        p->cb(p, r, p->userdata);
}

static void finish_errno(icmp_probe *p, int err, const char *where) {
        icmp_probe_result r = { .verdict = err == EMSGSIZE ? ICMP_PROBE_TOO_BIG : ICMP_PROBE_ERROR, .error = err };
        (void) snprintf(r.detail, sizeof(r.detail), "%s: %s", where, strerror(err));
        finish(p, &r);
}

static int send_one(icmp_probe *p) {
        int n = icmp_echo_request(p->pkt, sizeof(p->pkt), p->o.total, p->id, (uint16_t) p->ticks);
        if (n < 0)
                return n;
        p->sent_usec[p->ticks++] = mono_usec();
        if (send(p->fd, p->pkt, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                if (errno == EAGAIN || errno == ENOBUFS)
                        return 0; /* like a copy lost on the way: the next may pass */
                return -errno;
        }
        p->sent++;
        return 0;
}

static int on_timer(ev_source *s, uint64_t usec, void *userdata) {
        icmp_probe *p = userdata;
        int r;

        if (p->pending_error) {
                finish_errno(p, p->pending_error, p->pending_where);
                return 0;
        }
        if (usec >= p->start_usec + p->o.timeout_usec) {
                icmp_probe_result res = { .verdict = ICMP_PROBE_SILENT };
                (void) snprintf(res.detail, sizeof(res.detail), "%u echo(es) of %zu bytes, no reply in %llu ms", p->sent,
                                p->o.total, (unsigned long long) (p->o.timeout_usec / USEC_PER_MSEC));
                finish(p, &res);
                return 0;
        }
        if (p->ticks < p->o.count && (r = send_one(p)) < 0) {
                finish_errno(p, -r, "send");
                return 0;
        }
        uint64_t next = p->start_usec + p->o.timeout_usec;
        if (p->ticks < p->o.count && p->start_usec + p->ticks * p->o.interval_usec < next)
                next = p->start_usec + p->ticks * p->o.interval_usec;
        (void) ev_source_set_time(s, next);
        (void) ev_source_set_enabled(s, EV_ONESHOT);
        return 0;
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        icmp_probe *p = userdata;
        uint8_t buf[ICMP_ECHO_MAX_TOTAL + 1];
        uint16_t seq;

        for (int i = 0; i < RECV_BURST; i++) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        /* an ICMP error queued for this socket (e.g. EMSGSIZE from the local
                         * IPsec output): the echo did not leave whole */
                        finish_errno(p, errno, "recv");
                        return 0;
                }
                if (icmp_echo_reply(buf, (size_t) n, p->id, &seq) == 0 && seq < p->ticks) {
                        icmp_probe_result r = { .verdict = ICMP_PROBE_ANSWERED,
                                                .rtt_usec = mono_usec() - p->sent_usec[seq] };
                        (void) snprintf(r.detail, sizeof(r.detail), "echo %u of %zu bytes answered in %.1f ms", seq + 1,
                                        p->o.total, (double) r.rtt_usec / USEC_PER_MSEC);
                        finish(p, &r);
                        return 0;
                }
        }
        return 0;
}

static int setup(icmp_probe *p) {
        struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = p->o.src };
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr = p->o.dst };
        struct icmp_filter filt = { .data = ~(1u << ICMP_ECHOREPLY) };
        int pmtu = IP_PMTUDISC_PROBE;

        p->fd = netns_socket(p->o.netns, AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (p->fd < 0) {
                p->pending_where = "socket";
                return p->fd;
        }
        if (setsockopt(p->fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)) < 0 ||
            setsockopt(p->fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0) {
                p->pending_where = "setsockopt";
                return -errno;
        }
        if (p->o.src.s_addr && bind(p->fd, (struct sockaddr *) &src, sizeof(src)) < 0) {
                p->pending_where = "bind to the inside address";
                return -errno;
        }
        if (connect(p->fd, (struct sockaddr *) &dst, sizeof(dst)) < 0) {
                p->pending_where = "connect";
                return -errno;
        }
        return 0;
}

int icmp_probe_start(icmp_probe **ret, ev_loop *event, const icmp_probe_options *o, icmp_probe_cb cb, void *userdata) {
        icmp_probe *p;
        int r;

        if (!ret || !event || !o || !cb || o->total < ICMP_ECHO_MIN_TOTAL || o->total > ICMP_ECHO_MAX_TOTAL ||
            o->count < 1 || o->count > ICMP_PROBE_COUNT_MAX || !o->timeout_usec || !o->dst.s_addr)
                return -EINVAL;
        if (!(p = calloc(1, sizeof(*p))))
                return -ENOMEM;
        p->o = *o;
        p->cb = cb;
        p->userdata = userdata;
        p->fd = -1;
        p->start_usec = mono_usec();
        if (getrandom(&p->id, sizeof(p->id), GRND_NONBLOCK) != sizeof(p->id))
                p->id = (uint16_t) (p->start_usec ^ (uint64_t) getpid());
        r = setup(p);
        p->o.netns = NULL; /* the caller's string: used once, by setup() */
        if (r < 0)
                p->pending_error = -r;
        else if ((r = ev_add_io(event, &p->io, p->fd, EPOLLIN, on_io, p)) < 0) {
                icmp_probe_free(p);
                return r;
        }
        /* the first copy leaves from the first tick, so errors and results come from the loop */
        r = ev_add_time(event, &p->timer, CLOCK_MONOTONIC, p->start_usec, TIMER_ACCURACY_USEC, on_timer, p);
        if (r < 0) {
                icmp_probe_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

icmp_probe *icmp_probe_free(icmp_probe *p) {
        if (!p)
                return NULL;
        p->io = ev_source_disable_unref(p->io);
        p->timer = ev_source_disable_unref(p->timer);
        if (p->fd >= 0)
                (void) close(p->fd);
        free(p);
        return NULL;
}
