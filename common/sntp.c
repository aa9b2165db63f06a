/* See sntp.h. NTP timestamps: 32 bits of seconds since 1900 and 32 bits of fraction. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "sntp.h"

#define NTP_UNIX_DELTA 2208988800ull /* 1900-01-01 to 1970-01-01 in seconds */
/* 2036-02-07, the end of NTP era 0, in µs since 1970 */
#define SNTP_TIME_MAX_USEC ((0x100000000ull - NTP_UNIX_DELTA) * USEC_PER_SEC)

static void put_ts(uint8_t *p, uint64_t usec) {
        uint64_t sec = usec / USEC_PER_SEC + NTP_UNIX_DELTA;
        uint64_t frac = ((usec % USEC_PER_SEC) << 32) / USEC_PER_SEC;
        for (int i = 0; i < 4; i++) {
                p[i] = (uint8_t) (sec >> (24 - 8 * i));
                p[4 + i] = (uint8_t) (frac >> (24 - 8 * i));
        }
}

static uint64_t get_raw(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

/* NTP timestamp → µs since 1970 (era 0; valid until 2036, then wraps: fine for a difference
 * check within an era, and the clock check compares differences only) */
static int64_t ts_usec(uint64_t raw) {
        uint64_t sec = raw >> 32, frac = raw & 0xffffffffu;
        return ((int64_t) sec - (int64_t) NTP_UNIX_DELTA) * (int64_t) USEC_PER_SEC +
               (int64_t) ((frac * USEC_PER_SEC) >> 32);
}

void sntp_request(uint64_t now_usec, uint8_t ret[SNTP_PACKET_SIZE]) {
        memset(ret, 0, SNTP_PACKET_SIZE);
        ret[0] = (0 << 6) | (4 << 3) | 3; /* LI 0, version 4, mode 3 (client) */
        put_ts(ret + 40, now_usec);
}

int sntp_parse(const uint8_t *buf, size_t len, uint64_t t1_usec, uint64_t t4_usec, sntp_result *ret) {
        uint8_t req[SNTP_PACKET_SIZE];
        unsigned li, vn, mode, stratum;

        /* our clock readings: within the NTP era (keeps every difference below from overflowing) */
        if (t1_usec > SNTP_TIME_MAX_USEC || t4_usec > SNTP_TIME_MAX_USEC)
                return -EINVAL;
        if (len < SNTP_PACKET_SIZE)
                return -EBADMSG;
        li = buf[0] >> 6;
        vn = (buf[0] >> 3) & 7;
        mode = buf[0] & 7;
        stratum = buf[1];
        if (mode != 4 || (vn != 3 && vn != 4) || li == 3 || stratum == 0 || stratum > 15)
                return -EBADMSG;
        sntp_request(t1_usec, req);
        if (memcmp(buf + 24, req + 40, 8) != 0) /* originate must echo our transmit */
                return -EBADMSG;
        uint64_t r2 = get_raw(buf + 32), r3 = get_raw(buf + 40);
        if (r2 == 0 || r3 == 0)
                return -EBADMSG;
        int64_t t1 = ts_usec(get_raw(req + 40)), t2 = ts_usec(r2), t3 = ts_usec(r3), t4 = (int64_t) t4_usec;
        /* t1 through the NTP encoding and back, so the rounding is the same on both sides */
        t4 += t1 - (int64_t) t1_usec;
        *ret = (sntp_result){
                .offset_usec = ((t2 - t1) + (t3 - t4)) / 2,
                .delay_usec = (t4 - t1) - (t3 - t2),
                .stratum = stratum,
        };
        return 0;
}
