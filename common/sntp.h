/* SNTP (RFC 4330, the client side of RFC 5905): one 48-byte mode-3 request, a strictly checked
 * mode-4 answer, and the clock offset it implies. Used by the clock check to measure skew
 * against reference servers without depending on a local NTP daemon. Pure: no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SNTP_PACKET_SIZE 48u

/* Build a request sent at `now_usec` (CLOCK_REALTIME µs since 1970). The transmit timestamp
 * doubles as the nonce the answer must echo. */
void sntp_request(uint64_t now_usec, uint8_t ret[SNTP_PACKET_SIZE]);

typedef struct sntp_result {
        int64_t offset_usec; /* server clock minus ours */
        int64_t delay_usec;  /* round trip minus the server's processing */
        unsigned stratum;
} sntp_result;

/* Check an answer to the request sent at t1 and received at t4 (both our CLOCK_REALTIME µs):
 * mode 4, version 3 or 4, stratum 1..15, no alarm (LI 3), originate timestamp equal to our
 * request's, non-zero receive/transmit timestamps. -EBADMSG otherwise (a kiss-o'-death with
 * stratum 0 included); -EINVAL for our times outside NTP era 0 (after 2036-02-07). */
int sntp_parse(const uint8_t *buf, size_t len, uint64_t t1_usec, uint64_t t4_usec, sntp_result *ret);
