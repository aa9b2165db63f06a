/* The agent: one sd-event loop owning the configuration, the VICI client to charon and the
 * control socket. Internal to ikeheald; the struct is visible to the agent's own verb handlers
 * (agent/verbs/status_verb.c, …), nothing else. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/checks/check.h"
#include "agent/config/config.h"
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

/* Counters of what charon pushed to us, shown by `ikehealctl status`. */
typedef struct agent_vici_stats {
        uint64_t connects;      /* successful (re)connections */
        uint64_t disconnects;   /* charon went away (socket EOF, error) */
        uint64_t ike_updown;    /* ike-updown events */
        uint64_t child_updown;  /* child-updown events */
        uint64_t log;           /* log events */
        uint64_t last_event_usec; /* CLOCK_REALTIME of the last event, 0: none */
        char last_event[128];   /* "ike-updown up gw-1", … */
} agent_vici_stats;

typedef struct status_query status_query;

typedef struct agent {
        sd_event *event;
        ikeheal_config *config;
        int log_level_override; /* <0: follow config */
        vici_client *vici;
        control_server *control;
        uint64_t start_mono_usec;
        uint64_t start_real_usec;
        uint64_t reloads, reload_failures;
        bool charon_connected;
        bool reload_rejected;       /* the last reload was refused: said in STATUS= until a good one */
        char status_sent[192];      /* the STATUS= text last sent, so an unchanged one is not resent */
        agent_vici_stats vstats;
        status_query *status_queries; /* `status` requests waiting for charon */

        /* checks and diagnosis */
        charon_hub *hub;            /* charon's events fanned out to checks; lives across reloads */
        sd_bus *bus;                /* the system bus, NULL where there is none */
        check_env env;              /* what checks borrow; updated in place on reload */
        check_set *checks;
        incident_store *incidents;
        sd_event_source *diagnose_defer; /* one diagnosis per loop iteration, however many findings */
        bool healthy;               /* last diagnosis: every check OK, nothing active */
        sd_event_source *good_timer; /* healthy long enough: the checks keep their last-good state */
        bool good_recorded;         /* this healthy stretch's last-good state is recorded */
        bool retrigger;             /* an incident opened: run every check again now */
        /* a resolution is pending: checks dropped transient evidence and run once more */
        uint64_t settle_deadline;   /* CLOCK_MONOTONIC; 0: not settling */
        bool settle_waiting;        /* settling waits for charon's start grace to end */
        uint64_t settle_wait_since; /* CLOCK_REALTIME: when that wait began */
        uint64_t *settle_runs;      /* each check's run count when settling began */
        size_t n_settle;
        sd_event_source *settle_timer;
        uint64_t diagnoses;
        uint64_t last_diagnosis_usec;    /* CLOCK_REALTIME */
        diagnose_query *diagnose_queries; /* `diagnose` requests waiting for a full round */
        audit_trail *audit;         /* <state_dir>/audit.log (agent/notify/audit_trail.h) */

        /* runbooks */
        engine *engine;             /* agent/engine/engine.h */
        struct drill_runner *drills; /* agent/drill/drill_run.h */
        notifier *notifier;         /* webhooks (agent/notify/notifier.h) */
        agent_verbs_fn verbs_register; /* agent/main.c's */
        void *verbs_userdata;
        void *engine_queue;         /* incidents changed, for the engine's next turn */
        size_t n_engine_queue;
        sd_event_source *engine_defer;
} agent;

/* Takes ownership of `config`, also on failure. */
int agent_new(agent **ret, ikeheal_config *config, int log_level_override);
/* Run until SIGTERM/SIGINT; returns 0 on a clean stop. */
int agent_run(agent *a);
agent *agent_free(agent *a);
/* Re-read the config file; on any error the old config stays in force and *ret_error (if
 * non-NULL) says why. */
int agent_reload(agent *a, char **ret_error);

