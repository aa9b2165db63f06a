/* Fuzz the dpkg log reader with arbitrary text, into a roomy and a tiny summary buffer.
 * Seeds: real dpkg log lines. */
#include <stdint.h>
#include <string.h>

#include "dpkg_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char out[1024], tiny[8];
        size_t n;

        (void) dpkg_log_packages((const char *) data, size, out, sizeof(out), &n);
        if (strlen(out) >= sizeof(out))
                __builtin_trap();
        (void) dpkg_log_packages((const char *) data, size, tiny, sizeof(tiny), &n);
        if (strlen(tiny) >= sizeof(tiny))
                __builtin_trap();
        return 0;
}
