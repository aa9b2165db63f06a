/* Fuzz the drain file's parser: a damaged or hand-edited <state_dir>/drain is read at start. */
#include <stdint.h>
#include <string.h>

#include "drain_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        drain_state s;
        if (drain_parse((const char *) data, size, &s) == 0 && (strlen(s.owner) == 0 || strlen(s.reason) >= sizeof(s.reason)))
                __builtin_trap();
        return 0;
}
