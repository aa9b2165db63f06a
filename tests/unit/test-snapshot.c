/* common/snapshot.h: where the checks' last-good state lives, and which names make a path
 * (an action's `check` parameter comes from a runbook); actions/config_manifest.h's path and
 * text parser built on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actions/config_manifest.h"
#include "snapshot.h"
#include "tap.h"

int main(void) {
        char *p = NULL;
        config_manifest m = { 0 };
        int r;

        CHECK(snapshot_path("/var/lib/ikeheal", "config", "manifest", &p) == 0 &&
                      strcmp(p, "/var/lib/ikeheal/snapshots/config.manifest") == 0,
              "config's manifest: %s", p ?: "(none)");
        free(p);
        p = NULL;
        CHECK(snapshot_path("/s", "fw-2_b", "nft.bin", &p) == 0 && strcmp(p, "/s/snapshots/fw-2_b.nft.bin") == 0,
              "a name with '-', '_' and digits: %s", p ?: "(none)");
        free(p);
        p = NULL;
        CHECK(snapshot_dir("/s", &p) == 0 && strcmp(p, "/s/snapshots") == 0, "the directory: %s", p ?: "(none)");
        free(p);
        p = NULL;
        {
                static const char *const bad[] = { "", "..", "../etc", "a/b", "Config", "a b", "x\n", NULL };
                for (size_t i = 0; bad[i]; i++)
                        CHECK(snapshot_path("/s", bad[i], "conns", &p) == -EINVAL && !p, "name %zu refused", i);
        }
        CHECK(!snapshot_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") &&
                      snapshot_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
              "at most 64 characters");
        CHECK(snapshot_path(NULL, "config", "manifest", &p) == -EINVAL && snapshot_dir(NULL, &p) == -EINVAL &&
                      snapshot_path("/s", "config", "../x", &p) == -EINVAL && snapshot_path("/s", "config", "", &p) == -EINVAL,
              "no state directory, or an ext with '/' or empty: refused");

        CHECK(config_manifest_path("/s", "config", ".pre-rollback", &p) == 0 &&
                      strcmp(p, "/s/snapshots/config.manifest.pre-rollback") == 0,
              "the manifest kept before a rollback: %s", p ?: "(none)");
        free(p);
        p = NULL;
        CHECK(config_manifest_path("/s", "../../etc/x", "", &p) == -EINVAL && !p, "a runbook's check '../../etc/x' makes no path");

        r = config_manifest_parse("0000000000000000000000000000000000000000000000000000000000000000 0600 0 0 /etc/a\n"
                                  "- 0644 0 0 /etc/b c\n",
                                  &m);
        CHECK(r == 0 && m.n == 2 && strcmp(m.e[1].path, "/etc/b c") == 0 && m.e[0].mode == 0600 &&
                      config_manifest_find(&m, "/etc/a"),
              "two lines parse (r=%d n=%zu)", r, m.n);
        config_manifest_done(&m);
        CHECK(config_manifest_parse("- 0644 0 0 /etc/b\nnot a line\n", &m) == -EBADMSG && m.n == 0,
              "a line that does not parse spoils the manifest");
        CHECK(config_manifest_parse("- 0644 0 0 etc/b\n", &m) == -EBADMSG, "a relative path is refused");
        CHECK(config_manifest_parse("", &m) == 0 && m.n == 0, "empty text: no entries");
        config_manifest_done(&m);
        return TAP_END();
}
