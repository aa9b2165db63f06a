/* Runbooks: what to do about an incident, as graded YAML (schema: runbooks/README.md, version 1;
 * runbooks/schema.json for editors; ikeheal-runbook(5)).
 *
 * A runbook is parsed strictly — unknown keys, wrong types, unknown actions, bad durations,
 * dangling references are errors with file:line:col and what was expected, all of a file at
 * once — and bound into the structs below; the YAML tree is not kept. Limits: RUNBOOK_FILE_MAX
 * bytes per file, RUNBOOK_STEPS_MAX steps, RUNBOOK_COND_DEPTH_MAX nesting and
 * RUNBOOK_CONDS_MAX conditions in `match`, RUNBOOK_SET_MAX runbooks.
 *
 * A set is loaded whole from directories (shipped runbooks, /etc/ikeheal/runbooks.d): names are
 * unique across files and every reference (escalate.runbook, notify targets, verify checks)
 * resolves, or the whole set is refused — a reload never leaves a half-updated set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"
#include "agent/notify/notifier.h"
#include "fault.h"
#include "macro.h"
#include "policy/grade.h"
#include "policy/policy.h"
#include "yaml_tree.h"

#define RUNBOOK_VERSION 1u
#define RUNBOOK_FILE_MAX (64u * 1024u)
#define RUNBOOK_STEPS_MAX 32u
#define RUNBOOK_COND_DEPTH_MAX 8u
#define RUNBOOK_CONDS_MAX 64u
#define RUNBOOK_SET_MAX 128u
#define RUNBOOK_NAME_MAX 64u
#define RUNBOOK_STEP_TIMEOUT_DEFAULT (60ULL * 1000000ULL)
#define RUNBOOK_STEP_TIMEOUT_MAX (3600ULL * 1000000ULL)

/* The runbook events notifications can be limited to (`notify.when`). */
typedef enum runbook_event {
        RB_EV_OBSERVED,  /* an observe runbook matched */
        RB_EV_PROPOSED,  /* a manual runbook matched: the plan waits for an operator */
        RB_EV_PENDING,   /* a step waits for approval */
        RB_EV_STARTED,
        RB_EV_SUCCEEDED,
        RB_EV_FAILED,    /* a step or its verify failed; rolled back */
        RB_EV_ESCALATED, /* a human is needed (budget, flapping, failure, denial, expiry) */
        RB_EV_EXPIRED,   /* a temporary measure expired and was reverted */
        _RB_EV_MAX,
} runbook_event;

typedef enum rb_cond_op {
        RC_ALL,
        RC_ANY,
        RC_NOT,
        RC_CLASS,    /* incident class, any of values */
        RC_SCOPE,    /* global / local */
        RC_REASON,   /* incident reason token, any of values */
        RC_SEVERITY, /* fail / warn */
        RC_CHECK,    /* the check that found the root cause */
        RC_PEER,     /* a peer of the incident matches a glob */
        RC_FACT,     /* a fact of a check's last finding */
        RC_OPEN_FOR, /* the incident has been open at least this long */
} rb_cond_op;

typedef enum rb_fact_test {
        RF_EQUALS,
        RF_MATCHES, /* fnmatch glob */
        RF_PRESENT,
        RF_ABSENT,
} rb_fact_test;

typedef struct rb_cond rb_cond;
struct rb_cond {
        rb_cond_op op;
        rb_cond **kids;     /* ALL, ANY (n_kids), NOT (one) */
        size_t n_kids;
        char **values;      /* CLASS … PEER: any of these (NULL-terminated) */
        char *check, *key;  /* FACT */
        rb_fact_test test;
        char *value;        /* FACT: EQUALS / MATCHES */
        uint64_t usec;      /* OPEN_FOR */
};

typedef struct rb_step {
        char *name;
        action_params params; /* params.ops is the action kind */
        uint64_t timeout_usec;
        bool has_grade;
        grade grade;          /* raises the runbook's grade for this step */
        char *verify_check;   /* a configured check that must report OK … */
        bool verify_action;   /* … and/or the action's own verify */
        uint64_t verify_within_usec;
        uint64_t expires_in_usec; /* >0: a temporary measure, reverted on expiry */
        unsigned line, col;
} rb_step;

typedef enum rb_escalate {
        RB_ESCALATE_HUMAN,   /* the incident is escalated for a human (default) */
        RB_ESCALATE_RUNBOOK, /* run another runbook (its own grade applies) */
        RB_ESCALATE_GRADE,   /* propose this runbook again at a higher grade */
} rb_escalate;

