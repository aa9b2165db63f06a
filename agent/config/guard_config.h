/* The `guard:` section: when guarded changes may be made and their default times.
 *
 *   guard:
 *     window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00", timezone: local}
 *     confirm_within: 5m     # default of guard begin --confirm-within (1s..24h)
 *     verify_for: 30s        # default of --verify-for (1s..24h)
 *     stale_after: 1h        # a guard whose time ran out longer ago than this while the
 *                            # agent was down is not rolled back at its start (1m..30d)
 *
 * Without a window a guarded change may begin at any time; with one, a change outside it needs
 * --force (and is audited as forced). */
#pragma once

#include <stdint.h>

#include "macro.h"

#include "policy/policy.h"
#include "yaml_tree.h"

#define GUARD_CONFIG_CONFIRM_USEC (5 * 60 * USEC_PER_SEC)
#define GUARD_CONFIG_VERIFY_USEC (30 * USEC_PER_SEC)
#define GUARD_CONFIG_STALE_USEC (3600 * USEC_PER_SEC)

typedef struct guard_config {
        policy_hours window;          /* .set false: any time */
        uint64_t confirm_within_usec; /* GUARD_CONFIG_CONFIRM_USEC */
        uint64_t verify_for_usec;     /* GUARD_CONFIG_VERIFY_USEC */
        uint64_t stale_after_usec;    /* GUARD_CONFIG_STALE_USEC */
} guard_config;

/* Bind the `guard:` mapping (NULL: none) strictly; errors with positions in d. */
int guard_config_bind(const ynode *node, guard_config *c, ydiag *d);
