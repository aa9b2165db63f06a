/* The data plane of the tunnels check: what one installed tunnel's counters say, run after run.
 * Outbound bytes growing while inbound bytes stand still for one_way_usec, the IKE_SA up, is
 * one-way (ESP, or its replies, lost on the path); a tunnel expected to carry traffic idle both
 * ways for idle_max_usec (never used: since installed) has no traffic. A rekey starts new
 * counters: a count lower than the last one is a new baseline. Embedded in the check's state;
 * bounded (TUNNELS_MAX tunnels remembered). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/checks/finding.h"
#include "tunnel_set.h"

typedef struct tunnel_flow {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        uint64_t in, out;        /* bytes at the last run */
        uint64_t in_still_since; /* CLOCK_MONOTONIC: outbound grew, inbound stood still since; 0: no */
        bool used;
} tunnel_flow;

typedef struct tunnel_flows {
        tunnel_flow f[TUNNELS_MAX];
} tunnel_flows;

typedef struct tunnel_flow_params {
        uint64_t one_way_usec;  /* 0: never one-way */
        uint64_t idle_max_usec;
        bool traffic;           /* this tunnel is expected to carry traffic */
} tunnel_flow_params;

typedef enum flow_verdict {
        FLOW_OK,
        FLOW_NO_TRAFFIC,
        FLOW_ONE_WAY,
} flow_verdict;

/* Judge installed tunnel `t` at `now` (CLOCK_MONOTONIC µs): its counters go into f as the fact
 * "CONNECTION/CHILD.counters", a verdict other than OK also as an evidence line. */
flow_verdict tunnel_flow_judge(tunnel_flows *fl, const tunnel *t, const tunnel_flow_params *p, uint64_t now, finding *f);
/* Did t's outbound counter grow since the last judgement: 1, 0, or -1 when unknown (no
 * baseline yet, or new counters after a rekey)? */
int tunnel_flow_out_grew(const tunnel_flows *fl, const tunnel *t);
/* Is `t` one of the "CONNECTION/CHILD" names of `list` (NULL-terminated; may be NULL)? */
bool tunnel_listed(char *const *list, const tunnel *t);
