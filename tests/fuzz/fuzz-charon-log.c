/* Fuzz the charon log classifier with arbitrary lines: parse (file/journal shape) and classify,
 * and the VICI path with the input as the message. Seeds: the captured lab logs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charon_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        charon_log_line l;
        char *s;

        (void) charon_log_parse_text((const char *) data, size, &l);
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        charon_log_from_vici("IKE", "1", "rw", "3", s, &l);
        free(s);
        return 0;
}
