/* The `drills:` section (agent/config/drill_config.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill.h"
#include "agent/config/drill_config.h"
#include "duration.h"
#include "yaml_tree.h"
#include "yaml_bind.h"

#define OFF(f) offsetof(drill_config, f)

static const yfield fields[] = {
        { "enabled", YF_BOOL, OFF(enabled) },
        { "dirs", YF_STRV, OFF(dirs), .max = 16 },
        { "auto_approve", YF_BOOL, OFF(auto_approve) },
        { "history", YF_U32, OFF(history), .min = 1, .max = 10000 },
        { "schedule", YF_NODE, OFF(schedule_node) }, /* bound below */
        {}
};

static int bind_entry(const ynode *m, drill_schedule *s, ydiag *d) {
        const ynode *name = ynode_get(m, "drill"), *every = ynode_get(m, "every"), *window = ynode_get(m, "window");
        int r = 0;

        if (m->type != YNODE_MAP) {
                ydiag_add(d, m, "expected a mapping (drill, every, window)");
                return -EINVAL;
        }
        for (size_t i = 0; i < m->n_items; i += 2) {
                const char *k = m->items[i]->value;
                if (strcmp(k, "drill") != 0 && strcmp(k, "every") != 0 && strcmp(k, "window") != 0) {
                        ydiag_add(d, m->items[i], "unknown key '%s' (expected drill, every, window)", YQ(k));
                        r = -EINVAL;
                }
        }
        s->line = m->line;
        s->col = m->col;
        if (!name || name->type != YNODE_SCALAR || !name->len) {
                ydiag_add(d, name ?: m, "drill: expected the name of a drill");
                r = -EINVAL;
        } else if (!(s->drill = strdup(name->value)))
                return -ENOMEM;
        if (!every) {
                ydiag_add(d, m, "every: required (how often the drill may run, e.g. 7d)");
                r = -EINVAL;
        } else if (ybind_scalar_duration(every, d, 3600 * USEC_PER_SEC, 366 * 24 * 3600 * USEC_PER_SEC, &s->every_usec) < 0)
                r = -EINVAL;
        if (!window) {
                ydiag_add(d, m, "window: required ({days, from, to, timezone})");
                r = -EINVAL;
        } else if (policy_hours_bind(window, d, &s->window, false) < 0)
                r = -EINVAL;
        return r;
}

void drill_schedule_free(drill_schedule *s, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                free(s[i].drill);
        free(s);
}

/* A sequence of entries (the section's `schedule`, or a fleet's key): NULL or null: none. */
static int bind_schedule(const ynode *sched, drill_schedule **ret, size_t *ret_n, ydiag *d) {
        drill_schedule *v = NULL;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!sched || ynode_is_null(sched))
                return 0;
        if (sched->type != YNODE_SEQ || sched->n_items > DRILL_SCHEDULE_MAX) {
                ydiag_add(d, sched, "schedule: expected a sequence of at most %u entries", DRILL_SCHEDULE_MAX);
                return -EINVAL;
        }
        if (!sched->n_items)
                return 0;
        if (!(v = calloc(sched->n_items, sizeof(*v))))
                return -ENOMEM;
        for (size_t i = 0; i < sched->n_items; i++) {
                int k = bind_entry(sched->items[i], &v[i], d);
                if (k == -ENOMEM) {
                        drill_schedule_free(v, sched->n_items);
                        return k;
                }
                if (k < 0)
                        r = k;
        }
        *ret = v;
        *ret_n = sched->n_items;
        return r;
}

int drill_schedule_parse(const char *text, size_t len, drill_schedule **ret, size_t *ret_n, ydiag *d) {
        _cleanup_(ynode_freep) ynode *root = NULL;
        drill_schedule *v = NULL;
        size_t n = 0;
        int r;

        if (len > DRILL_SCHEDULE_TEXT_MAX) {
                ydiag_add_at(d, 1, 1, "a drill schedule of %zu bytes: at most %u", len, DRILL_SCHEDULE_TEXT_MAX);
                return -EMSGSIZE;
        }
        if ((r = ytree_parse_buffer(text, len, d, &root)) < 0)
                return r == -ENOMEM ? r : -EINVAL;
        if (!root || ynode_is_null(root) || root->type != YNODE_SEQ) {
                ydiag_add_at(d, root ? root->line : 1, root ? root->col : 1,
                             "expected a sequence of entries (drill, every, window), as drills.schedule");
                return -EINVAL;
        }
        r = bind_schedule(root, &v, &n, d);
        for (size_t i = 0; r != -ENOMEM && i < n; i++)
                if (v[i].drill && !drill_name_valid(v[i].drill)) {
                        /* the name becomes part of an etcd key (the fleet's record of its last start) */
                        ydiag_add_at(d, v[i].line, v[i].col, "drill: '%s' is not a drill's name ([a-z0-9][a-z0-9_.-]*, at "
                                     "most %u characters)", YQ(v[i].drill), DRILL_NAME_MAX);
                        r = -EINVAL;
                }
        if (r < 0) {
                drill_schedule_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int drill_config_bind(const ynode *node, drill_config *c, ydiag *d) {
        drill_config n = { .auto_approve = false, .history = DRILL_HISTORY_DEFAULT };
        const ynode *sched;
        int r = 0;

        if (node && !ynode_is_null(node)) {
                r = ybind(node, fields, &n, d);
                if (r == -ENOMEM)
                        goto fail;
        }
        if (!n.dirs) {
                n.dirs = calloc(2, sizeof(char *));
                if (!n.dirs || !(n.dirs[0] = strdup("/etc/ikeheal/drills.d"))) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        sched = n.schedule_node;
        {
                int k = bind_schedule(sched, &n.schedule, &n.n_schedule, d);
                if (k == -ENOMEM) {
                        r = k;
                        goto fail;
                }
                if (k < 0)
                        r = k;
        }
        if (r < 0)
                goto fail;
        drill_config_done(c);
        *c = n;
        return 0;
fail:
        drill_config_done(&n);
        return r;
}

void drill_config_done(drill_config *c) {
        strv_free(c->dirs);
        drill_schedule_free(c->schedule, c->n_schedule);
        *c = (drill_config){ 0 };
}
