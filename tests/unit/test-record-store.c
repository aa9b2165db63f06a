/* The record store over a real state log in a scratch directory: memory only does nothing and
 * says so with 0; appended records replay in order after a reopen; a compaction happens only
 * once the log holds more than k·live + c records and leaves exactly the snapshot, which a
 * reopen replays; a snapshot that fails leaves the old log whole and reports the error. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record_store.h"
#include "tap.h"

typedef struct objects {
        unsigned value[8];  /* live objects: the snapshot writes each */
        size_t n;
        bool fail;          /* the snapshot fails */
        unsigned snapshots;
        /* what a replay saw */
        unsigned seen[64];
        size_t n_seen;
} objects;

static int replay(uint16_t type, const void *p, size_t len, void *userdata) {
        objects *o = userdata;
        unsigned v;

        if (type != 7 || len != sizeof(v) || o->n_seen >= 64)
                return -EBADMSG;
        memcpy(&v, p, sizeof(v));
        o->seen[o->n_seen++] = v;
        return 0;
}

static int snapshot(statelog_writer *w, void *userdata) {
        objects *o = userdata;

        o->snapshots++;
        if (o->fail)
                return -EIO;
        for (size_t i = 0; i < o->n; i++) {
                int r = statelog_writer_append(w, 7, &o->value[i], sizeof(o->value[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int put(record_store *s, objects *o, unsigned v) {
        return record_store_append(s, 7, &v, sizeof(v));
}

int main(void) {
        char dir[] = "/tmp/test-record-store-XXXXXX";
        record_store s;
        objects o = { .value = { 1, 2 }, .n = 2 };
        int r;

        if (!mkdtemp(dir))
                return 1;

        /* memory only */
        r = record_store_open(&s, NULL, "things", replay, snapshot, 2, 3, &o);
        CHECK(r == 0 && !s.log, "no directory: memory only");
        CHECK(put(&s, &o, 1) == 0, "an append to memory only does nothing, 0");
        CHECK(record_store_compact_if_due(&s, 0) == 0 && o.snapshots == 0, "nothing to compact in memory");
        record_store_done(&s);

        /* appends replay in order; due only past k·live + c (2·2 + 3 = 7) */
        r = record_store_open(&s, dir, "things", replay, snapshot, 2, 3, &o);
        CHECK(r == 0 && s.log, "opened %s/things.log", dir);
        for (unsigned v = 10; v < 17; v++)
                (void) put(&s, &o, v);
        CHECK(statelog_records(s.log) == 7, "7 records appended");
        CHECK(record_store_compact_if_due(&s, o.n) == 0 && o.snapshots == 0, "7 records, 2 live: not due yet");
        record_store_done(&s);
        CHECK(!s.log, "done closes the log");

        o.n_seen = 0;
        r = record_store_open(&s, dir, "things", replay, snapshot, 2, 3, &o);
        CHECK(r == 0 && o.n_seen == 7 && o.seen[0] == 10 && o.seen[6] == 16, "reopened: 7 records replayed in order");

        /* the eighth makes it due: the snapshot replaces the log */
        (void) put(&s, &o, 17);
        r = record_store_compact_if_due(&s, o.n);
        CHECK(r == 0 && o.snapshots == 1, "8 records, 2 live: compacted once");
        CHECK(statelog_records(s.log) == 2, "the log holds the snapshot's 2 records");
        CHECK(record_store_compact_if_due(&s, o.n) == 0 && o.snapshots == 1, "then not due again");
        record_store_done(&s);

        o.n_seen = 0;
        r = record_store_open(&s, dir, "things", replay, snapshot, 2, 3, &o);
        CHECK(r == 0 && o.n_seen == 2 && o.seen[0] == 1 && o.seen[1] == 2, "reopened: the snapshot replays");

        /* a failing snapshot: the error is returned, the old log stays whole */
        for (unsigned v = 20; v < 26; v++)
                (void) put(&s, &o, v);
        o.fail = true;
        r = record_store_compact_if_due(&s, o.n);
        CHECK(r == -EIO && o.snapshots == 2, "a failed compaction returns its error (%d)", r);
        CHECK(statelog_records(s.log) == 8, "the log still holds its 8 records");
        record_store_done(&s);
        o.n_seen = 0;
        r = record_store_open(&s, dir, "things", replay, snapshot, 2, 3, &o);
        CHECK(r == 0 && o.n_seen == 8 && o.seen[2] == 20 && o.seen[7] == 25, "reopened: the old log, whole");
        record_store_done(&s);

        {
                char path[256];
                (void) snprintf(path, sizeof(path), "%s/things.log", dir);
                (void) unlink(path);
                (void) rmdir(dir);
        }
        return TAP_END();
}
