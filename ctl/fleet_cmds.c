/* ikehealctl's `fleet pause --reason TEXT | resume | freeze --for DURATION --reason TEXT` (the
 * write verb) and `fleet status` (the read one): request builders. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "duration.h"

int build_fleet(int argc, char **argv, vici_builder *b) {
        uint64_t usec;
        const char *op = argc == 1 ? argv[0] : NULL;

        if (!op || (strcmp(op, "pause") && strcmp(op, "resume") && strcmp(op, "freeze"))) {
                fprintf(stderr, "ikehealctl: fleet status | pause --reason TEXT | resume | freeze --for DURATION --reason TEXT\n");
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

int build_fleet_status(int argc, char **argv, vici_builder *b) {
        if (argc > 0) {
                fprintf(stderr, "ikehealctl: fleet status takes no arguments\n");
                return -EINVAL;
        }
        return 0;
}
