/* The fleet's part of GET /metrics (agent/fleet/fleet.h), written only when this gateway is in a
 * fleet (the fleet: section): its lease, the slots it holds or waits for, the fleet-wide pause
 * and freeze as it last read them, how many gateways the fleet has, what it sent to etcd. Read
 * from the fleet's status in memory: a scrape never asks etcd. */
#include "agent/fleet/fleet.h"
#include "agent/observe/observe_internal.h"
#include "now.h"
#include "prom_text.h"

void observe_fleet_metrics(observe *o, prom_text *p) {
        fleet_status st;

        if (!o->deps.fleet)
                return;
        fleet_status_get(o->deps.fleet, &st);
        if (!st.enabled)
                return;
        prom_text_family(p, "ikeheal_fleet_lease_alive", PROM_GAUGE,
                         "1 while this gateway's etcd lease is known alive (renewed within its TTL): fleet slots may be held");
        prom_text_sample(p, NULL, 0, st.lease_alive);
        prom_text_family(p, "ikeheal_fleet_slots_held", PROM_GAUGE, "runs holding their fleet slots for disruptive steps");
        prom_text_sample(p, NULL, 0, st.slots_held);
        prom_text_family(p, "ikeheal_fleet_slot_waiting", PROM_GAUGE, "runs waiting for a fleet slot (or for etcd)");
        prom_text_sample(p, NULL, 0, st.waiting);
        prom_text_family(p, "ikeheal_fleet_drill_slot", PROM_GAUGE,
                         "the fleet's drill slot (one drill at a time in the fleet): 1 held by this gateway, 0.5 waited for, 0 neither");
        prom_text_sample(p, NULL, 0, st.drill_slot_held ? 1 : st.drill_waiting ? 0.5 : 0);
        prom_text_family(p, "ikeheal_fleet_paused", PROM_GAUGE, "1 while the fleet-wide pause key is set (grades raised as by a local pause)");
        prom_text_sample(p, NULL, 0, st.paused);
        prom_text_family(p, "ikeheal_fleet_frozen", PROM_GAUGE, "1 while a fleet-wide freeze is in force");
        prom_text_sample(p, NULL, 0, st.freeze_until_usec && real_usec() < st.freeze_until_usec);
        if (st.gateways >= 0) {
                prom_text_family(p, "ikeheal_fleet_gateways", PROM_GAUGE,
                                 "gateway records in the fleet at the last count (about every 30 s), this one included");
                prom_text_sample(p, NULL, 0, (double) st.gateways);
        }
        prom_text_family(p, "ikeheal_fleet_watching", PROM_GAUGE,
                         "1 while the watches of the fleet's pause and freeze keys are open (else they are read at each renewal only)");
        prom_text_sample(p, NULL, 0, st.watching);
        prom_text_family(p, "ikeheal_fleet_watch_events_total", PROM_COUNTER,
                         "changes of the fleet's pause and freeze keys brought by the watches");
        prom_text_sample(p, NULL, 0, (double) st.watch_events);
        prom_text_family(p, "ikeheal_fleet_etcd_requests_total", PROM_COUNTER, "requests sent to etcd since the fleet was joined");
        prom_text_sample(p, NULL, 0, (double) st.requests);
}
