/* See config_manifest.h: reading the config check's manifest, strictly (a line that does not
 * parse makes the whole manifest unusable: restoring from half of one is worse than not). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/config_manifest.h"
#include "atomic_file.h"

char *config_manifest_path(const action_env *env, const char *check, const char *suffix) {
        char *s;
        if (!env->state_dir || asprintf(&s, "%s/snapshots/%s.manifest%s", env->state_dir, check, suffix) < 0)
                return NULL;
        return s;
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

void config_manifest_done(config_manifest *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->e[i].path);
        free(m->e);
        *m = (config_manifest){ 0 };
}

int config_manifest_read(const char *path, config_manifest *ret) {
        _cleanup_(freep) char *text = NULL;
        config_manifest m = { 0 };
        size_t len = 0;
        int r = atomic_file_read(path, CONFIG_MANIFEST_MAX, &text, &len);

        if (r < 0)
                return r;
        for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                config_manifest_entry e = { 0 };
                char p[4200];
                if ((eol = strchr(line, '\n')))
                        *eol = 0;
                if (m.n >= CONFIG_MANIFEST_FILES_MAX ||
                    sscanf(line, "%64s %o %u %u %4199[^\n]", e.hash, &e.mode, &e.uid, &e.gid, p) != 5 || p[0] != '/') {
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