typedef struct runbook {
        char *name;
        char *description;
        char *file;
        char sha256[65];        /* of the file's bytes */
        unsigned name_line, name_col;
        unsigned priority;      /* higher wins when several match; default 50 */
        rb_cond *match;
        grade grade;
        uint64_t cooldown_usec;
        uint32_t budget_runs;   /* 0: the policy's */
        uint64_t budget_window_usec;
        uint32_t approvers;     /* distinct approvers needed (1 or 2) */
        uint64_t approval_expires_usec; /* 0: the policy's */
        rb_step *steps;
        size_t n_steps;
        bool rollback;          /* on failure: revert the steps done, newest first (default) */
        rb_step *on_failure;    /* then these steps (notify, collect …) */
        size_t n_on_failure;
        rb_escalate escalate;
        char *escalate_runbook;
        grade escalate_grade;
        unsigned escalate_line, escalate_col;
        char **notify_targets;  /* NULL: every webhook */
        unsigned notify_on;     /* bit per runbook_event (`notify.when`) */
        char *warnings;         /* "FILE:LINE:COL: warning: …" lines (a deprecated key); NULL if none */
        unsigned n_warnings;
        bool timed;             /* its match names open_for: it is decided again as the incident ages */
} runbook;

/* What a runbook is checked against. Any pointer may be NULL: that reference is not checked
 * (`ikehealctl lint` without a config). */
typedef struct runbook_ctx {
        const policy_config *policy;  /* measure lifetimes (NULL: the defaults) */
        const notify_config *notify;  /* webhook names */
        char *const *checks;          /* configured check names (NULL-terminated) */
        const action_env *env;        /* host validation of action parameters */
} runbook_ctx;

/* Parse one file. Errors (all of them) go to d, whose file name is used in messages; warnings
 * of a file that parsed are in (*ret)->warnings. */
int runbook_parse_file(const char *path, const runbook_ctx *ctx, ydiag *d, runbook **ret);
int runbook_parse_buffer(const char *name, const void *buf, size_t len, const runbook_ctx *ctx,
                         ydiag *d, runbook **ret);
runbook *runbook_free(runbook *rb);
DEFINE_FREE_FUNC(runbook, runbook_free);

const char *runbook_event_to_string(runbook_event ev);
int runbook_event_from_string(const char *s);
/* Does rb want notifications for ev? */
bool runbook_notifies(const runbook *rb, runbook_event ev);

/* Placeholders a step's string parameters may use, filled in when the step starts:
 * ${incident.id} ${incident.class} ${incident.scope} ${incident.reason} ${incident.peers}
 * ${incident.summary} ${incident.evidence} ${runbook} ${run}. Anything else in ${…} is a parse
 * error. Returns NULL if `s` is fine, else a pointer to the bad "${". */
extern const char *const runbook_placeholders[];
const char *runbook_template_bad(const char *s);

/* Match: the incident's attributes and a way to read checks' facts. */
typedef struct rb_subject {
        const char *cls, *scope, *reason, *severity, *check;
        const char *peers; /* comma-separated */
        uint64_t open_usec; /* how long the incident has been open (0: not looked at: no open_for holds) */
        const char *(*fact)(void *userdata, const char *check, const char *key);
        void *userdata;
} rb_subject;
bool runbook_matches(const runbook *rb, const rb_subject *s);

/* Sets. */
typedef struct runbook_set runbook_set;
/* Every *.yaml / *.yml of each directory (a missing directory is skipped), in name order.
 * On any error (in any file, or across files) nothing is returned and *ret_error holds every
 * message, one per line. */
int runbook_set_load(char *const *dirs, const runbook_ctx *ctx, runbook_set **ret, char **ret_error);
/* The same over explicit files (`ikehealctl lint FILE…`). */
int runbook_set_load_files(char *const *files, const runbook_ctx *ctx, runbook_set **ret, char **ret_error);
/* Sets are reference-counted: a run keeps the set it started from alive across a reload.
 * runbook_set_free() drops one reference. */
runbook_set *runbook_set_ref(runbook_set *s);
runbook_set *runbook_set_free(runbook_set *s);
DEFINE_FREE_FUNC(runbook_set, runbook_set_free);
size_t runbook_set_size(const runbook_set *s);
const runbook *runbook_set_get(const runbook_set *s, size_t i);
const runbook *runbook_set_find(const runbook_set *s, const char *name);
/* The best match (highest priority, then name), or NULL. */
const runbook *runbook_set_match(const runbook_set *s, const rb_subject *subj);
/* The smallest `open_for` of any runbook of the set that is longer than OPEN_USEC, or 0: when an
 * incident open that long must be decided again. */
uint64_t runbook_set_next_open_for(const runbook_set *s, uint64_t open_usec);
/* SHA-256 over every runbook's file hash: did a reload change anything? */
const char *runbook_set_hash(const runbook_set *s);

/* The plan: each step's exact effects, and a SHA-256 over them (what approvals bind to). */
typedef struct runbook_plan {
        char *text;      /* malloc'ed, lines */
        char hash[65];
        bool disruptive; /* some step drops established SAs */
} runbook_plan;
/* Fills in the ${…} placeholders of a copy of a step's parameters for one run (the engine's);
 * with NULL the plan shows them as written. */
typedef void (*runbook_expand_fn)(action_params *p, void *userdata);
int runbook_plan_make(const runbook *rb, const action_env *env, runbook_expand_fn expand, void *userdata,
                      runbook_plan *ret);
void runbook_plan_done(runbook_plan *p);
