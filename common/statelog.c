/* See statelog.h. Layout, little-endian:
 *
 *   file header   "IKHSTLG1" (8 bytes)
 *   record        u32 length of payload | u16 type | u16 reserved (0) | u64 sequence |
 *                 u32 CRC-32C of those 16 bytes | u32 CRC-32C of the payload | payload
 *
 * The header has its own CRC so that a damaged length is recognised as damage instead of being
 * followed. Sequence numbers start at 1 in each file and grow by one: a record out of sequence
 * is damage even when its CRCs are fine (a block of an older file reappearing).
 *
 * Torn or damaged? A bad record is torn only if it is incomplete: fewer bytes than a record
 * header are left, its good header announces more payload than the file holds, or every byte
 * from it to the end is zero. Anything else is damage (-EBADMSG), the last record included. The
 * whole file is scanned before the caller's callback sees a record, so a damaged log replays
 * nothing. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "statelog.h"

#define FILE_MAGIC "IKHSTLG1"
#define FILE_MAGIC_SIZE 8u
#define RECORD_HEADER 24u
#define NAME_MAX_LEN 64u

struct statelog {
        int fd;
        int dir_fd;
        char *path, *tmp_path;
        uint64_t size;      /* valid bytes */
        uint64_t next_seq;
        uint64_t dropped;
        uint64_t records;
};

struct statelog_writer {
        int fd;
        uint64_t size;
        uint64_t next_seq;
};

static uint32_t crc_table[256];
static bool crc_ready;

uint32_t statelog_crc32c(uint32_t crc, const void *buf, size_t len) {
        const uint8_t *p = buf;

        if (!crc_ready) {
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;
                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                        crc_table[i] = c;
                }
                crc_ready = true;
        }
        crc = ~crc;
        while (len--)
                crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static bool name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > NAME_MAX_LEN)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
                        return false;
        return true;
}

/* Encode one record into buf (RECORD_HEADER + len bytes). */
static void record_encode(uint8_t *buf, uint16_t type, uint64_t seq, const void *payload, size_t len) {
        put_le(buf, len, 4);
        put_le(buf + 4, type, 2);
        put_le(buf + 6, 0, 2);
        put_le(buf + 8, seq, 8);
        put_le(buf + 16, statelog_crc32c(0, buf, 16), 4);
        put_le(buf + 20, statelog_crc32c(0, payload, len), 4);
        if (len)
                memcpy(buf + RECORD_HEADER, payload, len);
}

/* Is there a complete, valid record at buf[off..len) with sequence number `seq`? */
static bool record_valid_at(const uint8_t *buf, size_t len, size_t off, uint64_t seq) {
        if (len - off < RECORD_HEADER)
                return false;
        const uint8_t *h = buf + off;
        uint64_t plen = get_le(h, 4), rseq = get_le(h + 8, 8);
        if ((uint32_t) get_le(h + 16, 4) != statelog_crc32c(0, h, 16))
                return false;
        if (plen > STATELOG_RECORD_MAX || plen > len - off - RECORD_HEADER || get_le(h + 6, 2) != 0)
                return false;
        if (rseq != seq)
                return false;
        return (uint32_t) get_le(h + 20, 4) == statelog_crc32c(0, h + RECORD_HEADER, (size_t) plen);
}

/* Append a record at *size of fd and sync; on failure cut the file back. */
static int record_write(int fd, uint64_t *size, uint64_t *next_seq, uint16_t type,
                        const void *payload, size_t len, bool sync) {
        _cleanup_(freep) uint8_t *buf = NULL;
        int r;

        if (len > STATELOG_RECORD_MAX)
                return -E2BIG;
        if (*size + RECORD_HEADER + len > STATELOG_FILE_MAX)
                return -EFBIG;
        buf = malloc(RECORD_HEADER + len);
        if (!buf)
                return -ENOMEM;
        record_encode(buf, type, *next_seq, payload, len);
        if (lseek(fd, (off_t) *size, SEEK_SET) < 0)
                return -errno;
        r = atomic_file_write_all(fd, buf, RECORD_HEADER + len);
        if (r >= 0 && sync && fdatasync(fd) < 0)
                r = -errno;
        if (r < 0) {
                /* no half record may stay behind a later good one; if even this fails, the
                 * next open finds a torn tail and drops it */
                if (ftruncate(fd, (off_t) *size) < 0)
                        return r;
                return r;
        }
        *size += RECORD_HEADER + len;
        (*next_seq)++;
        return 0;
}

