/* What the control verbs use: a small context agent/main.c fills once and registers on the
 * control server (again after a reload that moved the socket). A verb family gets the
 * subsystems it reads and the core's operations as callbacks. */
#pragma once

#include "agent/checks/charon_link.h"
#include "agent/checks/check.h"
#include "agent/config/config.h"
#include "agent/control/control.h"
#include "agent/engine/engine.h"
#include "agent/notify/audit_trail.h"

typedef struct check_set check_set;
typedef struct incident_store incident_store;
typedef struct drill_runner drill_runner;
typedef struct vici_client vici_client;
typedef struct status_query status_query;
typedef struct diagnose_query diagnose_query;
typedef struct triage triage;

/* The agent's own figures, as `status` shows them. */
typedef struct verbs_figures {
        uint64_t start_mono_usec, start_real_usec; /* when the agent started */
        uint64_t reloads, reload_failures;
        const charon_link_stats *vici; /* what charon pushed to us */
} verbs_figures;

typedef struct verbs_ctx {
        ev_loop *event;
        triage *triage;
        audit_trail *audit; /* NULL: the audit log is not open */
        incident_store *incidents;
        engine *engine;
        drill_runner *drills;
        struct guard *guard;
        notifier *notifier;
        struct observe *observe;    /* the HTTP listener and the drain (agent/observe/observe.h) */
        struct fleet *fleet;        /* coordination through etcd (agent/fleet/fleet.h) */
        /* `status` requests waiting for charon; the agent answers them with
         * status_verb_abort_all() when its VICI client goes away */
        status_query **status_queries;
        /* `diagnose` and `accept` requests waiting for a full round of checks; the agent answers
         * them with diagnose_verb_abort_all() when the checks are replaced or it stops */
        diagnose_query **diagnose_queries;
        /* The same atomic reload as SIGHUP: 0, or -errno with *ret_error (malloc'ed, may be
         * NULL) saying why; the old configuration then stays in force. */
        int (*reload)(void *userdata, char **ret_error);
        /* The configuration in force. */
        const ikeheal_config *(*config)(void *userdata);
        /* The running checks (a reload replaces them whole). */
        check_set *(*checks)(void *userdata);
        /* The VICI client to charon (a reload may replace it), and the agent's figures. */
        vici_client *(*vici)(void *userdata);
        void (*figures)(void *userdata, verbs_figures *ret);
        void *userdata;
} verbs_ctx;

/* agent/verbs/verbs_who.c: the requesting peer as the engine sees it (approver: root or a member
 * of c->approver_groups). */
void verbs_who(const ikeheal_config *c, control_request *req, engine_who *ret);

/* agent/verbs/status_verb.c; status_verb_abort_all(): answer every query still waiting for
 * charon with what is known and `why`. */
int status_verb_register(control_server *s, const verbs_ctx *v);
void status_verb_abort_all(status_query **queries, const char *why);
/* agent/verbs/reload_verb.c */
int reload_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/audit_verb.c */
int audit_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/checks_verb.c; checks_verb_add_check(): one check as a section named after it
 * (`checks`, `diagnose`). */
int checks_verb_register(control_server *s, const verbs_ctx *v);
void checks_verb_add_check(vici_builder *b, check *c, bool with_detail);
/* agent/verbs/incidents_verb.c */
int incidents_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/diagnose_verb.c. verbs_check_round(): run every check now and answer req once
 * each has finished a run that began after it (complete) or the longest could have timed out
 * (not complete): finish fills b from that fresh picture (incidents reconciled on it first) and
 * returns 0, or -errno with the request's error set. What `diagnose` and `accept` answer from. */
typedef int (*verbs_round_fn)(const verbs_ctx *v, control_request *req, vici_builder *b, bool complete,
                              uint64_t elapsed_usec);
int verbs_check_round(const verbs_ctx *v, control_request *req, vici_builder *b, verbs_round_fn finish);
int diagnose_verb_register(control_server *s, const verbs_ctx *v);
void diagnose_verb_abort_all(diagnose_query **queries, const char *why);
/* agent/verbs/accept_verb.c */
int accept_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/plan_verb.c */
int plan_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/run_verb.c (`run`, `runs`, `pause`, `resume`) and approval_verb.c (`pending`,
 * `approve`, `deny`); run_verb_add_run(): one run as a section (`runs`, `pending`). */
int run_verb_register(control_server *s, const verbs_ctx *v);
int approval_verb_register(control_server *s, const verbs_ctx *v);
void run_verb_add_run(const verbs_ctx *v, const run *r, vici_builder *b);
/* agent/verbs/measures_verb.c (`measures`, `extend`, `revert`, `psk`) */
int measures_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/drill_verb.c (`drill`, `drills`) */
int drill_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/guard_verb.c (`guard`: begin, confirm, abort, status) */
int guard_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/drain_verb.c (`drain`, `undrain`) */
int drain_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/evidence_verb.c (`evidence`) */
int evidence_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/fleet_verb.c (`fleet pause|resume|freeze`, `fleet status`) */
int fleet_verb_register(control_server *s, const verbs_ctx *v);
