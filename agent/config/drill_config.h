/* The `drills:` section of ikeheal.yaml: drills are refused unless enabled here.
 *
 *   drills:
 *     enabled: false               # no drill runs (by hand or scheduled) unless true
 *     dirs: [/etc/ikeheal/drills.d]
 *     auto_approve: false          # drills marked auto_approve may approve their own runbook's
 *                                  # approve-grade steps (both must say so)
 *     history: 200                 # finished drills kept for reports
 *     schedule:                    # drills run by the agent itself, in windows
 *       - drill: firewall-drop-4500
 *         every: 7d                # at most once per this, inside the window
 *         window: {days: [sun], from: "02:00", to: "04:00", timezone: local}
 *
 * A scheduled drill starts only inside its window, when no drill is running, no incident is
 * active, its steady state holds and its last run is older than `every`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "yaml_tree.h"

#define DRILL_SCHEDULE_MAX 32u
#define DRILL_HISTORY_DEFAULT 200u

typedef struct drill_schedule {
        char *drill;
        uint64_t every_usec;
        policy_hours window;
        unsigned line, col;
} drill_schedule;

typedef struct drill_config {
        bool enabled;
        char **dirs;             /* NULL-terminated */
        bool auto_approve;
        uint32_t history;
        drill_schedule *schedule;
        size_t n_schedule;
        const ynode *schedule_node; /* while binding only */
} drill_config;

/* A drill schedule as text (the fleet's <prefix>drills/schedule key): a YAML (or JSON) sequence
 * of entries exactly as drills.schedule's, at most DRILL_SCHEDULE_TEXT_MAX bytes. All or
 * nothing: on any error (in d, at line:col of the text) nothing is returned. -EINVAL,
 * -EMSGSIZE, -ENOMEM. */
#define DRILL_SCHEDULE_TEXT_MAX 8192u
int drill_schedule_parse(const char *text, size_t len, drill_schedule **ret, size_t *ret_n, ydiag *d);
void drill_schedule_free(drill_schedule *s, size_t n);

/* Bind a `drills:` mapping (NULL: the defaults) strictly; errors in d. */
int drill_config_bind(const ynode *node, drill_config *c, ydiag *d);
void drill_config_done(drill_config *c);
