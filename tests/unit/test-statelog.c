/* The state log under the crashes it exists for: a last record cut at every byte offset is
 * dropped and the rest replays exactly, and so is a zero-filled tail; every single-byte flip
 * in a small log — the last record's included — is damage (-EBADMSG, nothing replayed, the
 * file untouched), never a torn tail nor a wrong payload; a log emptied or cut shorter than its
 * header is damage, not a new log; statelog_check() says where; a damaged log set aside makes
 * room for a new one; a compaction that dies before its rename leaves the old log whole; a
 * second opener is refused; limits hold. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statelog.h"
#include "tap.h"

#define N 6

typedef struct seen {
        unsigned n;
        bool wrong;
        uint16_t types[64];
        char payloads[64][32];
} seen;

static void payload_of(unsigned i, char *buf, size_t size) {
        snprintf(buf, size, "record-%u-%.*s", i, (int) (i % 5), "xxxxx");
}

static int on_record(uint16_t type, const void *p, size_t len, void *userdata) {
        seen *s = userdata;
        char want[32];

        if (s->n >= 64)
                return -E2BIG;
        payload_of(s->n, want, sizeof(want));
        if (type != 100 + s->n || len != strlen(want) || memcmp(p, want, len) != 0)
                s->wrong = true;
        s->n++;
        return 0;
}

static char dir[] = "/tmp/ikh-test-statelog-XXXXXX";
static char path[256];

static void write_log(unsigned n) {
        statelog *l = NULL;
        char buf[32];

        unlink(path);
        if (statelog_open(&l, dir, "t", NULL, NULL) < 0)
                abort();
        for (unsigned i = 0; i < n; i++) {
                payload_of(i, buf, sizeof(buf));
                if (statelog_append(l, (uint16_t) (100 + i), buf, strlen(buf)) < 0)
                        abort();
        }
        statelog_free(l);
}

static size_t file_size(void) {
        struct stat st;
        return stat(path, &st) == 0 ? (size_t) st.st_size : 0;
}

static char *slurp(size_t *len) {
        FILE *f = fopen(path, "rb");
        char *b = malloc(1 << 16);
        *len = fread(b, 1, 1 << 16, f);
        fclose(f);
        return b;
}

static void spit(const char *b, size_t len) {
        FILE *f = fopen(path, "wb");
        fwrite(b, 1, len, f);
        fclose(f);
}

static int snapshot_two(statelog_writer *w, void *userdata) {
        char buf[32];
        for (unsigned i = 0; i < 2; i++) {
                payload_of(i, buf, sizeof(buf));
                int r = statelog_writer_append(w, (uint16_t) (100 + i), buf, strlen(buf));
                if (r < 0)
                        return r;
        }
        return *(int *) userdata; /* <0: die before the rename */
}

