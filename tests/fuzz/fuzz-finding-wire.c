/* Fuzz the reader of a finding's bytes (agent/checks/finding_wire.c; a check's child writes
 * them): any bytes; what it accepts packs back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/finding_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        finding *f = NULL;
        char *buf = NULL;
        size_t n = 0;

        if (finding_unpack(data, size, &f) < 0)
                return 0;
        if (finding_pack(f, &buf, &n) == 0 && (n != size || memcmp(buf, data, n) != 0))
                abort(); /* accepted bytes are a finding's own */
        free(buf);
        finding_free(f);
        return 0;
}
