/* Actions: what a runbook step does. Each kind is a const ops table in actions/<kind>.c,
 * registered in actions/registry.c, and is called through one narrow interface:
 *
 *   plan     the exact effects a step would have (files, commands, nftables changes, VICI
 *            calls), with no side effect: what `ikehealctl plan` shows and approvals bind to
 *   apply    make the change
 *   verify   optional: the action's own test that its effect is in place
 *   revert   optional: undo it (a temporary measure's expiry, a failed runbook's rollback)
 *
 * Parameters are a closed, typed set per kind (action_param_spec), bound strictly from the
 * runbook's YAML and serialisable to a VICI section, so that a later split into an unprivileged
 * agent and a privileged executor only has to move action_params across a socket.
 *
 * apply/verify/revert run asynchronously on the loop: the kind's start() begins the operation
 * and later calls action_call_done(); the call enforces the timeout (cancel, then -ETIME). The
 * completion callback is never called from inside action_call_new(). Reverts must be
 * idempotent: after a crash the engine cannot know whether an apply took effect and reverts
 * anyway. Actions do not log; the engine audits each call's result and detail text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "macro.h"
#include "vici_msg.h"
#include "yaml_tree.h"

#define ACTION_PARAMS_MAX 8u
#define ACTION_DETAIL_MAX 1024u
#define ACTION_PLAN_MAX 4096u

typedef struct action_ops action_ops;
typedef struct action_call action_call;

typedef enum action_param_type {
        AP_STRING,   /* any scalar */
        AP_PATH,     /* absolute path, no ".." component */
        AP_STRV,     /* sequence of scalars (at most 32) */
        AP_U32,      /* decimal within [min, max] (max 0: no bound) */
        AP_DURATION, /* "30s" … within [min, max] */
        AP_BOOL,
} action_param_type;

typedef struct action_param_spec {
        const char *name;
        action_param_type type;
        bool required;
        uint64_t min, max;
} action_param_spec; /* a kind's table ends with { .name = NULL } */

typedef struct action_value {
        bool set;
        char *str;   /* AP_STRING, AP_PATH */
        char **strv; /* AP_STRV, NULL-terminated */
        uint64_t num; /* AP_U32, AP_DURATION (µs), AP_BOOL (0/1) */
} action_value;

typedef struct action_params {
        const action_ops *ops;
        action_value v[ACTION_PARAMS_MAX]; /* in the order of ops->params */
} action_params;

/* What the agent lends actions (the engine fills it; tests make their own). */
typedef struct action_env {
        ev_loop *event;
        const char *exec_dir;    /* root of the scripts `exec` may run (root-owned, 0755) */
        const char *state_dir;
        /* `notify`: hand a message to the agent's notifier (journal + webhooks); may be NULL */
        void (*notify)(void *userdata, const char *event, const char *text);
        void *notify_userdata;
        /* a scalar param of a configured check (NULL if none, or no such check): where an
         * action finds what that check watches (the firewall's `netns`, the config check's
         * `swanctl_dir`) */
        const char *(*check_param)(void *userdata, const char *check, const char *key);
        void *check_userdata;
        const char *vici_socket; /* charon's VICI socket (swanctl --uri) */
        struct sysbus *bus;      /* the system bus (systemd units), connected on first need
                                  * (common/sysbus.h); NULL where there is none */
        struct vici_client *vici; /* charon's VICI connection (common/vici.h); may be disconnected */
        const char *charon_unit; /* the unit running charon (charon.unit) */
        /* a fact of a configured check's last finding (NULL if none; called with
         * check_userdata): what a precondition may know of the gateway now without asking
         * charon (the tunnels check's `udp_encap`); may be NULL */
        const char *(*check_fact)(void *userdata, const char *check, const char *key);
        /* Is this gateway healthy now, as the agent sees it (called with check_userdata)? 0: yes;
         * >0 with `why` filled: not (what is still wrong). What a measure taken because this
         * gateway was sick (failover) waits for before it is undone. May be NULL. */
        int (*gateway_healthy)(void *userdata, char *why, size_t why_size);
} action_env;

typedef enum action_op {
        ACTION_APPLY,
        ACTION_VERIFY,
        ACTION_REVERT,
        _ACTION_OP_MAX,
} action_op;

/* The effects of one step, as lines of text, plus what the policy needs to know. */
typedef struct action_plan {
        char text[ACTION_PLAN_MAX];
        size_t len;
        bool truncated;
        bool disruptive; /* drops established SAs (restart, reload): blast radius applies */
} action_plan;