/* Register the control verbs (`fn` of agent/main.c) now, and again after a reload that moved
 * the control socket. */
int agent_set_verbs(agent *a, agent_verbs_fn fn, void *userdata);
/* Verb handlers live one per file (agent/verbs/status_verb.c, …); agent/main.c registers them. */
int status_register(agent *a);
/* One check as a section named after it (`checks`, `diagnose`). */
void checks_verb_add_check(vici_builder *b, check *c, bool with_detail);
int diagnose_verb_register(agent *a);
/* agent/verbs/diagnose_verb.c: run every check now and answer req once each has finished a run that
 * began after it (complete) or the longest could have timed out (not complete): finish fills
 * b from that fresh picture (incidents reconciled on it first) and returns 0, or -errno with
 * the request's error set. What `diagnose` and `accept` answer from. */
typedef int (*agent_round_fn)(agent *a, control_request *req, vici_builder *b, bool complete, uint64_t elapsed_usec);
int agent_check_round(agent *a, control_request *req, vici_builder *b, agent_round_fn finish);
/* agent/core/agent_audit.c: open the audit trail (a broken log is kept aside), then vet the state
 * logs (a reset of one is audited); append a record (and mirror it to the journal). */
int agent_audit_open(agent *a);
void agent_audit(agent *a, const char *kind, const char *fmt, ...) _printf_(3, 4);
/* A check delivered a finding: answer `diagnose` requests whose round is now complete. */
void diagnose_verb_progress(agent *a);
void diagnose_verb_abort_all(agent *a, const char *why);
/* agent/triage/triage.c: hub, bus, incident store and the environment checks borrow. */
int agent_checks_setup(agent *a);
/* Build (not start) the checks of `config`; on error *ret_error says why. */
int agent_checks_prepare(agent *a, const ikeheal_config *config, check_set **ret, char **ret_error);
/* Stop and free the running checks (before the VICI client they may use goes away). */
void agent_checks_drop(agent *a);
/* Take `set` (built by agent_checks_prepare for a->config) and start it. */
int agent_checks_start(agent *a, check_set *set);
void agent_checks_free(agent *a);
/* Diagnose once the loop has delivered what is pending (coalesces bursts of findings). */
void agent_schedule_diagnosis(agent *a);
/* STATUS= for systemd: charon, checks, active incidents, a rejected reload; sent when it changed. */
void agent_notify_status(agent *a);
/* The running checks as diagnosis sees them (at most max); returns how many. */
typedef struct diagnosis_input diagnosis_input;
size_t agent_diagnosis_inputs(agent *a, diagnosis_input *in, size_t max);
/* Run diagnosis now over the checks' current findings and reconcile incidents. */
void agent_diagnose(agent *a);
/* Runbook engine verbs (agent/verbs/plan_verb.c, approval_verb.c, run_verb.c, measures_verb.c). */
int plan_verb_register(agent *a);
int approval_verb_register(agent *a);
int run_verb_register(agent *a);
int measures_verb_register(agent *a);
int drill_verb_register(agent *a);
int accept_verb_register(agent *a);
/* On SIGTERM with a drill running: how long its fault's removal may delay the exit. */
#define AGENT_STOP_DRILL_USEC (15ULL * 1000000ULL)
/* The requesting peer as the engine sees it (approver: root or control.approver_groups). */
void agent_who(agent *a, control_request *req, engine_who *ret);
void agent_add_run(agent *a, const run *r, vici_builder *b);
uint64_t agent_now_usec(void); /* CLOCK_REALTIME */
uint32_t agent_established_sas(agent *a);
/* Move an incident along its life cycle (logged, audited, persisted). */
int agent_incident_set_state(agent *a, uint64_t id, int state, const char *note);
void agent_checks_trigger_all(agent *a);
void agent_engine_queue(agent *a, uint64_t id, bool opened);

/* Answer every status query still waiting for charon (the VICI client is going away). */
void status_abort_all(agent *a, const char *why);
