/* See record_store.h. */
#include <string.h>

#include "record_store.h"

int record_store_open(record_store *s, const char *dir, const char *name, statelog_replay_cb replay,
                      statelog_snapshot_cb snapshot, uint64_t k, uint64_t c, void *userdata) {
        *s = (record_store){ .snapshot = snapshot, .userdata = userdata, .k = k, .c = c };
        if (!dir)
                return 0;
        return statelog_open(&s->log, dir, name, replay, userdata);
}

void record_store_done(record_store *s) {
        s->log = statelog_free(s->log);
}

int record_store_append(record_store *s, uint16_t type, const void *buf, size_t len) {
        return s->log ? statelog_append(s->log, type, buf, len) : 0;
}

int record_store_compact_if_due(record_store *s, size_t live) {
        if (!s->log || statelog_records(s->log) <= s->k * (uint64_t) live + s->c)
                return 0;
        return statelog_compact(s->log, s->snapshot, s->userdata);
}
