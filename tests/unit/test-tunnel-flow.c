/* The tunnels check's data plane on hand-made counters: outbound growing while inbound stands
 * still becomes one-way only after the window and only with the IKE_SA up; inbound growing ends
 * it; a rekey's lower counters are a new baseline; an idle tunnel expected to carry traffic is
 * "no traffic" (never used: idle since installed), one not expected is fine; charon's largest
 * numbers do not overflow. */
#include <stdlib.h>
#include <string.h>

#include "agent/checks/tunnel_flow.h"
#include "tap.h"

#define S (1000000ULL)

static flow_verdict judge(tunnel_flows *fl, tunnel *t, const tunnel_flow_params *p, uint64_t now) {
        finding *f = NULL;
        if (finding_new(&f) < 0)
                abort();
        flow_verdict v = tunnel_flow_judge(fl, t, p, now, f);
        const char *c = finding_fact_get(f, "s2s/net.counters");
        if (!c || !strstr(c, "in="))
                v = (flow_verdict) 99;
        finding_free(f);
        return v;
}

int main(void) {
        static tunnel_flows fl;
        tunnel t = { .conn = "s2s", .child = "net", .installed = true, .ike = TUNNEL_IKE_ESTABLISHED,
                     .idle_in = 0, .idle_out = 0, .installed_for = 100 };
        tunnel_flow_params p = { .one_way_usec = 10 * S, .idle_max_usec = 60 * S };
        char *list[] = { "s2s/net", NULL };

        t.bytes_in = 100, t.bytes_out = 100;
        CHECK(judge(&fl, &t, &p, 1 * S) == FLOW_OK, "first run: a baseline, counters as a fact");
        t.bytes_out = 200;
        CHECK(judge(&fl, &t, &p, 2 * S) == FLOW_OK, "out grew, in still: not yet");
        t.bytes_out = 300;
        CHECK(judge(&fl, &t, &p, 11 * S) == FLOW_OK, "9 s: within the window");
        t.ike = TUNNEL_IKE_CONNECTING;
        CHECK(judge(&fl, &t, &p, 12 * S) == FLOW_OK, "10 s, but the IKE_SA is not up: not one-way");
        t.ike = TUNNEL_IKE_ESTABLISHED;
        CHECK(judge(&fl, &t, &p, 12 * S) == FLOW_ONE_WAY, "10 s, IKE_SA up: one-way");
        t.bytes_in = 150;
        CHECK(judge(&fl, &t, &p, 13 * S) == FLOW_OK, "inbound grew: over");
        t.bytes_out = 400;
        CHECK(judge(&fl, &t, &p, 14 * S) == FLOW_OK, "out grows again: a new window starts");
        t.bytes_in = 10, t.bytes_out = 10;
        CHECK(judge(&fl, &t, &p, 30 * S) == FLOW_OK, "rekeyed (lower counters): a new baseline, not one-way");
        p.one_way_usec = 0;
        t.bytes_out = 500;
        (void) judge(&fl, &t, &p, 31 * S);
        CHECK(judge(&fl, &t, &p, 100 * S) == FLOW_OK, "one_way_after 0: never one-way");

        tunnel q = t;
        q.idle_in = q.idle_out = 120;
        CHECK(judge(&fl, &q, &p, 101 * S) == FLOW_OK, "idle, not expected to carry traffic: fine");
        p.traffic = tunnel_listed(list, &q);
        CHECK(p.traffic, "s2s/net is listed");
        CHECK(judge(&fl, &q, &p, 102 * S) == FLOW_NO_TRAFFIC, "idle 120 s, expected to carry traffic: no traffic");
        q.idle_in = 5;
        CHECK(judge(&fl, &q, &p, 103 * S) == FLOW_OK, "a packet 5 s ago: traffic");
        q.idle_in = q.idle_out = TUNNEL_NEVER;
        q.installed_for = 30;
        CHECK(judge(&fl, &q, &p, 104 * S) == FLOW_OK, "never used, installed 30 s ago: not yet");
        q.installed_for = 61;
        CHECK(judge(&fl, &q, &p, 105 * S) == FLOW_NO_TRAFFIC, "never used, installed 61 s ago: no traffic");
        q.idle_in = q.idle_out = UINT64_MAX - 1;
        CHECK(judge(&fl, &q, &p, 106 * S) == FLOW_OK, "an idle time beyond what fits in microseconds: no overflow, no alarm");
        return TAP_END();
}
