/* The audit log's promises: a chain that verifies; with a key, every single-byte edit anywhere
 * is found (the line it is on, or the next one); without a key every edit before the last
 * record is found and one in the last record changes the head hash (the anchor mirrored
 * elsewhere); a deleted, duplicated or swapped record is found; a torn last line is cut on open
 * and the log goes on; text with tabs and newlines stays one record. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_log.h"
#include "tap.h"

static char dir[] = "/tmp/ikh-test-audit-XXXXXX";
static char path[256];

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

static void write_log(const char *key, char head[65]) {
        audit_log *l = NULL;
        unlink(path);
        if (audit_log_open(&l, path, key, key ? strlen(key) : 0) < 0)
                abort();
        (void) audit_log_append(l, 1000, "detection", "incident 1 opened: firewall (global)", NULL);
        (void) audit_log_append(l, 2000, "plan", "runbook restore-firewall\twith a tab", NULL);
        (void) audit_log_append(l, 3000, "approval", "uid 0 (root) approved plan 1\nsecond line", NULL);
        (void) audit_log_append(l, 4000, "action", "nft: restored ruleset abc", head);
        audit_log_free(l);
}

int main(void) {
        audit_verify_result v;
        char head[65], head2[65];
        audit_log *l = NULL;

        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/audit.log", dir);

        write_log(NULL, head);
        CHECK(audit_log_verify(path, NULL, 0, &v) == 0 && v.records == 4 && strcmp(v.head, head) == 0,
              "4 records verify, head %.12s…", v.head);
        CHECK(audit_log_verify(path, "k", 1, &v) == -EBADMSG, "a key where none was used: refused");
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

        /* every single-byte edit, with a key */
        {
                size_t len;
                char *b;
                unsigned missed = 0;
                write_log("s3cret", head);
                b = slurp(&len);
                for (size_t i = 0; i < len; i++) {
                        char o = b[i];
                        b[i] = o == 'x' ? 'y' : 'x';
                        spit(b, len);
                        int r = audit_log_verify(path, "s3cret", 6, &v);
                        /* the last newline edited makes the last line "torn": that too must not
                         * pass as the same log */
                        if (r == 0 && v.records == 4 && strcmp(v.head, head) == 0)
                                missed++;
                        b[i] = o;
                }
                CHECK(missed == 0, "keyed: each of %zu single-byte edits detected (%u missed)", len, missed);
                spit(b, len);
                CHECK(audit_log_verify(path, "wrong", 5, &v) == -EBADMSG && v.bad_line == 1,
                      "the wrong key fails at line 1: %s", v.why);
                free(b);
        }

        /* without a key: edits before the last record break the chain; in the last, the head */
        {
                size_t len, last_start = 0;
                char *b;
                unsigned missed = 0;
                write_log(NULL, head);
                b = slurp(&len);
                for (size_t i = 0; i + 1 < len; i++)
                        if (b[i] == '\n')
                                last_start = i + 1;
                for (size_t i = 0; i < len; i++) {
                        char o = b[i];
                        b[i] = o == 'x' ? 'y' : 'x';
                        spit(b, len);
                        int r = audit_log_verify(path, NULL, 0, &v);
                        bool found = r == -EBADMSG || (i >= last_start && strcmp(v.head, head) != 0) ||
                                     v.records != 4;
                        if (!found)
                                missed++;
                        b[i] = o;
                }
                CHECK(missed == 0, "unkeyed: %zu edits found by the chain or the head anchor (%u missed)", len, missed);

                /* delete the second record; swap two; duplicate one */
                char *l2s = strchr(b, '\n') + 1, *l3s = strchr(l2s, '\n') + 1, *l4s = strchr(l3s, '\n') + 1;
                char buf[1 << 16];
                size_t n = 0;
                memcpy(buf, b, (size_t) (l2s - b));
                n = (size_t) (l2s - b);
                memcpy(buf + n, l3s, len - (size_t) (l3s - b));
                n += len - (size_t) (l3s - b);
                spit(buf, n);
                CHECK(audit_log_verify(path, NULL, 0, &v) == -EBADMSG && v.bad_line == 2, "deleted record: line 2: %s", v.why);
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
                CHECK(audit_log_verify(path, NULL, 0, &v) == -EBADMSG && v.bad_line == 2, "swapped records: line 2");
                memcpy(buf, b, len);
                memcpy(buf + len, l4s, len - (size_t) (l4s - b));
                spit(buf, len + (len - (size_t) (l4s - b)));
                CHECK(audit_log_verify(path, NULL, 0, &v) == -EBADMSG && v.bad_line == 5, "duplicated record: line 5");

                /* torn last line: cut on open, then the chain goes on */
                spit(b, len - 5);
                CHECK(audit_log_verify(path, NULL, 0, &v) == 0 && v.records == 3 && v.torn_bytes > 0,
                      "torn last line reported, not a failure");
                l = NULL;
                CHECK(audit_log_open(&l, path, NULL, 0) == 0 && audit_log_dropped_bytes(l) > 0 &&
                              audit_log_append(l, 9000, "action", "after the crash", NULL) == 0,
                      "open cuts the torn line; appending continues");
                audit_log_free(l);
                CHECK(audit_log_verify(path, NULL, 0, &v) == 0 && v.records == 4, "the chain holds after the cut");
                free(b);
        }
        unlink(path);
        rmdir(dir);
        return TAP_END();
}
