/* See yaml_set.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config/yaml_set.h"
#include "file_read.h"
#include "yaml_bind.h"

static int append(char **errors, const char *msg) {
        char *joined;

        if (asprintf(&joined, "%s%s%s", *errors ? *errors : "", *errors ? "\n" : "", msg) < 0)
                return -ENOMEM;
        free(*errors);
        *errors = joined;
        return 0;
}

int yaml_set_take(char **errors, const ydiag *d) {
        _cleanup_(freep) char *more = ydiag_join(d);

        return more ? append(errors, more) : 0;
}

int yaml_set_error(char **errors, const char *fmt, ...) {
        _cleanup_(freep) char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return append(errors, msg);
}

static int yaml_filter(const struct dirent *de) {
        size_t n = strlen(de->d_name);
        return de->d_name[0] != '.' && ((n > 5 && strcmp(de->d_name + n - 5, ".yaml") == 0) ||
                                        (n > 4 && strcmp(de->d_name + n - 4, ".yml") == 0));
}

/* A directory whose files the agent acts on: root's, not group- or world-writable. */
static int dir_open(const char *dir, const char *what, char **errors) {
        struct stat st;
        char why[128];
        int fd;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return yaml_set_error(errors, "%s: cannot read the %s directory: %m", dir, what) < 0 ? -ENOMEM : -EPERM;
        }
        if (fstat(fd, &st) < 0 || file_read_check_owner(&st, why, sizeof(why)) < 0) {
                int r = yaml_set_error(errors, "%s: the %s directory %s, refusing: whoever can write there can make the "
                                               "agent act as root", dir, what, why);
                (void) close(fd);
                return r < 0 ? -ENOMEM : -EPERM;
        }
        return fd;
}

int yaml_set_list(char *const *dirs, const char *what, char ***ret, char **errors) {
        _cleanup_(strv_freep) char **paths = calloc(1, sizeof(char *));
        size_t n_paths = 0;
        int r = 0;

        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; dirs && dirs[i]; i++) {
                struct dirent **list = NULL;
                int dfd = dir_open(dirs[i], what, errors), n;
                if (dfd == -ENOMEM)
                        return dfd;
                if (dfd < 0)
                        continue; /* missing (the configuration warns), or reported */
                n = scandirat(dfd, ".", &list, yaml_filter, alphasort);
                (void) close(dfd);
                if (n < 0) {
                        if (yaml_set_error(errors, "%s: cannot read the %s directory: %m", dirs[i], what) < 0)
                                return -ENOMEM;
                        continue;
                }
                char **more = realloc(paths, (n_paths + (size_t) n + 1) * sizeof(char *));
                if (more)
                        paths = more;
                for (int j = 0; j < n; j++) {
                        if (more && r == 0) {
                                if (asprintf(&paths[n_paths], "%s/%s", dirs[i], list[j]->d_name) < 0) {
                                        paths[n_paths] = NULL;
                                        r = -ENOMEM;
                                } else
                                        paths[++n_paths] = NULL;
                        }
                        free(list[j]);
                }
                free(list);
                if (!more || r < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(paths);
        return 0;
}

int yaml_set_read(const char *path, size_t max, const char *what, ydiag *d, char **ret, size_t *ret_len) {
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        char why[128];
        size_t len = 0;
        int r;

        /* no symlink, no FIFO: see file_read.h */
        r = file_read_all(path, max, 0, &buf, &len, &st);
        if (r == -EFBIG || r == -E2BIG) {
                ydiag_add_at(d, 1, 1, "%s larger than %zu bytes", what, max);
                return r;
        }
        if (r < 0) {
                ydiag_add_at(d, 1, 1, "cannot read: %s", file_read_strerror(r));
                return r;
        }
        if (file_read_check_owner(&st, why, sizeof(why)) < 0) {
                ydiag_add_at(d, 1, 1, "%s file %s, refusing: whoever can write it can make the agent act as root", what,
                             why);
                return -EPERM;
        }
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}
