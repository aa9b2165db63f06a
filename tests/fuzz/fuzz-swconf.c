/* The reader of strongSwan's settings syntax (strongswan.conf, swanctl.conf),
 * fuzzed on text in memory: it must parse or refuse with a located message, never crash or
 * leak; what parses must answer lookups of the keys and sections it holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "swconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        swconf *c = NULL;
        char err[512] = "";
        const char *names[16];

        if (size > SWCONF_FILE_MAX)
                return 0;
        if (swconf_parse("fuzz.conf", (const char *) data, size, &c, err, sizeof(err)) < 0) {
                if (!err[0] || strncmp(err, "fuzz.conf:", 10) != 0)
                        __builtin_trap(); /* every refusal names FILE:LINE:COL */
                return 0;
        }
        (void) swconf_get(c, "charon.plugins.vici.socket");
        size_t n = swconf_children(c, "connections", names, 16);
        for (size_t i = 0; i < n && i < 16; i++) {
                char key[512];
                snprintf(key, sizeof(key), "connections.%s", names[i]);
                if (!swconf_has_section(c, key))
                        __builtin_trap(); /* a child listed is a section held */
        }
        (void) swconf_has_section(c, "charon");
        swconf_free(c);
        return 0;
}
