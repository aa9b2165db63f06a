/* Chaos drills: a real fault injected on purpose, to prove that ikeheal detects it and heals it
 * within its SLOs (schema: drills/README.md, version 1; ikeheal-drill(5)).
 *
 *   version: 1
 *   name: firewall-drop-4500              # [a-z0-9][a-z0-9_.-]*, at most 64
 *   description: "…"
 *   class: firewall                       # the fault class scored in reports (default expect.class)
 *   weight: 2                             # 1…100, its weight in the class score (default 1)
 *   steady_state:
 *     checks: [probe, firewall]           # configured checks that must be OK before and after
 *     within: 30s                         # after recovery, how long steady state may take (default 60s)
 *   fault:
 *     kind: nft_drop                      # an injector (faults/faults.h)
 *     params: {udp_ports: [4500]}         # its typed parameters, bound strictly
 *     expires_in: 5m                      # hard deadline: removed by then whatever happens (≤ 1h)
 *   expect:
 *     class: firewall                     # the incident the fault must open
 *     scope: global                       # optional: global / local
 *     runbook: firewall-restore           # the runbook that must act (optional with recovery: remove_fault)
 *     recovery: runbook                   # runbook (default): the runbook heals while the fault is in
 *                                         # place; remove_fault: detection only (observe runbooks), the
 *                                         # drill removes the fault once detected and times the return
 *     detect_within: 10s                  # SLO: injected → incident opened
 *     recover_within: 30s                 # SLO: injected → steady state again
 *     tolerate: [daemon_config]           # other incident classes the fault may open (not "unrelated")
 *   abort:
 *     after: 4m                           # give up (remove the fault) after this (default fault.expires_in)
 *     checks: [clock]                     # abort if any of these checks fails during the drill
 *   auto_approve: false                   # approve-grade steps of the expected runbook approved by the
 *                                         # drill itself (only if the config's drills.auto_approve allows)
 *
 * Parsing is strict like runbooks (agent/config/runbook.h): unknown keys, wrong types, unknown
 * injectors, classes, checks and runbooks, bad durations, SLOs longer than the fault's life →
 * every error of a file at once as FILE:LINE:COL with what was expected. A drill set is loaded
 * whole (names unique across files) or not at all. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"
#include "macro.h"
#include "yaml_tree.h"

#define DRILL_VERSION 1u
#define DRILL_FILE_MAX (32u * 1024u)
#define DRILL_SET_MAX 64u
#define DRILL_NAME_MAX 64u
/* A drill's name: [a-z0-9][a-z0-9_.-]*, at most DRILL_NAME_MAX. */
bool drill_name_valid(const char *s);
#define DRILL_CHECKS_MAX 16u
#define DRILL_FAULT_MAX_USEC (3600ULL * 1000000ULL)        /* fault.expires_in at most */
#define DRILL_STEADY_WITHIN_DEFAULT (60ULL * 1000000ULL)
#define DRILL_WEIGHT_MAX 100u

typedef enum drill_recovery {
        DRILL_RECOVER_RUNBOOK,      /* the expected runbook heals with the fault in place */
        DRILL_RECOVER_REMOVE_FAULT, /* detection only: the drill removes the fault once detected */
} drill_recovery;

typedef struct drill {
        char *name;
        char *description;
        char *file;
        char sha256[65];            /* of the file's bytes */
        unsigned name_line, name_col;
        char *fault_class;          /* scoring class (default: expect_class) */
        uint32_t weight;            /* 1…DRILL_WEIGHT_MAX */

        char **steady_checks;       /* NULL-terminated, at least one */
        uint64_t steady_within_usec;

        action_params fault;        /* fault.ops is the injector (faults/faults.h) */
        uint64_t fault_expires_usec;

        char *expect_class;
        char *expect_scope;         /* NULL: any */
        char *expect_runbook;       /* NULL: none named (only with DRILL_RECOVER_REMOVE_FAULT) */
        drill_recovery recovery;
        uint64_t detect_within_usec, recover_within_usec;
        char **tolerate;            /* NULL-terminated; may be NULL */

        uint64_t abort_after_usec;  /* default fault_expires_usec; never more */
        char **abort_checks;        /* NULL-terminated; may be NULL */
        bool auto_approve;
} drill;

/* What a drill is checked against. Any member may be NULL: that reference is not checked
 * (`ikehealctl lint` without a config). */
typedef struct drill_ctx {
        char *const *checks;        /* configured check names (NULL-terminated) */
        char *const *runbooks;      /* loaded runbook names (NULL-terminated) */
        const action_env *env;      /* host validation of the injector's parameters */
} drill_ctx;

/* Parse one file; every error goes to d (whose file name is used in messages). */
int drill_parse_file(const char *path, const drill_ctx *ctx, ydiag *d, drill **ret);
int drill_parse_buffer(const char *name, const void *buf, size_t len, const drill_ctx *ctx, ydiag *d, drill **ret);
drill *drill_free(drill *dr);
DEFINE_FREE_FUNC(drill, drill_free);

/* Is `s` an incident class ikeheal knows (agent/triage/incident.h)? */
bool drill_class_valid(const char *s);

/* Sets: every *.yaml / *.yml of each directory (a missing directory is skipped), in name order;
 * or explicit files (`ikehealctl lint`). On any error nothing is returned and *ret_error holds
 * every message, one per line. */
typedef struct drill_set drill_set;
int drill_set_load(char *const *dirs, const drill_ctx *ctx, drill_set **ret, char **ret_error);
int drill_set_load_files(char *const *files, const drill_ctx *ctx, drill_set **ret, char **ret_error);
drill_set *drill_set_free(drill_set *s);
DEFINE_FREE_FUNC(drill_set, drill_set_free);
size_t drill_set_size(const drill_set *s);
const drill *drill_set_get(const drill_set *s, size_t i);
const drill *drill_set_find(const drill_set *s, const char *name);
