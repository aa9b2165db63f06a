/* Fuzz the etcd watch stream parser: any bytes, fed whole and again in pieces of varied sizes
 * (the first byte picks them); both ways must find the same objects and the same end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(const etcd_watch_msg *m, void *userdata) {
        size_t *n = userdata;
        for (size_t i = 0; i < m->n_events; i++)
                if (strlen(m->events[i].kv.key) > ETCD_KEY_MAX || strlen(m->events[i].kv.value) > ETCD_VALUE_MAX)
                        __builtin_trap();
        if (m->n_events > ETCD_WATCH_EVENTS_MAX)
                __builtin_trap();
        (*n)++;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        etcd_watch_parser *p = NULL;
        char err[ETCD_ERROR_MAX];
        size_t whole = 0, pieces = 0, step = size ? (data[0] % 7) + 1 : 1;
        int r1, r2 = 0;

        if (etcd_watch_parser_new(&p) < 0)
                return 0;
        r1 = etcd_watch_parser_feed(p, (const char *) data, size, count, &whole, err);
        etcd_watch_parser_free(p);
        if (etcd_watch_parser_new(&p) < 0)
                return 0;
        for (size_t off = 0; off < size && r2 == 0; off += step)
                r2 = etcd_watch_parser_feed(p, (const char *) data + off, size - off < step ? size - off : step, count, &pieces,
                                            err);
        if (r1 != r2 || whole != pieces)
                __builtin_trap();
        etcd_watch_parser_free(p);
        return 0;
}
