/* The audit log: an append-only record of what the agent saw and did (detections, plans,
 * approvals, denials, actions, verifications, reverts, reloads) that cannot be quietly edited.
 *
 * One record per line, readable with `less`:
 *
 *   SEQ \t TIME_USEC \t KIND \t PREV \t MAC \t TEXT \n
 *
 * PREV is the SHA-256 (hex) of the previous line (without its newline; 64 zeros for the first),
 * MAC is HMAC-SHA-256 of the line without the MAC field (with the key when one is configured),
 * else "-". TEXT has tabs, newlines and backslashes escaped (common/audit_scan.h checks lines).
 * So a changed byte breaks the next record's PREV (and this record's MAC), a deleted or
 * reordered record breaks SEQ and PREV; with a key, a forger who rewrites the whole chain after
 * an edit still cannot produce the MACs.
 *
 * The tail: after every append the head record PATH.head (common/audit_head.h: the last
 * record's sequence number and hash, HMAC'd with the key) is rewritten, so a log whose last
 * records were deleted, emptied, or whose last line was edited no longer reaches its head:
 * that is damage, on open and in verification. Each record's hash is also mirrored to the
 * journal (by the agent), and audit_log_verify() takes such a head from the operator.
 *
 * Torn or damaged? A last line without its newline is torn (a crash mid-append, cut on open
 * and counted) only if the head does not cover it; a complete line that fails is damage.
 *
 * Rotation (audit_log_set_rotation()): before an append would take the file past the size,
 * PATH becomes PATH.1 (PATH.1 becomes PATH.2 …, the oldest beyond `keep` is deleted) and the
 * new PATH begins with a record of kind "rotated" whose SEQ and PREV continue the chain, so the
 * files verify as one chain (the oldest file left anchors it with its first rotation record).
 *
 * Appends are fsynced. The file is locked (flock) while open. Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_head.h"
#include "macro.h"

#define AUDIT_TEXT_MAX 4096u       /* bytes of one record's text, before escaping */
#define AUDIT_KIND_MAX 32u
#define AUDIT_KEY_MAX 256u
#define AUDIT_FILE_MAX (512u * 1024u * 1024u)
#define AUDIT_KEEP_MAX 1000u       /* rotated files */

typedef struct audit_log audit_log;

/* Open (create) `path`, check what is there against its head (with `key` when given: len 0 =
 * no MACs expected) and keep it open for appends. -EBADMSG if the chain does not verify or no
 * longer reaches its head (the files are left as they are, for a human: audit_log_verify() says
 * why), -EBUSY if another process has it open. */
int audit_log_open(audit_log **ret, const char *path, const void *key, size_t key_len);
audit_log *audit_log_free(audit_log *l);
DEFINE_FREE_FUNC(audit_log, audit_log_free);

/* Rotate before a file would grow past max_bytes (0: never), keeping `keep` (1..AUDIT_KEEP_MAX)
 * older files. */
int audit_log_set_rotation(audit_log *l, uint64_t max_bytes, unsigned keep);

/* Append a record; on success *ret_hash (if non-NULL, 65 bytes) is the new record's hash. KIND:
 * [a-z_]+ at most AUDIT_KIND_MAX. -E2BIG for a text over AUDIT_TEXT_MAX. The head is updated
 * after the record is durable; if that fails the record stays (the log is then ahead of its
 * head, which open and verify accept) and the error is returned. */
int audit_log_append(audit_log *l, uint64_t time_usec, const char *kind, const char *text, char *ret_hash);
/* The last record's sequence number (0: empty) and hash. */
uint64_t audit_log_head(const audit_log *l, char ret_hash[65]);
uint64_t audit_log_dropped_bytes(const audit_log *l);
/* The open found records but no head record (a log from before heads existed, or its head
 * deleted): a cut tail could not be ruled out. A head is written from now on. */
bool audit_log_head_was_missing(const audit_log *l);

/* Keep a damaged log as evidence: PATH, PATH.head and PATH.1… become PATH.broken-STAMP,
 * PATH.broken-STAMP.head, PATH.broken-STAMP.1…; *ret_path (size n) names the first. */
int audit_log_set_aside(const char *path, uint64_t stamp, char *ret_path, size_t n);

typedef enum audit_head_from {
        AUDIT_HEAD_FROM_NONE,   /* no head: a cut tail cannot be ruled out */
        AUDIT_HEAD_FROM_FILE,   /* PATH.head */
        AUDIT_HEAD_FROM_GIVEN,  /* the caller's (e.g. from the journal mirror) */
} audit_head_from;

typedef struct audit_verify_result {
        uint64_t records;        /* verified, over every file */
        uint64_t first_seq;      /* the chain's first record: 1, or later when older files are gone */
        uint64_t last_seq;
        unsigned files;
        char bad_file[512];      /* the file of the first problem */
        uint64_t bad_line;       /* 1-based line of the first problem in it, 0: not a line */
        char why[200];
        char head[65];           /* hash of the last good record */
        uint64_t torn_bytes;     /* an incomplete last line after the head */
        bool macs_checked;       /* a key was given: every HMAC verified */
        bool signed_log;         /* the records carry HMACs */
        audit_head_from head_from;
        bool head_authenticated; /* the head's HMAC was verified with the key */
        uint64_t head_seq;
        uint64_t after_head;     /* records appended after the head */
} audit_verify_result;

/* Check the log at `path` with its rotated files, oldest first, as one chain, and hold it
 * against `head` (NULL: the head record PATH.head; a non-empty log without one is broken):
 * 0 when it holds, -EBADMSG with the first problem otherwise; -errno for I/O. Without a key
 * the chain is checked and the MACs are not (macs_checked false). */
int audit_log_verify(const char *path, const void *key, size_t key_len, const audit_head *head,
                     audit_verify_result *ret);
/* The same over one file in memory, held against `head` if non-NULL. */
int audit_log_verify_buffer(const void *buf, size_t len, const void *key, size_t key_len, const audit_head *head,
                            audit_verify_result *ret);