struct action_ops {
        const char *kind;
        const char *description; /* one line */
        const action_param_spec *params;
        bool effects;  /* changes the system (observe runbooks may only use kinds without) */
        bool measure;  /* weakens security or bypasses normal config: a step of this kind
                        * must carry `expires_in` (bounded by policy.measure_max) */
        size_t state_size;
        /* Optional, at parse time and again before planning: do the parameters make sense
         * on this host (script allowlisted, file present …)? -errno with `why` filled. */
        int (*validate)(const action_params *p, const action_env *env, char *why, size_t why_size);
        /* Optional, at plan time (before a step is proposed, put up for approval or run): is
         * what the step needs there now (a last-good manifest, a standby pair that validates,
         * a file to fix)? <0 (-errno) with `why` filled: the step cannot work, so the engine
         * does not offer it and escalates at once saying why. No side effect. */
        int (*precondition)(const action_params *p, const action_env *env, char *why, size_t why_size);
        /* Optional, for a measure of this kind in force: may it stay (the log's file system
         * still above the disk budget)? Checked every ACTION_HOLD_INTERVAL_USEC while the
         * measure is active; <0 (-errno) with `why` filled: the engine reverts it early. Cheap,
         * no side effect. */
        int (*hold)(const action_params *p, const action_env *env, char *why, size_t why_size);
        /* Optional: how long a revert of these parameters may take when it waits for something
         * longer than the default (failover: its hold of continuous health). 0: the default. */
        uint64_t (*revert_timeout)(const action_params *p);
        /* Describe the effects (action_plan_add); no side effect. */
        int (*plan)(const action_params *p, const action_env *env, action_op op, action_plan *out);
        /* Begin op (ACTION_VERIFY / ACTION_REVERT only if supported: see below); finish with
         * action_call_done(). <0: could not start (the call completes with that error). */
        int (*start)(void *state, action_call *call, action_op op);
        /* Abandon the operation in flight (timeout, shutdown). */
        void (*cancel)(void *state);
        void (*done)(void *state);
        /* Which of verify / revert the kind supports for these parameters. */
        bool (*supports)(const action_params *p, action_op op);
};

/* Registry (actions/registry.c). */
const action_ops *action_find(const char *kind);
size_t action_kinds(const action_ops *const **ret);

/* Bind a step's `params` mapping (NULL: none) strictly against ops->params: unknown keys,
 * missing required ones, wrong types → errors in d at their position. -EINVAL if any. */
int action_params_bind(const action_ops *ops, const ynode *map, action_params *ret, ydiag *d);
void action_params_done(action_params *p);
int action_params_copy(const action_params *src, action_params *ret);
/* The value of a named parameter, NULL if unset (or no such parameter). */
const action_value *action_param(const action_params *p, const char *name);
/* Canonical serialisation (also what a plan hash covers). from_vici re-validates. */
void action_params_to_vici(const action_params *p, vici_builder *b);
int action_params_from_vici(const action_ops *ops, const vici_node *section, action_params *ret);
bool action_supports(const action_params *p, action_op op);

/* ops->precondition, or 0 if the kind has none. */
int action_precondition(const action_params *p, const action_env *env, char *why, size_t why_size);

#define ACTION_HOLD_INTERVAL_USEC (2 * 1000000ull)
/* ops->hold, or 0 if the kind has none. */
int action_hold(const action_params *p, const action_env *env, char *why, size_t why_size);
/* ops->revert_timeout when it gives more than dflt, else dflt. */
uint64_t action_revert_timeout(const action_params *p, uint64_t dflt);

int action_plan_add(action_plan *p, const char *fmt, ...) _printf_(2, 3);
/* ops->plan, or a line saying the kind cannot describe itself. */
int action_plan_make(const action_params *p, const action_env *env, action_op op, action_plan *out);

typedef void (*action_done_cb)(action_call *call, int result, void *userdata);

/* Start op now. `context` is NULL or a NULL-terminated list of "KEY=VALUE" the kind may pass on
 * (exec: as environment: IKEHEAL_INCIDENT, IKEHEAL_RUN, IKEHEAL_STEP, IKEHEAL_PHASE). cb gets
 * 0 or -errno (-ETIME on timeout, -EOPNOTSUPP if the kind does not support op) exactly once,
 * later, from the loop. `p` and `env` must outlive the call. */
int action_call_new(action_call **ret, const action_params *p, const action_env *env, action_op op,
                    uint64_t timeout_usec, char *const *context, action_done_cb cb, void *userdata);
/* Cancels what is in flight (no callback). */
action_call *action_call_free(action_call *c);
DEFINE_FREE_FUNC(action_call, action_call_free);

/* For kinds: */
const action_params *action_call_params(const action_call *c);
const action_env *action_call_env(const action_call *c);
char *const *action_call_context(const action_call *c);
action_op action_call_op(const action_call *c);
void action_call_set_detail(action_call *c, const char *fmt, ...) _printf_(2, 3);
/* Deliver the result (once; later calls are ignored). May be called from start(). */
void action_call_done(action_call *c, int result);

/* What happened, for the audit log: the kind's detail (output, reason). */
const char *action_call_detail(const action_call *c);
const char *action_op_to_string(action_op op);
