/* See audit_head.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "audit_head.h"
#include "macro.h"

#define MAGIC "IKHHEAD1 "
#define MAGIC_LEN 9u
/* MAGIC, kind and blank, 20 digits and blank, hash and blank: what the check covers */
#define CHECKED_LEN (MAGIC_LEN + 2u + 21u + AUDIT_HASH_HEX + 1u)

static bool hex_valid(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int audit_head_parse(const char *s, audit_head *ret) {
        const char *colon = strchr(s, ':');
        char *end;

        if (!colon || colon == s || strspn(s, "0123456789") != (size_t) (colon - s) || colon - s > 20)
                return -EINVAL;
        if (strlen(colon + 1) != AUDIT_HASH_HEX || !hex_valid(colon + 1, AUDIT_HASH_HEX))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end != colon)
                return -EINVAL;
        ret->seq = v;
        memcpy(ret->hash, colon + 1, AUDIT_HASH_HEX + 1);
        return 0;
}

static void check_of(char kind, const char *buf, const void *key, size_t key_len, char out[AUDIT_HASH_HEX + 1]) {
        if (kind == 'K')
                audit_hmac_hex(key, key_len, buf, CHECKED_LEN, out);
        else
                audit_sha256_hex(buf, CHECKED_LEN, out);
}

/* One slot: 1 valid (into *ret), 0 empty, -EBADMSG otherwise. */
static int slot_read(const char *s, const void *key, size_t key_len, audit_head *ret, bool *ret_auth) {
        char check[AUDIT_HASH_HEX + 1], digits[21], *end;
        char kind = s[MAGIC_LEN];

        bool empty = true;
        for (size_t i = 0; i < AUDIT_HEAD_SLOT; i++)
                empty &= s[i] == 0;
        if (empty)
                return 0;
        if (memcmp(s, MAGIC, MAGIC_LEN) != 0 || (kind != 'K' && kind != 'S') || s[MAGIC_LEN + 1] != ' ' ||
            s[MAGIC_LEN + 22] != ' ' || s[CHECKED_LEN - 1] != ' ' || s[AUDIT_HEAD_SLOT - 1] != '\n')
                return -EBADMSG;
        memcpy(digits, s + MAGIC_LEN + 2, 20);
        digits[20] = 0;
        if (strspn(digits, "0123456789") != 20 || !hex_valid(s + MAGIC_LEN + 23, AUDIT_HASH_HEX) ||
            !hex_valid(s + CHECKED_LEN, AUDIT_HASH_HEX))
                return -EBADMSG;
        if (kind == 'S' && key_len > 0)
                return -EBADMSG; /* a signed log's head carries an HMAC */
        if (kind == 'K' && key_len == 0)
                *ret_auth = false; /* cannot be checked without the key */
        else {
                check_of(kind, s, key, key_len, check);
                if (!audit_hex_equal(check, s + CHECKED_LEN))
                        return -EBADMSG;
                *ret_auth = kind == 'K';
        }
        ret->seq = strtoull(digits, &end, 10);
        memcpy(ret->hash, s + MAGIC_LEN + 23, AUDIT_HASH_HEX);
        ret->hash[AUDIT_HASH_HEX] = 0;
        return 1;
}

int audit_head_read_buffer(const void *buf, size_t len, const void *key, size_t key_len, audit_head *ret,
                           bool *ret_authenticated) {
        char slots[2 * AUDIT_HEAD_SLOT] = { 0 };
        audit_head h[2] = {};
        bool auth[2] = { false, false };
        int v[2];

        if (len > sizeof(slots))
                return -EBADMSG;
        if (len)
                memcpy(slots, buf, len);
        for (int i = 0; i < 2; i++) {
                v[i] = slot_read(slots + i * AUDIT_HEAD_SLOT, key, key_len, &h[i], &auth[i]);
                if (v[i] < 0)
                        return v[i];
                if (v[i] > 0 && (h[i].seq & 1) != (uint64_t) i)
                        return -EBADMSG; /* a slot copied into the other's place */
        }
        if (!v[0] && !v[1])
                return -ENOENT;
        int pick = !v[0] ? 1 : !v[1] ? 0 : h[1].seq > h[0].seq;
        *ret = h[pick];
        if (ret_authenticated)
                *ret_authenticated = auth[pick];
        return 0;
}

int audit_head_read(const char *path, const void *key, size_t key_len, audit_head *ret, bool *ret_authenticated) {
        _cleanup_(freep) char *buf = NULL;
        size_t len;
        int r;

        r = atomic_file_read(path, 2 * AUDIT_HEAD_SLOT, &buf, &len);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return audit_head_read_buffer(buf, len, key, key_len, ret, ret_authenticated);
}

int audit_head_write(int fd, const audit_head *h, const void *key, size_t key_len) {
        char s[AUDIT_HEAD_SLOT + 1], check[AUDIT_HASH_HEX + 1];
        char kind = key_len ? 'K' : 'S';
        off_t at = (off_t) ((h->seq & 1) * AUDIT_HEAD_SLOT);

        (void) snprintf(s, sizeof(s), MAGIC "%c %020llu %.64s ", kind, (unsigned long long) h->seq, h->hash);
        check_of(kind, s, key, key_len, check);
        (void) snprintf(s + CHECKED_LEN, sizeof(s) - CHECKED_LEN, "%s\n", check);
        for (size_t done = 0; done < AUDIT_HEAD_SLOT;) {
                ssize_t n = pwrite(fd, s + done, AUDIT_HEAD_SLOT - done, at + (off_t) done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        return fdatasync(fd) < 0 ? -errno : 0;
}
