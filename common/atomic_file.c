/* See atomic_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "file_read.h"
#include "macro.h"

int atomic_file_write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int atomic_file_sync_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int atomic_file_sync_dir_of(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        return atomic_file_sync_dir(dirname(copy));
}

int atomic_file_begin(const char *path, char **ret_tmp) {
        _cleanup_(freep) char *tmp = NULL;
        int fd;

        if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        *ret_tmp = TAKE_PTR(tmp);
        return fd;
}

void atomic_file_abort(int fd, const char *tmp) {
        (void) close(fd);
        (void) unlink(tmp);
}

int atomic_file_commit(int fd, const char *tmp, const char *path, mode_t mode) {
        int r = 0;

        if (fchmod(fd, mode) < 0) /* the umask must not widen or narrow it */
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return atomic_file_sync_dir_of(path);
}

/* own: also give the file uid:gid (before the rename: it never appears with the wrong owner) */
static int replace(const char *path, const void *buf, size_t len, mode_t mode, bool own, uid_t uid, gid_t gid) {
        _cleanup_(freep) char *tmp = NULL;
        int fd = atomic_file_begin(path, &tmp), r;

        if (fd < 0)
                return fd;
        r = atomic_file_write_all(fd, buf, len);
        if (r >= 0 && own && fchown(fd, uid, gid) < 0)
                r = -errno;
        if (r < 0) {
                atomic_file_abort(fd, tmp);
                return r;
        }
        return atomic_file_commit(fd, tmp, path, mode);
}

int atomic_file_write(const char *path, const void *buf, size_t len, mode_t mode) {
        return replace(path, buf, len, mode, false, 0, 0);
}

int atomic_file_write_owned(const char *path, const void *buf, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        return replace(path, buf, len, mode, true, uid, gid);
}

int atomic_file_read(const char *path, size_t max, char **ret, size_t *ret_len) {
        /* never blocks on a FIFO, refuses anything but a regular file (see file_read.h) */
        return file_read_all(path, max, FILE_READ_FOLLOW, ret, ret_len, NULL);
}