typedef struct scan_result {
        size_t valid;          /* where the good records end */
        uint64_t next_seq, records;
        size_t bad_offset;     /* damage: the first bad record */
        const char *why;       /* damage: NULL if none */
} scan_result;

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* Why the record at buf[off..len) (which does not check out as sequence `seq`) is damage, or
 * NULL if it is a torn tail. */
static const char *bad_record_why(const uint8_t *buf, size_t len, size_t off, uint64_t seq) {
        const uint8_t *h = buf + off;
        size_t left = len - off;

        if (left < RECORD_HEADER || all_zero(h, left))
                return NULL;
        if ((uint32_t) get_le(h + 16, 4) != statelog_crc32c(0, h, 16))
                return "a complete record header fails its CRC";
        uint64_t plen = get_le(h, 4);
        if (plen > STATELOG_RECORD_MAX || get_le(h + 6, 2) != 0)
                return "a record header with a good CRC holds impossible values";
        if (get_le(h + 8, 8) != seq)
                return "a record out of sequence (a block of another file, or records removed)";
        if (plen > left - RECORD_HEADER)
                return NULL; /* the payload its header announces was not all written */
        return "a complete record fails its payload CRC";
}

/* Check buf[0..len) (past the magic) without replaying it. */
static void scan(const uint8_t *buf, size_t len, scan_result *ret) {
        size_t off = FILE_MAGIC_SIZE;
        uint64_t seq = 1, records = 0;

        *ret = (scan_result){};
        while (off < len) {
                if (!record_valid_at(buf, len, off, seq)) {
                        ret->why = bad_record_why(buf, len, off, seq);
                        ret->bad_offset = off;
                        break;
                }
                off += RECORD_HEADER + (size_t) get_le(buf + off, 4);
                seq++;
                records++;
        }
        ret->valid = off;
        ret->next_seq = seq;
        ret->records = records;
}

/* Replay the good records buf[magic..valid) to cb. */
static int replay(const uint8_t *buf, size_t valid, statelog_replay_cb cb, void *userdata) {
        int r;

        for (size_t off = FILE_MAGIC_SIZE; off < valid;) {
                const uint8_t *h = buf + off;
                uint64_t plen = get_le(h, 4);
                r = cb((uint16_t) get_le(h + 4, 2), h + RECORD_HEADER, (size_t) plen, userdata);
                if (r < 0)
                        return r;
                off += RECORD_HEADER + (size_t) plen;
        }
        return 0;
}

