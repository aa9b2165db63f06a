/* Fuzz the durable state log's reader (common/statelog.c), which the agent replays at every
 * start from files in the state directory (engine.log, drills.log): the input is NAME.log.
 * statelog_check() reads it without changing it; statelog_open() replays it (cutting a torn
 * last record) and must agree with the check: a log the check calls good opens, with the
 * same number of records, and damage is refused. The directory is on tmpfs when there is one
 * (the open syncs). Seeds: logs written by statelog_append(), whole, torn and damaged.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statelog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[80], path[128], tmp_path[128];

static void remove_dir(void) {
        (void) rmdir(dir);
}

static int replay(uint16_t type, const void *payload, size_t len, void *userdata) {
        uint64_t *n = userdata;
        volatile uint8_t sum = 0;

        (void) type;
        for (size_t i = 0; i < len; i++)
                sum ^= ((const uint8_t *) payload)[i];
        (*n)++;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        statelog_check_result res;
        statelog *l = NULL;
        uint64_t n = 0;
        FILE *f;
        int k, r;

        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "%s/fuzz-statelog-%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                         (int) getpid());
                if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                        abort();
                snprintf(path, sizeof(path), "%s/fuzz.log", dir);
                snprintf(tmp_path, sizeof(tmp_path), "%s/fuzz.log.tmp", dir);
                atexit(remove_dir);
        }
        if (!(f = fopen(path, "w")))
                abort();
        if (size && fwrite(data, size, 1, f) != 1)
                abort();
        fclose(f);

        k = statelog_check(dir, "fuzz", &res);
        r = statelog_open(&l, dir, "fuzz", replay, &n);
        if (k == 0 && (r < 0 || statelog_records(l) != res.records || n != res.records))
                abort();
        if (k == -EBADMSG && r != -EBADMSG)
                abort();
        if (r == 0)
                (void) statelog_dropped_bytes(l);
        statelog_free(l);
        (void) unlink(path);
        (void) unlink(tmp_path);
        return 0;
}
