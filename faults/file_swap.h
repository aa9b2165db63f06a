/* The core of the file faults (cert_swap, config_swap, crl_swap): a live file of the swanctl
 * tree replaced by the fault's content (or removed), charon made to load it, and put back.
 *
 * Before anything changes, the file as it is (bytes, mode, owner, or that there is none) is kept
 * in <state_dir>/drill-faults/<sha256 of its path>.orig, with a record (.meta) of the original's
 * and the fault's SHA-256: both written to a temporary file, fsynced, renamed, the directory
 * fsynced. So a revert after a crash or an agent restart still knows what was there and whether
 * the file still holds the fault — and a file a runbook has since repaired is left alone. Files
 * are replaced the same way, as their owner had them. The swanctl load commands run one after
 * the other as watched children (actions/swanctl.h); the call completes when the last exits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "actions/action.h"
#include "actions/spawn.h"
#include "faults/reauth.h"

#define FILE_SWAP_MAX (4u * 1024u * 1024u)

/* One swanctl load command (--load-creds, --load-conns, --load-all), with or without --clear. */
typedef struct file_swap_load {
        const char *what;
        bool clear;
} file_swap_load; /* a list ends with { NULL } */

typedef struct file_swap {
        action_call *call;
        spawn *child;
        const file_swap_load *loads;
        size_t next;
        bool strict;         /* a load that swanctl reports failed fails the operation */
        bool reauth;         /* after the loads, every established IKE_SA terminated (faults/reauth.h) */
        fault_reauth ra;
        bool drop_backup;    /* the revert is complete once the loads succeeded */
        char target[4200], swanctl_dir[4200];
        char detail[600];
} file_swap;

enum {
        FILE_SWAP_STRICT = 1 << 0, /* see strict above (config_swap's broken configuration is meant
                                    * to fail to load: swanctl's answer only goes into the detail) */
        FILE_SWAP_REAUTH = 1 << 1, /* see reauth above */
};

/* Put data (NULL: remove the file) in place of target and load: the backup first. A repeated
 * apply while the fault is in place keeps the first backup. flags: FILE_SWAP_*. `what` opens
 * the detail. */
int file_swap_apply(file_swap *s, action_call *call, const char *target, const void *data, size_t len,
                    const char *swanctl_dir, const file_swap_load *loads, unsigned flags, const char *what);
/* Put the original back if the target still holds the fault, and load (strictly); leave a
 * changed target as it is. Nothing recorded: success, nothing to do. */
int file_swap_revert(file_swap *s, action_call *call, const char *target, const char *swanctl_dir,
                     const file_swap_load *loads);
/* The fault is in place: the target holds what apply put there. */
int file_swap_verify(action_call *call, const char *target);
/* What a fault is computed from: the original while the fault is in place (a repeated apply),
 * else the target now. -ENOENT: there is none. */
int file_swap_base(const action_env *env, const char *target, char **ret, size_t *ret_len);

/* For the kinds' tables. */
void file_swap_cancel(void *state);
bool file_swap_supports(const action_params *p, action_op op);
/* The swanctl tree a target belongs to: the config check's swanctl_dir, else `up` directories
 * above the target (1: swanctl.conf, 2: x509/gw.pem). */
const char *file_swap_tree(const action_env *env, const char *target, unsigned up, char *buf, size_t size);
/* The plan's lines for the backup and the loads. */
int file_swap_plan(const action_env *env, const char *target, const char *tree, const file_swap_load *loads, action_op op,
                   action_plan *out);