int main(void) {
        statelog *l = NULL;
        seen s = {};
        char buf[32];

        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/t.log", dir);

        CHECK(statelog_crc32c(0, "123456789", 9) == 0xE3069283u, "CRC-32C check value");

        write_log(N);
        CHECK(statelog_open(&l, dir, "t", on_record, &s) == 0 && s.n == N && !s.wrong &&
                      statelog_dropped_bytes(l) == 0 && statelog_records(l) == N,
              "replays %u records in order", s.n);
        statelog *l2 = NULL;
        CHECK(statelog_open(&l2, dir, "t", NULL, NULL) == -EBUSY, "a second opener is refused");
        CHECK(statelog_append(l, 1, buf, STATELOG_RECORD_MAX + 1) == -E2BIG, "record size limit");
        CHECK(statelog_open(&l2, dir, "../x", NULL, NULL) == -EINVAL, "log name validated");
        statelog_free(l);

        /* the last record cut at every offset */
        {
                size_t full, len;
                char *b;
                write_log(N - 1);
                full = file_size();
                write_log(N);
                b = slurp(&len);
                unsigned bad = 0;
                for (size_t cut = full; cut < len; cut++) {
                        spit(b, cut);
                        s = (seen){};
                        l = NULL;
                        int r = statelog_open(&l, dir, "t", on_record, &s);
                        if (r < 0 || s.n != N - 1 || s.wrong || statelog_dropped_bytes(l) != cut - full) {
                                bad++;
                                continue;
                        }
                        /* appending after the cut continues the log consistently */
                        payload_of(N - 1, buf, sizeof(buf));
                        if (statelog_append(l, 100 + N - 1, buf, strlen(buf)) < 0)
                                bad++;
                        statelog_free(l);
                        s = (seen){};
                        l = NULL;
                        if (statelog_open(&l, dir, "t", on_record, &s) < 0 || s.n != N || s.wrong)
                                bad++;
                        statelog_free(l);
                }
                CHECK(bad == 0, "torn at each of %zu offsets: first %u replayed, tail dropped, append continues [%u bad]",
                      len - full, N - 1, bad);
                free(b);
        }

        /* every single byte flipped: damage, never a torn tail nor a wrong record */
        {
                size_t len, blen;
                char *b;
                write_log(N);
                b = slurp(&len);
                unsigned misread = 0, badmsg = 0, torn = 0, touched = 0, checked = 0;
                for (size_t i = 0; i < len; i++)
                        for (int bit = 0; bit < 8; bit += 3) {
                                statelog_check_result c;
                                b[i] ^= (char) (1 << bit);
                                spit(b, len);
                                s = (seen){};
                                l = NULL;
                                int r = statelog_open(&l, dir, "t", on_record, &s);
                                if (r == -EBADMSG && s.n == 0)
                                        badmsg++;
                                else if (r == 0 && s.n < N)
                                        torn++;
                                else
                                        misread++;
                                statelog_free(l);
                                char *after = slurp(&blen);
                                if (blen != len || memcmp(after, b, len) != 0)
                                        touched++;
                                free(after);
                                if (statelog_check(dir, "t", &c) == -EBADMSG && c.why[0] && c.bad_offset < len)
                                        checked++;
                                b[i] ^= (char) (1 << bit);
                        }
                CHECK(badmsg == len * 3 && misread == 0 && torn == 0 && touched == 0 && checked == len * 3,
                      "%zu flips: %u damage found and described (%u), %u taken for a torn tail, %u misread, %u files "
                      "changed", len * 3, badmsg, checked, torn, misread, touched);
                free(b);
        }

        /* a zero-filled tail (space a crash allocated but never wrote) is torn, not damage */
        {
                size_t len;
                char *b, *z;
                write_log(N);
                b = slurp(&len);
                z = calloc(1, len + 100);
                memcpy(z, b, len);
                spit(z, len + 100);
                s = (seen){};
                l = NULL;
                CHECK(statelog_open(&l, dir, "t", on_record, &s) == 0 && s.n == N && !s.wrong &&
                              statelog_dropped_bytes(l) == 100,
                      "zero-filled tail of 100 bytes cut, %u records replayed", s.n);
                statelog_free(l);
                free(z);
                free(b);
        }

        /* emptied or cut shorter than its header: damage, not a new log */
        for (size_t cut = 0; cut < 8; cut++) {
                statelog_check_result c;
                write_log(N);
                if (truncate(path, (off_t) cut) < 0)
                        abort();
                l = NULL;
                if (cut == 0 || cut == 7) {
                        CHECK(statelog_open(&l, dir, "t", NULL, NULL) == -EBADMSG && file_size() == cut,
                              "a log cut to %zu bytes is refused and left as it is", cut);
                        CHECK(statelog_check(dir, "t", &c) == -EBADMSG && strstr(c.why, "shorter than its"),
                              "check: %s", c.why);
                }
        }
        {
                statelog_check_result c;
                char aside[300];
                CHECK(statelog_set_aside(dir, "t", 42, aside, sizeof(aside)) == 0 && strstr(aside, "t.log.broken-42") &&
                              access(aside, F_OK) == 0 && statelog_check(dir, "t", &c) == -ENOENT,
                      "set aside as %s", aside);
                l = NULL;
                CHECK(statelog_open(&l, dir, "t", NULL, NULL) == 0 && file_size() == 8, "then a new log is created whole");
                statelog_free(l);
                unlink(aside);
                write_log(N);
                CHECK(statelog_check(dir, "t", &c) == 0 && c.records == N && c.torn_bytes == 0, "check of a good log");
        }

        /* compaction: a crash before the rename keeps the old log; success replaces it */
        {
                int fail = -EIO, okv = 0;
                write_log(N);
                s = (seen){};
                l = NULL;
                CHECK(statelog_open(&l, dir, "t", on_record, &s) == 0, "open for compaction");
                CHECK(statelog_compact(l, snapshot_two, &fail) == -EIO, "compaction dies before rename");
                statelog_free(l);
                s = (seen){};
                l = NULL;
                CHECK(statelog_open(&l, dir, "t", on_record, &s) == 0 && s.n == N && !s.wrong,
                      "old log intact after the failed compaction (%u records)", s.n);
                CHECK(statelog_compact(l, snapshot_two, &okv) == 0, "compaction");
                payload_of(2, buf, sizeof(buf));
                CHECK(statelog_append(l, 102, buf, strlen(buf)) == 0, "append after compaction");
                statelog_free(l);
                s = (seen){};
                l = NULL;
                CHECK(statelog_open(&l, dir, "t", on_record, &s) == 0 && s.n == 3 && !s.wrong,
                      "compacted log: 2 records + 1 appended (%u)", s.n);
                statelog_free(l);
        }

        /* not our file */
        spit("hello world, not a state log", 28);
        l = NULL;
        CHECK(statelog_open(&l, dir, "t", NULL, NULL) == -EBADMSG, "a foreign file is left alone");
        CHECK(file_size() == 28, "…and untouched");

        unlink(path);
        rmdir(dir);
        return TAP_END();
}
