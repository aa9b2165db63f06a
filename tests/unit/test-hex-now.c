/* common/hex.h and common/now.h. */
#include <string.h>

#include "hex.h"
#include "now.h"
#include "tap.h"

int main(void) {
        char out[9];
        const unsigned char in[] = { 0x00, 0x0f, 0xa5, 0xff };
        uint64_t m1, m2, r;

        CHECK(strcmp(hex_encode(in, sizeof(in), out), "000fa5ff") == 0, "hex of 4 bytes: %s", out);
        CHECK(strcmp(hex_encode(in, 0, out), "") == 0, "hex of nothing is empty");
        m1 = mono_usec();
        m2 = mono_usec();
        CHECK(m1 > 0 && m2 >= m1, "monotonic µs never goes back");
        r = real_usec();
        CHECK(r > 1600000000ULL * USEC_PER_SEC, "realtime µs is after 2020");
        return TAP_END();
}
