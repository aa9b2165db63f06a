/* See audit_log.h. The open, appends and rotation; the line format and chain check are
 * common/audit_scan.c, the verification of a whole log common/audit_verify.c. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "audit_log.h"
#include "audit_scan.h"
#include "now.h"

struct audit_log {
        int fd, head_fd, dir_fd;
        char *path, *head_path;
        uint64_t size, seq, dropped;
        char head[AUDIT_HASH_HEX + 1];
        uint8_t key[AUDIT_KEY_MAX];
        size_t key_len;
        uint64_t rotate_size;
        unsigned keep;
        bool head_missing;
};

static int read_all(const char *path, char **ret, size_t *ret_len) {
        int r = atomic_file_read(path, AUDIT_FILE_MAX, ret, ret_len);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        return r;
}

/* The end of the chain in the newest rotated file PATH.1 (a crash between rotating PATH away and
 * creating the new one leaves PATH empty): 1 with *c filled, 0 if there is none. */
static int predecessor(const char *path, const uint8_t *key, size_t key_len, audit_chain *c) {
        _cleanup_(freep) char *p1 = NULL, *buf = NULL;
        size_t len;
        int r;

        if (asprintf(&p1, "%s.1", path) < 0)
                return -ENOMEM;
        if (access(p1, F_OK) < 0)
                return 0;
        r = read_all(p1, &buf, &len);
        if (r < 0)
                return r;
        r = audit_scan(buf ? buf : "", len, key, key_len, c);
        if (r < 0)
                return r;
        return c->torn_bytes ? -EBADMSG : 1; /* a rotated file was complete when rotated */
}

