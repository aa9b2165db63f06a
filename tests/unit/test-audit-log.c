/* The audit log's promises: a chain that verifies; with a key, every single-byte edit anywhere
 * is found; without a key too, by the head record the log must still reach; every tail
 * mutation (the last record deleted, the last K cut, the final newline dropped, a byte of the
 * last line flipped, the file emptied) is broken — against the head file and against a head
 * given as SEQ:HASH — and refused by the open; a signed log verifies without the key (chain
 * only, saying so); a torn line beyond the head is cut on open, a log one record ahead of its
 * head (a crash between the two writes) is accepted; a damaged head slot is damage; rotation
 * keeps one chain across files, also across a crash in the middle of a rotation, and verify
 * walks them; a deleted, duplicated or swapped record is found. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_log.h"
#include "tap.h"

static char dir[] = "/tmp/ikh-test-audit-XXXXXX";
static char path[256], head_path[300];

static char *slurp_from(const char *p, size_t *len) {
        FILE *f = fopen(p, "rb");
        char *b = malloc(1 << 16);
        *len = f ? fread(b, 1, 1 << 16, f) : 0;
        if (f)
                fclose(f);
        return b;
}

static char *slurp(size_t *len) {
        return slurp_from(path, len);
}

static void spit_to(const char *p, const char *b, size_t len) {
        FILE *f = fopen(p, "wb");
        fwrite(b, 1, len, f);
        fclose(f);
}

static void spit(const char *b, size_t len) {
        spit_to(path, b, len);
}

static void clean(void) {
        char p[400];
        unlink(path);
        unlink(head_path);
        for (int i = 1; i < 10; i++) {
                snprintf(p, sizeof(p), "%s.%d", path, i);
                unlink(p);
        }
}

static void write_log(const char *key, char head[65]) {
        audit_log *l = NULL;
        clean();
        if (audit_log_open(&l, path, key, key ? strlen(key) : 0) < 0)
                abort();
        (void) audit_log_append(l, 1000, "detection", "incident 1 opened: firewall (global)", NULL);
        (void) audit_log_append(l, 2000, "plan", "runbook restore-firewall\twith a tab", NULL);
        (void) audit_log_append(l, 3000, "approval", "uid 0 (root) approved plan 1\nsecond line", NULL);
        (void) audit_log_append(l, 4000, "action", "nft: restored ruleset abc", head);
        audit_log_free(l);
}

/* Start offsets of the lines of b. */
static size_t lines_of(const char *b, size_t len, size_t *starts) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                if (i == 0 || b[i - 1] == '\n')
                        starts[n++] = i;
        return n;
}

/* Every tail mutation of the 4-record log in b: verify (head file, given head) and open. */
static void tail_mutations(const char *key, const char *b, size_t len, const char head[65]) {
        size_t st[16], n = lines_of(b, len, st);
        audit_head given = { .seq = 4 };
        audit_verify_result v;
        char m[1 << 12];
        struct {
                const char *what;
                size_t len;
        } cases[8];
        size_t nc = 0;
        size_t klen = key ? strlen(key) : 0;

        memcpy(given.hash, head, 65);
        cases[nc++] = (typeof(cases[0])){ "last record deleted", st[n - 1] };
        cases[nc++] = (typeof(cases[0])){ "last 2 records cut", st[n - 2] };
        cases[nc++] = (typeof(cases[0])){ "last 3 records cut", st[n - 3] };
        cases[nc++] = (typeof(cases[0])){ "final newline dropped", len - 1 };
        cases[nc++] = (typeof(cases[0])){ "emptied", 0 };
        cases[nc++] = (typeof(cases[0])){ "a byte of the last line flipped", len };
        cases[nc++] = (typeof(cases[0])){ "final newline changed", len };
        for (size_t i = 0; i < nc; i++) {
                memcpy(m, b, len);
                if (i == 5)
                        m[len - 3] ^= 1;
                if (i == 6)
                        m[len - 1] = 'x';
                spit(m, cases[i].len);
                int r1 = audit_log_verify(path, key, klen, NULL, &v);
                int r2 = audit_log_verify(path, key, klen, &given, &v);
                audit_log *l = NULL;
                int r3 = audit_log_open(&l, path, key, klen);
                audit_log_free(l);
                CHECK(r1 == -EBADMSG && r2 == -EBADMSG && r3 == -EBADMSG, "%s %s: broken by the head file, by --head "
                      "and refused by the open (%s)", key ? "keyed" : "unkeyed", cases[i].what, v.why);
        }
        spit(b, len);
}

