/* What the agent shows a monitoring stack, over one HTTP listener on its loop (the `http:`
 * section): GET /metrics (Prometheus text format) renders what the agent already holds — the
 * checks' last findings, what triage, the engine and the drill runner keep, and what this room
 * counted from their events — and never runs a check or waits for anything.
 *
 * It learns by subscription (triage_subscribe(), engine_subscribe(), charon's hub); nothing
 * below names it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/http_config.h"
#include "macro.h"

typedef struct observe observe;
typedef struct ev_loop ev_loop;
typedef struct triage triage;
typedef struct incident_store incident_store;
typedef struct engine engine;
typedef struct drill_runner drill_runner;
typedef struct fleet fleet;
typedef struct audit_trail audit_trail;
typedef struct charon_hub charon_hub;
typedef struct notifier notifier;

/* What the room reads; borrowed, they outlive it. */
typedef struct observe_deps {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        engine *engine;
        drill_runner *drills;     /* may be NULL */
        fleet *fleet;             /* may be NULL */
        audit_trail **audit_log;  /* the agent's (its head sequence); may point at NULL */
        charon_hub *hub;          /* may be NULL */
        notifier *notifier;       /* incident webhooks and Alertmanager (may be NULL) */
        /* one record on the audit trail */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
        uint64_t start_real_usec; /* the process's start (CLOCK_REALTIME µs) */
        const char *state_dir;    /* where the drain is kept (copied) */
} observe_deps;

int observe_new(observe **ret, const observe_deps *deps);
observe *observe_free(observe *o);
DEFINE_FREE_FUNC(observe, observe_free);

/* Take the `http:` section: open, replace or close the listener. On failure the listener in
 * force before stays (reopened if it had to be closed to free its address), <0 is returned
 * and *ret_error (malloc'ed) says why. */
int observe_configure(observe *o, const http_config *c, char **ret_error);
/* Drain the gateway for for_usec (GET /healthz: 503) / end a drain (an operator's or a
 * runbook's); audited with `who`. <0 with why filled. */
typedef struct drain_state drain_state;
int observe_drain(observe *o, uint64_t for_usec, const char *reason, const char *who, char *why, size_t n);
int observe_undrain(observe *o, const char *who, char *why, size_t n);
/* Drained now? (*ret: by whom, since, until, why.) */
bool observe_drained(const observe *o, drain_state *ret);

/* The port the n-th listen address is bound to (0: none). */
uint16_t observe_port(const observe *o, size_t n);
