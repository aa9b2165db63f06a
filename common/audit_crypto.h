/* The audit log's two digests, as lowercase hex: SHA-256 (the chain) and HMAC-SHA-256 (the
 * signature, with the operator's key). Shared by the log (common/audit_log.h) and its head
 * record (common/audit_head.h). Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_HEX 64u

/* out: AUDIT_HASH_HEX hex digits and a NUL; on a library failure "???…" (never matches). */
void audit_sha256_hex(const void *buf, size_t len, char out[AUDIT_HASH_HEX + 1]);
void audit_hmac_hex(const uint8_t *key, size_t key_len, const void *buf, size_t len, char out[AUDIT_HASH_HEX + 1]);
/* Two hex digests compared in constant time. */
int audit_hex_equal(const char *a, const char *b);
