/* Fuzz the audit log verifier and its head record parser (both read files anyone with access
 * to the state directory could have changed): the log with and without a key, with and without
 * a head to reach; the head file's two slots; a `--head SEQ:HASH` argument. The input is split
 * at its first NUL byte: the log before it, the head file after it (corpus: real logs, a
 * rotated file beginning with a rotation record, head files).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t log_len = nul ? (size_t) (nul - data) : size;
        const uint8_t *hd = nul ? nul + 1 : NULL;
        size_t hd_len = nul ? size - log_len - 1 : 0;
        audit_verify_result v;
        audit_head h;
        bool auth;

        (void) audit_log_verify_buffer(data, log_len, NULL, 0, NULL, &v);
        (void) audit_log_verify_buffer(data, log_len, "key", 3, NULL, &v);
        if (hd && audit_head_read_buffer(hd, hd_len, NULL, 0, &h, &auth) == 0)
                (void) audit_log_verify_buffer(data, log_len, NULL, 0, &h, &v);
        if (hd && audit_head_read_buffer(hd, hd_len, "key", 3, &h, &auth) == 0)
                (void) audit_log_verify_buffer(data, log_len, "key", 3, &h, &v);
        if (hd && hd_len < 128) {
                char s[128];
                memcpy(s, hd, hd_len);
                s[hd_len] = 0;
                (void) audit_head_parse(s, &h);
        }
        return 0;
}
