/* A set of drills, loaded whole like the runbook set: every file is parsed (all errors of all
 * files collected), then names are checked across files, and only a set without a single error
 * is returned. A drill is reported, scheduled and scored by its name, so two files claiming one
 * name would make every report about either of them ambiguous. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill.h"
#include "agent/config/yaml_set.h"
#include "yaml_bind.h"

struct drill_set {
        drill **items;
        size_t n;
};

drill_set *drill_set_free(drill_set *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                drill_free(s->items[i]);
        free(s->items);
        free(s);
        return NULL;
}

static int add_file(drill_set *s, const char *path, const drill_ctx *ctx, char **errors) {
        _cleanup_(drill_freep) drill *dr = NULL;
        drill **items;
        ydiag d;
        int r;

        if (s->n >= DRILL_SET_MAX)
                return yaml_set_error(errors, "%s: more than %u drills", path, DRILL_SET_MAX) < 0 ? -ENOMEM : -E2BIG;
        ydiag_init(&d, path);
        r = drill_parse_file(path, ctx, &d, &dr);
        if (yaml_set_take(errors, &d) < 0)
                r = -ENOMEM;
        ydiag_done(&d);
        if (r < 0)
                return r == -ENOMEM ? r : 0; /* reported; keep going to find every error */
        items = realloc(s->items, (s->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        s->items = items;
        s->items[s->n++] = TAKE_PTR(dr);
        return 0;
}

/* The end of a load: names across files, then the set only if nothing at all was wrong. */
static int hand_out(drill_set **s, int r, char **errors, drill_set **ret, char **ret_error) {
        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; i < (*s)->n; i++) {
                const drill *a = (*s)->items[i];
                for (size_t j = 0; j < i; j++) {
                        const drill *first = (*s)->items[j];
                        if (strcmp(first->name, a->name) == 0 &&
                            yaml_set_error(errors, "%s:%u:%u: duplicate drill name '%s' (first in %s:%u:%u)", a->file,
                                           a->name_line, a->name_col, a->name, first->file, first->name_line,
                                           first->name_col) < 0)
                                return -ENOMEM;
                }
        }
        if (*errors || r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(*errors);
                return -EINVAL;
        }
        *ret = TAKE_PTR(*s);
        return 0;
}

int drill_set_load(char *const *dirs, const drill_ctx *ctx, drill_set **ret, char **ret_error) {
        _cleanup_(drill_set_freep) drill_set *s = calloc(1, sizeof(drill_set));
        _cleanup_(strv_freep) char **paths = NULL;
        _cleanup_(freep) char *errors = NULL;
        int r;

        if (!s)
                return -ENOMEM;
        r = yaml_set_list(dirs, "drill", &paths, &errors);
        for (size_t i = 0; r >= 0 && paths[i]; i++)
                r = add_file(s, paths[i], ctx, &errors);
        return hand_out(&s, r, &errors, ret, ret_error);
}

int drill_set_load_files(char *const *files, const drill_ctx *ctx, drill_set **ret, char **ret_error) {
        _cleanup_(drill_set_freep) drill_set *s = calloc(1, sizeof(drill_set));
        _cleanup_(freep) char *errors = NULL;
        int r = 0;

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; files && files[i] && r >= 0; i++)
                r = add_file(s, files[i], ctx, &errors);
        return hand_out(&s, r, &errors, ret, ret_error);
}

size_t drill_set_size(const drill_set *s) {
        return s ? s->n : 0;
}

const drill *drill_set_get(const drill_set *s, size_t i) {
        return s && i < s->n ? s->items[i] : NULL;
}

const drill *drill_set_find(const drill_set *s, const char *name) {
        for (size_t i = 0; s && name && i < s->n; i++)
                if (strcmp(s->items[i]->name, name) == 0)
                        return s->items[i];
        return NULL;
}
