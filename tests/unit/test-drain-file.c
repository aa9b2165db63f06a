/* The drain file (common/drain_file.h): what is written reads back; each owner removes only
 * its own drain; a damaged file is refused, not half read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drain_file.h"
#include "tap.h"

int main(void) {
        char dir[] = "/tmp/ikh-test-drain-XXXXXX", path[64];
        drain_state s = { .owner = "operator", .since_usec = 10, .until_usec = 20 }, r;
        struct stat st;

        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/drain", dir);
        CHECK(drain_file_read(dir, &r) == -ENOENT, "no file: not drained");
        CHECK(drain_file_remove(dir, "operator") == 0, "removing no drain is fine");
        snprintf(s.reason, sizeof(s.reason), "kernel update\nsecond line");
        CHECK(drain_file_write(dir, &s) == 0, "write");
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the file is 0600");
        CHECK(drain_file_read(dir, &r) == 0 && strcmp(r.owner, "operator") == 0 && r.since_usec == 10 &&
                      r.until_usec == 20 && strcmp(r.reason, "kernel update") == 0,
              "reads back (the reason cut at its newline): '%s'", r.reason);
        CHECK(drain_file_remove(dir, "runbook") == -EBUSY && access(path, F_OK) == 0,
              "a runbook's revert leaves an operator's drain in place");
        CHECK(drain_file_remove(dir, "operator") == 0 && access(path, F_OK) < 0, "its owner removes it");
        snprintf(s.owner, sizeof(s.owner), "someone");
        CHECK(drain_file_write(dir, &s) == -EINVAL, "an unknown owner is not written");

        static const char *const bad[] = {
                "",                                  /* no owner */
                "owner=operator\nsince_usec=1x\n",   /* not a number */
                "owner=operator\nuntil_usec=99999999999999999999999\n", /* overflow */
                "owner=admin\n",                     /* unknown owner */
                "owner=operator\ncolour=blue\n",     /* unknown key */
                "owner=operator\nno equals sign\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                CHECK(drain_parse(bad[i], strlen(bad[i]), &r) == -EBADMSG, "refused: '%s'", bad[i]);
        CHECK(drain_parse("owner=runbook\n\nreason=x", 23, &r) == 0 && r.until_usec == 0 && strcmp(r.reason, "x") == 0,
              "a runbook's drain without an end (and no final newline)");
        FILE *f = fopen(path, "w");
        if (f) {
                fputs("owner=operator\ngarbage\n", f);
                fclose(f);
        }
        CHECK(drain_file_read(dir, &r) == -EBADMSG, "a damaged file reads as damaged");
        CHECK(drain_file_remove(dir, "runbook") == 0 && access(path, F_OK) < 0, "and anyone may remove it");
        rmdir(dir);
        return TAP_END();
}
