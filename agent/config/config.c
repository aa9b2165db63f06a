/* ikeheal.yaml → ikeheal_config. The field table below is the single source of the keys; each
 * key and its default is documented in etc/ikeheal.yaml and man/ikeheal.yaml.5 (a unit test
 * checks that the shipped file parses and names every key). Like ntpd and keepalived we refuse a
 * config file that others could have written: the agent acts as root on what it reads. */
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "agent/config/drill.h"
#include "agent/config/runbook.h"
#include "config.h"
#include "file_read.h"
#include "yaml_bind.h"
#include "yaml_lib.h"

#define OFF(f) offsetof(ikeheal_config, f)

static const yfield agent_fields[] = {
        { "log_level", YF_LOGLEVEL, OFF(log_level) },
        { "state_dir", YF_PATH, OFF(state_dir), .max = 256 },
        { "audit_key_file", YF_PATH, OFF(audit_key_file), .max = 256 },
        { "runbook_dirs", YF_STRV, OFF(runbook_dirs), .max = 16 },
        { "exec_dir", YF_PATH, OFF(exec_dir), .max = 256 },
        { "last_good_after", YF_DURATION, OFF(last_good_after_usec), .max = 24 * 3600 * USEC_PER_SEC },
        {}
};

static const yfield control_fields[] = {
        { "socket", YF_PATH, OFF(control_socket), .max = 107 /* sun_path */ },
        { "mode", YF_MODE, OFF(control_mode) },
        { "group", YF_STRING, OFF(control_group), .max = 64 },
        { "reader_groups", YF_STRV, OFF(reader_groups), .max = 32 },
        { "operator_groups", YF_STRV, OFF(operator_groups), .max = 32 },
        { "approver_groups", YF_STRV, OFF(approver_groups), .max = 32 },
        { "max_clients", YF_U32, OFF(control_max_clients), .min = 1, .max = 1024 },
        { "max_clients_per_uid", YF_U32, OFF(control_max_clients_per_uid), .min = 1, .max = 1024 },
        {}
};

static const yfield charon_fields[] = {
        { "vici_socket", YF_PATH, OFF(vici_socket), .max = 107 },
        { "timeout", YF_DURATION, OFF(vici_timeout_usec), .min = 100 * USEC_PER_MSEC,
          .max = 300 * USEC_PER_SEC },
        { "reconnect_min", YF_DURATION, OFF(vici_reconnect_min_usec), .min = 10 * USEC_PER_MSEC,
          .max = 60 * USEC_PER_SEC },
        { "reconnect_max", YF_DURATION, OFF(vici_reconnect_max_usec), .min = 10 * USEC_PER_MSEC,
          .max = 3600 * USEC_PER_SEC },
        { "unit", YF_STRING, OFF(charon_unit), .max = 255 },
        { "start_grace", YF_DURATION, OFF(charon_start_grace_usec), .max = 60 * USEC_PER_SEC },
        {}
};

static const yfield audit_fields[] = {
        { "rotate_size_kib", YF_U32, OFF(audit_rotate_kib), .max = 512 * 1024 /* AUDIT_FILE_MAX */ },
        { "keep", YF_U32, OFF(audit_keep), .min = 1, .max = 1000 /* AUDIT_KEEP_MAX */ },
        {}
};

static const yfield top_fields[] = {
        { "agent", YF_SECTION, 0, agent_fields },
        { "control", YF_SECTION, 0, control_fields },
        { "charon", YF_SECTION, 0, charon_fields },
        { "audit", YF_SECTION, 0, audit_fields },
        { "check_defaults", YF_NODE, OFF(check_defaults_node) },
        { "checks", YF_NODE, OFF(checks_node) },
        { "policy", YF_NODE, OFF(policy_node) },
        { "notify", YF_NODE, OFF(notify_node) },
        { "drills", YF_NODE, OFF(drills_node) },
        { "guard", YF_NODE, OFF(guard_node) },
        { "http", YF_NODE, OFF(http_node) },
        { "fleet", YF_NODE, OFF(fleet_node) },
        {}
};

