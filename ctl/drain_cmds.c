/* ikehealctl's `drain --for DURATION --reason TEXT` and `undrain`: request builders. */
#include <errno.h>
#include <stdio.h>

#include "commands.h"
#include "duration.h"

const char *ctl_opt_for;

int build_drain(int argc, char **argv, vici_builder *b) {
        uint64_t usec;

        if (argc > 0 || !ctl_opt_for || !ctl_opt_reason || !ctl_opt_reason[0]) {
                fprintf(stderr, "ikehealctl: drain --for DURATION --reason TEXT\n");
                return -EINVAL;
        }
        if (duration_parse(ctl_opt_for, &usec) < 0 || usec == 0) {
                fprintf(stderr, "ikehealctl: drain: --for '%s' is not a duration (e.g. 30m, 2h)\n", ctl_opt_for);
                return -EINVAL;
        }
        vici_builder_add_str(b, "for", ctl_opt_for);
        vici_builder_add_str(b, "reason", ctl_opt_reason);
        return 0;
}

int build_undrain(int argc, char **argv, vici_builder *b) {
        if (argc > 0) {
                fprintf(stderr, "ikehealctl: undrain takes no arguments\n");
                return -EINVAL;
        }
        return 0;
}
