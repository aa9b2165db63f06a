/* `ikehealctl lint`: runbook and drill files parsed locally with the parsers the agent uses,
 * every error reported as file:line:col. A file whose top-level mapping has a `fault:` key is a
 * drill (no runbook has one), anything else a runbook — so a file that is not YAML at all is
 * reported by the runbook parser, as before drills existed. With --config, runbooks are checked
 * against that configuration's policy, webhooks, checks and scripts directory, and drills
 * against its checks and the runbooks it loads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/drill.h"
#include "agent/config/runbook.h"
#include "ctl/commands.h"
#include "duration.h"

static bool is_drill(const char *path) {
        _cleanup_(ynode_freep) ynode *root = NULL;
        ydiag d;
        bool yes;

        ydiag_init(&d, path);
        yes = ytree_parse_file(path, &d, &root) == 0 && root && ynode_get(root, "fault");
        ydiag_done(&d);
        return yes;
}

static int lint_runbooks(char **files, const ikeheal_config *c, char *const *checks) {
        _cleanup_(runbook_set_freep) runbook_set *set = NULL;
        _cleanup_(freep) char *err = NULL;
        action_env env = { 0 };
        runbook_ctx ctx = { 0 };
        int r;

        if (c) {
                env.exec_dir = c->exec_dir;
                ctx = (runbook_ctx){ .policy = &c->policy, .notify = &c->notify, .checks = checks, .env = &env };
        }
        r = runbook_set_load_files(files, &ctx, &set, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err ? err : strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < runbook_set_size(set); i++) {
                const runbook *rb = runbook_set_get(set, i);
                if (rb->warnings)
                        fprintf(stderr, "%s\n", rb->warnings);
                printf("%s: runbook %s, grade %s, %zu step%s: OK", rb->file, rb->name, grade_to_string(rb->grade),
                       rb->n_steps, rb->n_steps == 1 ? "" : "s");
                if (rb->n_warnings)
                        printf(", %u warning%s", rb->n_warnings, rb->n_warnings == 1 ? "" : "s");
                putchar('\n');
        }
        return 0;
}

static int lint_drills(char **files, const ikeheal_config *c, char *const *checks) {
        _cleanup_(drill_set_freep) drill_set *set = NULL;
        _cleanup_(freep) const char **runbooks = NULL;
        _cleanup_(freep) char *err = NULL;
        action_env env = { 0 };
        drill_ctx ctx = { 0 };
        char a[32];
        int r;

        if (c) {
                size_t n = runbook_set_size(c->runbooks);
                runbooks = calloc(n + 1, sizeof(char *));
                if (!runbooks)
                        return 1;
                for (size_t i = 0; i < n; i++)
                        runbooks[i] = runbook_set_get(c->runbooks, i)->name;
                env = (action_env){ .exec_dir = c->exec_dir, .state_dir = c->state_dir,
                                    .vici_socket = c->vici_socket, .charon_unit = c->charon_unit };
                ctx = (drill_ctx){ .checks = checks, .runbooks = (char *const *) runbooks, .env = &env };
        }
        r = drill_set_load_files(files, &ctx, &set, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err ? err : strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < drill_set_size(set); i++) {
                const drill *dr = drill_set_get(set, i);
                printf("%s: drill %s, fault %s for %s, expects %s: OK\n", dr->file, dr->name, dr->fault.ops->kind,
                       duration_format(dr->fault_expires_usec, a, sizeof(a)), dr->expect_class);
        }
        return 0;
}

int ctl_lint(int argc, char **argv) {
        _cleanup_(config_freep) ikeheal_config *c = NULL;
        _cleanup_(freep) char **runbook_files = NULL, **drill_files = NULL, **checks = NULL;
        _cleanup_(freep) char *err = NULL;
        size_t n_runbooks = 0, n_drills = 0;
        int r, status = 0;

        if (argc < 1) {
                fprintf(stderr, "ikehealctl: lint: name at least one runbook or drill file\n");
                return 2;
        }
        if (ctl_opt_config) {
                r = config_load(ctl_opt_config, &c, &err);
                if (r < 0) {
                        fprintf(stderr, "%s\n", err ? err : strerror(-r));
                        return 1;
                }
                checks = calloc(c->n_checks + 1, sizeof(char *));
                if (!checks)
                        return 1;
                for (size_t i = 0; i < c->n_checks; i++)
                        checks[i] = c->checks[i].name;
        }
        runbook_files = calloc((size_t) argc + 1, sizeof(char *));
        drill_files = calloc((size_t) argc + 1, sizeof(char *));
        if (!runbook_files || !drill_files)
                return 1;
        for (int i = 0; i < argc; i++) {
                if (is_drill(argv[i]))
                        drill_files[n_drills++] = argv[i];
                else
                        runbook_files[n_runbooks++] = argv[i];
        }
        if (n_runbooks > 0 && lint_runbooks(runbook_files, c, checks) != 0)
                status = 1;
        if (n_drills > 0 && lint_drills(drill_files, c, checks) != 0)
                status = 1;
        return status;
}
