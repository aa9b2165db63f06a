/* The clock check (kind "clock"): is our time right? A skewed clock makes a valid certificate
 * look expired or not yet valid, on our side or the peers', and must be fixed before any
 * certificate action — so diagnosis blames the clock first when both fail.
 *
 *  - the kernel's own view (ntp_adjtime): synchronised or not, estimated and maximum error;
 *  - timedated's NTPSynchronized, when there is a system bus (asynchronous D-Bus call);
 *  - the offset against reference servers (params `servers`: "address:port", numeric, no DNS),
 *    measured with SNTP (common/sntp.h) over UDP on the loop; the median of the answers.
 *
 * FAIL class=clock reason=skew when |offset| > `max_offset` (default 30s), or when the kernel's
 * maximum error exceeds it. WARN reason=unsynced when the kernel is not synchronised and
 * `require_sync` (default yes). Servers that do not answer are facts; with nothing measured at
 * all and no kernel sync, UNKNOWN. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/clock.h"
#include "now.h"
#include "sntp.h"
#include "sysbus.h"
#include "yaml_bind.h"

#define SERVERS_MAX 8u

typedef struct server {
        struct clock_state *owner;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char label[64];
        ev_source *io;
        uint64_t sent_usec;
        bool done, ok;
        sntp_result res;
} server;

typedef struct clock_state {
        char **servers_str;
        uint64_t max_offset_usec, timeout_usec;
        bool require_sync;

        server servers[SERVERS_MAX];
        size_t n_servers, n_pending;
        ev_source *timer;
        sd_bus_slot *slot;
        int ntp_synchronized; /* -1 unknown */
        bool bus_pending;
        check_run *run;
} clock_state;

#define KOFF(f) offsetof(clock_state, f)

static const yfield clock_fields[] = {
        { "servers", YF_STRV, KOFF(servers_str), .max = SERVERS_MAX },
        { "max_offset", YF_DURATION, KOFF(max_offset_usec), .min = USEC_PER_MSEC, .max = 86400 * USEC_PER_SEC },
        { "timeout", YF_DURATION, KOFF(timeout_usec), .min = 10 * USEC_PER_MSEC, .max = 30 * USEC_PER_SEC },
        { "require_sync", YF_BOOL, KOFF(require_sync) },
        {}
};

static int parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        char host[64];
        const char *colon = strrchr(s, ':');
        unsigned long port;
        char *end;

        if (!colon || (size_t) (colon - s) >= sizeof(host))
                return -EINVAL;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -EINVAL;
        snprintf(host, sizeof(host), "%.*s", (int) (colon - s), s);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = 0;
        }
        memset(ss, 0, sizeof(*ss));
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                *len = sizeof(*in);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *len = sizeof(*in6);
                return 0;
        }
        return -EINVAL;
}

static int clock_parse(void *state, const ynode *params, ydiag *d) {
        clock_state *s = state;
        int r;

        s->max_offset_usec = 30 * USEC_PER_SEC;
        s->timeout_usec = 2 * USEC_PER_SEC;
        s->require_sync = true;
        r = ybind(params, clock_fields, s, d);
        if (r < 0)
                return r;
        for (size_t i = 0; s->servers_str && s->servers_str[i]; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                if (parse_server(s->servers_str[i], &ss, &len) < 0) {
                        ydiag_add(d, ynode_get(params, "servers"),
                                  "servers: '%s' is not ADDRESS:PORT (numeric; no names, a clock check "
                                  "must not depend on DNS)", YQ(s->servers_str[i]));
                        return -EINVAL;
                }
        }
        return 0;
}

static void servers_stop(clock_state *s) {
        for (size_t i = 0; i < s->n_servers; i++)
                s->servers[i].io = ev_source_disable_unref(s->servers[i].io);
        s->timer = ev_source_disable_unref(s->timer);
        s->slot = sd_bus_slot_unref(s->slot);
        s->n_pending = 0;
        s->bus_pending = false;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

static void finish(clock_state *s) {
        check_run *run = TAKE_PTR(s->run);
        struct timex tx = {};
        int64_t offsets[SERVERS_MAX];
        size_t n_ok = 0;
        finding *f = NULL;
        int state;

        servers_stop(s);
        if (!run || finding_new(&f) < 0)
                return;
        state = ntp_adjtime(&tx);
        bool kernel_synced = state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
        (void) finding_fact_set(f, "kernel_synced", "%s", kernel_synced ? "yes" : "no");
        (void) finding_fact_set(f, "maxerror_us", "%ld", (long) tx.maxerror);
        (void) finding_fact_set(f, "esterror_us", "%ld", (long) tx.esterror);
        if (s->ntp_synchronized >= 0)
                (void) finding_fact_set(f, "ntp_synchronized", "%s", s->ntp_synchronized ? "yes" : "no");
        {
                char now[64];
                time_t t = time(NULL);
                struct tm tm;
                strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
                (void) finding_fact_set(f, "now_utc", "%s", now);
        }
        for (size_t i = 0; i < s->n_servers; i++) {
                const server *v = &s->servers[i];
                if (v->ok) {
                        offsets[n_ok++] = v->res.offset_usec;
                        (void) finding_evidence(f, "%s: offset %+.3f s, delay %.1f ms, stratum %u", v->label,
                                                (double) v->res.offset_usec / USEC_PER_SEC,
                                                (double) v->res.delay_usec / USEC_PER_MSEC, v->res.stratum);
                } else
                        (void) finding_evidence(f, "%s: no valid answer", v->label);
        }
        (void) finding_fact_set(f, "servers_answered", "%zu/%zu", n_ok, s->n_servers);
        int64_t offset = 0;
        if (n_ok) {
                qsort(offsets, n_ok, sizeof(offsets[0]), cmp_i64);
                offset = offsets[n_ok / 2];
                (void) finding_fact_set(f, "offset_ms", "%lld", (long long) (offset / (int64_t) USEC_PER_MSEC));
        }
        uint64_t abs_off = (uint64_t) (offset < 0 ? -offset : offset);
        if (n_ok && abs_off > s->max_offset_usec) {
                (void) finding_set(f, CHECK_FAIL,
                                   "our clock is %.1f s %s the reference servers: fix the time before any "
                                   "certificate action (certificates look expired or not yet valid)",
                                   (double) abs_off / USEC_PER_SEC, offset > 0 ? "behind" : "ahead of");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "clock");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "skew");
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        } else if (kernel_synced && (uint64_t) tx.maxerror > s->max_offset_usec) {
                (void) finding_set(f, CHECK_FAIL, "the kernel's maximum clock error is %.1f s",
                                   (double) tx.maxerror / USEC_PER_SEC);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "clock");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "skew");
        } else if (!kernel_synced && s->require_sync) {
                (void) finding_set(f, CHECK_WARN, "the clock is not synchronised (no NTP)%s",
                                   n_ok ? ", though it agrees with the reference servers now" : "");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "clock");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "unsynced");
        } else if (!n_ok && s->n_servers && !kernel_synced)
                (void) finding_set(f, CHECK_UNKNOWN, "no reference server answered and the kernel is not synchronised");
        else
                (void) finding_set(f, CHECK_OK, "clock %s%s", kernel_synced ? "synchronised" : "within bounds",
                                   n_ok ? " and agrees with the reference servers" : "");
        check_run_done(run, f);
}

