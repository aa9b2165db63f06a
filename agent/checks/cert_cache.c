/* See cert_cache.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/checks/cert_cache.h"
#include "agent/checks/finding_wire.h"
#include "now.h"

#define EXPIRY_PREFIX "expiry_s "

const char *const cert_tree_dirs[CERT_TREE_DIRS] = { "x509ca", "x509", "private", "rsa", "ecdsa", "pkcs8" };

/* FNV-1a, 64 bits: the inputs are our own stat() results, not an adversary's. */
static void mix(uint64_t *h, const void *d, size_t n) {
        const uint8_t *p = d;
        for (size_t i = 0; i < n; i++) {
                *h ^= p[i];
                *h *= 0x100000001b3ull;
        }
}

static void mix_stat(uint64_t *h, const char *path, int (*statf)(const char *, struct stat *)) {
        struct stat st;
        int64_t v[10] = { 0 };

        mix(h, path, strlen(path) + 1);
        if (statf(path, &st) < 0) {
                v[0] = -errno;
        } else {
                v[0] = (int64_t) st.st_dev;
                v[1] = (int64_t) st.st_ino;
                v[2] = (int64_t) st.st_size;
                v[3] = (int64_t) st.st_mode;
                v[4] = (int64_t) st.st_uid;
                v[5] = (int64_t) st.st_gid;
                v[6] = (int64_t) st.st_mtim.tv_sec;
                v[7] = (int64_t) st.st_mtim.tv_nsec;
                v[8] = (int64_t) st.st_ctim.tv_sec;
                v[9] = (int64_t) st.st_ctim.tv_nsec;
        }
        mix(h, v, sizeof(v));
}

uint64_t cert_cache_fingerprint(const char *swanctl_dir, char *const *standby) {
        uint64_t h = 0xcbf29ce484222325ull;
        char path[4200];

        for (size_t d = 0; d < CERT_TREE_DIRS; d++) {
                struct dirent **list = NULL;
                int n;

                snprintf(path, sizeof(path), "%s/%s", swanctl_dir, cert_tree_dirs[d]);
                mix_stat(&h, path, stat);
                n = scandir(path, &list, NULL, alphasort);
                for (int i = 0; i < n; i++) {
                        snprintf(path, sizeof(path), "%s/%s/%s", swanctl_dir, cert_tree_dirs[d], list[i]->d_name);
                        if (list[i]->d_name[0] != '.')
                                mix_stat(&h, path, lstat);
                        free(list[i]);
                }
                free(list);
        }
        for (size_t i = 0; standby && standby[i]; i++)
                mix_stat(&h, standby[i], stat);
        return h;
}

void cert_cache_clear(cert_cache *c) {
        free(c->packed);
        *c = (cert_cache){};
}

void cert_cache_store(cert_cache *c, const finding *f, uint64_t fingerprint, time_t surveyed) {
        cert_cache_clear(c);
        if (finding_pack(f, &c->packed, &c->size) < 0)
                return;
        c->fingerprint = fingerprint;
        c->surveyed = surveyed;
        c->made_usec = mono_usec();
}

/* ASN1_TIME_diff's whole days from `now` to notAfter: truncated toward zero. */
static long long days_left(long long seconds_left) {
        return seconds_left / 86400;
}

int cert_cache_reuse(cert_cache *c, uint64_t fingerprint, time_t now, finding **ret) {
        _cleanup_(finding_freep) finding *f = NULL;
        const char *next;
        long long moved = (long long) now - (long long) c->surveyed;
        int r;

        if (!c->packed || c->fingerprint != fingerprint || moved < 0 ||
            mono_usec() - c->made_usec >= CERT_CACHE_MAX_AGE_USEC)
                return -ESTALE;
        r = finding_unpack(c->packed, c->size, &f);
        if (r < 0)
                return r == -ENOMEM ? r : -ESTALE;
        next = finding_fact_get(f, "next_change_usec");
        if (next && (unsigned long long) now >= strtoull(next, NULL, 10) / USEC_PER_SEC)
                return -ESTALE;
        for (size_t i = 0; i < f->n_facts; i++) {
                finding_fact *ff = &f->facts[i];
                long long then, left;
                char buf[32];

                if (strncmp(ff->key, EXPIRY_PREFIX, strlen(EXPIRY_PREFIX)) != 0)
                        continue;
                then = strtoll(ff->value, NULL, 10);
                left = then - moved;
                if (days_left(left) != days_left(then))
                        return -ESTALE; /* "expires in N days" would be a day off */
                snprintf(buf, sizeof(buf), "%lld", left);
                r = finding_fact_set(f, ff->key, "%s", buf);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(f);
        return 0;
}
