/* The `check_defaults` and `checks` sections of ikeheal.yaml: which checks run, with what
 * schedule, with what kind-specific `params`. Each entry's params are validated here by the
 * kind's own parser on a scratch state (then thrown away), so `ikeheald --check-config` and a
 * reload report every mistake of every check at once, with its position, before anything
 * runs. Without a `checks` key, every registered kind that needs no parameters runs with its
 * defaults: an agent installed with the shipped file watches something useful at once. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/checks/registry.h"
#include "agent/config/config.h"
#include "file_read.h"
#include "snapshot.h"
#include "yaml_bind.h"

typedef struct entry {
        char *name, *kind;
        uint64_t interval, timeout;
        uint32_t retries, rise, fall;
        const ynode *params;
} entry;

#define EOFF(f) offsetof(entry, f)

/* `check_defaults` binds the schedule part only; an entry may override each field. */
static const yfield schedule_fields[] = {
        { "interval", YF_DURATION, EOFF(interval), .min = 100 * USEC_PER_MSEC, .max = 86400 * USEC_PER_SEC },
        { "timeout", YF_DURATION, EOFF(timeout), .min = 10 * USEC_PER_MSEC, .max = 300 * USEC_PER_SEC },
        { "retries", YF_U32, EOFF(retries), .max = 10 },
        { "rise", YF_U32, EOFF(rise), .min = 1, .max = 32 },
        { "fall", YF_U32, EOFF(fall), .min = 1, .max = 32 },
        {}
};

static const yfield entry_fields[] = {
        { "name", YF_STRING, EOFF(name), .max = 64 },
        { "kind", YF_STRING, EOFF(kind), .max = 64 },
        { "interval", YF_DURATION, EOFF(interval), .min = 100 * USEC_PER_MSEC, .max = 86400 * USEC_PER_SEC },
        { "timeout", YF_DURATION, EOFF(timeout), .min = 10 * USEC_PER_MSEC, .max = 300 * USEC_PER_SEC },
        { "retries", YF_U32, EOFF(retries), .max = 10 },
        { "rise", YF_U32, EOFF(rise), .min = 1, .max = 32 },
        { "fall", YF_U32, EOFF(fall), .min = 1, .max = 32 },
        { "params", YF_NODE, EOFF(params) },
        {}
};

static entry entry_from_schedule(const check_schedule *s) {
        return (entry){
                .interval = s->interval_usec,
                .timeout = s->timeout_usec,
                .retries = s->retries,
                .rise = s->rise,
                .fall = s->fall,
        };
}

/* Let the kind validate its params on a throw-away state. */
static int params_check(const check_ops *ops, const ynode *params, ydiag *d) {
        void *state = NULL;
        int r;

        if (ops->state_size && !(state = calloc(1, ops->state_size)))
                return -ENOMEM;
        r = ops->parse ? ops->parse(state, params, d) : 0;
        if (ops->done)
                ops->done(state);
        free(state);
        return r;
}

/* Paths in a check's params that can only be mistakes, whatever the kind: a swanctl_dir that is
 * not a directory, and a FIFO or device where a file is to be read (reading it would wait for
 * a writer, or never end). Sockets are left alone: a check may name one; so is a FIFO named
 * `fifo`. */
