/* The nft_restore record (actions/nft_restore_record.h): a slot written in place and made
 * durable with one fdatasync(). A record reads back as written, in the same file (no new inode,
 * no rename); a cleared slot is no record; a write cut short — a body that does not match its
 * length or digest — reads as "not written to its end" (-ENODATA), never as a record or as a
 * malformed file; a record too large for the slot grows it and a clear gives the room back; and
 * a version-1 record (the rename-written format before the slot) is still read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/nft_restore_record.h"
#include "tap.h"

static char dir[64], path[128];

static void fill(nft_restore_record *rec, uint32_t gen, size_t msgs_len) {
        *rec = (nft_restore_record){ .generation = gen, .n = 2 };
        rec->objs[0] = (nft_object){ .kind = NFT_OBJECT_CHAIN, .family = 1 };
        snprintf(rec->objs[0].table, sizeof(rec->objs[0].table), "filter");
        snprintf(rec->objs[0].name, sizeof(rec->objs[0].name), "input");
        rec->objs[1] = (nft_object){ .kind = NFT_OBJECT_TABLE, .family = 1 };
        snprintf(rec->objs[1].table, sizeof(rec->objs[1].table), "vendor x");
        memset(rec->pre[0], 'a', 64);
        memset(rec->post[0], 'b', 64);
        memset(rec->pre[1], 'c', 64);
        snprintf(rec->post[1], sizeof(rec->post[1]), "absent");
        rec->msgs = malloc(msgs_len);
        for (size_t i = 0; i < msgs_len; i++)
                rec->msgs[i] = (uint8_t) (i * 7 + gen);
        rec->msgs_len = msgs_len;
}

static bool same(const nft_restore_record *a, const nft_restore_record *b) {
        if (a->generation != b->generation || a->n != b->n || a->msgs_len != b->msgs_len ||
            (a->msgs_len && memcmp(a->msgs, b->msgs, a->msgs_len) != 0))
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->objs[i].kind != b->objs[i].kind || a->objs[i].family != b->objs[i].family ||
                    strcmp(a->objs[i].table, b->objs[i].table) != 0 || strcmp(a->objs[i].name, b->objs[i].name) != 0 ||
                    strcmp(a->pre[i], b->pre[i]) != 0 || strcmp(a->post[i], b->post[i]) != 0)
                        return false;
        return true;
}

static struct stat st_of(void) {
        struct stat st = {};
        (void) stat(path, &st);
        return st;
}

static int poke(off_t at, const char *bytes, size_t n) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int r = fd >= 0 && pwrite(fd, bytes, n, at) == (ssize_t) n ? 0 : -1;
        if (fd >= 0)
                close(fd);
        return r;
}

int main(void) {
        nft_restore_record rec, small, back = {};
        char why[512];
        struct stat st0, st;
        FILE *f;
        int r;

        (void) snprintf(dir, sizeof(dir), "/tmp/ikh-nftrec-XXXXXX");
        if (!mkdtemp(dir))
                return 1;
        (void) snprintf(path, sizeof(path), "%s/firewall.nft.restore", dir);

        CHECK(nft_restore_record_read(path, &back, why, sizeof(why)) == -ENOENT, "no slot: no record");
        CHECK(nft_restore_record_clear(path) == 0 && access(path, F_OK) != 0, "clearing no slot makes none");
        CHECK(nft_restore_record_prepare(path) == 0, "the slot is made");
        st0 = st_of();
        CHECK(st0.st_size == NFT_RESTORE_RECORD_ROOM && (st0.st_mode & 0777) == 0600, "with its room, mode 0600 (%lld bytes, %o)",
              (long long) st0.st_size, st0.st_mode & 0777);
        CHECK(nft_restore_record_read(path, &back, why, sizeof(why)) == -ENOENT, "an empty slot is no record");
        CHECK(nft_restore_record_prepare(path) == 0 && st_of().st_ino == st0.st_ino, "made once");

        fill(&rec, 41, 1000);
        CHECK(nft_restore_record_write(path, &rec) == 0, "a record is written");
        st = st_of();
        CHECK(st.st_ino == st0.st_ino && st.st_size == st0.st_size, "in place: same file, same size");
        r = nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == 0 && same(&rec, &back), "and reads back as written: %d %s", r, r ? why : "");
        nft_restore_record_done(&back);

        /* a smaller record over it: what is left of the bigger one behind it is not read */
        fill(&small, 42, 10);
        r = nft_restore_record_write(path, &small) < 0 ? -1 : nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == 0 && same(&small, &back), "a smaller record over a larger one reads as itself: %d", r);
        nft_restore_record_done(&back);

        /* cut short: a byte of the body not as written, or the body shorter than announced */
        CHECK(nft_restore_record_write(path, &rec) == 0 && poke(200, "\xff", 1) == 0, "a record, one byte of it changed");
        r = nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == -ENODATA && strstr(why, path) && strstr(why, "not written to its end"), "reads as not written to its end: %d %s", r, why);
        CHECK(nft_restore_record_write(path, &rec) == 0 && truncate(path, 300) == 0, "a record, the file ending in its body");
        r = nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == -ENODATA, "reads as not written to its end: %d %s", r, why);
        CHECK(nft_restore_record_write(path, &rec) == 0 && nft_restore_record_read(path, &back, why, sizeof(why)) == 0 &&
                      same(&rec, &back),
              "the slot takes the next record all the same");
        nft_restore_record_done(&back);

        CHECK(nft_restore_record_clear(path) == 0 && st_of().st_ino == st0.st_ino, "cleared in place");
        CHECK(nft_restore_record_read(path, &back, why, sizeof(why)) == -ENOENT, "a cleared slot is no record");

        /* larger than the slot: it grows, and a clear gives the room back */
        nft_restore_record_done(&rec);
        fill(&rec, 43, 3 * NFT_RESTORE_RECORD_ROOM);
        r = nft_restore_record_write(path, &rec) < 0 ? -1 : nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == 0 && same(&rec, &back) && st_of().st_size > (off_t) (3 * NFT_RESTORE_RECORD_ROOM), "a record larger than the slot: %d",
              r);
        nft_restore_record_done(&back);
        CHECK(nft_restore_record_clear(path) == 0 && st_of().st_size == NFT_RESTORE_RECORD_ROOM, "cleared, the slot back to its room");

        /* a header that is not one: malformed, with its position */
        CHECK(poke(0, "ikeheal-nft-restore 2 x", 23) == 0, "a header with a length that is not a number");
        r = nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == -EBADMSG && strstr(why, ":1:23:"), "malformed, at line 1 column 23: %d %s", r, why);

        /* version 1, as the rename-written format had it: still read */
        f = fopen(path, "we");
        if (f) {
                fprintf(f, "ikeheal-nft-restore 1\ngeneration 7\nobject table 2 vendor%%20x - %064d absent\nmessages 4\nabcd", 0);
                fclose(f);
        }
        r = nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == 0 && back.generation == 7 && back.n == 1 && strcmp(back.objs[0].table, "vendor x") == 0 && back.msgs_len == 4 &&
                      memcmp(back.msgs, "abcd", 4) == 0,
              "a version-1 record is read: %d %s", r, r ? why : "");
        nft_restore_record_done(&back);
        r = nft_restore_record_write(path, &small) < 0 ? -1 : nft_restore_record_read(path, &back, why, sizeof(why));
        CHECK(r == 0 && same(&small, &back), "and its file takes a version-2 record in place: %d", r);
        nft_restore_record_done(&back);

        /* a record written where there was no slot makes it */
        CHECK(unlink(path) == 0 && nft_restore_record_write(path, &small) == 0 && nft_restore_record_read(path, &back, why, sizeof(why)) == 0 &&
                      same(&small, &back) && st_of().st_size == NFT_RESTORE_RECORD_ROOM,
              "a write without a slot makes it, with its room");
        nft_restore_record_done(&back);

        nft_restore_record_done(&rec);
        nft_restore_record_done(&small);
        (void) unlink(path);
        (void) rmdir(dir);
        return TAP_END();
}
