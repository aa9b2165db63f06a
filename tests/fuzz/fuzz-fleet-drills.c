/* Fuzz the values of the fleet's drill keys (agent/fleet/fleet.h): the schedule's text (a YAML or
 * JSON sequence of entries, bound as drills.schedule, names checked) and a drill's record of its
 * last start ("UNIX_SECONDS GATEWAY"). The first byte picks which; the rest is the value, as etcd
 * would hand it over (NUL-terminated, no NUL inside). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill.h"
#include "agent/config/drill_config.h"
#include "agent/fleet/fleet.h"
#include "yaml_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const yaml_lib *held;
        drill_schedule *v = NULL;
        size_t n = 0;
        char *text, gw[80];
        uint64_t t;
        ydiag d;

        if (!held)
                (void) yaml_lib_get(&held);
        if (size < 1 || memchr(data + 1, 0, size - 1))
                return 0;
        if (!(text = strndup((const char *) data + 1, size - 1)))
                return 0;
        if (data[0] & 1) {
                if (fleet_drill_last_parse(text, &t, gw, sizeof(gw)) == 0 && (t == 0 || strchr(gw, ' ') || !gw[0]))
                        abort(); /* a record that parsed names a time and one gateway */
        } else {
                ydiag_init(&d, "schedule");
                if (drill_schedule_parse(text, size - 1, &v, &n, &d) == 0)
                        for (size_t i = 0; i < n; i++)
                                if (!drill_name_valid(v[i].drill) || !v[i].every_usec || !v[i].window.set)
                                        abort(); /* an entry that parsed is whole */
                drill_schedule_free(v, n);
                ydiag_done(&d);
        }
        free(text);
        return 0;
}
