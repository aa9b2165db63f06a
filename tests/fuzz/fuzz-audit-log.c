/* Fuzz the audit log verifier (it reads a file anyone with access to the state directory could
 * have changed): with and without a key. Seeds: a small real log.
 * fuzz-sources: below is read by the Makefile. */
/* fuzz-sources: common/audit_log.c common/atomic_file.c */
#include <stdint.h>

#include "audit_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        audit_verify_result v;
        (void) audit_log_verify_buffer(data, size, NULL, 0, &v);
        (void) audit_log_verify_buffer(data, size, "key", 3, &v);
        return 0;
}
