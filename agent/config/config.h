/* ikeheald's configuration: the typed result of parsing ikeheal.yaml (see etc/ikeheal.yaml for
 * every key with its default). A config is immutable once loaded; a reload builds a new one and
 * swaps it in only if it parsed and validated completely. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/checks/check.h"
#include "agent/checks/check_config.h"
#include "agent/config/drill_config.h"
#include "agent/config/fleet_config.h"
#include "agent/config/guard_config.h"
#include "agent/config/http_config.h"
#include "agent/notify/notifier.h"
#include "policy/policy.h"
#include "macro.h"
#include "yaml_tree.h"

#define CONFIG_CHECKS_MAX 64u

typedef struct ikeheal_config {
        char *path; /* file it came from */
        char *warnings;      /* "FILE:LINE:COL: warning: …" lines (what may be meant, but is
                              * likely a mistake: a missing runbook directory, no runbook at
                              * all); NULL if none */
        unsigned n_warnings;

        /* agent: */
        int log_level;           /* LOG_* */
        char *state_dir;         /* /var/lib/ikeheal */
        char *audit_key_file;    /* HMAC key for the audit log; NULL: chain only */
        char audit_key_id[65];   /* sha256 of the key as loaded (config_files.c); "" without */
        unsigned audit_key_line, audit_key_col; /* where agent.audit_key_file is (or 1:1) */
        bool reset_state;        /* ikeheald --reset-state, not from the file: damaged state logs
                                  * are set aside at start instead of refusing it */
        uint32_t audit_rotate_kib; /* audit.rotate_size_kib: rotate audit.log past this (0: never) */
        uint32_t audit_keep;     /* audit.keep: rotated audit logs kept */
        char **runbook_dirs;     /* [/etc/ikeheal/runbooks.d] */
        char *exec_dir;          /* scripts the exec action may run: /etc/ikeheal/scripts */
        uint64_t last_good_after_usec; /* healthy this long before snapshots become last-good */

        /* control: */
        char *control_socket;    /* /run/ikeheal/ikeheal.sock */
        mode_t control_mode;     /* 0660 */
        char *control_group;     /* group owning the socket; NULL: root's */
        char **reader_groups;    /* NULL-terminated; may send read-only requests */
        char **operator_groups;  /* NULL-terminated; may send state-changing requests */
        char **approver_groups;  /* NULL-terminated; may also approve, deny, run, extend */
        uint32_t control_max_clients;     /* readers' connections (more for root, operators, approvers) */
        uint32_t control_max_clients_per_uid; /* connections of one uid but root */

        /* charon: */
        char *vici_socket;       /* /run/charon.vici */
        uint64_t vici_timeout_usec;
        uint64_t vici_reconnect_min_usec;
        uint64_t vici_reconnect_max_usec;
        char *charon_unit;       /* strongswan.service */
        uint64_t charon_start_grace_usec; /* 2s: after charon came back, before missing conns count */

        /* checks (agent/config/config_checks.c): */
        check_schedule check_defaults; /* `check_defaults` section */
        config_check *checks;
        size_t n_checks;
        bool checks_implicit;    /* no `checks` key: every kind that needs no parameters */

        /* runbook engine: */
        policy_config policy;    /* `policy` section (policy/policy.h) */
        notify_config notify;    /* `notify` section (agent/notify/notifier.h) */
        struct runbook_set *runbooks; /* loaded from runbook_dirs by config_load() only */

        /* chaos drills: */
        drill_config drills;     /* `drills` section (agent/config/drill_config.h) */
        struct drill_set *drill_set; /* loaded from drills.dirs by config_load(), if enabled */

        /* guarded changes: */
        guard_config guard;      /* `guard` section (agent/config/guard_config.h) */
        /* HTTP listener: */
        http_config http;        /* `http` section (agent/config/http_config.h) */
        /* fleet coordination: */
        fleet_config fleet;      /* `fleet` section (agent/config/fleet_config.h) */

        /* the parsed document, kept because check params are bound when checks are built */
        ynode *tree;
        const ynode *checks_node, *check_defaults_node, *policy_node, *notify_node, *drills_node;
        const ynode *guard_node;
        const ynode *http_node;
        const ynode *fleet_node;
} ikeheal_config;

/* Bind the `check_defaults` and `checks` sections of c->tree (called by config parsing). */
int config_checks_bind(ikeheal_config *c, ydiag *d);
void config_checks_free(ikeheal_config *c);

/* Parse and validate `path`. On error returns <0 and, if ret_error is non-NULL, a malloc'ed
 * message "file:line:col: what is wrong" (all errors, one per line). The file is read without
 * following a symlink or waiting on a FIFO, and must belong to root (or to us) and not be
 * group- or world-writable; so must the runbook and drill files and their directories, and the
 * scripts directory. Warnings of a good configuration are in (*ret)->warnings. */
int config_load(const char *path, ikeheal_config **ret, char **ret_error);

/* agent/config/config_files.c: what the configuration names on disk (audit key, runbook, drill and
 * scripts directories), checked for a file-loaded config: errors to d, warnings to w. */
void config_files_check(ikeheal_config *c, const ynode *root, ydiag *d, ydiag *w);
/* May a running agent take `next` in place of `old`? Not if the audit key changed: the audit
 * log keeps being signed with the key the agent started with, so a reload claiming a new one
 * would lie. 0, or -EBUSY with a "file:line:col: …" message in *ret_error. */
int config_reload_check(const ikeheal_config *old, const ikeheal_config *next, char **ret_error);
/* The same from memory (no file mode check); for tests and the fuzzer. */
int config_parse_buffer(const char *name, const void *buf, size_t len, ikeheal_config **ret,
                        char **ret_error);
ikeheal_config *config_free(ikeheal_config *c);
/* The charon: section as checks borrow it (pointers into c). */
check_charon config_check_charon(const ikeheal_config *c);
DEFINE_FREE_FUNC(ikeheal_config, config_free);

/* Is `gid` (or one of `groups`) a member of one of the named groups? Unknown group names never
 * match. */
bool config_groups_match(char *const *names, gid_t gid, const gid_t *groups, size_t n_groups);
