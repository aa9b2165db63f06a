/* Policy: what may run unattended, and when. Pure functions over a parsed `policy:` section of
 * ikeheal.yaml and the current time; no I/O, no logging (the engine logs and audits the
 * decisions, with the `why` text these functions fill in).
 *
 *   policy:
 *     freeze:                      # change freezes: nothing runs unattended inside
 *       - start: 2026-12-20T00:00:00Z
 *         end: 2027-01-03T00:00:00Z
 *         grade: approve           # what auto becomes inside (approve or manual; default approve)
 *         reason: year-end freeze
 *     hours:                       # staffed hours; outside them auto becomes `outside`
 *       days: [mon, tue, wed, thu, fri]
 *       from: "08:00"
 *       to: "18:00"
 *       timezone: local            # local (the agent's TZ) or utc
 *       outside: approve
 *     budget: {runs: 3, window: 1h}        # automatic runs per failure signature and window
 *     breaker_reset: 30m           # sustained health that closes a tripped breaker
 *     flap: {opens: 4, window: 10m}        # more openings than this in the window: flapping
 *     blast_radius: {max_sas: 10}  # a disruptive step dropping more SAs needs approval
 *     approval: {expires_in: 1h}   # default approval lifetime (expiry means deny)
 *     measure_max:                 # longest life of a temporary measure, per action kind
 *       default: 24h
 *       psk: 24h
 *
 * Every key is optional; the defaults are the values shown (no freeze, no hours). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/grade.h"
#include "yaml_tree.h"

#define POLICY_FREEZES_MAX 32u
#define POLICY_MEASURE_KINDS_MAX 32u

typedef struct policy_freeze {
        uint64_t start_usec, end_usec; /* CLOCK_REALTIME, [start, end) */
        grade grade;
        char *reason;
} policy_freeze;

typedef struct policy_hours {
        bool set;
        unsigned days;           /* bit i: weekday i (0 = Sunday, as struct tm) */
        unsigned from_min;       /* minutes after midnight */
        unsigned to_min;         /* from_min < to_min; [from, to) */
        bool utc;
        grade outside;
} policy_hours;

typedef struct policy_measure_limit {
        char *kind;
        uint64_t max_usec;
} policy_measure_limit;

typedef struct policy_config {
        policy_freeze *freezes;
        size_t n_freezes;
        policy_hours hours;
        uint32_t budget_runs;
        uint64_t budget_window_usec;
        uint64_t breaker_reset_usec;
        uint32_t flap_opens;
        uint64_t flap_window_usec;
        uint32_t blast_max_sas;
        uint64_t approval_expires_usec;
        uint64_t measure_default_max_usec;
        policy_measure_limit *measure_max;
        size_t n_measure_max;
} policy_config;

/* The defaults (no allocation). */
void policy_config_init(policy_config *p);
/* Bind a `policy:` mapping (NULL: defaults) strictly: unknown keys, bad times, from >= to,
 * start >= end … are errors in d with their position. -EINVAL if any. `p` (initialised) is
 * replaced only on success, so a rejected reload keeps the policy in force. */
int policy_config_bind(const ynode *node, policy_config *p, ydiag *d);
/* Weekly hours {days, from, to, timezone[, outside]} (staffed hours, drill windows): strict,
 * errors in d. with_outside: the `outside` grade is allowed. */
int policy_hours_bind(const ynode *m, ydiag *d, policy_hours *h, bool with_outside);
/* Is now_usec (CLOCK_REALTIME) within the hours? False if the time cannot be broken down. */
bool policy_in_hours(const policy_hours *h, uint64_t now_usec);
void policy_config_done(policy_config *p);

/* The longest a temporary measure of this action kind may live. */
uint64_t policy_measure_max(const policy_config *p, const char *kind);

/* The grade a runbook (or step) of grade `base` runs at now, before per-signature budgets:
 * raised by a global pause (to manual), a freeze window, out-of-hours. `why` (if non-NULL) gets
 * every reason that raised it, "; "-separated, or "" if none did. */
grade policy_grade_at(const policy_config *p, grade base, bool paused, uint64_t now_usec, char *why,
                      size_t why_size);

/* Blast radius: a step that drops `sas` established SAs. Returns the grade it needs (base, or
 * approve above the limit) and says why. */
grade policy_grade_blast(const policy_config *p, grade base, uint32_t sas, char *why, size_t why_size);
