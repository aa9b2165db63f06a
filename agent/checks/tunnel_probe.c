/* See tunnel_probe.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/checks/tunnel_probe.h"
#include "icmp_echo.h"
#include "now.h"

#define PROBE_COUNT 3u /* copies per echo: one lost packet is not a finding */

int tunnel_probes_parse(tunnel_probes *tp, char *const *specs, const ynode *node, ydiag *d) {
        int r = 0;

        tp->n = 0;
        for (size_t i = 0; specs && specs[i]; i++) {
                char name[2 * TUNNEL_NAME_MAX], from[64], to[64], extra[2];
                tunnel_probe *p = &tp->p[tp->n];
                if (tp->n >= TUNNEL_PROBES_MAX) {
                        ydiag_add(d, node, "probe: at most %u probes", TUNNEL_PROBES_MAX);
                        return -EINVAL;
                }
                *p = (tunnel_probe){};
                if (sscanf(specs[i], "%127s %63s %63s %1s", name, from, to, extra) != 3 ||
                    tunnel_name_split(name, p->conn, p->child) < 0 || inet_pton(AF_INET, from, &p->src) != 1 ||
                    inet_pton(AF_INET, to, &p->dst) != 1 || !p->dst.s_addr) {
                        ydiag_add(d, node,
                                  "probe: '%.120s' is not \"CONNECTION/CHILD FROM TO\" (the tunnel, the gateway's inside "
                                  "IPv4 address, an IPv4 address behind the peer)",
                                  specs[i]);
                        r = -EINVAL;
                        continue;
                }
                tp->n++;
        }
        return r;
}

static void on_echo(icmp_probe *ip, const icmp_probe_result *res, void *userdata) {
        tunnel_probes *tp = userdata;
        for (size_t i = 0; i < tp->n; i++) {
                tunnel_probe *p = &tp->p[i];
                if (p->small == ip) {
                        p->r_small = *res;
                        p->have_small = true;
                        p->small = icmp_probe_free(p->small);
                } else if (p->large == ip) {
                        p->r_large = *res;
                        p->have_large = true;
                        p->large = icmp_probe_free(p->large);
                } else
                        continue;
                if (tp->pending && --tp->pending == 0 && tp->done)
                        tp->done(tp->userdata);
                return;
        }
}

void tunnel_probes_stop(tunnel_probes *tp) {
        for (size_t i = 0; i < tp->n; i++) {
                tp->p[i].small = icmp_probe_free(tp->p[i].small);
                tp->p[i].large = icmp_probe_free(tp->p[i].large);
        }
        tp->pending = 0;
}

int tunnel_probes_start(tunnel_probes *tp, ev_loop *event, const tunnel_probe_params *pp,
                        void (*done)(void *userdata), void *userdata) {
        int r;

        tunnel_probes_stop(tp);
        tp->done = done;
        tp->userdata = userdata;
        for (size_t i = 0; i < tp->n; i++) {
                tunnel_probe *p = &tp->p[i];
                icmp_probe_options o = { .netns = pp->netns, .src = p->src, .dst = p->dst, .total = TUNNEL_PROBE_SMALL,
                                         .count = PROBE_COUNT, .interval_usec = pp->timeout_usec / PROBE_COUNT,
                                         .timeout_usec = pp->timeout_usec };
                p->have_small = p->have_large = false;
                if ((r = icmp_probe_start(&p->small, event, &o, on_echo, tp)) < 0)
                        goto fail;
                tp->pending++;
                o.total = pp->size;
                if ((r = icmp_probe_start(&p->large, event, &o, on_echo, tp)) < 0)
                        goto fail;
                tp->pending++;
        }
        return (int) tp->pending;
fail:
        tunnel_probes_stop(tp);
        return r;
}

const char *probe_verdict_reason(probe_verdict v) {
        switch (v) {
        case PROBE_MTU:
                return "mtu_blackhole";
        case PROBE_ESP_LOST:
                return "esp_dropped";
        case PROBE_NOT_ROUTED:
                return "not_routed";
        default:
                return NULL;
        }
}

static const tunnel_probe *probe_of(const tunnel_probes *tp, const tunnel *t) {
        for (size_t i = 0; i < tp->n; i++)
                if (strcmp(tp->p[i].conn, t->conn) == 0 && strcmp(tp->p[i].child, t->child) == 0)
                        return &tp->p[i];
        return NULL;
}

probe_verdict tunnel_probes_judge(const tunnel_probes *tp, const tunnel *t, const tunnel_probe_params *pp, int out_grew,
                                  finding *f) {
        const tunnel_probe *p = probe_of(tp, t);
        char name[2 * TUNNEL_NAME_MAX], key[2 * TUNNEL_NAME_MAX + 8], dst[INET_ADDRSTRLEN] = "?";
        probe_verdict v;

        if (!p || !p->have_small || !p->have_large)
                return PROBE_NONE;
        (void) snprintf(name, sizeof(name), "%s/%s", t->conn, t->child);
        (void) snprintf(key, sizeof(key), "%s.probe", name);
        (void) inet_ntop(AF_INET, &p->dst, dst, sizeof(dst));
        (void) finding_fact_set(f, key, "to=%s small=%s full=%s size=%u", dst, icmp_probe_verdict_to_string(p->r_small.verdict),
                                icmp_probe_verdict_to_string(p->r_large.verdict), pp->size);
        bool small = p->r_small.verdict == ICMP_PROBE_ANSWERED, large = p->r_large.verdict == ICMP_PROBE_ANSWERED;
        if (small && large)
                return PROBE_OK;
        if (p->r_small.verdict == ICMP_PROBE_ERROR) {
                /* a local failure (no such address here, no route) says nothing of the path */
                (void) finding_evidence(f, "%s: the probe to %s could not be sent: %s", name, dst, p->r_small.detail);
                return PROBE_NONE;
        }
        if (small) {
                v = PROBE_MTU;
                (void) finding_evidence(f, "%s: an echo of %u bytes to %s passes, one of %u bytes with DF does not (%s): "
                                           "an MTU black hole on the path (\"fragmentation needed\" does not come back)",
                                        name, TUNNEL_PROBE_SMALL, dst, pp->size, p->r_large.detail);
                (void) finding_fact_set(f, "probe_size", "%u", pp->size);
        } else if (out_grew == 0) {
                v = PROBE_NOT_ROUTED;
                (void) finding_evidence(f, "%s: no echo to %s answered (%s) and none left through the CHILD_SA (outbound "
                                           "counter still): traffic selectors or routing keep it out of the tunnel",
                                        name, dst, p->r_small.detail);
        } else {
                v = PROBE_ESP_LOST;
                (void) finding_evidence(f, "%s: echoes to %s left through the CHILD_SA, none answered (%s) while the IKE_SA "
                                           "is up: ESP lost on the path",
                                        name, dst, p->r_small.detail);
        }
        return v;
}
