/* The observe room's parts: what it counts from events (observe_tally.c), the /metrics
 * renderer (observe_metrics.c), and the room's life cycle and listener (observe.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/observe/observe.h"
#include "drain_file.h"
#include "fault.h"
#include "prom_hist.h"

typedef struct http_server http_server;
typedef struct check check;
typedef struct finding finding;
typedef struct incident incident;
typedef struct run run;
typedef struct prom_text prom_text;

#define OBSERVE_PROBES_MAX 64u
#define OBSERVE_CHECKS_MAX 64u
#define OBSERVE_RUNBOOKS_MAX 128u
#define OBSERVE_RUNS_SEEN 256u
#define OBSERVE_LISTEN_MAX 8u

typedef struct observe_probe {
        char target[64];
        char port[8];
        prom_hist latency; /* seconds */
        bool answered;     /* the last probe */
} observe_probe;

typedef struct observe_runbook {
        char name[64];
        uint64_t outcomes[16]; /* by run_state */
} observe_runbook;

/* What the room counts from events since the agent started (counters and histograms). */
typedef struct observe_tally {
        uint64_t opened[_FAULT_CLASS_MAX], resolved[_FAULT_CLASS_MAX], escalated[_FAULT_CLASS_MAX];
        prom_hist ttd, ttr;                       /* incidents; seconds */
        observe_probe probes[OBSERVE_PROBES_MAX];
        size_t n_probes;
        struct {
                char name[64];
                uint64_t since_usec; /* its first finding that was not OK, since its last OK */
        } failing[OBSERVE_CHECKS_MAX];
        size_t n_failing;
        observe_runbook runbooks[OBSERVE_RUNBOOKS_MAX];
        size_t n_runbooks;
        struct {
                uint64_t id;
                int state;
        } runs_seen[OBSERVE_RUNS_SEEN];           /* a ring: a run's terminal state counts once */
        size_t runs_seen_next;
        uint64_t handshake_failures[_FAULT_CLASS_MAX];
        uint64_t logs_window[_FAULT_CLASS_MAX];   /* the logs check's last window counts */
        uint64_t ike_established, ike_deleted, child_up, child_down;
} observe_tally;

/* What the room remembers of each active incident it told the outside about. */
#define OBSERVE_TOLD_MAX 128u
typedef struct observe_told {
        uint64_t id;
        int severity, scope;          /* as last sent to the webhooks */
        bool hooked;                  /* webhooks were told it opened */
        bool pushed;                  /* Alertmanager holds it with these labels: */
        char am_severity[16], am_reason[64], am_peers[512];
        uint64_t am_starts_usec;
} observe_told;

struct observe {
        observe_deps deps;
        char *state_dir_copy;
        http_server *server;
        http_config config;       /* what the server was built from (tokens included) */
        uint16_t ports[OBSERVE_LISTEN_MAX];
        size_t n_ports;
        observe_tally tally;
        struct charon_listener *ike_listener, *child_listener;

        /* GET /healthz (observe_health.c): the answer, kept up to date by events */
        unsigned health_status;
        char health_body[1024];
        size_t health_len;
        uint64_t outage_id; /* the oldest active global outage incident (0: none) */
        char outage_class[32], outage_summary[256];
        bool drained;
        drain_state drain;
        struct ev_source *drain_timer, *drain_watch;

        /* webhooks for every incident change (observe_hooks.c) and the incidents pushed to
         * Alertmanager (observe_am.c) */
        observe_told told[OBSERVE_TOLD_MAX];
        size_t n_told;
        struct ev_source *am_timer;
};

/* The latency buckets (seconds) of probes and of TTD/TTR. */
extern const double observe_latency_bounds[];
extern const size_t observe_latency_n_bounds;
extern const double observe_repair_bounds[];
extern const size_t observe_repair_n_bounds;

void observe_tally_init(observe_tally *t);
void observe_tally_finding(observe_tally *t, check *c, const finding *f);
void observe_tally_incident(observe_tally *t, const incident *i, int ev);
void observe_tally_run(observe_tally *t, const run *r);

/* observe_health.c */
typedef struct http_request http_request;
typedef struct http_reply http_reply;
void observe_health_incident(observe *o, const incident *i);
void observe_drain_reload(observe *o);
/* Follow <state_dir>/drain (inotify on the directory). */
int observe_drain_watch(observe *o);
int observe_on_healthz(const http_request *req, http_reply *reply, void *userdata);
/* observe_alerts.c: POST /alerts */
int observe_on_alerts(const http_request *req, http_reply *reply, void *userdata);

/* observe_incident.c: an incident as the outside reads it */
#define OBSERVE_VIEW_PEERS_MAX 32u
typedef struct observe_incident_view { /* peers sorted and distinct */
        const char *class_name, *scope, *severity;
        char peers_buf[512];
        const char *peers[OBSERVE_VIEW_PEERS_MAX];
        size_t n_peers;
        uint64_t run; /* its latest run (0: none) */
        char runbook[64];
        const char *run_state;
} observe_incident_view;
void observe_incident_view_init(observe *o, const incident *i, observe_incident_view *v);
/* The record of what was told about incident id (created when `add`; NULL: none, or full). */
observe_told *observe_told_get(observe *o, uint64_t id, bool add);
void observe_told_forget(observe *o, uint64_t id);

/* observe_hooks.c: a webhook for every incident change */
void observe_hooks_incident(observe *o, const incident *i, int ev);
/* observe_am.c: incidents as Alertmanager alerts */
int observe_am_start(observe *o);
void observe_am_incident(observe *o, const incident *i, int ev);
void observe_am_run(observe *o, const run *r);

/* GET /metrics: the exposition (malloc'ed) and its length. */
int observe_metrics_render(observe *o, char **ret_text, size_t *ret_len);

/* observe_fleet.c: the fleet's gauges (nothing without a fleet). */
void observe_fleet_metrics(observe *o, prom_text *p);