static int config_set_defaults(ikeheal_config *c) {
        *c = (ikeheal_config){
                .log_level = LOG_INFO,
                .control_mode = 0660,
                .control_max_clients = 16,
                .control_max_clients_per_uid = 4,
                .vici_timeout_usec = 10 * USEC_PER_SEC,
                .vici_reconnect_min_usec = 100 * USEC_PER_MSEC,
                .vici_reconnect_max_usec = 5 * USEC_PER_SEC,
                .charon_start_grace_usec = 2 * USEC_PER_SEC,
                .last_good_after_usec = 30 * USEC_PER_SEC,
                .audit_rotate_kib = 64 * 1024,
                .audit_keep = 10,
        };
        c->state_dir = strdup("/var/lib/ikeheal");
        c->control_socket = strdup("/run/ikeheal/ikeheal.sock");
        c->vici_socket = strdup("/run/charon.vici");
        c->charon_unit = strdup("strongswan.service");
        c->exec_dir = strdup("/etc/ikeheal/scripts");
        c->runbook_dirs = calloc(2, sizeof(char *));
        if (c->runbook_dirs)
                c->runbook_dirs[0] = strdup("/etc/ikeheal/runbooks.d");
        policy_config_init(&c->policy);
        notify_config_init(&c->notify);
        http_config_init(&c->http);
        fleet_config_init(&c->fleet);
        if (!c->state_dir || !c->control_socket || !c->vici_socket || !c->charon_unit || !c->exec_dir ||
            !c->runbook_dirs || !c->runbook_dirs[0])
                return -ENOMEM;
        return 0;
}

ikeheal_config *config_free(ikeheal_config *c) {
        if (!c)
                return NULL;
        ybind_free(top_fields, c);
        config_checks_free(c);
        runbook_set_free(c->runbooks);
        drill_set_free(c->drill_set);
        drill_config_done(&c->drills);
        policy_config_done(&c->policy);
        notify_config_done(&c->notify);
        http_config_done(&c->http);
        fleet_config_done(&c->fleet);
        ynode_free(c->tree);
        free(c->warnings);
        free(c->path);
        free(c);
        return NULL;
}

/* A group that does not exist authorises nobody: the operator who was meant to be in it would
 * find out only when refused. */
static void groups_check(char *const *names, const char *key, const ynode *list, ydiag *d) {
        for (size_t i = 0; names && names[i]; i++)
                if (!getgrnam(names[i]))
                        ydiag_add(d, list && list->type == YNODE_SEQ && i < list->n_items ? list->items[i] : list,
                                  "control.%s: no such group '%s'", key, YQ(names[i]));
}

/* Cross-field checks that the table cannot express. */
static void config_validate(const ikeheal_config *c, const ynode *root, ydiag *d) {
        const ynode *ch = ynode_get(root, "charon");
        const ynode *ctl = ynode_get(root, "control");

        if (c->vici_reconnect_min_usec > c->vici_reconnect_max_usec)
                ydiag_add(d, ynode_get(ch, "reconnect_min") ?: ch ?: root,
                          "charon.reconnect_min is larger than charon.reconnect_max");
        if (c->control_group && !getgrnam(c->control_group))
                ydiag_add(d, ynode_get(ctl, "group"), "control.group: no such group '%s'",
                          YQ(c->control_group));
        groups_check(c->reader_groups, "reader_groups", ynode_get(ctl, "reader_groups"), d);
        groups_check(c->operator_groups, "operator_groups", ynode_get(ctl, "operator_groups"), d);
        groups_check(c->approver_groups, "approver_groups", ynode_get(ctl, "approver_groups"), d);
        if (c->control_mode & 0007)
                ydiag_add(d, ynode_get(ctl, "mode"),
                          "control.mode %04o gives others access to the control socket",
                          (unsigned) c->control_mode);
}

/* The runbook set, checked against this config: its policy (measure lifetimes), its webhooks,
 * its checks (verify targets) and the scripts directory. Part of the config, so a reload with
 * one bad runbook is refused whole, like a bad key. */
static int config_runbooks_load(ikeheal_config *c, char **ret_error) {
        _cleanup_(strv_freep) char **names = calloc(c->n_checks + 1, sizeof(char *));
        action_env env = { .exec_dir = c->exec_dir, .state_dir = c->state_dir };
        runbook_ctx ctx = { .policy = &c->policy, .notify = &c->notify, .env = &env };

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_checks; i++)
                names[i] = c->checks[i].name; /* borrowed; only the array is freed */
        ctx.checks = names;
        int r = runbook_set_load(c->runbook_dirs, &ctx, &c->runbooks, ret_error);
        for (size_t i = 0; i < c->n_checks; i++)
                names[i] = NULL;
        return r;
}

