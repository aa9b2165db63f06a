/* See audit_log.h. Verification and the open share one scanner over the file's bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "audit_log.h"

#define HASH_HEX 64u
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct audit_log {
        int fd;
        uint64_t size, seq, dropped;
        char head[HASH_HEX + 1];
        uint8_t key[AUDIT_KEY_MAX];
        size_t key_len;
};

static void hex(const uint8_t *d, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_hex(const void *buf, size_t len, char out[HASH_HEX + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n != 32) {
                memset(out, '?', HASH_HEX);
                out[HASH_HEX] = 0;
                return;
        }
        hex(md, n, out);
}

static void mac_hex(const uint8_t *key, size_t key_len, const void *buf, size_t len, char out[HASH_HEX + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (!HMAC(EVP_sha256(), key, (int) key_len, buf, len, md, &n) || n != 32) {
                memset(out, '?', HASH_HEX);
                out[HASH_HEX] = 0;
                return;
        }
        hex(md, n, out);
}

/* Check one line (without its newline) against the expected sequence number and previous
 * hash; on success *ret_hash is its hash. NULL, or why not. */
static const char *line_check(const char *line, size_t len, uint64_t seq, const char *prev, const uint8_t *key,
                              size_t key_len, char ret_hash[HASH_HEX + 1]) {
        const char *f[6];
        size_t nf = 0;
        char num[32], mac[HASH_HEX + 1];

        f[nf++] = line;
        for (size_t i = 0; i < len && nf < 6; i++)
                if (line[i] == '\t')
                        f[nf++] = line + i + 1;
        if (nf != 6)
                return "not six tab-separated fields";
        snprintf(num, sizeof(num), "%llu\t", (unsigned long long) seq);
        if ((size_t) (f[1] - f[0]) != strlen(num) || memcmp(f[0], num, strlen(num)) != 0)
                return "sequence number out of order (a record deleted, inserted or moved)";
        if ((size_t) (f[4] - f[3]) != HASH_HEX + 1 || memcmp(f[3], prev, HASH_HEX) != 0)
                return "previous-record hash does not match (a record before it changed or went missing)";
        size_t macd = (size_t) (f[4] - line); /* the MAC covers everything but itself */
        size_t maclen = (size_t) (f[5] - f[4]) - 1;
        if (key_len) {
                size_t tl = len - (size_t) (f[5] - line);
                char *both = malloc(macd + tl + 1);
                if (!both)
                        return "out of memory";
                memcpy(both, line, macd);
                memcpy(both + macd, f[5], tl);
                mac_hex(key, key_len, both, macd + tl, mac);
                free(both);
                if (maclen != HASH_HEX || memcmp(f[4], mac, HASH_HEX) != 0)
                        return "HMAC does not match (the record was changed, or the key is not the writer's)";
        } else if (maclen != 1 || f[4][0] != '-') {
                if (maclen == HASH_HEX)
                        return "the record carries an HMAC but no key was given";
                return "bad MAC field";
        }
        sha256_hex(line, len, ret_hash);
        return NULL;
}

/* Scan a whole log in buf. */
static int scan(const char *buf, size_t len, const uint8_t *key, size_t key_len, audit_verify_result *r) {
        const char *p = buf, *end = buf + len;
        char prev[HASH_HEX + 1] = ZERO_HASH;
        uint64_t line_no = 0;

        *r = (audit_verify_result){};
        snprintf(r->head, sizeof(r->head), "%s", ZERO_HASH);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                char hash[HASH_HEX + 1];
                const char *why;

                line_no++;
                if (!nl) {
                        r->torn_bytes = (uint64_t) (end - p); /* a crash in the middle of a write */
                        break;
                }
                why = line_check(p, (size_t) (nl - p), r->records + 1, prev, key, key_len, hash);
                if (why) {
                        r->bad_line = line_no;
                        snprintf(r->why, sizeof(r->why), "%s", why);
                        return -EBADMSG;
                }
                memcpy(prev, hash, sizeof(prev));
                memcpy(r->head, hash, sizeof(r->head));
                r->records++;
                p = nl + 1;
        }
        return 0;
}

