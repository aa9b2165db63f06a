/* ikehealctl's runbook commands: the request each sends, checked here first so a typo is a
 * usage error rather than a round trip. (`lint`, local, is ctl/lint.c.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "duration.h"

const char *ctl_opt_reason;
const char *ctl_opt_config;
bool ctl_opt_dry_run;
bool ctl_opt_wait;

static bool is_number(const char *s) {
        return s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s) && strlen(s) < 20;
}

static int need_number(const char *cmd, int argc, char **argv, int want, const char *what) {
        if (argc != want || !is_number(argv[0])) {
                fprintf(stderr, "ikehealctl: %s: expected %s\n", cmd, what);
                return -EINVAL;
        }
        return 0;
}

int build_plan(int argc, char **argv, vici_builder *b) {
        if (argc != 1 || !argv[0][0]) {
                fprintf(stderr, "ikehealctl: plan: expected an incident number or a runbook name\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "target", argv[0]);
        return 0;
}

int build_runs(int argc, char **argv, vici_builder *b) {
        if (argc > 1 || (argc == 1 && !is_number(argv[0]))) {
                fprintf(stderr, "ikehealctl: runs takes at most a run number\n");
                return -EINVAL;
        }
        if (argc == 1)
                vici_builder_add_str(b, "id", argv[0]);
        return 0;
}

int build_approve(int argc, char **argv, vici_builder *b) {
        if (need_number("approve", argc, argv, 2, "a run number and the plan hash shown by 'pending'") < 0)
                return -EINVAL;
        if (strlen(argv[1]) < 12 || strlen(argv[1]) > 64 || strspn(argv[1], "0123456789abcdef") != strlen(argv[1])) {
                fprintf(stderr, "ikehealctl: approve: the plan hash is hexadecimal, at least 12 digits (see 'pending')\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "id", argv[0]);
        vici_builder_add_str(b, "plan_hash", argv[1]);
        return 0;
}

int build_deny(int argc, char **argv, vici_builder *b) {
        if (need_number("deny", argc, argv, 1, "a run number (and --reason TEXT)") < 0)
                return -EINVAL;
        if (!ctl_opt_reason || !ctl_opt_reason[0]) {
                fprintf(stderr, "ikehealctl: deny: a reason is required (--reason TEXT)\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "id", argv[0]);
        vici_builder_add_str(b, "reason", ctl_opt_reason);
        return 0;
}

int build_run(int argc, char **argv, vici_builder *b) {
        if (argc < 1 || argc > 2 || (argc == 2 && !is_number(argv[1]))) {
                fprintf(stderr, "ikehealctl: run: expected a runbook name and optionally an incident number\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "runbook", argv[0]);
        if (argc == 2)
                vici_builder_add_str(b, "incident", argv[1]);
        return 0;
}

int build_measures(int argc, char **argv, vici_builder *b) {
        if (argc > 1 || (argc == 1 && strcmp(argv[0], "all") != 0)) {
                fprintf(stderr, "ikehealctl: measures takes at most 'all'\n");
                return -EINVAL;
        }
        if (argc == 1)
                vici_builder_add_str(b, "all", "yes");
        return 0;
}

int build_extend(int argc, char **argv, vici_builder *b) {
        uint64_t d;
        if (need_number("extend", argc, argv, 2, "a measure number and a duration (30m, 2h)") < 0)
                return -EINVAL;
        if (duration_parse(argv[1], &d) < 0 || d == 0) {
                fprintf(stderr, "ikehealctl: extend: '%s' is not a duration (30m, 2h)\n", argv[1]);
                return -EINVAL;
        }
        vici_builder_add_str(b, "id", argv[0]);
        vici_builder_add_str(b, "duration", argv[1]);
        return 0;
}

int build_revert(int argc, char **argv, vici_builder *b) {
        if (need_number("revert", argc, argv, 1, "a measure number") < 0)
                return -EINVAL;
        vici_builder_add_str(b, "id", argv[0]);
        return 0;
}

int build_psk(int argc, char **argv, vici_builder *b) {
        if (argc != 2 || strcmp(argv[0], "show") != 0 || !is_number(argv[1])) {
                fprintf(stderr, "ikehealctl: psk show MEASURE\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "id", argv[1]);
        return 0;
}

int build_pause(int argc, char **argv, vici_builder *b) {
        if (argc > 0) {
                fprintf(stderr, "ikehealctl: pause, resume and accept take no arguments (pause and accept need "
                                "--reason TEXT)\n");
                return -EINVAL;
        }
        if (ctl_opt_reason)
                vici_builder_add_str(b, "reason", ctl_opt_reason);
        return 0;
}

int build_drill(int argc, char **argv, vici_builder *b) {
        if (argc == 2 && strcmp(argv[0], "run") == 0) {
                vici_builder_add_str(b, "op", "run");
                vici_builder_add_str(b, "name", argv[1]);
                if (ctl_opt_dry_run)
                        vici_builder_add_str(b, "dry_run", "yes");
                return 0;
        }
        if (argc == 1 && strcmp(argv[0], "abort") == 0) {
                if (!ctl_opt_reason || !ctl_opt_reason[0]) {
                        fprintf(stderr, "ikehealctl: drill abort needs --reason TEXT\n");
                        return -EINVAL;
                }
                vici_builder_add_str(b, "op", "abort");
                vici_builder_add_str(b, "reason", ctl_opt_reason);
                return 0;
        }
        fprintf(stderr, "ikehealctl: drill: expected 'run NAME [--dry-run]', 'abort --reason TEXT', 'list', 'status' "
                        "or 'report [ID]'\n");
        return -EINVAL;
}

int build_drills(int argc, char **argv, vici_builder *b) {
        if (argc >= 1 && (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "status") == 0) && argc == 1) {
                vici_builder_add_str(b, "op", argv[0]);
                return 0;
        }
        if (argc >= 1 && strcmp(argv[0], "report") == 0 && (argc == 1 || (argc == 2 && is_number(argv[1])))) {
                vici_builder_add_str(b, "op", "report");
                if (argc == 2)
                        vici_builder_add_str(b, "id", argv[1]);
                return 0;
        }
        if (argc == 0) {
                vici_builder_add_str(b, "op", "list");
                return 0;
        }
        fprintf(stderr, "ikehealctl: drill: expected list, status or report [ID]\n");
        return -EINVAL;
}
