/* Fuzz keepalived's notify line parser: any bytes as one line.
 */
#include <stdint.h>
#include <string.h>

#include "vrrp_notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vrrp_event ev;
        size_t col;
        if (vrrp_notify_parse((const char *) data, size, &ev, &col) == 0 &&
            (strlen(ev.name) == 0 || strlen(ev.name) > VRRP_NAME_MAX || ev.priority > 255))
                __builtin_trap();
        return 0;
}
