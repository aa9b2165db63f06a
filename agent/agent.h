/* The agent: one sd-event loop owning the configuration, the VICI client to charon and the
 * control socket. Internal to ikeheald; the struct is visible to the agent's own verb handlers
 * (agent/status.c, …), nothing else. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/config.h"

typedef struct vici_client vici_client;
typedef struct control_server control_server;

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
        agent_vici_stats vstats;
        status_query *status_queries; /* `status` requests waiting for charon */
} agent;

/* Takes ownership of `config`, also on failure. */
int agent_new(agent **ret, ikeheal_config *config, int log_level_override);
/* Run until SIGTERM/SIGINT; returns 0 on a clean stop. */
int agent_run(agent *a);
agent *agent_free(agent *a);
/* Re-read the config file; on any error the old config stays in force and *ret_error (if
 * non-NULL) says why. */
int agent_reload(agent *a, char **ret_error);

/* Verb handlers live one per file (agent/status.c, agent/reload_verb.c …) and register here. */
int status_register(agent *a);
int reload_verb_register(agent *a);
/* Answer every status query still waiting for charon (the VICI client is going away). */
void status_abort_all(agent *a, const char *why);
