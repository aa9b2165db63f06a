/* A durable store of whole records over the state log (common/statelog.h): every change of an
 * object is appended as the object's whole record, so the log can be rewritten once it is mostly
 * history — when it holds more than k·live + c records, the caller's snapshot (every live
 * object, one record each) replaces it. Replay is the caller's, as with statelog_open().
 * Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "statelog.h"

typedef struct record_store {
        statelog *log;                  /* NULL: memory only (no state directory) */
        statelog_snapshot_cb snapshot;
        void *userdata;
        uint64_t k, c;                  /* compact past k·live + c records */
} record_store;

/* Open (create) DIR/NAME.log and replay it to `replay` (statelog_open()); dir NULL: memory
 * only, nothing is opened and appends do nothing. */
int record_store_open(record_store *s, const char *dir, const char *name, statelog_replay_cb replay,
                      statelog_snapshot_cb snapshot, uint64_t k, uint64_t c, void *userdata);
void record_store_done(record_store *s);

/* Append one whole record; durable when it returns 0 (also 0, doing nothing, when memory only).
 * <0: the append failed (the log is as it was). */
int record_store_append(record_store *s, uint16_t type, const void *buf, size_t len);
/* With `live` objects in the store now: when the log holds more than k·live + c records,
 * replace it by the snapshot. 0: not due, or compacted; <0: the compaction failed (the old log,
 * still complete, stays). */
int record_store_compact_if_due(record_store *s, size_t live);