int audit_log_verify_buffer(const void *buf, size_t len, const void *key, size_t key_len, audit_verify_result *ret) {
        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        return scan(buf, len, key, key_len, ret);
}

int audit_log_verify(const char *path, const void *key, size_t key_len, audit_verify_result *ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len;
        int r;

        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        r = atomic_file_read(path, AUDIT_FILE_MAX, &buf, &len);
        if (r < 0)
                return r;
        return scan(buf, len, key, key_len, ret);
}

int audit_log_open(audit_log **ret, const char *path, const void *key, size_t key_len) {
        _cleanup_(audit_log_freep) audit_log *l = NULL;
        _cleanup_(freep) char *buf = NULL;
        audit_verify_result v;
        struct stat st;
        size_t len = 0;
        int r;

        if (key_len > AUDIT_KEY_MAX)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (l->fd < 0)
                return -errno;
        if (flock(l->fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        if (fstat(l->fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size > AUDIT_FILE_MAX)
                return -EFBIG;
        if (st.st_size > 0) {
                r = atomic_file_read(path, AUDIT_FILE_MAX, &buf, &len);
                if (r < 0)
                        return r;
        }
        r = scan(buf ? buf : "", len, key, key_len, &v);
        if (r < 0)
                return r;
        if (v.torn_bytes) {
                if (ftruncate(l->fd, (off_t) (len - v.torn_bytes)) < 0 || fsync(l->fd) < 0)
                        return -errno;
                l->dropped = v.torn_bytes;
        }
        l->size = len - v.torn_bytes;
        l->seq = v.records;
        memcpy(l->head, v.head, sizeof(l->head));
        if (key_len)
                memcpy(l->key, key, key_len);
        l->key_len = key_len;
        *ret = TAKE_PTR(l);
        return 0;
}

audit_log *audit_log_free(audit_log *l) {
        if (!l)
                return NULL;
        if (l->fd >= 0)
                close(l->fd);
        explicit_bzero(l->key, sizeof(l->key));
        free(l);
        return NULL;
}

static bool kind_valid(const char *k) {
        size_t n = strlen(k);
        return n > 0 && n <= AUDIT_KIND_MAX && strspn(k, "abcdefghijklmnopqrstuvwxyz_") == n;
}

int audit_log_append(audit_log *l, uint64_t time_usec, const char *kind, const char *text, char *ret_hash) {
        _cleanup_(freep) char *line = NULL;
        size_t tlen = strlen(text), n = 0, cap;
        char mac[HASH_HEX + 1], hash[HASH_HEX + 1];
        int r;

        if (!kind_valid(kind))
                return -EINVAL;
        if (tlen > AUDIT_TEXT_MAX)
                return -E2BIG;
        cap = 64 + AUDIT_KIND_MAX + 2 * (HASH_HEX + 1) + 2 * tlen + 2;
        line = malloc(cap);
        if (!line)
                return -ENOMEM;
        _cleanup_(freep) char *esc = malloc(2 * tlen + 1);
        size_t elen = 0, prefix;
        if (!esc)
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
                mac_hex(l->key, l->key_len, line, prefix + elen, mac);
                n += (size_t) snprintf(line + n, cap - n, "%s\t", mac);
        } else
                n += (size_t) snprintf(line + n, cap - n, "-\t");
        memcpy(line + n, esc, elen);
        n += elen;
        sha256_hex(line, n, hash);
        line[n++] = '\n';
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
        memcpy(l->head, hash, sizeof(l->head));
        if (ret_hash)
                memcpy(ret_hash, hash, HASH_HEX + 1);
        return 0;
}

uint64_t audit_log_head(const audit_log *l, char ret_hash[65]) {
        memcpy(ret_hash, l->head, HASH_HEX + 1);
        return l->seq;
}

uint64_t audit_log_dropped_bytes(const audit_log *l) {
        return l->dropped;
}
