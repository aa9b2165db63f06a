/* The active data plane of the tunnels check: for each tunnel given a probe ("CONNECTION/CHILD
 * FROM TO": the gateway's inside address and an address behind the peer), two ICMP echoes
 * (agent/checks/icmp_probe.h) go through the tunnel each run, one small and one of full size
 * (`probe_size`, DF set). What they say, with the IKE_SA up and the CHILD_SA installed:
 *
 *   small answered, full size answered   → OK
 *   small answered, full size not        → MTU black hole on the path (PROBE_MTU)
 *   small not, and the echoes left through the CHILD_SA (its outbound counter grew since the
 *   last run)                            → ESP lost on the path (PROBE_ESP_LOST)
 *   small not, nothing left through the CHILD_SA
 *                                        → not routed into the tunnel: traffic selectors or
 *                                          routing (PROBE_NOT_ROUTED)
 *
 * Embedded in the check's state; bounded (TUNNEL_PROBES_MAX probes). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/checks/finding.h"
#include "agent/checks/icmp_probe.h"
#include "ev.h"
#include "tunnel_set.h"
#include "yaml_tree.h"

#define TUNNEL_PROBES_MAX 16u
#define TUNNEL_PROBE_SMALL 84u /* an IP packet as `ping` sends by default */

typedef enum probe_verdict {
        PROBE_NONE, /* no probe for this tunnel, or no result */
        PROBE_OK,
        PROBE_MTU,
        PROBE_ESP_LOST,
        PROBE_NOT_ROUTED,
} probe_verdict;

typedef struct tunnel_probe {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        struct in_addr src, dst;
        icmp_probe *small, *large;
        icmp_probe_result r_small, r_large;
        bool have_small, have_large;
} tunnel_probe;

typedef struct tunnel_probes {
        tunnel_probe p[TUNNEL_PROBES_MAX];
        size_t n;
        unsigned pending; /* echoes in flight */
        void (*done)(void *userdata);
        void *userdata;
} tunnel_probes;

typedef struct tunnel_probe_params {
        const char *netns;
        uint32_t size;         /* the full-size packet */
        uint64_t timeout_usec; /* per echo */
} tunnel_probe_params;

/* Parse `probe` (NULL-terminated "CONNECTION/CHILD FROM TO"; may be NULL), errors in d at node. */
int tunnel_probes_parse(tunnel_probes *tp, char *const *specs, const ynode *node, ydiag *d);
/* Start every probe; tp->done(userdata) is called from the loop once all have ended. The number
 * of echoes started (0: none, done is not called), or -errno. */
int tunnel_probes_start(tunnel_probes *tp, ev_loop *event, const tunnel_probe_params *pp,
                        void (*done)(void *userdata), void *userdata);
void tunnel_probes_stop(tunnel_probes *tp);
/* Judge installed tunnel t by its probe's results: fact "CONNECTION/CHILD.probe" and, for a
 * failure, an evidence line. out_grew: the CHILD_SA's outbound counter grew since the last run
 * (1), did not (0), unknown (-1). */
probe_verdict tunnel_probes_judge(const tunnel_probes *tp, const tunnel *t, const tunnel_probe_params *pp, int out_grew,
                                  finding *f);
const char *probe_verdict_reason(probe_verdict v);
