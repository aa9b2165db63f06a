/* See nft_restore_record.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/nft_restore_record.h"
#include "atomic_file.h"
#include "audit_crypto.h"
#include "file_read.h"

static const char *const kinds[] = { [NFT_OBJECT_TABLE] = "table", [NFT_OBJECT_CHAIN] = "chain", [NFT_OBJECT_SET] = "set" };

void nft_restore_record_done(nft_restore_record *rec) {
        free(rec->msgs);
        rec->msgs = NULL;
        rec->msgs_len = 0;
}

static bool plain(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static void put_name(FILE *f, const char *s) {
        if (!s[0]) {
                fputs(" -", f);
                return;
        }
        fputc(' ', f);
        for (; *s; s++)
                if (plain(*s))
                        fputc(*s, f);
                else
                        fprintf(f, "%%%02X", (unsigned char) *s);
}

/* The header line of a body of len bytes: "ikeheal-nft-restore 2 <len> <sha256>\n". */
static int header(const void *body, size_t len, char *buf, size_t size) {
        char digest[AUDIT_HASH_HEX + 1];
        int n;

        audit_sha256_hex(body, len, digest);
        n = snprintf(buf, size, "ikeheal-nft-restore 2 %zu %s\n", len, digest);
        return n > 0 && (size_t) n < size ? n : -ENOBUFS;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t at) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, at);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                at += n;
                len -= (size_t) n;
        }
        return 0;
}

/* The slot at path, opened for writing; *ret_new when it was made now (empty, mode 0600). */
static int slot_open(const char *path, bool create, bool *ret_new) {
        struct stat st;
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

        *ret_new = false;
        if (fd < 0 && errno == ENOENT && create) {
                fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd >= 0 && fchmod(fd, 0600) < 0) { /* the umask must not narrow it */
                        int r = -errno;
                        close(fd);
                        (void) unlink(path);
                        return r;
                }
                *ret_new = fd >= 0;
        }
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int r = fstat(fd, &st) < 0 ? -errno : -EBADFD;
                close(fd);
                return r;
        }
        return fd;
}

/* Header and body at the slot's start; a new slot padded with zeros to its room (blocks that
 * later records overwrite in place) and made durable with its directory entry; else one
 * fdatasync() (the size too, should the record outgrow the slot). */
static int slot_write(const char *path, const char *head, size_t head_len, const void *body, size_t len) {
        _cleanup_(closep) int fd = -1;
        bool made;
        int r;

        fd = slot_open(path, true, &made);
        if (fd < 0)
                return fd;
        if ((r = pwrite_all(fd, head, head_len, 0)) < 0 || (r = pwrite_all(fd, body, len, (off_t) head_len)) < 0)
                goto fail;
        if (made && head_len + len < NFT_RESTORE_RECORD_ROOM) {
                size_t pad = NFT_RESTORE_RECORD_ROOM - head_len - len;
                _cleanup_(freep) char *zeros = calloc(1, pad);
                if (!zeros) {
                        r = -ENOMEM;
                        goto fail;
                }
                if ((r = pwrite_all(fd, zeros, pad, (off_t) (head_len + len))) < 0)
                        goto fail;
        }
        if ((made ? fsync(fd) : fdatasync(fd)) < 0) {
                r = -errno;
                goto fail;
        }
        return made ? atomic_file_sync_dir_of(path) : 0;
fail:
        if (made)
                (void) unlink(path);
        return r;
}

int nft_restore_record_prepare(const char *path) {
        char head[128];
        bool made;
        int fd = slot_open(path, false, &made), n;

        if (fd >= 0) {
                close(fd);
                return 0;
        }
        if (fd != -ENOENT)
                return fd;
        if ((n = header("", 0, head, sizeof(head))) < 0)
                return n;
        return slot_write(path, head, (size_t) n, "", 0);
}

