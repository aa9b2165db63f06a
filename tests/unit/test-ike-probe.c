/* The IKE prober (agent/checks/ike_probe.c) on a real sd-event loop against loopback only: a
 * fake responder on 127.0.0.1 answers N(INVALID_KE_PAYLOAD) (plain and NAT-T framed), sends
 * garbage, or keeps quiet; a closed port gives ICMP port unreachable. The gateway-side cases
 * (nftables drop/reject, host unreachable, netns) are in tests/integration/ike-probe.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include "agent/checks/ike_probe.h"
#include "tap.h"

typedef enum fake_mode { FAKE_ANSWER, FAKE_GARBAGE, FAKE_SILENT, FAKE_WRONG_SPI } fake_mode;

typedef struct fake {
        int fd;
        fake_mode mode;
        bool natt;
        unsigned received;
        uint16_t port;
        uint8_t last[2048]; /* the last request received, marker stripped */
        size_t last_len;
        struct sockaddr_in from; /* where it came from */
} fake;

typedef struct outcome {
        ev_loop *e;
        bool called;
        ike_probe_result r;
        uint8_t response[64]; /* the first bytes of r.response, copied in the callback */
        ike_probe *p;
        bool free_in_cb;
        bool keep_running; /* the loop goes on after the result: run_until_called() */
} outcome;

static int fake_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        fake *f = userdata;
        uint8_t in[2048], out[64] = {0};
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        size_t m = f->natt ? 4 : 0, n = 0;
        ssize_t len;

        len = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *) &from, &fl);
        if (len < (ssize_t) (m + 28))
                return 0;
        f->received++;
        if (from.ss_family == AF_INET)
                memcpy(&f->from, &from, sizeof(f->from));
        f->last_len = (size_t) len - m;
        memcpy(f->last, in + m, f->last_len);
        if (f->mode == FAKE_SILENT)
                return 0;
        if (f->mode == FAKE_GARBAGE) {
                (void) sendto(fd, "hello, not IKE", 14, 0, (struct sockaddr *) &from, fl);
                return 0;
        }
        /* header (marker left zero), then N(INVALID_KE_PAYLOAD) asking for group 19 */
        memcpy(out + m, in + m, 8);
        if (f->mode == FAKE_WRONG_SPI)
                out[m] ^= 0xff;
        n = m + 28 + 10;
        out[m + 16] = IKEV2_PAYLOAD_NOTIFY;
        out[m + 17] = 0x20;
        out[m + 18] = IKEV2_EXCHANGE_IKE_SA_INIT;
        out[m + 19] = IKEV2_FLAG_RESPONSE;
        out[m + 27] = 38;
        out[m + 28 + 3] = 10;
        out[m + 28 + 7] = IKEV2_N_INVALID_KE_PAYLOAD;
        out[m + 28 + 9] = 19;
        (void) sendto(fd, out, n, 0, (struct sockaddr *) &from, fl);
        return 0;
}

static int fake_open(fake *f, ev_loop *e, ev_source **src) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);

        f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (f->fd < 0 || bind(f->fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(f->fd, (struct sockaddr *) &a, &l) < 0)
                return -errno;
        f->port = ntohs(a.sin_port);
        return src ? ev_add_io(e, src, f->fd, EPOLLIN, fake_io, f) : 0;
}

static void on_result(ike_probe *p, const ike_probe_result *r, void *userdata) {
        outcome *o = userdata;
        o->called = true;
        o->r = *r;
        if (r->response)
                memcpy(o->response, r->response,
                       r->response_size < sizeof(o->response) ? r->response_size : sizeof(o->response));
        o->r.response = NULL;
        if (o->free_in_cb)
                o->p = ike_probe_free(p); /* must be safe from inside the callback */
        if (!o->keep_running)
                (void) ev_exit(o->e, 0);
}

