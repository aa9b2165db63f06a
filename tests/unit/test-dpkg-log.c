/* dpkg's log read for the packages a run changed (common/dpkg_log.c): install, upgrade, remove
 * and purge lines named once each with their last action; status and configure lines, malformed
 * lines and overlong fields skipped; a summary that does not fit ends with "…". */
#include <errno.h>
#include <string.h>

#include "dpkg_log.h"
#include "tap.h"

int main(void) {
        static const char log[] =
                "2026-12-06 03:00:01 startup archives unpack\n"
                "2026-12-06 03:00:01 upgrade nftables:amd64 1.0.6-2 1.0.6-3\n"
                "2026-12-06 03:00:01 status half-configured nftables:amd64 1.0.6-2\n"
                "2026-12-06 03:00:02 install vendor-hardening:all <none> 2.1\n"
                "2026-12-06 03:00:02 configure vendor-hardening:all 2.1 <none>\n"
                "2026-12-06 03:00:03 remove old-tool:amd64 0.9 <none>\n"
                "garbage line\n"
                "2026-12-06 03:00:04 upgrade\n"
                "2026-12-06 03:00:05 upgrade nftables:amd64 1.0.6-3 1.0.6-4";
        char out[512], small[40];
        size_t n = 0;

        CHECK(dpkg_log_packages(log, strlen(log), out, sizeof(out), &n) == 0 && n == 3, "three packages (%zu)", n);
        CHECK(strcmp(out, "nftables:amd64 1.0.6-4 (upgrade), vendor-hardening:all 2.1 (install), old-tool:amd64 0.9 (remove)") == 0,
              "summary: %s", out);
        CHECK(dpkg_log_packages(log, strlen(log), small, sizeof(small), &n) == 0 && strstr(small, "…") && strlen(small) < sizeof(small),
              "a short buffer ends with …: %s", small);
        CHECK(dpkg_log_packages("", 0, out, sizeof(out), &n) == 0 && n == 0 && out[0] == 0, "empty log: nothing");
        CHECK(dpkg_log_packages(log, strlen(log), out, 0, &n) == -EINVAL, "no room: -EINVAL");
        char big[600];
        memset(big, 'a', sizeof(big));
        memcpy(big, "2026-12-06 03:00:01 install ", 28);
        CHECK(dpkg_log_packages(big, sizeof(big), out, sizeof(out), &n) == 0 && n == 0, "an overlong name is skipped");
        return TAP_END();
}
