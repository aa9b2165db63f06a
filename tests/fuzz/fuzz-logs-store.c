/* Fuzz the logs check's peer memory (agent/checks/logs_store.c): one line of the file at a time
 * and whole files through logs_store_load() into a tally, which must stay within its bounds.
 * Seeds: lines as logs_store_save() writes them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/checks/logs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static logs_tally t;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[] = "/tmp/fuzz-logs-store-XXXXXX";
        logs_tally_peer p;
        fault_class c;
        size_t bad = 0;
        int fd;

        (void) logs_store_parse_line((const char *) data, size, &c, &p);
        fd = mkstemp(path);
        if (fd < 0)
                return 0;
        if (write(fd, "ikeheal-logs-peers 1\n", 21) == 21 && write(fd, data, size) == (ssize_t) size) {
                logs_tally_init(&t, 60000000);
                (void) logs_store_load(path, &t, 1000000000, 1800000000000000, &bad);
                for (size_t k = 0; k < _FAULT_CLASS_MAX; k++)
                        if (t.cls[k].n_top > LOGS_TALLY_TOP)
                                abort();
        }
        close(fd);
        unlink(path);
        return 0;
}