static void maybe_finish(clock_state *s) {
        if (s->n_pending == 0 && !s->bus_pending)
                finish(s);
}

static int on_answer(ev_source *src, int fd, uint32_t revents, void *userdata) {
        server *v = userdata;
        clock_state *s = v->owner;
        uint8_t buf[128];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        uint64_t t4 = real_usec();

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n >= 0 && sntp_parse(buf, (size_t) n, v->sent_usec, t4, &v->res) < 0)
                return 0; /* not our answer: keep waiting until the timeout */
        v->ok = n >= 0;
        v->done = true;
        v->io = ev_source_disable_unref(v->io);
        s->n_pending--;
        maybe_finish(s);
        return 0;
}

static int on_timeout(ev_source *src, uint64_t usec, void *userdata) {
        clock_state *s = userdata;
        s->n_pending = 0;
        s->bus_pending = false;
        finish(s);
        return 0;
}

static int on_ntp_property(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        clock_state *s = userdata;
        int v;

        s->slot = sd_bus_slot_unref(s->slot);
        s->bus_pending = false;
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "v", "b", &v) >= 0)
                s->ntp_synchronized = v;
        maybe_finish(s);
        return 0;
}

static int clock_start(void *state, const check_env *env, check_run *run) {
        clock_state *s = state;
        sd_bus *bus;
        int r;

        s->run = run;
        s->ntp_synchronized = -1;
        s->n_servers = s->n_pending = 0;
        for (size_t i = 0; s->servers_str && s->servers_str[i]; i++) {
                server *v = &s->servers[s->n_servers];
                uint8_t pkt[SNTP_PACKET_SIZE];
                int fd;

                *v = (server){ .owner = s };
                snprintf(v->label, sizeof(v->label), "%s", s->servers_str[i]);
                s->n_servers++;
                if (parse_server(s->servers_str[i], &v->addr, &v->addr_len) < 0)
                        continue;
                fd = socket(v->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (connect(fd, (struct sockaddr *) &v->addr, v->addr_len) < 0 ||
                    ev_add_io(env->event, &v->io, fd, EPOLLIN, on_answer, v) < 0) {
                        close(fd);
                        continue;
                }
                (void) ev_source_set_io_fd_own(v->io, true);
                v->sent_usec = real_usec();
                sntp_request(v->sent_usec, pkt);
                if (send(fd, pkt, sizeof(pkt), 0) != (ssize_t) sizeof(pkt)) {
                        v->io = ev_source_disable_unref(v->io);
                        continue;
                }
                s->n_pending++;
        }
        bus = sysbus_get(env->bus);
        if (bus) {
                r = sd_bus_call_method_async(bus, &s->slot, "org.freedesktop.timedate1",
                                             "/org/freedesktop/timedate1", "org.freedesktop.DBus.Properties", "Get",
                                             on_ntp_property, s, "ss", "org.freedesktop.timedate1",
                                             "NTPSynchronized");
                s->bus_pending = r >= 0;
        }
        if (s->n_pending == 0 && !s->bus_pending) {
                finish(s);
                return 0;
        }
        r = ev_add_time_relative(env->event, &s->timer, CLOCK_MONOTONIC, s->timeout_usec, USEC_PER_MSEC,
                                       on_timeout, s);
        if (r < 0) {
                servers_stop(s);
                s->run = NULL;
                return r;
        }
        return 0;
}

static void clock_cancel(void *state) {
        clock_state *s = state;
        servers_stop(s);
        s->run = NULL;
}

static void clock_done(void *state) {
        clock_state *s = state;
        servers_stop(s);
        strv_free(s->servers_str);
}

const check_ops clock_check_ops = {
        .kind = "clock",
        .description = "the clock is synchronised and agrees with reference servers (skew breaks certificates)",
        .state_size = sizeof(clock_state),
        .parse = clock_parse,
        .start = clock_start,
        .cancel = clock_cancel,
        .done = clock_done,
};
