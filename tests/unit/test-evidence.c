/* Evidence on demand, the parts below the agent: sizes as runbooks write them
 * (common/byte_size.h); the evidence directory (common/evidence.h): 0700, plain names only, the
 * listing sorted and limited to regular files, chunked reads that refuse symlinks and bad names;
 * libpcap (common/pcap_lib.h) absent from the process until loaded, this binary being linked the
 * way ikeheald is (without it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byte_size.h"
#include "evidence.h"
#include "pcap_lib.h"
#include "tap.h"

static bool mapped(const char *what) {
        char line[512];
        bool found = false;
        FILE *f = fopen("/proc/self/maps", "re");

        if (!f)
                return true;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, what) != NULL;
        fclose(f);
        return found;
}

static void put(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

int main(void) {
        char dir[] = "/tmp/ikh-test-evidence-XXXXXX", buf[64], path[256];
        uint64_t n = 0, size = 0;
        evidence_file *files = NULL;
        size_t count = 0, len = 0;
        char *ev = NULL;
        struct stat st;

        static const struct {
                const char *s;
                uint64_t v;
        } good[] = { { "0", 0 }, { "512", 512 }, { "64K", 65536 }, { "50M", 52428800 }, { "2G", 2147483648ULL },
                     { "1MB", 1048576 }, { "1MiB", 1048576 }, { "3T", 3ULL << 40 } };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                CHECK(byte_size_parse(good[i].s, &n) == 0 && n == good[i].v, "size '%s' = %llu", good[i].s,
                      (unsigned long long) n);
        static const char *const bad[] = { "", "M", "-1", "1.5M", "10 M", "10m", "10Mx", "1KK", "5P" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                CHECK(byte_size_parse(bad[i], &n) < 0, "size '%s' refused", bad[i]);
        CHECK(byte_size_parse("99999999999999999999", &n) == -ERANGE && byte_size_parse("2000000T", &n) == -ERANGE,
              "sizes beyond the limit: -ERANGE");
        CHECK(strcmp(byte_size_format(52428800, buf, sizeof(buf)), "50M") == 0 &&
                      strcmp(byte_size_format(1000, buf, sizeof(buf)), "1000") == 0 &&
                      strcmp(byte_size_format(0, buf, sizeof(buf)), "0") == 0,
              "formatted exactly, shortest");

        CHECK(evidence_name_valid("capture-3-20261206T164316Z.pcap") == 0, "a capture's name is valid");
        static const char *const names[] = { "", ".hidden", "../x", "a/b", "a b", "x\n" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                CHECK(evidence_name_valid(names[i]) == -EINVAL, "name '%s' refused", names[i]);

        if (!mkdtemp(dir))
                return 1;
        CHECK(evidence_list(dir, 7, &files, &count) == -ENOENT, "nothing collected: -ENOENT");
        CHECK(evidence_dir_make(dir, 7, &ev) == 0 && stat(ev, &st) == 0 && (st.st_mode & 0777) == 0700,
              "incident 7's directory made 0700: %s", ev ?: "?");
        snprintf(path, sizeof(path), "%s/evidence", dir);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "and its parent 0700");
        snprintf(path, sizeof(path), "%s/b.pcap", ev);
        put(path, "0123456789");
        snprintf(path, sizeof(path), "%s/a.pcap", ev);
        put(path, "abc");
        snprintf(path, sizeof(path), "%s/link.pcap", ev);
        CHECK(symlink("/etc/shadow", path) == 0, "a symlink planted");
        snprintf(path, sizeof(path), "%s/sub", ev);
        (void) mkdir(path, 0700);
        CHECK(evidence_list(dir, 7, &files, &count) == 0 && count == 2 && strcmp(files[0].name, "a.pcap") == 0 &&
                      files[0].size == 3 && strcmp(files[1].name, "b.pcap") == 0 && files[1].size == 10 &&
                      files[1].mtime_usec > 0,
              "listed: the two regular files, sorted (no symlink, no directory): %zu", count);
        free(files);
        CHECK(evidence_read(dir, 7, "b.pcap", 4, buf, 4, &len, &size) == 0 && len == 4 && size == 10 &&
                      memcmp(buf, "4567", 4) == 0,
              "a chunk from an offset");
        CHECK(evidence_read(dir, 7, "b.pcap", 10, buf, 4, &len, &size) == 0 && len == 0, "at the end: nothing");
        CHECK(evidence_read(dir, 7, "link.pcap", 0, buf, 4, &len, &size) == -ELOOP, "a symlink is not followed");
        CHECK(evidence_read(dir, 7, "../7/a.pcap", 0, buf, 4, &len, &size) == -EINVAL, "a path is not a name");
        CHECK(evidence_read(dir, 7, "none.pcap", 0, buf, 4, &len, &size) == -ENOENT, "no such file");
        free(ev);

        CHECK(!mapped("/libpcap") && !pcap_lib_loaded(), "libpcap is not in the process before a capture");
        CHECK(pcap_lib_load() == 0 && pcap_lib_loaded() && mapped("/libpcap") && !pcap_lib_error(),
              "loaded on demand");
        CHECK(pcap_lib_load() == 0, "loading again: the first result");

        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        if (system(path) != 0)
                fprintf(stderr, "# cannot remove %s, ignoring\n", dir);
        TAP_END();
}