int nft_restore_record_write(const char *path, const nft_restore_record *rec) {
        _cleanup_(freep) char *buf = NULL;
        char head[128];
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int n;

        if (!f)
                return -ENOMEM;
        fprintf(f, "generation %" PRIu32 "\n", rec->generation);
        for (size_t i = 0; i < rec->n; i++) {
                fprintf(f, "object %s %d", kinds[rec->objs[i].kind], rec->objs[i].family);
                put_name(f, rec->objs[i].table);
                put_name(f, rec->objs[i].name);
                fprintf(f, " %s %s\n", rec->pre[i], rec->post[i]);
        }
        fprintf(f, "messages %zu\n", rec->msgs_len);
        if (rec->msgs_len)
                fwrite(rec->msgs, 1, rec->msgs_len, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        if ((n = header(buf, len, head, sizeof(head))) < 0)
                return n;
        return slot_write(path, head, (size_t) n, buf, len);
}

int nft_restore_record_clear(const char *path) {
        _cleanup_(closep) int fd = -1;
        char head[128];
        struct stat st;
        bool made;
        int n = header("", 0, head, sizeof(head)), r;

        if (n < 0)
                return n;
        fd = slot_open(path, false, &made);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        if ((r = pwrite_all(fd, head, (size_t) n, 0)) < 0)
                return r;
        /* a slot a large record grew gives that room back (cleared all the same if it cannot) */
        if (fstat(fd, &st) == 0 && st.st_size > (off_t) NFT_RESTORE_RECORD_ROOM)
                r = ftruncate(fd, NFT_RESTORE_RECORD_ROOM);
        return 0;
}

/* ---- reading ---- */

typedef struct cursor {
        const char *path;
        const char *p, *end;
        unsigned line;
        const char *line_start;
        char *why;
        size_t why_size;
} cursor;

static int fail(cursor *c, const char *at, const char *fmt, ...) _printf_(3, 4);
static int fail(cursor *c, const char *at, const char *fmt, ...) {
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        (void) snprintf(c->why, c->why_size, "%s:%u:%zu: %s", c->path, c->line, (size_t) (at - c->line_start) + 1, msg);
        return -EBADMSG;
}

/* The next space-separated word of the current line into buf (at most size-1 bytes). */
static int word(cursor *c, char *buf, size_t size, const char **ret_at) {
        const char *s = c->p;
        size_t n;

        while (s < c->end && *s == ' ')
                s++;
        *ret_at = s;
        n = 0;
        while (s + n < c->end && s[n] != ' ' && s[n] != '\n')
                n++;
        if (n == 0)
                return fail(c, s, "a word is missing here");
        if (n >= size)
                return fail(c, s, "word too long");
        memcpy(buf, s, n);
        buf[n] = 0;
        c->p = s + n;
        return 0;
}

static int end_line(cursor *c) {
        if (c->p >= c->end || *c->p != '\n')
                return fail(c, c->p, "end of line expected");
        c->p++;
        c->line++;
        c->line_start = c->p;
        return 0;
}

static int u64_of(cursor *c, const char *at, const char *s, uint64_t max, uint64_t *ret) {
        char *e;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &e, 10);
        if (errno || *e || s[0] == '-' || s[0] == '+' || !s[0] || v > max)
                return fail(c, at, "'%s' is not a number up to %" PRIu64, s, max);
        *ret = v;
        return 0;
}

static int name_of(cursor *c, const char *at, const char *s, char *out, size_t size) {
        size_t n = 0;

        if (strcmp(s, "-") == 0) {
                out[0] = 0;
                return 0;
        }
        for (; *s; s++) {
                unsigned v;
                if (n + 1 >= size)
                        return fail(c, at, "name too long");
                if (*s == '%') {
                        if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2] || v == 0)
                                return fail(c, at, "bad %%-escape in a name");
                        out[n++] = (char) v;
                        s += 2;
                } else if (plain(*s))
                        out[n++] = *s;
                else
                        return fail(c, at, "unexpected character in a name");
        }
        out[n] = 0;
        return 0;
}

static int state_of(cursor *c, const char *at, const char *s, char *out) {
        size_t n = strlen(s);
        if (strcmp(s, "absent") != 0 && (n != 2 * NFT_RULESET_HASH_SIZE || strspn(s, "0123456789abcdef") != n))
                return fail(c, at, "a state is 64 hex digits or 'absent'");
        memcpy(out, s, n + 1);
        return 0;
}

