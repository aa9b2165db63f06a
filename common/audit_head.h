/* The audit log's head record: PATH.head next to the log, the sequence number and hash of the
 * chain's last record, rewritten (pwrite + fdatasync) after every append, so that a log whose
 * tail was cut, emptied or edited is told from a log that simply ends there.
 *
 * Two fixed-size text slots, written alternately (a record's sequence number picks its slot),
 * so a crash while one is written leaves the other:
 *
 *   IKHHEAD1 K SEQ(20 digits) HASH CHECK\n
 *
 * K: CHECK is HMAC-SHA-256 with the log's key over everything before it (a forger without the
 * key cannot move the head back); S: a SHA-256 that only catches accidents (no key). A slot
 * that is neither empty (zeros) nor valid is damage, not a torn write: both slots are checked,
 * so damage to the newer one cannot fall back to the older one unnoticed. Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_crypto.h"

#define AUDIT_HEAD_SLOT 162u

typedef struct audit_head {
        uint64_t seq;                      /* 0: an empty log */
        char hash[AUDIT_HASH_HEX + 1];
} audit_head;

/* "SEQ:HASH", as the journal mirror (IKEHEAL_AUDIT_SEQ, IKEHEAL_AUDIT_HASH) and `ikehealctl
 * audit` show it. -EINVAL if it is not that. */
int audit_head_parse(const char *s, audit_head *ret);

/* Read the head at `path`. 0 with *ret; *ret_authenticated tells whether its check was an HMAC
 * verified with `key` (false: a SHA-256 head, or an HMAC'd one read without the key).
 * -ENOENT: no head (no file, or both slots empty). -EBADMSG: a damaged or forged slot, or a
 * SHA-256 head where a key says the log is signed. */
int audit_head_read(const char *path, const void *key, size_t key_len, audit_head *ret, bool *ret_authenticated);
/* The same from the file's bytes (for the fuzzer and tests). */
int audit_head_read_buffer(const void *buf, size_t len, const void *key, size_t key_len, audit_head *ret,
                           bool *ret_authenticated);

/* Write h into its slot of the head file fd, durably. */
int audit_head_write(int fd, const audit_head *h, const void *key, size_t key_len);
