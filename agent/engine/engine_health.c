/* Is this gateway healthy now? What the engine lends actions as action_env's gateway_healthy: a
 * measure taken because this gateway was sick (a failover) is undone on it, early, and its
 * revert asks it again at every look of its hold.
 *
 * Healthy means both:
 *  - charon's VICI link here is up (the failover's revert itself then asks charon every half
 *    second for its hold: a link that is up but a charon that does not answer breaks the hold);
 *  - no active incident (open, remediating or escalated) of global scope at severity fail — the
 *    incidents failover-unhealed hands the virtual address away for. A VRRP standby's missing
 *    SAs open none: diagnosis does not call them a collapse. A warning does not keep the address
 *    away (charon up and answering after a crash loop is a warning; a human is told of it). */
#include <stdio.h>

#include "agent/engine/engine_internal.h"
#include "agent/triage/incident.h"
#include "fault.h"
#include "vici.h"

int engine_gateway_healthy(void *userdata, char *why, size_t n) {
        engine *e = userdata;

        if (!e->env.vici || !vici_client_is_connected(e->env.vici)) {
                (void) snprintf(why, n, "charon's VICI link here is down");
                return 1;
        }
        for (size_t i = 0; i < incident_store_size(e->incidents); i++) {
                const incident *inc = incident_store_get(e->incidents, i);
                if (inc->state == INCIDENT_RESOLVED || inc->scope != FAULT_SCOPE_GLOBAL || inc->severity != CHECK_FAIL)
                        continue;
                (void) snprintf(why, n, "incident %llu (%s, %s, global) is active: %.160s", (unsigned long long) inc->id,
                                fault_class_to_string(inc->cls), inc->reason, inc->summary);
                return 1;
        }
        return 0;
}