static int probe_keys(fake_mode mode, bool natt, bool listen, unsigned retries, uint64_t timeout,
                      const ikev2_msg_keys *keys, outcome *o, fake *f) {
        ev_loop *e = NULL;
        ev_source *src = NULL;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int r;

        *o = (outcome){.free_in_cb = true};
        *f = (fake){.fd = -1, .mode = mode, .natt = natt};
        r = ev_new(&e);
        if (r < 0)
                return r;
        o->e = e;
        r = fake_open(f, e, listen ? &src : NULL);
        if (r < 0)
                goto out;
        if (!listen) {
                (void) close(f->fd); /* the port is now closed: ICMP port unreachable */
                f->fd = -1;
        }
        a.sin_port = htons(f->port);
        r = ike_probe_start(&o->p, e,
                            &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                 .addr_len = sizeof(a),
                                                 .natt = natt,
                                                 .timeout_usec = timeout,
                                                 .retries = retries,
                                                 .keys = keys},
                            on_result, o);
        if (r < 0)
                goto out;
        CHECK(!o->called, "no callback from inside ike_probe_start()");
        r = ev_loop_run(e);
out:
        o->p = ike_probe_free(o->p);
        ev_source_disable_unref(src);
        if (f->fd >= 0)
                (void) close(f->fd);
        ev_unref(e);
        return r;
}

static int probe_once(fake_mode mode, bool natt, bool listen, unsigned retries, uint64_t timeout,
                      outcome *o, fake *f) {
        return probe_keys(mode, natt, listen, retries, timeout, NULL, o, f);
}

/* A probe started at the end of a busy loop iteration (the loop's timestamp is old by then)
 * still gets its whole timeout: the responder answers within it, the probe must hear it. */
typedef struct stall {
        outcome *o;
        fake *f;
        ev_loop *e;
} stall;

static int on_stall(ev_source *s, uint64_t usec, void *userdata) {
        stall *st = userdata;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons(st->f->port)};

        (void) usleep(300 * 1000); /* the iteration's other work */
        if (ike_probe_start(&st->o->p, st->e,
                            &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                 .addr_len = sizeof(a),
                                                 .timeout_usec = 200 * USEC_PER_MSEC},
                            on_result, st->o) < 0)
                (void) ev_exit(st->e, 1);
        return 0;
}

static void test_after_busy_iteration(void) {
        outcome o = {0};
        fake f = {.fd = -1, .mode = FAKE_ANSWER};
        ev_source *src = NULL;
        stall st = {.o = &o, .f = &f};

        if (ev_new(&st.e) < 0 || fake_open(&f, st.e, &src) < 0) {
                CHECK(false, "set-up");
                return;
        }
        o.e = st.e;
        o.free_in_cb = true;
        (void) ev_add_time_relative(st.e, NULL, CLOCK_MONOTONIC, 0, 0, on_stall, &st);
        (void) ev_loop_run(st.e);
        CHECK(o.called && o.r.verdict == IKE_PROBE_ANSWERED,
              "started after a 300 ms busy iteration with a 200 ms timeout: %s (%s)",
              o.called ? ike_probe_verdict_to_string(o.r.verdict) : "no verdict", o.r.detail);
        o.p = ike_probe_free(o.p);
        ev_source_disable_unref(src);
        (void) close(f.fd);
        ev_unref(st.e);
}

/* The body of the first payload of `type` in an IKE message (for a notify: of that notify type,
 * unless 0), or NULL. */
static const uint8_t *find_payload_of(const uint8_t *m, size_t len, uint8_t type, uint16_t notify, size_t *ret_len) {
        uint8_t next = len > 16 ? m[16] : 0;
        size_t off = IKEV2_HEADER_SIZE;

        while (next && off + 4 <= len) {
                size_t plen = (size_t) m[off + 2] << 8 | m[off + 3];
                if (plen < 4 || off + plen > len)
                        return NULL;
                if (next == type && (!notify || (plen >= 8 && ((unsigned) m[off + 6] << 8 | m[off + 7]) == notify))) {
                        *ret_len = plen - 4;
                        return m + off + 4;
                }
                next = m[off];
                off += plen;
        }
        return NULL;
}

