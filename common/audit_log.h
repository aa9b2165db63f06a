/* The audit log: an append-only record of what the agent saw and did (detections, plans,
 * approvals, denials, actions, verifications, reverts, reloads) that cannot be quietly edited.
 *
 * One record per line, readable with `less`:
 *
 *   SEQ \t TIME_USEC \t KIND \t PREV \t MAC \t TEXT \n
 *
 * PREV is the SHA-256 (hex) of the previous line (without its newline; 64 zeros for the first),
 * MAC is HMAC-SHA-256 of the line without the MAC field (with the key when one is configured),
 * else "-". TEXT has tabs, newlines and backslashes escaped. So a changed byte
 * breaks the next record's PREV (and this record's MAC), a deleted or reordered record breaks
 * SEQ and PREV; with a key, a forger who rewrites the whole chain after an edit still cannot
 * produce the MACs, and an edit of the last record is caught by its own MAC. Without a key, an
 * edit of the last record or a cut-off tail leaves a valid chain: each record's hash is also
 * mirrored to the journal (by the agent) and audit_log_head() gives the last hash and sequence
 * number to anchor elsewhere.
 *
 * Appends are fsynced. A torn last line (a crash mid-write) is cut off on open and counted. The
 * file is locked (flock) while open. Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define AUDIT_TEXT_MAX 4096u       /* bytes of one record's text, before escaping */
#define AUDIT_KIND_MAX 32u
#define AUDIT_KEY_MAX 256u
#define AUDIT_FILE_MAX (512u * 1024u * 1024u)

typedef struct audit_log audit_log;

/* Open (create) `path`, verify what is there (with `key` when given: len 0 = no MACs expected)
 * and keep it open for appends. -EBADMSG if the existing chain does not verify (the file is
 * left as it is, for a human), -EBUSY if another process has it open. */
int audit_log_open(audit_log **ret, const char *path, const void *key, size_t key_len);
audit_log *audit_log_free(audit_log *l);
DEFINE_FREE_FUNC(audit_log, audit_log_free);

/* Append a record; on success *ret_hash (if non-NULL, 65 bytes) is the new record's hash. KIND:
 * [a-z_]+ at most AUDIT_KIND_MAX. -E2BIG for a text over AUDIT_TEXT_MAX. */
int audit_log_append(audit_log *l, uint64_t time_usec, const char *kind, const char *text, char *ret_hash);
/* The last record's sequence number (0: empty) and hash. */
uint64_t audit_log_head(const audit_log *l, char ret_hash[65]);
uint64_t audit_log_dropped_bytes(const audit_log *l);

typedef struct audit_verify_result {
        uint64_t records;
        uint64_t bad_line;     /* 1-based line of the first problem, 0 if none */
        char why[160];
        char head[65];         /* hash of the last good record */
        uint64_t torn_bytes;   /* an incomplete last line */
} audit_verify_result;

/* Check a whole file (e.g. `ikehealctl audit verify`): 0 when the chain (and the MACs, with a
 * key) holds, -EBADMSG with the first bad line and why otherwise; -errno for I/O. A torn last
 * line is reported in torn_bytes, not a failure. */
int audit_log_verify(const char *path, const void *key, size_t key_len, audit_verify_result *ret);
/* The same over a log in memory. */
int audit_log_verify_buffer(const void *buf, size_t len, const void *key, size_t key_len, audit_verify_result *ret);
