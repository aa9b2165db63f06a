/* Diagnosis of a site-to-site tunnel down (class tunnel, from the tunnels check): a problem of
 * its own, local while other peers are up; explained by charon being down or IKE dropped on
 * this host; explained by what charon said about it (its class) when that stands as a problem
 * of its own, and not when the class it names has no problem behind it (the tunnel must not
 * vanish). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/triage/diagnosis.h"
#include "tap.h"

#define MAXIN 8

typedef struct world {
        diagnosis_input in[MAXIN];
        finding *f[MAXIN];
        size_t n;
} world;

static void add(world *w, const char *name, const char *kind, check_status st, ...) {
        finding *f = NULL;
        va_list ap;

        if (finding_new(&f) < 0)
                abort();
        (void) finding_set(f, st, "%s says %s", name, check_status_to_string(st));
        va_start(ap, st);
        for (const char *kv; (kv = va_arg(ap, const char *));) {
                const char *eq = strchr(kv, '=');
                char key[64];
                snprintf(key, sizeof(key), "%.*s", (int) (eq - kv), kv);
                (void) finding_fact_set(f, key, "%s", eq + 1);
        }
        va_end(ap);
        w->f[w->n] = f;
        w->in[w->n] = (diagnosis_input){ .check = name, .kind = kind, .reported = st, .finding = f };
        w->n++;
}

static void reset(world *w) {
        for (size_t i = 0; i < w->n; i++)
                finding_free(w->f[i]);
        w->n = 0;
}

#define TUNNEL_DOWN(w, ...)                                                                                         \
        add(w, "tunnels", "tunnels", CHECK_FAIL, "class=tunnel", "reason=ike_down", "peers=peer.example.org@192.0.2.7", \
            ##__VA_ARGS__, NULL)

int main(void) {
        world w = {};
        diagnosis d;

        CHECK(fault_class_to_string(FAULT_TUNNEL) && strcmp(fault_class_to_string(FAULT_TUNNEL), "tunnel") == 0,
              "the class is named tunnel");

        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "sas", "sas", CHECK_OK, "peers_up=198.51.100.2", NULL);
        TUNNEL_DOWN(&w);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_TUNNEL &&
                      strcmp(d.problems[0].reason, "ike_down") == 0 && d.problems[0].scope == FAULT_SCOPE_LOCAL,
              "a tunnel down while a road warrior is up: tunnel, ike_down, local");
        diagnosis_done(&d);
        reset(&w);

        add(&w, "daemon", "daemon", CHECK_FAIL, "class=daemon", "reason=crashed", NULL);
        TUNNEL_DOWN(&w);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON &&
                      strstr(d.problems[0].explains, "tunnels"),
              "charon down explains the tunnel: one daemon problem");
        diagnosis_done(&d);
        reset(&w);

        add(&w, "firewall", "firewall", CHECK_FAIL, "class=firewall", "reason=udp4500_dropped", NULL);
        TUNNEL_DOWN(&w);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL,
              "IKE dropped here explains the tunnel");
        diagnosis_done(&d);
        reset(&w);

        add(&w, "logs", "logs", CHECK_FAIL, "class=authentication", "reason=auth_failed",
            "peers=peer.example.org@192.0.2.7", NULL);
        TUNNEL_DOWN(&w, "charon_class=authentication");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_AUTHENTICATION &&
                      strstr(d.problems[0].explains, "tunnels"),
              "charon said authentication failed, and that is a problem: the tunnel is its evidence");
        diagnosis_done(&d);
        reset(&w);

        add(&w, "daemon", "daemon", CHECK_FAIL, "class=daemon", "reason=crashed", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=traffic_selectors", "reason=ts_unacceptable", NULL);
        TUNNEL_DOWN(&w, "charon_class=traffic_selectors");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON,
              "the class charon named is itself explained (by the dead daemon): the daemon stands for all");
        diagnosis_done(&d);
        reset(&w);

        /* the probe's data-plane reasons: ESP lost with this host's firewall fine is the path's
         * (a tunnel problem, local while others are up); ESP dropped here is the firewall's */
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        add(&w, "sas", "sas", CHECK_OK, "peers_up=198.51.100.2", NULL);
        add(&w, "tunnels", "tunnels", CHECK_FAIL, "class=tunnel", "reason=esp_dropped", "scope=local",
            "peers=peer.example.org@192.0.2.7", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_TUNNEL &&
                      strcmp(d.problems[0].reason, "esp_dropped") == 0,
              "ESP lost on the path, this host's firewall fine: tunnel, esp_dropped");
        diagnosis_done(&d);
        reset(&w);
        add(&w, "firewall", "firewall", CHECK_FAIL, "class=firewall", "reason=esp_dropped", NULL);
        add(&w, "tunnels", "tunnels", CHECK_FAIL, "class=tunnel", "reason=esp_dropped", "peers=peer.example.org@192.0.2.7",
            NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL,
              "ESP dropped by this host's firewall explains the probe's esp_dropped");
        diagnosis_done(&d);
        reset(&w);
        add(&w, "tunnels", "tunnels", CHECK_FAIL, "class=tunnel", "reason=mtu_blackhole", "peers=peer.example.org@192.0.2.7",
            NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_TUNNEL &&
                      strcmp(d.problems[0].reason, "mtu_blackhole") == 0,
              "an MTU black hole: tunnel, mtu_blackhole");
        diagnosis_done(&d);
        reset(&w);

        TUNNEL_DOWN(&w, "charon_class=proposal");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_TUNNEL,
              "charon named a class nobody else sees: the tunnel stands as its own problem");
        diagnosis_done(&d);
        reset(&w);
        return TAP_END();
}