static void params_paths_check(const ynode *n, const char *key, ydiag *d) {
        struct stat st;

        if (!n)
                return;
        switch (n->type) {
        case YNODE_MAP:
                for (size_t i = 0; i + 1 < n->n_items; i += 2)
                        params_paths_check(n->items[i + 1], n->items[i]->value, d);
                return;
        case YNODE_SEQ:
                for (size_t i = 0; i < n->n_items; i++)
                        params_paths_check(n->items[i], key, d);
                return;
        case YNODE_SCALAR:
                break;
        }
        if (key && strcmp(key, "swanctl_dir") == 0) {
                if (stat(n->value, &st) < 0)
                        ydiag_add(d, n, "swanctl_dir %s: %s", YQ_PATH(n->value), strerror(errno));
                else if (!S_ISDIR(st.st_mode))
                        ydiag_add(d, n, "swanctl_dir %s is a %s, not a directory", YQ_PATH(n->value),
                                  file_read_type(st.st_mode));
                return;
        }
        if (key && strcmp(key, "fifo") == 0)
                return; /* a FIFO where one is asked for (the vrrp check vets it itself) */
        if (n->value[0] == '/' && stat(n->value, &st) == 0 &&
            (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
                ydiag_add(d, n, "%s%s%s is a %s, not a regular file", key ? key : "", key ? ": " : "", YQ_PATH(n->value),
                          file_read_type(st.st_mode));
}

static int add_check(ikeheal_config *c, const entry *e, const check_ops *ops) {
        config_check *cc = &c->checks[c->n_checks];

        *cc = (config_check){
                .name = strdup(e->name ? e->name : ops->kind),
                .ops = ops,
                .sched = {
                        .interval_usec = e->interval,
                        .timeout_usec = e->timeout,
                        .retries = e->retries,
                        .rise = e->rise,
                        .fall = e->fall,
                },
                .params = e->params,
        };
        if (!cc->name)
                return -ENOMEM;
        c->n_checks++;
        return 0;
}

/* No `checks` key: every kind whose defaults are complete. */
static int implicit_checks(ikeheal_config *c) {
        size_t n;
        const check_ops *const *all = check_registry_all(&n);
        entry e = entry_from_schedule(&c->check_defaults);

        c->checks_implicit = true;
        c->checks = calloc(n ? n : 1, sizeof(*c->checks));
        if (!c->checks)
                return -ENOMEM;
        for (size_t i = 0; i < n && c->n_checks < CONFIG_CHECKS_MAX; i++) {
                ydiag scratch;
                int r;

                ydiag_init(&scratch, "defaults");
                r = params_check(all[i], NULL, &scratch);
                ydiag_done(&scratch);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue; /* needs parameters (targets…): only when configured */
                r = add_check(c, &e, all[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_checks_bind(ikeheal_config *c, ydiag *d) {
        const ynode *list = c->checks_node;
        entry defaults = {};
        int r;

        c->check_defaults = (check_schedule){
                .interval_usec = 30 * USEC_PER_SEC,
                .timeout_usec = 10 * USEC_PER_SEC,
                .retries = 0,
                .rise = 2,
                .fall = 1,
        };
        defaults = entry_from_schedule(&c->check_defaults);
        r = ybind(c->check_defaults_node, schedule_fields, &defaults, d);
        if (r == -ENOMEM)
                return r;
        c->check_defaults = (check_schedule){
                .interval_usec = defaults.interval,
                .timeout_usec = defaults.timeout,
                .retries = defaults.retries,
                .rise = defaults.rise,
                .fall = defaults.fall,
        };

        if (!list)
                return implicit_checks(c);
        if (ynode_is_null(list))
                return 0; /* `checks: []` or `checks: ~`: none at all, deliberately */
        if (list->type != YNODE_SEQ) {
                ydiag_add(d, list, "checks: expected a list of checks");
                return -EINVAL;
        }
        if (list->n_items > CONFIG_CHECKS_MAX) {
                ydiag_add(d, list, "checks: at most %u checks", CONFIG_CHECKS_MAX);
                return -EINVAL;
        }
        c->checks = calloc(list->n_items ? list->n_items : 1, sizeof(*c->checks));
        if (!c->checks)
                return -ENOMEM;

        for (size_t i = 0; i < list->n_items; i++) {
                const ynode *item = list->items[i];
                entry e = entry_from_schedule(&c->check_defaults);
                const check_ops *ops = NULL;
                size_t before = d->n_msgs + d->n_dropped;

                r = ybind(item, entry_fields, &e, d);
                if (r == -ENOMEM) {
                        free(e.name);
                        free(e.kind);
                        return r;
                }
                if (d->n_msgs + d->n_dropped == before) {
                        if (!e.kind)
                                ydiag_add(d, item, "check needs a 'kind' (one of the registered kinds, "
                                                   "see ikeheal.yaml(5))");
                        else if (!(ops = check_registry_find(e.kind)))
                                ydiag_add(d, ynode_get(item, "kind"), "unknown check kind '%s'", YQ(e.kind));
                        /* the name names the check's snapshots */
                        if (e.name && !snapshot_name_valid(e.name))
                                ydiag_add(d, ynode_get(item, "name"),
                                          "check name '%s': use a-z, 0-9, '-' and '_'", YQ(e.name));
                }
                if (ops) {
                        const char *name = e.name ? e.name : ops->kind;
                        for (size_t j = 0; j < c->n_checks; j++)
                                if (strcmp(c->checks[j].name, name) == 0) {
                                        ydiag_add(d, ynode_get(item, "name") ?: item,
                                                  "two checks are named '%s' (give one a 'name')", YQ(name));
                                        ops = NULL;
                                        break;
                                }
                }
                if (ops) {
                        size_t mark = d->n_msgs + d->n_dropped;
                        params_paths_check(e.params, NULL, d);
                        r = params_check(ops, e.params, d);
                        if (r < 0 && r != -ENOMEM && d->n_msgs + d->n_dropped == mark)
                                ydiag_add(d, e.params ?: item, "check '%s': invalid params: %s",
                                          e.name ? YQ(e.name) : ops->kind, strerror(-r));
                        if (r == -ENOMEM || (r >= 0 && (r = add_check(c, &e, ops)) == -ENOMEM)) {
                                free(e.name);
                                free(e.kind);
                                return -ENOMEM;
                        }
                }
                free(e.name);
                free(e.kind);
        }
        return 0;
}

void config_checks_free(ikeheal_config *c) {
        for (size_t i = 0; i < c->n_checks; i++)
                free(c->checks[i].name);
        free(c->checks);
        c->checks = NULL;
        c->n_checks = 0;
}
