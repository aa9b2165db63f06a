/* Fuzz the /proc/PID/stat parser: any bytes (a command name is chosen by the process). */
#include <stdint.h>

#include "proc_stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        proc_stat p;
        if (proc_stat_parse((const char *) data, size, &p) == 0)
                (void) proc_stat_state_string(p.state);
        return 0;
}
