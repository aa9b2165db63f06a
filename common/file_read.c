/* See file_read.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_read.h"
#include "macro.h"

int file_read_open(const char *path, unsigned flags, struct stat *ret_st) {
        struct stat st;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                (flags & FILE_READ_FOLLOW ? 0 : O_NOFOLLOW));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                (void) close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                (void) close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        }
        if (ret_st)
                *ret_st = st;
        return fd;
}

int file_read_all(const char *path, size_t max, unsigned flags, char **ret, size_t *ret_len,
                  struct stat *ret_st) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        size_t len = 0, cap;

        fd = file_read_open(path, flags, &st);
        if (fd < 0)
                return fd;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        /* room for a file that grows a little while we read (and for files such as those in
         * /proc that say 0); never more than max + 1, so growth past max is seen */
        cap = max + 1 < (size_t) st.st_size + 4096 ? max + 1 : (size_t) st.st_size + 4096;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG;
                        /* stat said less than there is: grow up to the limit */
                        size_t next = cap * 2 < max + 1 ? cap * 2 : max + 1;
                        char *p = realloc(buf, next);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = next;
                }
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        if (ret_st)
                *ret_st = st;
        return 0;
}

const char *file_read_strerror(int r) {
        switch (r) {
        case -ELOOP:
                return "is a symbolic link (refused: the file itself must be named)";
        case -EISDIR:
                return "is a directory, not a regular file";
        case -EBADFD:
                return "is a FIFO, socket or device, not a regular file (refused)";
        case -EFBIG:
                return "file too large";
        default:
                return strerror(r < 0 ? -r : r);
        }
}

int file_read_check_owner(const struct stat *st, char *why, size_t size) {
        if (st->st_uid != 0 && st->st_uid != geteuid()) {
                (void) snprintf(why, size, "belongs to uid %u, not root", (unsigned) st->st_uid);
                return -EPERM;
        }
        if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                (void) snprintf(why, size, "is group- or world-writable (mode %04o)", (unsigned) (st->st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

const char *file_read_type(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
                return "regular file";
        case S_IFDIR:
                return "directory";
        case S_IFLNK:
                return "symbolic link";
        case S_IFIFO:
                return "FIFO";
        case S_IFSOCK:
                return "socket";
        case S_IFCHR:
                return "character device";
        case S_IFBLK:
                return "block device";
        default:
                return "special file";
        }
}
