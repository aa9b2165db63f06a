/* See config_manifest.h: reading the config check's manifest, strictly (a line that does not
 * parse makes the whole manifest unusable: restoring from half of one is worse than not). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/config_manifest.h"
#include "atomic_file.h"
#include "macro.h"
#include "snapshot.h"

int config_manifest_path(const char *state_dir, const char *check, const char *suffix, char **ret) {
        _cleanup_(freep) char *ext = NULL;

        if (asprintf(&ext, "manifest%s", suffix) < 0)
                return -ENOMEM;
        return snapshot_path(state_dir, check, ext, ret);
}

int config_manifest_add(config_manifest *m, const config_manifest_entry *e) {
        config_manifest_entry *ne = realloc(m->e, (m->n + 1) * sizeof(*ne));
        if (!ne)
                return -ENOMEM;
        m->e = ne;
        ne[m->n] = *e;
        if (!(ne[m->n].path = strdup(e->path)))
                return -ENOMEM;
        m->n++;
        return 0;
}

const config_manifest_entry *config_manifest_find(const config_manifest *m, const char *path) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->e[i].path, path) == 0)
                        return &m->e[i];
        return NULL;
}

bool config_manifest_measure_text(const char *data, size_t len) {
        size_t n = strlen(CONFIG_MEASURE_FILE_MARK);
        return data && len >= n && memcmp(data, CONFIG_MEASURE_FILE_MARK, n) == 0;
}

bool config_manifest_measure_file(const char *path) {
        char head[sizeof(CONFIG_MEASURE_FILE_MARK)];
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof(head) - 1);

        return n > 0 && config_manifest_measure_text(head, (size_t) n);
}

void config_manifest_done(config_manifest *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->e[i].path);
        free(m->e);
        *m = (config_manifest){ 0 };
}

int config_manifest_parse(const char *text, config_manifest *ret) {
        config_manifest m = { 0 };
        int r;

        for (const char *line = text, *eol; line && *line; line = *eol ? eol + 1 : NULL) {
                config_manifest_entry e = { 0 };
                char l[4300], p[4200];
                size_t n;
                eol = strchrnul(line, '\n');
                n = (size_t) (eol - line);
                if (m.n >= CONFIG_MANIFEST_FILES_MAX || n >= sizeof(l)) {
                        config_manifest_done(&m);
                        return -EBADMSG;
                }
                memcpy(l, line, n);
                l[n] = 0;
                if (sscanf(l, "%64s %o %u %u %4199[^\n]", e.hash, &e.mode, &e.uid, &e.gid, p) != 5 || p[0] != '/') {
                        config_manifest_done(&m);
                        return -EBADMSG;
                }
                e.path = p;
                r = config_manifest_add(&m, &e);
                if (r < 0) {
                        config_manifest_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

int config_manifest_read(const char *path, config_manifest *ret) {
        _cleanup_(freep) char *text = NULL;
        int r = atomic_file_read(path, CONFIG_MANIFEST_MAX, &text, NULL);

        if (r < 0)
                return r;
        return config_manifest_parse(text, ret);
}