/* The drill set, checked against this config's checks and runbooks (only when drills are
 * enabled: shipped drills name checks a gateway may not have configured), and every scheduled
 * drill resolved. */
static int config_drills_load(ikeheal_config *c, char **ret_error) {
        size_t n_rb = runbook_set_size(c->runbooks);
        _cleanup_(freep) char **checks = calloc(c->n_checks + 1, sizeof(char *));
        _cleanup_(freep) char **rbs = calloc(n_rb + 1, sizeof(char *));
        action_env env = { .exec_dir = c->exec_dir, .state_dir = c->state_dir, .charon_unit = c->charon_unit };
        drill_ctx ctx = { .env = &env };
        int r;

        if (!checks || !rbs)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_checks; i++)
                checks[i] = c->checks[i].name; /* borrowed */
        for (size_t i = 0; i < n_rb; i++)
                rbs[i] = runbook_set_get(c->runbooks, i)->name;
        ctx.checks = checks;
        ctx.runbooks = rbs;
        r = drill_set_load(c->drills.dirs, &ctx, &c->drill_set, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->drills.n_schedule; i++) {
                const drill_schedule *s = &c->drills.schedule[i];
                if (!drill_set_find(c->drill_set, s->drill)) {
                        if (ret_error && asprintf(ret_error, "%s:%u:%u: drills.schedule: no drill '%s' in drills.dirs",
                                                  c->path, s->line, s->col, YQ(s->drill)) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
        }
        return 0;
}

/* The runbooks' own warnings (a deprecated key) join the configuration's: printed and counted
 * by --check-config, logged at start and by a reload. */
static int config_runbook_warnings(ikeheal_config *c) {
        for (size_t i = 0; i < runbook_set_size(c->runbooks); i++) {
                const runbook *rb = runbook_set_get(c->runbooks, i);
                char *all;
                if (!rb->warnings)
                        continue;
                if (asprintf(&all, "%s%s%s", c->warnings ?: "", c->warnings ? "\n" : "", rb->warnings) < 0)
                        return -ENOMEM;
                free(c->warnings);
                c->warnings = all;
                c->n_warnings += rb->n_warnings;
        }
        return 0;
}

/* Shared by config_load() (st: the file's, from the descriptor it was read through) and
 * config_parse_buffer() (st NULL: nothing on disk is looked at). */
static int config_build(const char *name, const struct stat *st, const void *buf, size_t len,
                        ikeheal_config **ret, char **ret_error) {
        _cleanup_(config_freep) ikeheal_config *c = NULL;
        _cleanup_(ynode_freep) ynode *root = NULL;
        char why[128];
        ydiag d, w;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = config_set_defaults(c);
        if (r < 0)
                return r;
        c->path = strdup(name);
        if (!c->path)
                return -ENOMEM;

        ydiag_init(&d, name);
        ydiag_init(&w, name);
        if (st && file_read_check_owner(st, why, sizeof(why)) < 0) {
                ydiag_add_at(&d, 1, 1, "file %s, refusing: the agent acts as root on what it says", why);
                r = -EPERM;
        } else {
                r = ytree_parse_buffer(buf, len, &d, &root);
                if (r >= 0) {
                        r = ybind(root, top_fields, c, &d);
                        if (r != -ENOMEM)
                                config_validate(c, root, &d);
                        /* the check sections point into the tree: keep it with the config */
                        c->tree = TAKE_PTR(root);
                        if (r != -ENOMEM) {
                                int k = config_checks_bind(c, &d);
                                if (k == -ENOMEM)
                                        r = k;
                        }
                        if (r != -ENOMEM) {
                                int k = policy_config_bind(c->tree ? ynode_get(c->tree, "policy") : NULL, &c->policy, &d);
                                int l = notify_config_bind(c->tree ? ynode_get(c->tree, "notify") : NULL, &c->notify, &d);
                                int m = drill_config_bind(c->tree ? ynode_get(c->tree, "drills") : NULL, &c->drills, &d);
                                int g = guard_config_bind(c->tree ? ynode_get(c->tree, "guard") : NULL, &c->guard, &d);
                                if (k == -ENOMEM || l == -ENOMEM || m == -ENOMEM || g == -ENOMEM)
                                        r = -ENOMEM;
                        }
                        if (r != -ENOMEM &&
                            http_config_bind(c->tree ? ynode_get(c->tree, "http") : NULL, &c->http, &d) == -ENOMEM)
                                r = -ENOMEM;
                        if (r != -ENOMEM &&
                            fleet_config_bind(c->tree ? ynode_get(c->tree, "fleet") : NULL, &c->fleet, &d) == -ENOMEM)
                                r = -ENOMEM;
                        if (r != -ENOMEM && st)
                                config_files_check(c, c->tree, &d, &w);
                        if (r != -ENOMEM && st)
                                (void) http_config_read_tokens(&c->http, &d);
                }
        }
        if (r == -ENOMEM || d.n_msgs > 0) {
                if (r != -ENOMEM && ret_error)
                        *ret_error = ydiag_join(&d);
                ydiag_done(&d);
                ydiag_done(&w);
                return r < 0 ? r : -EINVAL;
        }
        ydiag_done(&d);
        if (st) {
                r = config_runbooks_load(c, ret_error);
                if (r >= 0 && c->drills.enabled)
                        r = config_drills_load(c, ret_error);
                if (r < 0) {
                        ydiag_done(&w);
                        return r;
                }
                if (runbook_set_size(c->runbooks) == 0) {
                        const ynode *dirs = ynode_get(ynode_get(c->tree, "agent"), "runbook_dirs");
                        ydiag_add(&w, dirs ?: ynode_get(c->tree, "agent") ?: c->tree,
                                  "warning: no runbook in agent.runbook_dirs: the agent will watch and report, "
                                  "but never act");
                }
                /* a name that matches no runbook lets nothing through: likely a typo */
                const ynode *op = ynode_get(ynode_get(c->tree, "fleet"), "on_partition");
                for (size_t i = 0; c->fleet.on_partition && c->fleet.on_partition[i]; i++)
                        if (!runbook_set_find(c->runbooks, c->fleet.on_partition[i]))
                                ydiag_add(&w, op && op->type == YNODE_SEQ && i < op->n_items ? op->items[i] : op,
                                          "warning: fleet.on_partition: no runbook named '%s'", YQ(c->fleet.on_partition[i]));
        }
        c->n_warnings = (unsigned) (w.n_msgs + w.n_dropped);
        c->warnings = ydiag_join(&w);
        ydiag_done(&w);
        if (c->n_warnings > 0 && !c->warnings)
                return -ENOMEM;
        r = config_runbook_warnings(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, ikeheal_config **ret, char **ret_error) {
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        /* never a symlink (a configuration linked to a root-only file must not be read on root's
         * behalf), never a wait on a FIFO */
        r = file_read_all(path, YTREE_FILE_MAX, 0, &buf, &len, &st);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s:1:1: cannot open: %s", path,
                                          r == -EFBIG ? "file is larger than 1 MiB" : file_read_strerror(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        /* one load of libyaml for the file and every runbook and drill file it names (a failure
         * to load it is reported by the first parse) */
        const yaml_lib *y = NULL;
        bool held = yaml_lib_get(&y) >= 0;
        r = config_build(path, &st, buf, len, ret, ret_error);
        if (held)
                yaml_lib_put();
        return r;
}

int config_parse_buffer(const char *name, const void *buf, size_t len, ikeheal_config **ret,
                        char **ret_error) {
        return config_build(name, NULL, buf, len, ret, ret_error);
}

bool config_groups_match(char *const *names, gid_t gid, const gid_t *groups, size_t n_groups) {
        for (size_t i = 0; names && names[i]; i++) {
                struct group *g = getgrnam(names[i]);
                if (!g)
                        continue;
                if (g->gr_gid == gid)
                        return true;
                for (size_t j = 0; j < n_groups; j++)
                        if (groups[j] == g->gr_gid)
                                return true;
        }
        return false;
}

check_charon config_check_charon(const ikeheal_config *c) {
        return (check_charon){
                .unit = c->charon_unit,
                .vici_socket = c->vici_socket,
                .start_grace_usec = c->charon_start_grace_usec,
                .reconnect_min_usec = c->vici_reconnect_min_usec,
        };
}
