/* See icmp_echo.h. */
#include <errno.h>
#include <string.h>

#include "icmp_echo.h"

#define TYPE_ECHO_REPLY 0
#define TYPE_ECHO_REQUEST 8

static uint16_t checksum(const uint8_t *p, size_t n) {
        uint32_t sum = 0;
        for (size_t i = 0; i + 1 < n; i += 2)
                sum += (uint32_t) (p[i] << 8 | p[i + 1]);
        if (n & 1)
                sum += (uint32_t) p[n - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

static uint8_t pattern(uint16_t id, uint16_t seq, size_t i) {
        return (uint8_t) (i * 7u + (id >> 8) + (id & 0xff) + seq);
}

int icmp_echo_request(uint8_t *buf, size_t size, size_t total, uint16_t id, uint16_t seq) {
        if (total < ICMP_ECHO_MIN_TOTAL || total > ICMP_ECHO_MAX_TOTAL || size < total - ICMP_ECHO_IP_HEADER)
                return -EINVAL;
        size_t n = total - ICMP_ECHO_IP_HEADER;
        memset(buf, 0, ICMP_ECHO_HEADER);
        buf[0] = TYPE_ECHO_REQUEST;
        buf[4] = (uint8_t) (id >> 8);
        buf[5] = (uint8_t) id;
        buf[6] = (uint8_t) (seq >> 8);
        buf[7] = (uint8_t) seq;
        for (size_t i = ICMP_ECHO_HEADER; i < n; i++)
                buf[i] = pattern(id, seq, i);
        uint16_t c = checksum(buf, n);
        buf[2] = (uint8_t) (c >> 8);
        buf[3] = (uint8_t) c;
        return (int) n;
}

int icmp_echo_reply(const uint8_t *pkt, size_t len, uint16_t id, uint16_t *ret_seq) {
        if (len < 20 || pkt[0] >> 4 != 4)
                return -EBADMSG;
        size_t ihl = (size_t) (pkt[0] & 0x0f) * 4, tot = (size_t) pkt[2] << 8 | pkt[3];
        if (ihl < 20 || tot < ihl + ICMP_ECHO_HEADER || tot > len || pkt[9] != 1 /* ICMP */)
                return -EBADMSG;
        const uint8_t *m = pkt + ihl;
        size_t n = tot - ihl;
        if (checksum(m, n) != 0)
                return -EBADMSG;
        if (m[0] != TYPE_ECHO_REPLY || m[1] != 0 || (uint16_t) (m[4] << 8 | m[5]) != id)
                return -ENOMSG;
        uint16_t seq = (uint16_t) (m[6] << 8 | m[7]);
        for (size_t i = ICMP_ECHO_HEADER; i < n; i++)
                if (m[i] != pattern(id, seq, i))
                        return -ENOMSG;
        *ret_seq = seq;
        return 0;
}
