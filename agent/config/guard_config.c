/* The `guard:` section (agent/config/guard_config.h). */
#include <errno.h>
#include <stddef.h>

#include "agent/config/guard_config.h"
#include "yaml_bind.h"

#define OFF(f) offsetof(guard_config, f)
#define DAY_USEC (24 * 3600 * USEC_PER_SEC)

typedef struct guard_fields {
        guard_config c;
        const ynode *window;
} guard_fields;

static const yfield fields[] = {
        { "window", YF_NODE, offsetof(guard_fields, window) }, /* bound below */
        { "confirm_within", YF_DURATION, OFF(confirm_within_usec), .min = USEC_PER_SEC, .max = DAY_USEC },
        { "verify_for", YF_DURATION, OFF(verify_for_usec), .min = USEC_PER_SEC, .max = DAY_USEC },
        { "stale_after", YF_DURATION, OFF(stale_after_usec), .min = USEC_PER_SEC, .max = 30 * DAY_USEC },
        {}
};

int guard_config_bind(const ynode *node, guard_config *c, ydiag *d) {
        guard_fields n = { .c = { .confirm_within_usec = GUARD_CONFIG_CONFIRM_USEC, .verify_for_usec = GUARD_CONFIG_VERIFY_USEC,
                                .stale_after_usec = GUARD_CONFIG_STALE_USEC } };
        int r = 0;

        if (node && !ynode_is_null(node)) {
                r = ybind(node, fields, &n, d);
                if (r == -ENOMEM)
                        return r;
                if (n.window && !ynode_is_null(n.window) && policy_hours_bind(n.window, d, &n.c.window, false) < 0)
                        r = -EINVAL;
        }
        if (r >= 0)
                *c = n.c;
        return r;
}
