/* ikehealctl's `fleet pause --reason TEXT | resume | freeze --for DURATION --reason TEXT |
 * drill-schedule set FILE|- | drill-schedule clear` (the write verb) and `fleet status`,
 * `fleet drills` (the read one): request builders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/drill_config.h"
#include "commands.h"
#include "duration.h"
#include "file_read.h"

#define FLEET_USAGE "ikehealctl: fleet status | drills | pause --reason TEXT | resume | freeze --for DURATION --reason TEXT | " \
                    "drill-schedule set FILE|- | drill-schedule clear\n"

/* The schedule's text: a file, or standard input for "-" (at most DRILL_SCHEDULE_TEXT_MAX bytes). */
static int schedule_read(const char *path, char **ret) {
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        int r;

        if (strcmp(path, "-") != 0) {
                r = file_read_all(path, DRILL_SCHEDULE_TEXT_MAX, FILE_READ_FOLLOW, &text, &len, NULL);
                if (r < 0) {
                        fprintf(stderr, "ikehealctl: fleet drill-schedule set: %s: %s\n", path, file_read_strerror(r));
                        return r;
                }
        } else {
                if (!(text = malloc(DRILL_SCHEDULE_TEXT_MAX + 2)))
                        return -ENOMEM;
                for (ssize_t k; len <= DRILL_SCHEDULE_TEXT_MAX && (k = read(STDIN_FILENO, text + len, DRILL_SCHEDULE_TEXT_MAX + 1 - len)) != 0;) {
                        if (k < 0) {
                                fprintf(stderr, "ikehealctl: fleet drill-schedule set: standard input: %m\n");
                                return -errno;
                        }
                        len += (size_t) k;
                }
                if (len > DRILL_SCHEDULE_TEXT_MAX) {
                        fprintf(stderr, "ikehealctl: fleet drill-schedule set: more than %u bytes\n", DRILL_SCHEDULE_TEXT_MAX);
                        return -EFBIG;
                }
                text[len] = 0;
        }
        if (strlen(text) != len) {
                fprintf(stderr, "ikehealctl: fleet drill-schedule set: the schedule holds a NUL byte\n");
                return -EINVAL;
        }
        *ret = TAKE_PTR(text);
        return 0;
}

int build_fleet(int argc, char **argv, vici_builder *b) {
        uint64_t usec;
        const char *op = argc >= 1 ? argv[0] : NULL;

        if (op && strcmp(op, "drill-schedule") == 0) {
                _cleanup_(freep) char *text = NULL;
                if (argc == 2 && strcmp(argv[1], "clear") == 0) {
                        vici_builder_add_str(b, "op", "drill-schedule-clear");
                        return 0;
                }
                if (argc != 3 || strcmp(argv[1], "set") != 0) {
                        fprintf(stderr, FLEET_USAGE);
                        return -EINVAL;
                }
                int r = schedule_read(argv[2], &text);
                if (r < 0)
                        return r;
                vici_builder_add_str(b, "op", "drill-schedule-set");
                vici_builder_add_str(b, "schedule", text);
                return 0;
        }
        if (argc != 1 || (strcmp(op, "pause") && strcmp(op, "resume") && strcmp(op, "freeze"))) {
                fprintf(stderr, FLEET_USAGE);
                return -EINVAL;
        }
        if (strcmp(op, "resume") != 0 && (!ctl_opt_reason || !ctl_opt_reason[0])) {
                fprintf(stderr, "ikehealctl: fleet %s: a reason is required (--reason TEXT)\n", op);
                return -EINVAL;
        }
        if (strcmp(op, "freeze") == 0) {
                if (!ctl_opt_for || duration_parse(ctl_opt_for, &usec) < 0 || usec == 0) {
                        fprintf(stderr, "ikehealctl: fleet freeze: --for DURATION is required (e.g. 2h)\n");
                        return -EINVAL;
                }
                vici_builder_add_str(b, "for", ctl_opt_for);
        }
        vici_builder_add_str(b, "op", op);
        if (ctl_opt_reason)
                vici_builder_add_str(b, "reason", ctl_opt_reason);
        return 0;
}

int build_fleet_drills(int argc, char **argv, vici_builder *b) {
        if (argc > 0) {
                fprintf(stderr, "ikehealctl: fleet drills takes no arguments\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "show", "drills");
        return 0;
}

int build_fleet_status(int argc, char **argv, vici_builder *b) {
        if (argc > 0) {
                fprintf(stderr, "ikehealctl: fleet status takes no arguments\n");
                return -EINVAL;
        }
        return 0;
}