int main(void) {
        audit_verify_result v;
        char head[65], head2[65];
        audit_log *l = NULL;

        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/audit.log", dir);
        snprintf(head_path, sizeof(head_path), "%s.head", path);

        write_log(NULL, head);
        CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && v.records == 4 && strcmp(v.head, head) == 0 &&
                      v.head_from == AUDIT_HEAD_FROM_FILE && v.head_seq == 4,
              "4 records verify and reach their head file, head %.12s…", v.head);
        CHECK(audit_log_verify(path, "k", 1, NULL, &v) == -EBADMSG, "a key where none was used: refused");
        CHECK(audit_log_open(&l, path, NULL, 0) == 0 && audit_log_head(l, head2) == 4 && strcmp(head, head2) == 0,
              "reopen: head and sequence continue");
        audit_log *l2 = NULL;
        CHECK(audit_log_open(&l2, path, NULL, 0) == -EBUSY, "a second writer is refused");
        CHECK(audit_log_append(l, 5000, "Bad Kind", "x", NULL) == -EINVAL, "kind validated");
        char big[AUDIT_TEXT_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        CHECK(audit_log_append(l, 5000, "action", big, NULL) == -E2BIG, "text size limit");
        audit_log_free(l);

        {
                audit_head h;
                CHECK(audit_head_parse("4:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &h) == 0 &&
                              h.seq == 4,
                      "SEQ:HASH parsed");
                CHECK(audit_head_parse("4:0123", &h) == -EINVAL && audit_head_parse(":ab", &h) == -EINVAL &&
                              audit_head_parse("x:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &h) ==
                                      -EINVAL,
                      "bad SEQ:HASH refused");
        }

        /* every single-byte edit, with a key: found, and refused by the open */
        {
                size_t len;
                char *b;
                unsigned missed = 0, opened = 0;
                write_log("s3cret", head);
                b = slurp(&len);
                for (size_t i = 0; i < len; i++) {
                        char o = b[i];
                        b[i] = o == 'x' ? 'y' : 'x';
                        spit(b, len);
                        if (audit_log_verify(path, "s3cret", 6, NULL, &v) != -EBADMSG)
                                missed++;
                        l = NULL;
                        if (audit_log_open(&l, path, "s3cret", 6) != -EBADMSG)
                                opened++;
                        audit_log_free(l);
                        b[i] = o;
                }
                CHECK(missed == 0 && opened == 0, "keyed: each of %zu single-byte edits broken (%u missed, %u opened)",
                      len, missed, opened);
                spit(b, len);
                CHECK(audit_log_verify(path, "wrong", 5, NULL, &v) == -EBADMSG, "the wrong key fails: %s", v.why);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && !v.macs_checked && v.signed_log &&
                              v.records == 4 && !v.head_authenticated,
                      "a signed log without the key: the chain verifies, the HMACs are said not checked");
                tail_mutations("s3cret", b, len, head);
                free(b);
        }

        /* without a key: every edit is found by the chain or by the head file */
        {
                size_t len;
                char *b;
                unsigned missed = 0;
                write_log(NULL, head);
                b = slurp(&len);
                for (size_t i = 0; i < len; i++) {
                        char o = b[i];
                        b[i] = o == 'x' ? 'y' : 'x';
                        spit(b, len);
                        if (audit_log_verify(path, NULL, 0, NULL, &v) != -EBADMSG)
                                missed++;
                        b[i] = o;
                }
                CHECK(missed == 0, "unkeyed: each of %zu single-byte edits broken (%u missed)", len, missed);
                tail_mutations(NULL, b, len, head);

                /* delete the second record; swap two; duplicate one */
                size_t st[16];
                lines_of(b, len, st);
                char *l2s = b + st[1], *l3s = b + st[2], *l4s = b + st[3];
                char buf[1 << 16];
                size_t n = 0;
                memcpy(buf, b, (size_t) (l2s - b));
                n = (size_t) (l2s - b);
                memcpy(buf + n, l3s, len - (size_t) (l3s - b));
                n += len - (size_t) (l3s - b);
                spit(buf, n);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == -EBADMSG && v.bad_line == 2, "deleted record: line 2: %s", v.why);
                n = 0;
                memcpy(buf, b, (size_t) (l2s - b));
                n = (size_t) (l2s - b);
                memcpy(buf + n, l3s, (size_t) (l4s - l3s));
                n += (size_t) (l4s - l3s);
                memcpy(buf + n, l2s, (size_t) (l3s - l2s));
                n += (size_t) (l3s - l2s);
                memcpy(buf + n, l4s, len - (size_t) (l4s - b));
                n += len - (size_t) (l4s - b);
                spit(buf, n);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == -EBADMSG && v.bad_line == 2, "swapped records: line 2");
                memcpy(buf, b, len);
                memcpy(buf + len, l4s, len - (size_t) (l4s - b));
                spit(buf, len + (len - (size_t) (l4s - b)));
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == -EBADMSG && v.bad_line == 5, "duplicated record: line 5");

                /* a torn line beyond the head: cut on open, then the chain goes on */
                memcpy(buf, b, len);
                memcpy(buf + len, "5\t9000\taction\t", 14);
                spit(buf, len + 14);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && v.records == 4 && v.torn_bytes == 14,
                      "a torn line after the head: reported, not a failure");
                l = NULL;
                CHECK(audit_log_open(&l, path, NULL, 0) == 0 && audit_log_dropped_bytes(l) == 14 &&
                              audit_log_append(l, 9000, "action", "after the crash", NULL) == 0,
                      "open cuts the torn line; appending continues");
                audit_log_free(l);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && v.records == 5 && v.head_seq == 5,
                      "the chain holds after the cut, its head moved");
                free(b);
        }

        /* a crash between the record and its head: the log is one ahead, accepted */
        {
                size_t hlen, len;
                char *hb, *b;
                write_log(NULL, head);
                hb = slurp_from(head_path, &hlen);
                l = NULL;
                CHECK(audit_log_open(&l, path, NULL, 0) == 0 && audit_log_append(l, 5000, "action", "five", NULL) == 0,
                      "a fifth record");
                audit_log_free(l);
                spit_to(head_path, hb, hlen); /* its head update lost */
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && v.head_seq == 4 && v.after_head == 1,
                      "verify: one record after the head, accepted");
                l = NULL;
                CHECK(audit_log_open(&l, path, NULL, 0) == 0, "open accepts it and moves the head");
                audit_log_free(l);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && v.head_seq == 5, "head at 5 again");
                /* a flipped byte in a head slot: damage, not a fallback to the other slot */
                free(hb);
                hb = slurp_from(head_path, &hlen);
                hb[AUDIT_HEAD_SLOT + 40] ^= 1;
                spit_to(head_path, hb, hlen);
                l = NULL;
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == -EBADMSG && audit_log_open(&l, path, NULL, 0) == -EBADMSG,
                      "a damaged head slot is damage: %s", v.why);
                /* no head at all: verify cannot rule out a cut tail */
                unlink(head_path);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == -EBADMSG && v.head_from == AUDIT_HEAD_FROM_NONE,
                      "no head record: broken (%s)", v.why);
                b = slurp(&len);
                char hs[100];
                snprintf(hs, sizeof(hs), "5:%s", v.head);
                audit_head given;
                CHECK(audit_head_parse(hs, &given) == 0 && audit_log_verify(path, NULL, 0, &given, &v) == 0,
                      "…but with --head it verifies");
                l = NULL;
                CHECK(audit_log_open(&l, path, NULL, 0) == 0 && audit_log_head_was_missing(l),
                      "the open accepts a log without a head and says so");
                audit_log_free(l);
                free(b);
                free(hb);
        }

        /* rotation: one chain over the files, the oldest ones deleted beyond `keep` */
        {
                char p[400], text[200];
                write_log("s3cret", head);
                l = NULL;
                CHECK(audit_log_open(&l, path, "s3cret", 6) == 0 && audit_log_set_rotation(l, 1024, 3) == 0,
                      "rotation: 1 KiB, keep 3");
                int bad = 0;
                for (int i = 0; i < 24; i++) {
                        snprintf(text, sizeof(text), "record number %d of the rotation test", i);
                        bad += audit_log_append(l, 10000 + (uint64_t) i, "action", text, NULL) < 0;
                }
                uint64_t last = audit_log_head(l, head);
                audit_log_free(l);
                snprintf(p, sizeof(p), "%s.3", path);
                bool has3 = access(p, F_OK) == 0;
                snprintf(p, sizeof(p), "%s.4", path);
                CHECK(bad == 0 && has3 && access(p, F_OK) < 0, "rotated into audit.log.1..3, no .4");
                CHECK(audit_log_verify(path, "s3cret", 6, NULL, &v) == 0 && v.files == 4 && v.last_seq == last &&
                              v.first_seq > 1 && v.records == last - v.first_seq + 1 && v.head_seq == last,
                      "verify walks %u files as one chain: records %llu..%llu, reaching the head", v.files,
                      (unsigned long long) v.first_seq, (unsigned long long) v.last_seq);
                CHECK(audit_log_verify(path, NULL, 0, NULL, &v) == 0 && !v.macs_checked, "…also without the key");
                size_t len;
                char *b = slurp(&len);
                CHECK(strstr(b, "\trotated\t") && strstr(b, "continues"), "the new file begins with a rotation record");
                free(b);
                snprintf(p, sizeof(p), "%s.2", path);
                b = slurp_from(p, &len);
                b[len / 2] ^= 1;
                spit_to(p, b, len);
                CHECK(audit_log_verify(path, "s3cret", 6, NULL, &v) == -EBADMSG && strstr(v.bad_file, "audit.log.2"),
                      "a flipped byte in audit.log.2 is found there: %s line %llu", v.bad_file,
                      (unsigned long long) v.bad_line);
                b[len / 2] ^= 1;
                spit_to(p, b, len);
                free(b);
                snprintf(p, sizeof(p), "%s.1", path);
                char p2[400];
                snprintf(p2, sizeof(p2), "%s.x", path);
                rename(p, p2);
                CHECK(audit_log_verify(path, "s3cret", 6, NULL, &v) == -EBADMSG, "a missing middle file breaks the chain: %s",
                      v.why);
                rename(p2, p);
                /* a crash after audit.log became audit.log.1, before the new one was written */
                l = NULL;
                CHECK(audit_log_open(&l, path, "s3cret", 6) == 0 && audit_log_set_rotation(l, 1024, 3) == 0,
                      "reopen a rotated log");
                audit_log_free(l);
                char p3[400], p4[400];
                snprintf(p3, sizeof(p3), "%s.3", path);
                unlink(p3);
                snprintf(p3, sizeof(p3), "%s.2", path);
                snprintf(p4, sizeof(p4), "%s.3", path);
                rename(p3, p4);
                snprintf(p4, sizeof(p4), "%s.2", path);
                rename(p, p4);
                rename(path, p);
                spit("", 0);
                l = NULL;
                CHECK(audit_log_open(&l, path, "s3cret", 6) == 0 && audit_log_head(l, head2) == last + 1 &&
                              audit_log_append(l, 99999, "action", "after the crash", NULL) == 0,
                      "open after a crash mid-rotation continues the chain from audit.log.1");
                audit_log_free(l);
                CHECK(audit_log_verify(path, "s3cret", 6, NULL, &v) == 0 && v.last_seq == last + 2,
                      "…and it verifies (%s)", v.why);
                /* set aside: the log, its head and its rotated files */
                char aside[600];
                CHECK(audit_log_set_aside(path, 7, aside, sizeof(aside)) == 0 && access(path, F_OK) < 0 &&
                              access(head_path, F_OK) < 0 && access(p, F_OK) < 0,
                      "set aside with its head and rotated files: %s", aside);
                l = NULL;
                CHECK(audit_log_open(&l, path, "s3cret", 6) == 0 && audit_log_head(l, head2) == 0, "a new chain begins");
                audit_log_free(l);
                char cmd[600];
                snprintf(cmd, sizeof(cmd), "rm -f %s/audit.log.broken-7*", dir);
                if (system(cmd) != 0)
                        abort();
        }
        clean();
        rmdir(dir);
        return TAP_END();
}
