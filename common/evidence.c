/* See evidence.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence.h"
#include "macro.h"

int evidence_dir(const char *state_dir, uint64_t incident, char **ret) {
        char *s;
        if (!state_dir || asprintf(&s, "%s/evidence/%llu", state_dir, (unsigned long long) incident) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int evidence_dir_make(const char *state_dir, uint64_t incident, char **ret) {
        _cleanup_(freep) char *top = NULL, *dir = NULL;

        if (!state_dir || asprintf(&top, "%s/evidence", state_dir) < 0 || evidence_dir(state_dir, incident, &dir) < 0)
                return -ENOMEM;
        if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
                return -errno;
        *ret = TAKE_PTR(dir);
        return 0;
}

int evidence_name_valid(const char *name) {
        size_t n = name ? strnlen(name, EVIDENCE_NAME_MAX) : 0;
        if (n == 0 || n >= EVIDENCE_NAME_MAX || name[0] == '.' ||
            strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
                return -EINVAL;
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const evidence_file *) a)->name, ((const evidence_file *) b)->name);
}

int evidence_list(const char *state_dir, uint64_t incident, evidence_file **ret, size_t *ret_n) {
        _cleanup_(freep) char *dir = NULL;
        _cleanup_(freep) evidence_file *files = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int dfd;

        if (evidence_dir(state_dir, incident, &dir) < 0)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (!(d = fdopendir(dfd))) {
                (void) close(dfd);
                return -errno;
        }
        if (!(files = calloc(EVIDENCE_FILES_MAX, sizeof(*files)))) {
                (void) closedir(d);
                return -ENOMEM;
        }
        while ((de = readdir(d)) && n < EVIDENCE_FILES_MAX) {
                struct stat st;
                if (evidence_name_valid(de->d_name) < 0 || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                memcpy(files[n].name, de->d_name, strlen(de->d_name) + 1); /* valid: shorter than name */
                files[n].size = (uint64_t) st.st_size;
                files[n].mtime_usec = (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC + (uint64_t) st.st_mtim.tv_nsec / NSEC_PER_USEC;
                n++;
        }
        (void) closedir(d);
        qsort(files, n, sizeof(*files), by_name);
        *ret = TAKE_PTR(files);
        *ret_n = n;
        return 0;
}

int evidence_read(const char *state_dir, uint64_t incident, const char *name, uint64_t offset, void *buf, size_t max,
                  size_t *ret_len, uint64_t *ret_size) {
        _cleanup_(freep) char *dir = NULL, *path = NULL;
        _cleanup_(closep) int fd = -1;
        struct stat st;
        ssize_t k;

        if (evidence_name_valid(name) < 0)
                return -EINVAL;
        if (evidence_dir(state_dir, incident, &dir) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        k = offset >= (uint64_t) st.st_size ? 0 : pread(fd, buf, max, (off_t) offset);
        if (k < 0)
                return -errno;
        *ret_len = (size_t) k;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}
