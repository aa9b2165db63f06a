/* The `drills:` section (agent/config/drill_config.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill.h"
#include "agent/config/drill_config.h"
#include "duration.h"
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
        if (sched && !ynode_is_null(sched)) {
                if (sched->type != YNODE_SEQ || sched->n_items > DRILL_SCHEDULE_MAX) {
                        ydiag_add(d, sched, "schedule: expected a sequence of at most %u entries", DRILL_SCHEDULE_MAX);
                        r = -EINVAL;
                } else if (sched->n_items) {
                        n.schedule = calloc(sched->n_items, sizeof(*n.schedule));
                        if (!n.schedule) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        n.n_schedule = sched->n_items;
                        for (size_t i = 0; i < sched->n_items; i++) {
                                int k = bind_entry(sched->items[i], &n.schedule[i], d);
                                if (k == -ENOMEM) {
                                        r = k;
                                        goto fail;
                                }
                                if (k < 0)
                                        r = k;
                        }
                }
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
        for (size_t i = 0; i < c->n_schedule; i++)
                free(c->schedule[i].drill);
        free(c->schedule);
        *c = (drill_config){ 0 };
}
