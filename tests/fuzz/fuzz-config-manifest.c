/* Fuzz the reader of the config check's manifest (actions/config_manifest.c), which the
 * restoring actions trust for which files to put back with which mode and owner: the input is
 * the file in the state directory. What parses must give entries with an absolute path that
 * config_manifest_find() finds again; config_manifest_parse() of the same text (as the check
 * parses its own manifest before promoting it) must agree. Seeds: manifests as
 * agent/checks/config_drift.c writes them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/config_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        config_manifest m = { 0 }, p = { 0 };
        char *text;
        int r, rp;
        FILE *f;

        if (!path[0])
                snprintf(path, sizeof(path), "/tmp/fuzz-config-manifest-%d", (int) getpid());
        if (!(f = fopen(path, "w")))
                abort();
        if (size && fwrite(data, size, 1, f) != 1)
                abort();
        fclose(f);

        r = config_manifest_read(path, &m);
        if (r == 0) {
                for (size_t i = 0; i < m.n; i++)
                        if (!m.e[i].path || m.e[i].path[0] != '/' || !config_manifest_find(&m, m.e[i].path))
                                abort();
        }
        if (size <= CONFIG_MANIFEST_MAX) {
                if (!(text = strndup((const char *) data, size)))
                        abort();
                rp = config_manifest_parse(text, &p);
                if ((r == 0) != (rp == 0) || (r == 0 && p.n != m.n))
                        abort();
                config_manifest_done(&p);
                free(text);
        }
        config_manifest_done(&m);
        (void) unlink(path);
        return 0;
}
