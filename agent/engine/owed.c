/* See owed.h. The directory is created on the first record; a file name that is not
 * KIND-ID is not ours and is left alone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/engine/owed.h"
#include "atomic_file.h"
#include "macro.h"

#define OWED_RECORD_MAX (64u * 1024u)

static int dir_path(const char *state_dir, char *buf, size_t n) {
        if ((size_t) snprintf(buf, n, "%s/owed", state_dir) >= n)
                return -ENAMETOOLONG;
        return 0;
}

int owed_write(const char *state_dir, const char *kind, uint64_t id, const void *buf, size_t len) {
        char dir[512], path[600];
        int r;

        if (len > OWED_RECORD_MAX)
                return -E2BIG;
        r = dir_path(state_dir, dir, sizeof(dir));
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) == 0)
                (void) atomic_file_sync_dir(state_dir);
        else if (errno != EEXIST)
                return -errno;
        (void) snprintf(path, sizeof(path), "%s/%s-%llu", dir, kind, (unsigned long long) id);
        return atomic_file_write(path, buf, len, 0600);
}

bool owed_exists(const char *state_dir, const char *kind, uint64_t id) {
        char path[600];

        (void) snprintf(path, sizeof(path), "%s/owed/%s-%llu", state_dir, kind, (unsigned long long) id);
        return access(path, F_OK) == 0;
}

int owed_remove(const char *state_dir, const char *kind, uint64_t id) {
        char dir[512], path[600];
        int r;

        r = dir_path(state_dir, dir, sizeof(dir));
        if (r < 0)
                return r;
        (void) snprintf(path, sizeof(path), "%s/%s-%llu", dir, kind, (unsigned long long) id);
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return atomic_file_sync_dir(dir);
}

static bool name_id(const char *name, const char *kind, uint64_t *ret) {
        size_t kl = strlen(kind);
        char *end;

        if (strncmp(name, kind, kl) != 0 || name[kl] != '-')
                return false;
        name += kl + 1;
        if (*name < '1' || *name > '9')
                return false;
        errno = 0;
        unsigned long long v = strtoull(name, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

int owed_load(const char *state_dir, const char *kind, owed_cb cb, void *userdata) {
        char dir[512];
        struct dirent *de;
        DIR *d;
        int r;

        r = dir_path(state_dir, dir, sizeof(dir));
        if (r < 0)
                return r;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_(freep) char *buf = NULL;
                char path[800];
                uint64_t id;
                size_t len;

                if (!name_id(de->d_name, kind, &id))
                        continue;
                (void) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                r = atomic_file_read(path, OWED_RECORD_MAX, &buf, &len);
                if (r >= 0)
                        r = cb(id, buf, len, path, userdata);
                else
                        r = cb(id, NULL, 0, path, userdata); /* unreadable: the callback decides */
                if (r < 0)
                        break;
                r = 0;
        }
        closedir(d);
        return r;
}

int owed_set_aside(const char *path) {
        char to[900];

        (void) snprintf(to, sizeof(to), "%s.broken", path);
        return rename(path, to) < 0 ? -errno : 0;
}
