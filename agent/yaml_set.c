/* See yaml_set.h. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/yaml_set.h"
#include "atomic_file.h"
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

int yaml_set_list(char *const *dirs, const char *what, char ***ret, char **errors) {
        _cleanup_(strv_freep) char **paths = calloc(1, sizeof(char *));
        size_t n_paths = 0;
        int r = 0;

        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; dirs && dirs[i]; i++) {
                struct dirent **list = NULL;
                int n = scandir(dirs[i], &list, yaml_filter, alphasort);
                if (n < 0) {
                        if (errno != ENOENT && yaml_set_error(errors, "%s: cannot read the %s directory: %m", dirs[i],
                                                              what) < 0)
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
        int r = atomic_file_read(path, max, ret, ret_len);
        if (r == -EFBIG || r == -E2BIG)
                ydiag_add_at(d, 1, 1, "%s larger than %zu bytes", what, max);
        else if (r < 0)
                ydiag_add_at(d, 1, 1, "cannot read: %s", strerror(-r));
        return r;
}