static const uint8_t *find_payload(const uint8_t *m, size_t len, uint8_t type, size_t *ret_len) {
        return find_payload_of(m, len, type, 0, ret_len);
}

/* Two probes sharing one ikev2_msg_keys: the same KE data, different SPIs and nonces. */
static void test_shared_keys(void) {
        ikev2_msg_keys *keys = NULL;
        uint8_t first[2048];
        size_t first_len, l1 = 0, l2 = 0, n1 = 0, n2 = 0;
        const uint8_t *k1, *k2, *nc1, *nc2;
        outcome o;
        fake f;
        int r;

        CHECK(ikev2_msg_keys_new(&keys, 0) == 0 && ikev2_msg_keys_group(keys) == IKEV2_GROUP_X25519,
              "shared keys: X25519 by default");
        r = probe_keys(FAKE_ANSWER, false, true, 0, USEC_PER_SEC, keys, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_ANSWERED && f.received == 1,
              "probe with shared keys: ANSWERED (%s)", o.r.detail);
        first_len = f.last_len;
        memcpy(first, f.last, first_len);
        r = probe_keys(FAKE_ANSWER, true, true, 0, USEC_PER_SEC, keys, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_ANSWERED && f.received == 1,
              "second probe with the same keys (NAT-T): ANSWERED (%s)", o.r.detail);
        k1 = find_payload(first, first_len, IKEV2_PAYLOAD_KE, &l1);
        k2 = find_payload(f.last, f.last_len, IKEV2_PAYLOAD_KE, &l2);
        nc1 = find_payload(first, first_len, IKEV2_PAYLOAD_NONCE, &n1);
        nc2 = find_payload(f.last, f.last_len, IKEV2_PAYLOAD_NONCE, &n2);
        CHECK(k1 && k2 && l1 == 4 + 32 && l1 == l2 && !memcmp(k1, k2, l1) && k1[1] == IKEV2_GROUP_X25519,
              "both requests carry the shared X25519 public value");
        CHECK(memcmp(first, f.last, IKEV2_SPI_SIZE) != 0, "each request has its own initiator SPI");
        CHECK(nc1 && nc2 && n1 == IKEV2_NONCE_SIZE && n1 == n2 && memcmp(nc1, nc2, n1) != 0,
              "each request has its own nonce");
        keys = ikev2_msg_keys_free(keys);

        CHECK(ikev2_msg_keys_new(&keys, IKEV2_GROUP_ECP256) == 0, "ECP-256 shared keys");
        r = probe_keys(FAKE_ANSWER, false, true, 0, USEC_PER_SEC, keys, &o, &f);
        k1 = find_payload(f.last, f.last_len, IKEV2_PAYLOAD_KE, &l1);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_ANSWERED && k1 && l1 == 4 + 64 && k1[1] == IKEV2_GROUP_ECP256,
              "probe with ECP-256 keys: KE of group 19, 64 bytes (%s)", o.r.detail);
        keys = ikev2_msg_keys_free(keys);
        CHECK(ikev2_msg_keys_new(&keys, IKEV2_GROUP_MODP2048) == -EINVAL && !keys,
              "keys of a group the probe cannot make: -EINVAL");
}

/* The NAT_DETECTION_SOURCE_IP notify's data (its SHA-1) in an IKE message, or NULL. */
static const uint8_t *find_natd_source(const uint8_t *m, size_t len) {
        size_t l = 0;
        const uint8_t *b = find_payload_of(m, len, IKEV2_PAYLOAD_NOTIFY, IKEV2_N_NAT_DETECTION_SOURCE_IP, &l);

        return b && l == 4 + 20 ? b + 4 : NULL;
}

/* Run the loop until o's probe reports. */
static int run_until_called(outcome *o) {
        int r = 0;

        while (!o->called && r >= 0)
                r = ev_run(o->e, EV_TIME_INFINITY);
        return r;
}

