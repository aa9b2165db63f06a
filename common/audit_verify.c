/* See audit_log.h: audit_log_verify(). The rotated files PATH.N … PATH.1 and PATH are read
 * oldest first and checked as one chain (common/audit_scan.h), then held against the head. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "audit_log.h"
#include "audit_scan.h"

static void fail_at(audit_verify_result *v, const char *file, uint64_t line, const char *fmt, ...) _printf_(4, 5);
static void fail_at(audit_verify_result *v, const char *file, uint64_t line, const char *fmt, ...) {
        va_list ap;

        (void) snprintf(v->bad_file, sizeof(v->bad_file), "%s", file ? file : "");
        v->bad_line = line;
        va_start(ap, fmt);
        (void) vsnprintf(v->why, sizeof(v->why), fmt, ap);
        va_end(ap);
}

static void chain_to_result(const audit_chain *c, audit_verify_result *v) {
        v->last_seq = c->seq;
        memcpy(v->head, c->hash, sizeof(v->head));
        v->signed_log |= c->macs;
}

/* One file (or buffer) of the chain. */
static int verify_one(const char *name, const char *buf, size_t len, bool last, const uint8_t *key, size_t key_len,
                      audit_chain *c, audit_verify_result *v) {
        bool first = !c->started;
        int r;

        r = audit_scan(buf, len, key, key_len, c);
        v->records += c->records;
        chain_to_result(c, v);
        if (r < 0) {
                fail_at(v, name, c->bad_line, "%s", c->why);
                return r;
        }
        if (first && c->first_seq) {
                v->first_seq = c->first_seq;
        }
        if (c->torn_bytes && !last) {
                fail_at(v, name, c->records + 1, "a rotated file ends in an incomplete line");
                return -EBADMSG;
        }
        v->torn_bytes = c->torn_bytes;
        return 0;
}

/* After the chain: does it still reach the head? */
static int hold_against_head(const audit_chain *c, const audit_head *h, const char *name, audit_verify_result *v) {
        v->head_seq = h->seq;
        if (h->seq == 0)
                return 0;
        if (h->seq > c->seq) {
                fail_at(v, name, 0, "missing tail: the head is at record %llu, the log ends at record %llu (records "
                        "deleted, the file cut or emptied, or its last line changed)", (unsigned long long) h->seq,
                        (unsigned long long) c->seq);
                return -EBADMSG;
        }
        if (!c->want_found) {
                /* older than the oldest file left: nothing to compare it with */
                return 0;
        }
        if (!audit_hex_equal(c->want_hash, h->hash)) {
                fail_at(v, name, 0, "record %llu is not the one the head names (the record was changed)",
                        (unsigned long long) h->seq);
                return -EBADMSG;
        }
        v->after_head = c->seq - h->seq;
        return 0;
}

int audit_log_verify_buffer(const void *buf, size_t len, const void *key, size_t key_len, const audit_head *head,
                            audit_verify_result *ret) {
        audit_chain c;
        int r;

        *ret = (audit_verify_result){ .macs_checked = key_len > 0, .files = 1 };
        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        audit_chain_init(&c);
        c.want_seq = head ? head->seq : 0;
        r = verify_one("", buf, len, true, key, key_len, &c, ret);
        if (r < 0 || !head)
                return r;
        ret->head_from = AUDIT_HEAD_FROM_GIVEN;
        return hold_against_head(&c, head, "", ret);
}

/* The highest N of the files PATH.N in PATH's directory (0: none). */
static unsigned rotated_highest(const char *path) {
        _cleanup_(freep) char *d = strdup(path), *b = strdup(path);
        unsigned highest = 0;
        struct dirent *de;
        DIR *dir;

        if (!d || !b)
                return 0;
        const char *base = basename(b);
        size_t bl = strlen(base);
        dir = opendir(dirname(d));
        if (!dir)
                return 0;
        while ((de = readdir(dir))) {
                const char *s = de->d_name + bl + 1;
                char *end;
                if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' || *s < '1' || *s > '9')
                        continue;
                unsigned long v = strtoul(s, &end, 10);
                if (!*end && v <= AUDIT_KEEP_MAX && v > highest)
                        highest = (unsigned) v;
        }
        closedir(dir);
        return highest;
}

int audit_log_verify(const char *path, const void *key, size_t key_len, const audit_head *head,
                     audit_verify_result *ret) {
        _cleanup_(freep) char *head_path = NULL;
        audit_head h = {};
        audit_chain c;
        unsigned n = 0;
        int r;

        *ret = (audit_verify_result){ .macs_checked = key_len > 0 };
        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        if (access(path, F_OK) < 0)
                return -errno;
        if (asprintf(&head_path, "%s.head", path) < 0)
                return -ENOMEM;
        if (head) {
                h = *head;
                ret->head_from = AUDIT_HEAD_FROM_GIVEN;
        } else {
                bool auth = false;
                r = audit_head_read(head_path, key, key_len, &h, &auth);
                if (r == -EBADMSG) {
                        fail_at(ret, head_path, 0, "the head record is damaged or forged%s",
                                key_len ? " (or its HMAC is not the given key's)" : "");
                        return r;
                }
                if (r < 0 && r != -ENOENT)
                        return r;
                ret->head_from = r >= 0 ? AUDIT_HEAD_FROM_FILE : AUDIT_HEAD_FROM_NONE;
                ret->head_authenticated = auth;
        }
        /* the rotated files: PATH.1 is the newest, the highest number the oldest */
        while (n < AUDIT_KEEP_MAX) {
                char p[600];
                (void) snprintf(p, sizeof(p), "%s.%u", path, n + 1);
                if (access(p, F_OK) < 0)
                        break;
                n++;
        }
        /* a gap: a newer rotated file missing while older ones are there */
        unsigned highest = rotated_highest(path);
        if (highest > n) {
                fail_at(ret, path, 0, "%s.%u is missing but the older %s.%u is there (a rotated file deleted)", path,
                        n + 1, path, highest);
                return -EBADMSG;
        }
        audit_chain_init(&c);
        c.want_seq = h.seq;
        for (unsigned i = n + 1; i-- > 0;) {
                _cleanup_(freep) char *buf = NULL;
                char p[600];
                size_t len;

                if (i > 0)
                        (void) snprintf(p, sizeof(p), "%s.%u", path, i);
                else
                        (void) snprintf(p, sizeof(p), "%s", path);
                r = atomic_file_read(p, AUDIT_FILE_MAX, &buf, &len);
                if (r < 0) {
                        fail_at(ret, p, 0, "cannot be read: %s", strerror(-r));
                        return r;
                }
                ret->files++;
                r = verify_one(p, buf, len, i == 0, key, key_len, &c, ret);
                if (r < 0)
                        return r;
        }
        if (ret->head_from == AUDIT_HEAD_FROM_NONE) {
                if (c.seq == 0)
                        return 0;
                fail_at(ret, head_path, 0, "no head record: a cut tail cannot be ruled out (give one with --head "
                        "SEQ:HASH, e.g. from the journal)");
                return -EBADMSG;
        }
        return hold_against_head(&c, &h, path, ret);
}