static int read_file(int fd, uint64_t size, uint8_t **ret) {
        _cleanup_(freep) uint8_t *buf = malloc(size ? size : 1);
        size_t got = 0;

        if (!buf)
                return -ENOMEM;
        while (got < size) {
                ssize_t n = pread(fd, buf + got, size - got, (off_t) got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO; /* shrank under us: we hold the lock, so not a writer */
                got += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Create DIR/NAME.log whole: the header goes to the temporary file, which is locked, synced
 * and renamed, so no opener ever sees a log shorter than its header. Returns the locked fd. */
static int log_create(statelog *l) {
        const char *tmp_name = strrchr(l->tmp_path, '/') + 1, *name = strrchr(l->path, '/') + 1;
        int fd, r;

        fd = openat(l->dir_fd, tmp_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        /* lock before truncating: a concurrent creator's file is not ours to cut */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                goto fail;
        }
        if (ftruncate(fd, 0) < 0) {
                r = -errno;
                goto fail;
        }
        r = atomic_file_write_all(fd, FILE_MAGIC, FILE_MAGIC_SIZE);
        if (r < 0)
                goto fail;
        /* never over a log another opener created meanwhile */
        if (fsync(fd) < 0 || linkat(l->dir_fd, tmp_name, l->dir_fd, name, 0) < 0) {
                r = errno == EEXIST ? -EBUSY : -errno;
                goto fail;
        }
        (void) unlinkat(l->dir_fd, tmp_name, 0);
        if (fsync(l->dir_fd) < 0) {
                r = -errno;
                goto fail;
        }
        return fd;
fail:
        close(fd);
        (void) unlinkat(l->dir_fd, tmp_name, 0);
        return r;
}

static int paths_init(statelog *l, const char *dir, const char *name) {
        if (asprintf(&l->path, "%s/%s.log", dir, name) < 0 || asprintf(&l->tmp_path, "%s/%s.log.tmp", dir, name) < 0) {
                l->path = l->tmp_path = NULL;
                return -ENOMEM;
        }
        return 0;
}

int statelog_open(statelog **ret, const char *dir, const char *name, statelog_replay_cb cb,
                  void *userdata) {
        _cleanup_(statelog_freep) statelog *l = NULL;
        _cleanup_(freep) uint8_t *buf = NULL;
        scan_result sr;
        struct stat st;
        int r;

        if (!name_valid(name))
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->fd = l->dir_fd = -1;
        r = paths_init(l, dir, name);
        if (r < 0)
                return r;
        l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dir_fd < 0)
                return -errno;
        l->fd = open(l->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (l->fd < 0 && errno == ENOENT) {
                r = log_create(l);
                if (r < 0)
                        return r;
                l->fd = r;
                l->size = FILE_MAGIC_SIZE;
                l->next_seq = 1;
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (l->fd < 0)
                return -errno;
        if (flock(l->fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        /* a compaction that crashed before its rename left a tmp file: the log is complete */
        (void) unlinkat(l->dir_fd, strrchr(l->tmp_path, '/') + 1, 0);
        if (fstat(l->fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size > STATELOG_FILE_MAX)
                return -EFBIG;
        if (st.st_size < (off_t) FILE_MAGIC_SIZE)
                return -EBADMSG; /* emptied or cut: a new log is never this short */
        r = read_file(l->fd, (uint64_t) st.st_size, &buf);
        if (r < 0)
                return r;
        if (memcmp(buf, FILE_MAGIC, FILE_MAGIC_SIZE) != 0)
                return -EBADMSG; /* not ours, or a future format: leave it alone */
        scan(buf, (size_t) st.st_size, &sr);
        if (sr.why)
                return -EBADMSG;
        if (cb) {
                r = replay(buf, sr.valid, cb, userdata);
                if (r < 0)
                        return r;
        }
        l->size = sr.valid;
        l->next_seq = sr.next_seq;
        l->records = sr.records;
        if (l->size < (uint64_t) st.st_size) {
                l->dropped = (uint64_t) st.st_size - l->size;
                if (ftruncate(l->fd, (off_t) l->size) < 0 || fsync(l->fd) < 0)
                        return -errno;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int statelog_check(const char *dir, const char *name, statelog_check_result *ret) {
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        scan_result sr;
        size_t len;
        int r;

        *ret = (statelog_check_result){};
        if (!name_valid(name))
                return -EINVAL;
        if (asprintf(&path, "%s/%s.log", dir, name) < 0)
                return -ENOMEM;
        r = atomic_file_read(path, STATELOG_FILE_MAX, &buf, &len);
        if (r < 0)
                return r;
        ret->size = len;
        if (len < FILE_MAGIC_SIZE) {
                snprintf(ret->why, sizeof(ret->why), "%zu bytes, shorter than its %u-byte header: the log was "
                         "emptied or cut", len, FILE_MAGIC_SIZE);
                return -EBADMSG;
        }
        if (memcmp(buf, FILE_MAGIC, FILE_MAGIC_SIZE) != 0) {
                snprintf(ret->why, sizeof(ret->why), "not a state log (its header is not %s)", FILE_MAGIC);
                return -EBADMSG;
        }
        scan((const uint8_t *) buf, len, &sr);
        ret->records = sr.records;
        if (sr.why) {
                ret->bad_offset = sr.bad_offset;
                snprintf(ret->why, sizeof(ret->why), "%s", sr.why);
                return -EBADMSG;
        }
        ret->torn_bytes = len - sr.valid;
        return 0;
}

int statelog_set_aside(const char *dir, const char *name, uint64_t stamp, char *ret_path, size_t n) {
        char from[NAME_MAX_LEN + 8], to[NAME_MAX_LEN + 40];
        int dfd, r = 0;

        if (!name_valid(name))
                return -EINVAL;
        (void) snprintf(from, sizeof(from), "%s.log", name);
        (void) snprintf(to, sizeof(to), "%s.log.broken-%llu", name, (unsigned long long) stamp);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (renameat(dfd, from, dfd, to) < 0 || fsync(dfd) < 0)
                r = -errno;
        close(dfd);
        if (r >= 0 && ret_path)
                (void) snprintf(ret_path, n, "%s/%s", dir, to);
        return r;
}

statelog *statelog_free(statelog *l) {
        if (!l)
                return NULL;
        if (l->fd >= 0)
                close(l->fd);
        if (l->dir_fd >= 0)
                close(l->dir_fd);
        free(l->path);
        free(l->tmp_path);
        free(l);
        return NULL;
}

uint64_t statelog_dropped_bytes(const statelog *l) {
        return l->dropped;
}

const char *statelog_path(const statelog *l) {
        return l->path;
}

uint64_t statelog_records(const statelog *l) {
        return l->records;
}

int statelog_append(statelog *l, uint16_t type, const void *payload, size_t len) {
        int r = record_write(l->fd, &l->size, &l->next_seq, type, payload, len, true);
        if (r >= 0)
                l->records++;
        return r;
}

int statelog_writer_append(statelog_writer *w, uint16_t type, const void *payload, size_t len) {
        /* synced once at the end of the compaction, not per record */
        return record_write(w->fd, &w->size, &w->next_seq, type, payload, len, false);
}

int statelog_compact(statelog *l, statelog_snapshot_cb cb, void *userdata) {
        statelog_writer w = { .fd = -1, .size = FILE_MAGIC_SIZE, .next_seq = 1 };
        const char *tmp_name = strrchr(l->tmp_path, '/') + 1, *name = strrchr(l->path, '/') + 1;
        uint64_t records;
        int r;

        w.fd = openat(l->dir_fd, tmp_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w.fd < 0)
                return -errno;
        /* lock the new file before it becomes the log, so no opener can slip in between */
        if (flock(w.fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                goto fail;
        }
        r = atomic_file_write_all(w.fd, FILE_MAGIC, FILE_MAGIC_SIZE);
        if (r < 0)
                goto fail;
        r = cb(&w, userdata);
        if (r < 0)
                goto fail;
        records = w.next_seq - 1;
        if (fsync(w.fd) < 0 || renameat(l->dir_fd, tmp_name, l->dir_fd, name) < 0) {
                r = -errno;
                goto fail;
        }
        if (fsync(l->dir_fd) < 0) {
                /* renamed but perhaps not durable yet; the new file is complete either way */
                r = -errno;
        }
        close(l->fd);
        l->fd = w.fd;
        l->size = w.size;
        l->next_seq = w.next_seq;
        l->records = records;
        return r < 0 ? r : 0;
fail:
        close(w.fd);
        (void) unlinkat(l->dir_fd, tmp_name, 0);
        return r;
}