static void check_natd(const uint8_t *req, size_t len, const struct sockaddr_in *from, const char *what) {
        uint8_t in[2 * IKEV2_SPI_SIZE + 6] = {0}, h[20];
        unsigned hl = 0;
        const uint8_t *natd = find_natd_source(req, len);

        memcpy(in, req, IKEV2_SPI_SIZE);
        memcpy(in + 2 * IKEV2_SPI_SIZE, &from->sin_addr, 4);
        memcpy(in + 2 * IKEV2_SPI_SIZE + 4, &from->sin_port, 2);
        CHECK(natd && EVP_Digest(in, sizeof(in), h, &hl, EVP_sha1(), NULL) == 1 && !memcmp(natd, h, 20),
              "%s: NAT_DETECTION_SOURCE_IP is over the address and port the request came from", what);
}

/* A socket kept between probes: each probe leaves from a fresh port, with NAT-D over it; what the
 * previous port still held — a datagram from the peer, an ICMP error — is not the next probe's. */
static void test_kept_socket(void) {
        fake f = {.fd = -1, .mode = FAKE_ANSWER}, quiet = {.fd = -1}, closed = {.fd = -1};
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, from;
        socklen_t fl = sizeof(from);
        ike_probe_sock *sock = NULL;
        ev_source *src = NULL;
        uint16_t ports[3] = {0};
        uint8_t buf[2048];
        ev_loop *e = NULL;
        outcome o;
        ssize_t n;
        int r;

        r = ev_new(&e);
        if (r >= 0)
                r = fake_open(&f, e, &src);
        if (r >= 0)
                r = fake_open(&quiet, e, NULL); /* read by hand, never answers */
        if (r >= 0)
                r = fake_open(&closed, e, NULL);
        if (r >= 0)
                r = ike_probe_sock_new(&sock, e, AF_INET, NULL);
        CHECK(r >= 0, "set-up: a responder, a quiet listener, a closed port, a kept socket");
        (void) close(closed.fd);
        CHECK(ike_probe_sock_new(&(ike_probe_sock *){NULL}, e, AF_UNIX, NULL) == -EAFNOSUPPORT,
              "a kept socket of another family: -EAFNOSUPPORT");

        for (unsigned k = 0; k < 3 && sock; k++) {
                o = (outcome){.e = e, .free_in_cb = true, .keep_running = true};
                a.sin_port = htons(f.port);
                r = ike_probe_start(&o.p, e,
                                    &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                         .timeout_usec = USEC_PER_SEC, .sock = sock},
                                    on_result, &o);
                if (r >= 0)
                        r = run_until_called(&o);
                ports[k] = ntohs(f.from.sin_port);
                CHECK(r >= 0 && o.r.verdict == IKE_PROBE_ANSWERED, "probe %u on the kept socket: ANSWERED, from port %u (%s)",
                      k + 1, ports[k], o.r.detail);
                check_natd(f.last, f.last_len, &f.from, "kept socket");
        }
        CHECK(ports[0] && ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2],
              "each probe from a fresh source port (%u, %u, %u)", ports[0], ports[1], ports[2]);

        /* a datagram from the peer waits unread on the old port when the next probe begins */
        o = (outcome){.e = e, .keep_running = true};
        a.sin_port = htons(quiet.port);
        r = ike_probe_start(&o.p, e,
                            &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                 .timeout_usec = USEC_PER_SEC, .sock = sock},
                            on_result, &o);
        (void) poll(&(struct pollfd){ .fd = quiet.fd, .events = POLLIN }, 1, 2000); /* loopback: there already, as a rule */
        n = recvfrom(quiet.fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
        CHECK(r == 0 && n > 0 && sendto(quiet.fd, "stale", 5, 0, (struct sockaddr *) &from, fl) == 5,
              "a datagram from the peer to the old port, unread");
        o.p = ike_probe_free(o.p);
        r = ike_probe_start(&o.p, e,
                            &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                 .timeout_usec = 200 * USEC_PER_MSEC, .sock = sock},
                            on_result, &o);
        CHECK(r == 0 && ike_probe_start(&(ike_probe *){NULL}, e,
                                        &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                             .timeout_usec = USEC_PER_SEC, .sock = sock},
                                        on_result, &o) == -EBUSY,
              "a second probe on a busy kept socket: -EBUSY");
        o.free_in_cb = true;
        if (r >= 0)
                r = run_until_called(&o);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_SILENT, "the next probe to that peer: SILENT, not GARBAGE (%s)",
              o.r.detail);

        /* an ICMP error about the old port's datagram, and the error it leaves pending */
        o = (outcome){.e = e, .keep_running = true};
        a.sin_port = htons(closed.port);
        r = ike_probe_start(&o.p, e,
                            &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                 .timeout_usec = USEC_PER_SEC, .sock = sock},
                            on_result, &o);
        (void) usleep(50 * 1000); /* the port unreachable arrives, unread */
        o.p = ike_probe_free(o.p);
        a.sin_port = htons(quiet.port);
        o = (outcome){.e = e, .free_in_cb = true, .keep_running = true};
        if (r >= 0)
                r = ike_probe_start(&o.p, e,
                                    &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a),
                                                         .timeout_usec = 200 * USEC_PER_MSEC, .sock = sock},
                                    on_result, &o);
        if (r >= 0)
                r = run_until_called(&o);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_SILENT, "after an ICMP error on the old port: SILENT, not REFUSED (%s)",
              o.r.detail);

        sock = ike_probe_sock_unref(sock);
        ev_source_disable_unref(src);
        (void) close(f.fd);
        (void) close(quiet.fd);
        ev_unref(e);
}

