/* See drain_file.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "drain_file.h"
#include "macro.h"

static int path_of(const char *state_dir, char **ret) {
        return asprintf(ret, "%s/" DRAIN_FILE_NAME, state_dir) < 0 ? -ENOMEM : 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        if (n == 0 || n > 20)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int drain_parse(const char *buf, size_t len, drain_state *ret) {
        drain_state s = { 0 };
        const char *p = buf, *end = buf + len;

        if (len > DRAIN_FILE_MAX)
                return -EBADMSG;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eol = nl ? nl : end;
                const char *eq = memchr(p, '=', (size_t) (eol - p));
                if (eol == p) { /* an empty line */
                        p = eol + 1;
                        continue;
                }
                if (!eq || memchr(p, 0, (size_t) (eol - p)))
                        return -EBADMSG;
                size_t klen = (size_t) (eq - p), vlen = (size_t) (eol - eq - 1);
                const char *v = eq + 1;
                if (klen == 5 && memcmp(p, "owner", 5) == 0) {
                        if (!((vlen == 8 && memcmp(v, "operator", 8) == 0) || (vlen == 7 && memcmp(v, "runbook", 7) == 0)))
                                return -EBADMSG;
                        memcpy(s.owner, v, vlen);
                        s.owner[vlen] = 0;
                } else if (klen == 10 && memcmp(p, "since_usec", 10) == 0) {
                        if (parse_u64(v, vlen, &s.since_usec) < 0)
                                return -EBADMSG;
                } else if (klen == 10 && memcmp(p, "until_usec", 10) == 0) {
                        if (parse_u64(v, vlen, &s.until_usec) < 0)
                                return -EBADMSG;
                } else if (klen == 6 && memcmp(p, "reason", 6) == 0) {
                        if (vlen >= sizeof(s.reason))
                                return -EBADMSG;
                        memcpy(s.reason, v, vlen);
                        s.reason[vlen] = 0;
                } else
                        return -EBADMSG;
                p = eol + 1;
        }
        if (!s.owner[0])
                return -EBADMSG;
        *ret = s;
        return 0;
}

int drain_file_read(const char *state_dir, drain_state *ret) {
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        size_t len = 0;
        int r = path_of(state_dir, &path);
        if (r < 0)
                return r;
        r = atomic_file_read(path, DRAIN_FILE_MAX, &buf, &len);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return drain_parse(buf, len, ret);
}

int drain_file_write(const char *state_dir, const drain_state *s) {
        _cleanup_(freep) char *path = NULL;
        char reason[DRAIN_REASON_MAX], buf[DRAIN_FILE_MAX];
        int r = path_of(state_dir, &path), n;

        if (r < 0)
                return r;
        if (strcmp(s->owner, "operator") != 0 && strcmp(s->owner, "runbook") != 0)
                return -EINVAL;
        (void) snprintf(reason, sizeof(reason), "%s", s->reason);
        reason[strcspn(reason, "\n")] = 0;
        n = snprintf(buf, sizeof(buf), "owner=%s\nsince_usec=%llu\nuntil_usec=%llu\nreason=%s\n", s->owner,
                     (unsigned long long) s->since_usec, (unsigned long long) s->until_usec, reason);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -EINVAL;
        return atomic_file_write(path, buf, (size_t) n, 0600);
}

int drain_file_remove(const char *state_dir, const char *owner) {
        _cleanup_(freep) char *path = NULL;
        drain_state s;
        int r = path_of(state_dir, &path);

        if (r < 0)
                return r;
        r = drain_file_read(state_dir, &s);
        if (r == -ENOENT)
                return 0;
        /* an unreadable drain file is removed by whoever asks: it drains nothing sensible */
        if (r >= 0 && owner && strcmp(s.owner, owner) != 0)
                return -EBUSY;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        (void) atomic_file_sync_dir(state_dir);
        return 0;
}
