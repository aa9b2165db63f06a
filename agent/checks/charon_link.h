/* charon's VICI link as the agent keeps it: one client that reconnects with backoff, the events
 * the checks need (ike-updown, child-updown, log) fanned out to the charon hub with the link's
 * state, and counters of what charon pushed, for `ikehealctl status`. While every listener of
 * the hub can wait for its events (charon_listener_set_delivery()), the client leaves them in
 * the socket until the next request, and so do the counters. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"

typedef struct vici_client vici_client;
typedef struct charon_hub charon_hub;

typedef struct charon_link_stats {
        uint64_t connects;        /* successful (re)connections */
        uint64_t disconnects;     /* charon went away (socket EOF, error) */
        uint64_t ike_updown;      /* ike-updown events */
        uint64_t child_updown;    /* child-updown events */
        uint64_t log;             /* log events */
        uint64_t last_event_usec; /* CLOCK_REALTIME of the last event, 0: none */
        char last_event[128];     /* "ike-updown up gw-1", … */
} charon_link_stats;

typedef struct charon_link_params {
        const char *socket;
        uint64_t timeout_usec, reconnect_min_usec, reconnect_max_usec;
} charon_link_params;

typedef struct charon_link {
        vici_client *vici; /* NULL until started */
        charon_hub *hub;
        char *socket;
        bool connected;
        charon_link_stats stats;
        /* the link went up or down */
        void (*changed)(void *userdata);
        void *userdata;
} charon_link;

/* Create the client for p and start connecting; the hub hears every event and the first
 * outcome. l->hub, l->changed and l->userdata are set by the caller beforehand. */
int charon_link_start(charon_link *l, ev_loop *e, const charon_link_params *p);
/* Drop the client (a reload that changed the socket or its timing, or the end). */
void charon_link_stop(charon_link *l);
