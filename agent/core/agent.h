/* The agent: one sd-event loop owning the configuration, the VICI client to charon and the
 * control socket. Internal to ikeheald; the struct is visible to the agent's own verb handlers
 * (agent/verbs/status_verb.c, …), nothing else. */
#pragma once

#include <stdint.h>

#include "agent/checks/charon_link.h"
#include "agent/checks/check.h"
#include "agent/config/config.h"
#include "agent/verbs/verbs.h"
#include "ev.h"
#include "vici_msg.h"

typedef struct vici_client vici_client;
typedef struct control_server control_server;
/* Registers the control verbs on `s`. */
typedef int (*agent_verbs_fn)(control_server *s, void *userdata);
typedef struct charon_hub charon_hub;
typedef struct check_set check_set;
typedef struct incident_store incident_store;
typedef struct diagnose_query diagnose_query;
typedef struct audit_trail audit_trail;
typedef struct engine engine;
typedef struct notifier notifier;
typedef struct control_request control_request;
typedef struct engine_who engine_who;
typedef struct run run;

typedef struct status_query status_query;

typedef struct agent {
        ev_loop *event;
        ikeheal_config *config;
        int log_level_override; /* <0: follow config */
        control_server *control;
        uint64_t start_mono_usec;
        uint64_t start_real_usec;
        uint64_t reloads, reload_failures;
        bool reload_rejected;       /* the last reload was refused: said in STATUS= until a good one */
        char status_sent[192];      /* the STATUS= text last sent, so an unchanged one is not resent */
        charon_link link;           /* charon over VICI (agent/checks/charon_link.h) */
        status_query *status_queries; /* `status` requests waiting for charon */

        /* checks and diagnosis */
        struct check_host *checkhost; /* hub, bus, the checks' environment (agent/triage/check_host.h) */
        check_set *checks;          /* the running checks (swapped whole on reload) */
        incident_store *incidents;
        struct triage *triage;      /* findings → diagnosis → incidents (agent/triage/triage.h) */
        diagnose_query *diagnose_queries; /* `diagnose` requests waiting for a full round */
        audit_trail *audit;         /* <state_dir>/audit.log (agent/notify/audit_trail.h) */

        /* runbooks */
        engine *engine;             /* agent/engine/engine.h */
        struct drill_runner *drills; /* agent/drill/drill_run.h */
        struct guard *guard;        /* guarded changes (agent/guard/guard.h) */
        notifier *notifier;         /* webhooks (agent/notify/notifier.h) */
        struct observe *observe;    /* the HTTP listener: metrics (agent/observe/observe.h) */
        struct fleet *fleet;        /* coordination through etcd (agent/fleet/fleet.h) */
        agent_verbs_fn verbs_register; /* agent_verbs.c's */
        void *verbs_userdata;
        verbs_ctx verbs;            /* what the verb handlers are given (agent_verbs.c) */
} agent;

/* Takes ownership of `config`, also on failure. */
int agent_new(agent **ret, ikeheal_config *config, int log_level_override);
/* Run until SIGTERM/SIGINT; returns 0 on a clean stop. */
int agent_run(agent *a);
agent *agent_free(agent *a);
/* Re-read the config file; on any error the old config stays in force and *ret_error (if
 * non-NULL) says why. */
int agent_reload(agent *a, char **ret_error);

/* Register the control verbs (`fn`) now, and again after a reload that moved the control
 * socket. */
int agent_set_verbs(agent *a, agent_verbs_fn fn, void *userdata);
/* agent/core/agent_verbs.c: every verb family of a running agent, through agent_set_verbs(). */
int agent_register_verbs(agent *a);
/* agent/core/agent_audit.c: open the audit trail (a broken log is kept aside), then vet the state
 * logs (a reset of one is audited); append a record (and mirror it to the journal). */
int agent_audit_open(agent *a);
void agent_audit(agent *a, const char *kind, const char *fmt, ...) _printf_(3, 4);
/* STATUS= for systemd: charon, checks, active incidents, a rejected reload; sent when it changed. */
void agent_notify_status(agent *a);
/* On SIGTERM with a drill running: how long its fault's removal may delay the exit. */
#define AGENT_STOP_DRILL_USEC (15ULL * 1000000ULL)
