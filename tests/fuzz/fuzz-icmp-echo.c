/* Fuzz the reading of what a raw ICMP socket receives (common/icmp_echo.h): every datagram
 * anyone sends to the gateway's probe socket goes through it. The identifier comes from the
 * input's own bytes 24-25 so the fuzzer reaches the pattern check; a request built from the
 * input is read back too. The corpus holds an echo reply and a request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icmp_echo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint16_t id = size > 25 ? (uint16_t) (data[24] << 8 | data[25]) : 0, seq;
        uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees a read past the end */

        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);
        (void) icmp_echo_reply(copy, size, id, &seq);
        free(copy);
        if (size >= 4) {
                uint8_t buf[ICMP_ECHO_MAX_TOTAL];
                size_t total = ICMP_ECHO_MIN_TOTAL + (size_t) (data[0] << 8 | data[1]) % 2000;
                (void) icmp_echo_request(buf, sizeof(buf), total, id, (uint16_t) (data[2] << 8 | data[3]));
        }
        return 0;
}