int nft_restore_record_read(const char *path, nft_restore_record *ret, char *why, size_t why_size) {
        _cleanup_(freep) char *buf = NULL;
        nft_restore_record rec = {};
        char w[1024];
        const char *at;
        uint64_t v;
        size_t len = 0;
        int r = atomic_file_read(path, NFT_RESTORE_RECORD_MAX + 4096u, &buf, &len);
        cursor c = { .path = path, .line = 1, .why = why, .why_size = why_size };

        if (r < 0)
                return r;
        c.p = c.line_start = buf;
        c.end = buf + len;
        if ((r = word(&c, w, sizeof(w), &at)) < 0 || (strcmp(w, "ikeheal-nft-restore") != 0 && (r = fail(&c, at, "not a restore record")) < 0) ||
            (r = word(&c, w, sizeof(w), &at)) < 0 ||
            (strcmp(w, "1") != 0 && strcmp(w, "2") != 0 && (r = fail(&c, at, "version 1 or 2 expected")) < 0))
                return r;
        if (strcmp(w, "2") == 0) {
                /* the body's length and digest: a write cut short shows here */
                char digest[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
                if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = u64_of(&c, at, w, NFT_RESTORE_RECORD_MAX, &v)) < 0 ||
                    (r = word(&c, want, sizeof(want), &at)) < 0 ||
                    ((strlen(want) != AUDIT_HASH_HEX || strspn(want, "0123456789abcdef") != AUDIT_HASH_HEX) &&
                     (r = fail(&c, at, "a digest is 64 hex digits")) < 0) ||
                    (r = end_line(&c)) < 0)
                        return r;
                if ((uint64_t) (c.end - c.p) >= v)
                        audit_sha256_hex(c.p, v, digest);
                if ((uint64_t) (c.end - c.p) < v || strcmp(digest, want) != 0) {
                        (void) snprintf(why, why_size, "%s: the record was not written to its end (a restore sends nothing before its record is whole)", path);
                        return -ENODATA;
                }
                if (v == 0)
                        return -ENOENT; /* an empty slot */
                c.end = c.p + v;
        } else if ((r = end_line(&c)) < 0)
                return r;
        if ((r = word(&c, w, sizeof(w), &at)) < 0 || (strcmp(w, "generation") != 0 && (r = fail(&c, at, "'generation' expected")) < 0) ||
            (r = word(&c, w, sizeof(w), &at)) < 0 || (r = u64_of(&c, at, w, UINT32_MAX, &v)) < 0 || (r = end_line(&c)) < 0)
                return r;
        rec.generation = (uint32_t) v;
        for (;;) {
                nft_object *o = &rec.objs[rec.n];
                size_t k;
                if ((r = word(&c, w, sizeof(w), &at)) < 0)
                        return r;
                if (strcmp(w, "messages") == 0)
                        break;
                if (strcmp(w, "object") != 0)
                        return fail(&c, at, "'object' or 'messages' expected");
                if (rec.n >= NFT_DIFF_OBJECTS_MAX)
                        return fail(&c, at, "more than %u objects", NFT_DIFF_OBJECTS_MAX);
                if ((r = word(&c, w, sizeof(w), &at)) < 0)
                        return r;
                for (k = 0; k < ELEMENTSOF(kinds) && strcmp(kinds[k], w) != 0; k++)
                        ;
                if (k == ELEMENTSOF(kinds))
                        return fail(&c, at, "unknown object kind '%s'", w);
                o->kind = (nft_object_kind) k;
                if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = u64_of(&c, at, w, 255, &v)) < 0)
                        return r;
                o->family = (int) v;
                if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = name_of(&c, at, w, o->table, sizeof(o->table))) < 0)
                        return r;
                if (!o->table[0])
                        return fail(&c, at, "an object needs its table");
                if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = name_of(&c, at, w, o->name, sizeof(o->name))) < 0)
                        return r;
                if (!o->name[0] != (o->kind == NFT_OBJECT_TABLE))
                        return fail(&c, at, "a table has no name of its own; a chain or set needs one");
                if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = state_of(&c, at, w, rec.pre[rec.n])) < 0 ||
                    (r = word(&c, w, sizeof(w), &at)) < 0 || (r = state_of(&c, at, w, rec.post[rec.n])) < 0 ||
                    (r = end_line(&c)) < 0)
                        return r;
                rec.n++;
        }
        if ((r = word(&c, w, sizeof(w), &at)) < 0 || (r = u64_of(&c, at, w, NFT_RESTORE_RECORD_MAX, &v)) < 0 || (r = end_line(&c)) < 0)
                return r;
        if ((uint64_t) (c.end - c.p) != v)
                return fail(&c, c.p, "%" PRIu64 " bytes of messages announced, %zu there", v, (size_t) (c.end - c.p));
        if (v) {
                if (!(rec.msgs = malloc(v)))
                        return -ENOMEM;
                memcpy(rec.msgs, c.p, v);
                rec.msgs_len = v;
        }
        *ret = rec;
        return 0;
}
