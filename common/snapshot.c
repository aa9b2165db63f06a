/* See snapshot.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "snapshot.h"

bool snapshot_name_valid(const char *name) {
        size_t n = 0;

        if (!name || !*name)
                return false;
        for (const char *s = name; *s; s++, n++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
                        return false;
        return n <= SNAPSHOT_NAME_MAX;
}

int snapshot_dir(const char *state_dir, char **ret) {
        char *p;

        if (!state_dir || !*state_dir)
                return -EINVAL;
        if (asprintf(&p, "%s/" SNAPSHOT_SUBDIR, state_dir) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int snapshot_path(const char *state_dir, const char *name, const char *ext, char **ret) {
        char *p;

        if (!state_dir || !*state_dir || !snapshot_name_valid(name) || !ext || !*ext || strchr(ext, '/'))
                return -EINVAL;
        if (asprintf(&p, "%s/" SNAPSHOT_SUBDIR "/%s.%s", state_dir, name, ext) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}