int main(void) {
        outcome o;
        fake f;
        ev_loop *e = NULL;
        ike_probe *p = NULL;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int r;

        r = probe_once(FAKE_ANSWER, false, true, 2, 1 * USEC_PER_SEC, &o, &f);
        CHECK(r >= 0 && o.called && o.r.verdict == IKE_PROBE_ANSWERED &&
                      o.r.notify == IKEV2_N_INVALID_KE_PAYLOAD && o.r.ke_group == 19 &&
                      o.r.attempts == 1 && f.received == 1,
              "fake responder on UDP %u: ANSWERED, INVALID_KE group %u, rtt %llu us (%s)", f.port,
              o.r.ke_group, (unsigned long long) o.r.rtt_usec, o.r.detail);

        r = probe_once(FAKE_ANSWER, true, true, 2, 1 * USEC_PER_SEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_ANSWERED &&
                      o.r.notify == IKEV2_N_INVALID_KE_PAYLOAD,
              "NAT-T framing (non-ESP marker both ways): ANSWERED (%s)", o.r.detail);

        r = probe_once(FAKE_SILENT, false, true, 3, 400 * USEC_PER_MSEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_SILENT && o.r.attempts == 4 && f.received == 4,
              "silent responder: SILENT after %u sends, %u received (%s)", o.r.attempts, f.received,
              o.r.detail);

        r = probe_once(FAKE_GARBAGE, false, true, 1, 300 * USEC_PER_MSEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_GARBAGE, "garbage answers: GARBAGE (%s)",
              o.r.detail);
        CHECK(o.r.response_size == 14 && !memcmp(o.response, "hello, not IKE", 14),
              "GARBAGE hands over the last unparsable datagram");

        r = probe_once(FAKE_SILENT, false, true, 1, 300 * USEC_PER_MSEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_SILENT && o.r.attempts == 2 && f.received == 2 &&
                      o.r.rtt_usec == 0,
              "one retry: 2 sends (at 0 and 150 ms), then SILENT at the deadline (%s)", o.r.detail);

        r = probe_once(FAKE_WRONG_SPI, false, true, 0, 300 * USEC_PER_MSEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_GARBAGE && strstr(o.r.detail, "SPI"),
              "answer for another SPI: GARBAGE (%s)", o.r.detail);

        r = probe_once(FAKE_ANSWER, false, false, 2, 1 * USEC_PER_SEC, &o, &f);
        CHECK(r >= 0 && o.r.verdict == IKE_PROBE_REFUSED && o.r.error == ECONNREFUSED && o.r.icmp &&
                      o.r.icmp_type == 3 && o.r.icmp_code == 3,
              "closed port: REFUSED with ICMP 3/3 (%s)", o.r.detail);

        test_shared_keys();
        test_after_busy_iteration();
        test_kept_socket();

        { /* the first copy leaves from ike_probe_start() itself, before the loop turns */
                fake g = {.fd = -1};
                uint8_t buf[2048];
                ssize_t n;

                (void) ev_new(&e);
                CHECK(fake_open(&g, e, NULL) == 0, "a socket that only listens");
                a.sin_port = htons(g.port);
                r = ike_probe_start(&p, e,
                                    &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                         .addr_len = sizeof(a),
                                                         .timeout_usec = USEC_PER_SEC},
                                    on_result, &o);
                n = recv(g.fd, buf, sizeof(buf), MSG_DONTWAIT);
                CHECK(r == 0 && n > IKEV2_HEADER_SIZE && buf[18] == IKEV2_EXCHANGE_IKE_SA_INIT,
                      "IKE_SA_INIT sent from ike_probe_start() (%zd bytes)", n);
                p = ike_probe_free(p);
                (void) close(g.fd);
                e = ev_unref(e);
        }

        /* option checks */
        (void) ev_new(&e);
        a.sin_port = htons(9);
        CHECK(ike_probe_start(
                      &p, e,
                      &(ike_probe_options){.addr = (struct sockaddr *) &a, .addr_len = sizeof(a)},
                      on_result, &o) == -EINVAL,
              "timeout 0 refused");
        CHECK(ike_probe_start(&p, e,
                              &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                   .addr_len = sizeof(a),
                                                   .timeout_usec = USEC_PER_SEC,
                                                   .netns = "../etc"},
                              on_result, &o) == -EINVAL,
              "netns name with a slash refused");
        CHECK(ike_probe_start(&p, e,
                              &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                   .addr_len = sizeof(a),
                                                   .timeout_usec = USEC_PER_SEC,
                                                   .retries = 99},
                              on_result, &o) == -EINVAL,
              "retries over IKE_PROBE_RETRIES_MAX refused");
        CHECK(ike_probe_start(&p, e,
                              &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                   .addr_len = sizeof(a),
                                                   .timeout_usec = USEC_PER_SEC,
                                                   .netns = "ikeheal-no-such-ns-x"},
                              on_result, &o) == -ENOENT,
              "missing netns: -ENOENT");
        CHECK(ike_probe_start(&p, e,
                              &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                   .addr_len = sizeof(a),
                                                   .timeout_usec = USEC_PER_SEC},
                              on_result, &o) == 0 &&
                      !ike_probe_free(p),
              "start then free before the loop runs: no callback, no leak");
        {
                ikev2_msg_keys *keys = NULL;
                CHECK(ikev2_msg_keys_new(&keys, 0) == 0 &&
                              ike_probe_start(&p, e,
                                              &(ike_probe_options){.addr = (struct sockaddr *) &a,
                                                                   .addr_len = sizeof(a),
                                                                   .timeout_usec = USEC_PER_SEC,
                                                                   .ke_group = IKEV2_GROUP_ECP256,
                                                                   .keys = keys},
                                              on_result, &o) == -EINVAL,
                      "keys of another group than ke_group refused");
                ikev2_msg_keys_free(keys);
        }
        ev_unref(e);
        CHECK(ike_probe_netns_name_valid("ih-ike-gw.1") == 0 &&
                      ike_probe_netns_name_valid("..") < 0 && ike_probe_netns_name_valid("") < 0 &&
                      ike_probe_netns_name_valid("a b") < 0,
              "netns names");
        CHECK(!strcmp(ike_probe_verdict_to_string(IKE_PROBE_SILENT), "SILENT") &&
                      !strcmp(ike_probe_verdict_to_string(_IKE_PROBE_VERDICT_MAX), "?"),
              "verdict names");
        return TAP_END();
}