int audit_log_open(audit_log **ret, const char *path, const void *key, size_t key_len) {
        _cleanup_(audit_log_freep) audit_log *l = NULL;
        _cleanup_(freep) char *buf = NULL, *dir = NULL;
        audit_head h = {};
        audit_chain c;
        bool have_head, continues = false;
        size_t len = 0;
        int r;

        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->fd = l->head_fd = l->dir_fd = -1;
        l->keep = 1;
        if (!(l->path = strdup(path)) || asprintf(&l->head_path, "%s.head", path) < 0 || !(dir = strdup(path))) {
                l->head_path = NULL;
                return -ENOMEM;
        }
        l->dir_fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dir_fd < 0)
                return -errno;
        l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (l->fd < 0)
                return -errno;
        if (flock(l->fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        r = audit_head_read(l->head_path, key, key_len, &h, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        have_head = r >= 0;
        r = read_all(path, &buf, &len);
        if (r < 0)
                return r;
        audit_chain_init(&c);
        c.want_seq = have_head ? h.seq : 0;
        if (len == 0) {
                r = predecessor(path, key, key_len, &c);
                if (r < 0)
                        return r;
                continues = r > 0;
        } else {
                r = audit_scan(buf, len, key, key_len, &c);
                if (r < 0)
                        return r;
        }
        if (have_head && h.seq > 0) {
                /* the head must still be in the chain: a tail cut, emptied or edited is not */
                if (h.seq > c.seq)
                        return -EBADMSG;
                if (c.want_found && !audit_hex_equal(c.want_hash, h.hash))
                        return -EBADMSG;
        }
        l->head_missing = !have_head && c.seq > 0;
        if (c.torn_bytes) {
                /* beyond the head: an append the crash interrupted */
                if (ftruncate(l->fd, (off_t) (len - c.torn_bytes)) < 0 || fsync(l->fd) < 0)
                        return -errno;
                l->dropped = c.torn_bytes;
        }
        l->size = len - c.torn_bytes;
        l->seq = c.seq;
        memcpy(l->head, c.hash, sizeof(l->head));
        if (key_len)
                memcpy(l->key, key, key_len);
        l->key_len = key_len;
        l->head_fd = open(l->head_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (l->head_fd < 0)
                return -errno;
        if (!have_head || h.seq != l->seq) {
                memcpy(h.hash, l->head, sizeof(h.hash));
                h.seq = l->seq;
                r = audit_head_write(l->head_fd, &h, l->key, l->key_len);
                if (r < 0)
                        return r;
                if (fsync(l->dir_fd) < 0)
                        return -errno;
        }
        if (continues) {
                char text[600];
                (void) snprintf(text, sizeof(text), "continues %s.1 (record %llu, hash %s)", path,
                                (unsigned long long) l->seq, l->head);
                r = audit_log_append(l, real_usec(), AUDIT_KIND_ROTATED, text, NULL);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

audit_log *audit_log_free(audit_log *l) {
        if (!l)
                return NULL;
        if (l->fd >= 0)
                close(l->fd);
        if (l->head_fd >= 0)
                close(l->head_fd);
        if (l->dir_fd >= 0)
                close(l->dir_fd);
        free(l->path);
        free(l->head_path);
        explicit_bzero(l->key, sizeof(l->key));
        free(l);
        return NULL;
}

int audit_log_set_rotation(audit_log *l, uint64_t max_bytes, unsigned keep) {
        if (keep < 1 || keep > AUDIT_KEEP_MAX || max_bytes > AUDIT_FILE_MAX)
                return -EINVAL;
        l->rotate_size = max_bytes;
        l->keep = keep;
        return 0;
}

static bool kind_valid(const char *k) {
        size_t n = strlen(k);
        return n > 0 && n <= AUDIT_KIND_MAX && strspn(k, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* The record's line (with its newline) into a malloc'ed buffer. */
static int format(const audit_log *l, uint64_t time_usec, const char *kind, const char *text, char **ret,
                  size_t *ret_len, char hash[AUDIT_HASH_HEX + 1]) {
        size_t tlen = strlen(text), elen = 0, n, prefix, cap;
        _cleanup_(freep) char *line = NULL, *esc = NULL;
        char mac[AUDIT_HASH_HEX + 1];

        cap = 64 + AUDIT_KIND_MAX + 2 * (AUDIT_HASH_HEX + 1) + 2 * tlen + 2;
        line = malloc(cap);
        esc = malloc(2 * tlen + 1);
        if (!line || !esc)
                return -ENOMEM;
        for (size_t i = 0; i < tlen; i++) {
                char c = text[i];
                if (c == '\t' || c == '\n' || c == '\\') {
                        esc[elen++] = '\\';
                        esc[elen++] = c == '\t' ? 't' : c == '\n' ? 'n' : '\\';
                } else
                        esc[elen++] = c;
        }
        n = prefix = (size_t) snprintf(line, cap, "%llu\t%llu\t%s\t%s\t", (unsigned long long) (l->seq + 1),
                                       (unsigned long long) time_usec, kind, l->head);
        if (l->key_len) {
                /* over the record but the MAC itself: prefix, then the text */
                memcpy(line + n, esc, elen);
                audit_hmac_hex(l->key, l->key_len, line, prefix + elen, mac);
                n += (size_t) snprintf(line + n, cap - n, "%s\t", mac);
        } else
                n += (size_t) snprintf(line + n, cap - n, "-\t");
        memcpy(line + n, esc, elen);
        n += elen;
        audit_sha256_hex(line, n, hash);
        line[n++] = '\n';
        *ret = TAKE_PTR(line);
        *ret_len = n;
        return 0;
}

/* Append one formatted record durably, then move the head. */
static int write_record(audit_log *l, uint64_t time_usec, const char *kind, const char *text,
                        char hash[AUDIT_HASH_HEX + 1]) {
        _cleanup_(freep) char *line = NULL;
        size_t n;
        int r;

        r = format(l, time_usec, kind, text, &line, &n, hash);
        if (r < 0)
                return r;
        r = atomic_file_write_all(l->fd, line, n);
        if (r >= 0 && fsync(l->fd) < 0)
                r = -errno;
        if (r < 0) {
                /* no half record may stay in the chain */
                if (ftruncate(l->fd, (off_t) l->size) < 0)
                        return r;
                return r;
        }
        l->size += n;
        l->seq++;
        memcpy(l->head, hash, AUDIT_HASH_HEX + 1);
        audit_head h = { .seq = l->seq };
        memcpy(h.hash, hash, sizeof(h.hash));
        return audit_head_write(l->head_fd, &h, l->key, l->key_len);
}

/* PATH → PATH.1 → … → PATH.keep (the oldest deleted), a new PATH continuing the chain. */
static int rotate(audit_log *l, uint64_t time_usec) {
        _cleanup_(freep) char *from = NULL, *to = NULL;
        char text[600], hash[AUDIT_HASH_HEX + 1];
        int fd, r;

        if (asprintf(&to, "%s.%u", l->path, l->keep) < 0)
                return -ENOMEM;
        if (unlink(to) < 0 && errno != ENOENT)
                return -errno;
        for (unsigned i = l->keep; i > 1; i--) {
                free(from);
                free(to);
                if (asprintf(&from, "%s.%u", l->path, i - 1) < 0 || asprintf(&to, "%s.%u", l->path, i) < 0) {
                        from = to = NULL;
                        return -ENOMEM;
                }
                if (rename(from, to) < 0 && errno != ENOENT)
                        return -errno;
        }
        free(to);
        if (asprintf(&to, "%s.1", l->path) < 0) {
                to = NULL;
                return -ENOMEM;
        }
        if (rename(l->path, to) < 0)
                return -errno;
        /* from here a crash leaves PATH missing or empty: the open continues from PATH.1 */
        fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fsync(l->dir_fd) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        close(l->fd);
        l->fd = fd;
        l->size = 0;
        (void) snprintf(text, sizeof(text), "continues %s (record %llu, hash %s)", to, (unsigned long long) l->seq,
                        l->head);
        return write_record(l, time_usec, AUDIT_KIND_ROTATED, text, hash);
}

int audit_log_append(audit_log *l, uint64_t time_usec, const char *kind, const char *text, char *ret_hash) {
        char hash[AUDIT_HASH_HEX + 1];
        int r;

        if (!kind_valid(kind))
                return -EINVAL;
        if (strlen(text) > AUDIT_TEXT_MAX)
                return -E2BIG;
        /* a line is at most ~2 × the text plus its fields */
        if (l->rotate_size && l->size > 0 && l->size + 2 * strlen(text) + 256 > l->rotate_size) {
                r = rotate(l, time_usec);
                if (r < 0)
                        return r;
        }
        uint64_t before = l->seq;
        r = write_record(l, time_usec, kind, text, hash);
        if (l->seq > before && ret_hash)
                memcpy(ret_hash, hash, sizeof(hash)); /* the record stands, even if its head did not move */
        return r;
}

uint64_t audit_log_head(const audit_log *l, char ret_hash[65]) {
        memcpy(ret_hash, l->head, AUDIT_HASH_HEX + 1);
        return l->seq;
}

uint64_t audit_log_dropped_bytes(const audit_log *l) {
        return l->dropped;
}

bool audit_log_head_was_missing(const audit_log *l) {
        return l->head_missing;
}

int audit_log_set_aside(const char *path, uint64_t stamp, char *ret_path, size_t n) {
        char from[600], to[700];

        (void) snprintf(to, sizeof(to), "%s.broken-%llu", path, (unsigned long long) stamp);
        if (rename(path, to) < 0)
                return -errno;
        if (ret_path)
                (void) snprintf(ret_path, n, "%s", to);
        (void) snprintf(from, sizeof(from), "%s.head", path);
        (void) snprintf(to, sizeof(to), "%s.broken-%llu.head", path, (unsigned long long) stamp);
        if (rename(from, to) < 0 && errno != ENOENT)
                return -errno;
        /* the rotated files belong to the old chain: a new one begins at record 1 */
        for (unsigned i = 1; i <= AUDIT_KEEP_MAX; i++) {
                (void) snprintf(from, sizeof(from), "%s.%u", path, i);
                (void) snprintf(to, sizeof(to), "%s.broken-%llu.%u", path, (unsigned long long) stamp, i);
                if (rename(from, to) < 0) {
                        if (errno == ENOENT)
                                break;
                        return -errno;
                }
        }
        return 0;
}
