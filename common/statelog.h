/* The durable state log: an append-only file of typed records under the state directory
 * (/var/lib/ikeheal), for what must survive a crash of the agent — incidents now, temporary
 * measures with their reverts and runbook runs later.
 *
 * Durability: statelog_append() returns only after the record is written and fdatasync()ed,
 * so "recorded before applied" holds across a power cut.
 *
 * Integrity: every record carries its length, type, a sequence number and a CRC-32C over all
 * of it. On open the log is replayed in order. A record is torn only if it is incomplete: the
 * file ends inside it (its header, or the payload its good header announces), or the rest of
 * the file is zeros (space the crash allocated but never wrote). A torn last record is cut off
 * and reported by statelog_dropped_bytes(). A COMPLETE record that fails its CRC or is out of
 * sequence is damage, wherever it is — also the last one: the open fails with -EBADMSG and the
 * file is left untouched for a human (statelog_check() says where and what). So is a log that
 * exists but is shorter than its header: a new log is created whole (header written to a
 * temporary file, synced, renamed), so an empty or shorter file is a log that was emptied or
 * cut, never a new one. CRC-32C, not a cryptographic hash: this guards against crashes and
 * disk errors; tampering is the audit log's business (its records are chained with SHA-256).
 *
 * Compaction: statelog_compact() writes the live state (the caller emits it) to NAME.log.tmp,
 * fsyncs it, renames it over NAME.log and fsyncs the directory: a crash at any moment leaves
 * either the old log or the new one, complete.
 *
 * One writer: the file is locked (flock) while open; a second opener gets -EBUSY.
 * Payloads are opaque bytes (callers use VICI encoding, common/vici_msg.h). Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define STATELOG_RECORD_MAX (1024u * 1024u)        /* payload bytes of one record */
#define STATELOG_FILE_MAX (256u * 1024u * 1024u)   /* a log larger than this is refused */

typedef struct statelog statelog;
typedef struct statelog_writer statelog_writer;

/* One record during replay (payload valid during the call only). <0 aborts the open. */
typedef int (*statelog_replay_cb)(uint16_t type, const void *payload, size_t len, void *userdata);
/* Emit the live state with statelog_writer_append(). <0 aborts the compaction. */
typedef int (*statelog_snapshot_cb)(statelog_writer *w, void *userdata);

/* Open (create) DIR/NAME.log, replay it to cb, and keep it open for appending. -EBUSY if
 * another process has it open, -EBADMSG for damage (see above; cb has not been called then),
 * -EFBIG past STATELOG_FILE_MAX. NAME: [a-z0-9_-]+. */
int statelog_open(statelog **ret, const char *dir, const char *name, statelog_replay_cb cb,
                  void *userdata);
statelog *statelog_free(statelog *l);
DEFINE_FREE_FUNC(statelog, statelog_free);

/* Bytes of a torn last record dropped by the open (0: none). */
uint64_t statelog_dropped_bytes(const statelog *l);
/* DIR/NAME.log, for the caller's messages. */
const char *statelog_path(const statelog *l);
/* Records replayed by the open, and appended since. */
uint64_t statelog_records(const statelog *l);

/* Durable when it returns 0. -E2BIG past STATELOG_RECORD_MAX. On a failed write the file is
 * cut back to where it was, so a later append cannot leave garbage in the middle. */
int statelog_append(statelog *l, uint16_t type, const void *payload, size_t len);
/* Replace the log with the records cb emits (atomically, see above). */
int statelog_compact(statelog *l, statelog_snapshot_cb cb, void *userdata);
int statelog_writer_append(statelog_writer *w, uint16_t type, const void *payload, size_t len);

/* What is in DIR/NAME.log, read without the lock and without changing it: 0 for a log that
 * opens (torn_bytes: an incomplete last record the open would cut), -EBADMSG for damage
 * (bad_offset and why say where and what), -ENOENT for no log, -errno for I/O. */
typedef struct statelog_check_result {
        uint64_t size;        /* bytes in the file */
        uint64_t records;     /* good records before the end or the damage */
        uint64_t torn_bytes;
        uint64_t bad_offset;
        char why[160];
} statelog_check_result;
int statelog_check(const char *dir, const char *name, statelog_check_result *ret);
/* Keep a damaged log as evidence: rename DIR/NAME.log to DIR/NAME.log.broken-STAMP (and sync
 * the directory), so the next open starts a new log. *ret_path (size n) names where it went. */
int statelog_set_aside(const char *dir, const char *name, uint64_t stamp, char *ret_path, size_t n);

/* CRC-32C (Castagnoli), exposed for tests. */
uint32_t statelog_crc32c(uint32_t crc, const void *buf, size_t len);
