/* SNTP request/answer: a well-formed answer gives the offset it encodes; anything that is not
 * an answer to our request (wrong mode, version, originate, stratum 0 kiss-o'-death, alarm,
 * short, zero timestamps) is refused. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "sntp.h"
#include "tap.h"

static void put_ts(uint8_t *p, uint64_t usec) {
        uint64_t sec = usec / USEC_PER_SEC + 2208988800ull, frac = ((usec % USEC_PER_SEC) << 32) / USEC_PER_SEC;
        for (int i = 0; i < 4; i++) {
                p[i] = (uint8_t) (sec >> (24 - 8 * i));
                p[4 + i] = (uint8_t) (frac >> (24 - 8 * i));
        }
}

/* the server's answer to req, its clock `shift` µs ahead, answering at t1 + 10 ms */
static void answer(const uint8_t *req, uint64_t t1, int64_t shift, uint8_t *a) {
        memset(a, 0, SNTP_PACKET_SIZE);
        a[0] = (4 << 3) | 4;
        a[1] = 2;
        memcpy(a + 24, req + 40, 8);
        put_ts(a + 32, (uint64_t) ((int64_t) t1 + 5000 + shift));
        put_ts(a + 40, (uint64_t) ((int64_t) t1 + 5000 + shift));
}

int main(void) {
        uint64_t t1 = 1795000000ull * USEC_PER_SEC + 123456;
        uint8_t req[SNTP_PACKET_SIZE], a[SNTP_PACKET_SIZE];
        sntp_result r;

        sntp_request(t1, req);
        CHECK(req[0] == 0x23, "request: LI 0, version 4, mode 3");
        answer(req, t1, 7200 * (int64_t) USEC_PER_SEC, a);
        CHECK(sntp_parse(a, sizeof(a), t1, t1 + 10000, &r) == 0 && r.stratum == 2 &&
                      r.offset_usec > 7200 * (int64_t) USEC_PER_SEC - 1000 &&
                      r.offset_usec < 7200 * (int64_t) USEC_PER_SEC + 1000 && r.delay_usec > 9000 && r.delay_usec < 11000,
              "server 2 h ahead: offset %lld µs, delay %lld µs", (long long) r.offset_usec, (long long) r.delay_usec);
        answer(req, t1, -3 * (int64_t) USEC_PER_SEC, a);
        CHECK(sntp_parse(a, sizeof(a), t1, t1 + 10000, &r) == 0 && r.offset_usec < -2999000 && r.offset_usec > -3001000,
              "server 3 s behind: offset %lld µs", (long long) r.offset_usec);

        answer(req, t1, 0, a);
        a[0] = (4 << 3) | 3;
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "mode 3 is not an answer");
        answer(req, t1, 0, a);
        a[0] = (2 << 3) | 4;
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "version 2 refused");
        answer(req, t1, 0, a);
        a[0] |= 3 << 6;
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "alarm (LI 3) refused");
        answer(req, t1, 0, a);
        a[1] = 0;
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "kiss-o'-death (stratum 0) refused");
        answer(req, t1, 0, a);
        a[31] ^= 1;
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "an answer to another request refused");
        answer(req, t1, 0, a);
        memset(a + 40, 0, 8);
        CHECK(sntp_parse(a, sizeof(a), t1, t1, &r) == -EBADMSG, "zero transmit timestamp refused");
        CHECK(sntp_parse(a, 47, t1, t1, &r) == -EBADMSG, "short packet refused");
        answer(req, t1, 0, a);
        CHECK(sntp_parse(a, sizeof(a), UINT64_MAX - 5, 1, &r) == -EINVAL,
              "our times outside NTP era 0 refused (no overflow; found by the fuzzer)");
        return TAP_END();
}
