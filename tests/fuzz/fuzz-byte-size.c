/* Fuzz the size parser runbooks' `disk_budget` and `bytes` go through: whatever it accepts is
 * within the limit, and formats back to a text that parses to the same number. */
#include <stdint.h>
#include <string.h>

#include "byte_size.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[64], back[64];
        uint64_t n, m;

        if (size >= sizeof(s))
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (byte_size_parse(s, &n) < 0)
                return 0;
        if (n > BYTE_SIZE_MAX || byte_size_parse(byte_size_format(n, back, sizeof(back)), &m) < 0 || m != n)
                __builtin_trap();
        return 0;
}
