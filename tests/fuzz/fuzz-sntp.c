/* Fuzz the SNTP answer parser: any datagram, against a fixed request time.
 */
#include <stdint.h>
#include <string.h>

#include "sntp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        sntp_result r;
        (void) sntp_parse(data, size, 1795000000000000ull, 1795000000010000ull, &r);
        if (size >= 8) {
                uint64_t t;
                memcpy(&t, data, sizeof(t));
                (void) sntp_parse(data, size, t, t + 1, &r);
        }
        return 0;
}
