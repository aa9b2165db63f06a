/* Diagnosis rules on hand-made findings: one root cause gives one problem and absorbs what it
 * explains (dead charon ⇒ probe and SA collapse; nftables drop ⇒ probe; clock ⇒ expired
 * certificate; gateway certificate ⇒ authentication failures), unexplained probe failure is the
 * boundary firewall, and peers' failures are local while others are up and global when every
 * peer fails. Then the incident store on top: one incident per class, updated not duplicated,
 * resolved when the problem is gone. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/triage/diagnosis.h"
#include "agent/triage/incident.h"
#include "tap.h"

#define MAXIN 12

typedef struct world {
        diagnosis_input in[MAXIN];
        finding *f[MAXIN];
        size_t n;
} world;

/* add a check with status and "key=value" facts, NULL-terminated */
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
        (void) finding_evidence(f, "evidence line of %s", name);
        w->f[w->n] = f;
        w->in[w->n] = (diagnosis_input){ .check = name, .kind = kind, .reported = st, .finding = f };
        w->n++;
}

static void reset(world *w) {
        for (size_t i = 0; i < w->n; i++)
                finding_free(w->f[i]);
        w->n = 0;
}

static const diagnosis_problem *find(const diagnosis *d, fault_class c) {
        for (size_t i = 0; i < d->n_problems; i++)
                if (d->problems[i].cls == c)
                        return &d->problems[i];
        return NULL;
}

static void healthy_base(world *w, const char *peers_up) {
        add(w, "daemon", "daemon", CHECK_OK, NULL);
        add(w, "firewall", "firewall", CHECK_OK, NULL);
        add(w, "sas", "sas", CHECK_OK, peers_up, NULL);
}

int main(void) {
        world w = {};
        diagnosis d;

        /* everything fine */
        healthy_base(&w, "peers_up=a,b");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0 && d.impact == FAULT_SCOPE_UNKNOWN,
              "healthy: no problem, no impact");
        diagnosis_done(&d);
        reset(&w);

        /* a VRRP standby has no SAs: not a collapse; the same count on the master is one */
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "vrrp", "vrrp", CHECK_OK, "role=MASTER", NULL);
        add(&w, "sas", "sas", CHECK_FAIL, "reason=sa_collapse", "scope=global", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=authentication", "reason=auth_failed", "peers=p1", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.impact == FAULT_SCOPE_GLOBAL,
              "MASTER with SAs collapsed: global impact (%d)", (int) d.impact);
        diagnosis_done(&d);
        reset(&w);
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "vrrp", "vrrp", CHECK_OK, "role=BACKUP", NULL);
        add(&w, "sas", "sas", CHECK_FAIL, "reason=sa_collapse", "scope=global", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=authentication", "reason=auth_failed", "peers=p1", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.impact != FAULT_SCOPE_GLOBAL,
              "BACKUP with no SAs: no global impact (%d)", (int) d.impact);
        diagnosis_done(&d);
        reset(&w);

        /* charon dead: probe, SA collapse and reachability are its evidence */
        add(&w, "daemon", "daemon", CHECK_FAIL, "class=daemon", "reason=crashed", NULL);
        add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", "reason=refused", NULL);
        add(&w, "sas", "sas", CHECK_FAIL, "reason=sa_collapse", "scope=global", NULL);
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0, "run");
        CHECK(d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON &&
                      d.problems[0].scope == FAULT_SCOPE_GLOBAL && d.impact == FAULT_SCOPE_GLOBAL,
              "dead charon: one problem, daemon, global [%zu problems]", d.n_problems);
        CHECK(strstr(d.problems[0].explains, "probe") && strcmp(d.problems[0].reason, "crashed") == 0,
              "explains the probe: '%s', reason %s", d.problems[0].explains, d.problems[0].reason);
        diagnosis_done(&d);
        reset(&w);

        /* nftables drops 4500: the probe failure is the firewall's evidence */
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "firewall", "firewall", CHECK_FAIL, "class=firewall", "reason=udp4500_dropped", NULL);
        add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", "reason=udp4500_silent", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL &&
                      strcmp(d.problems[0].reason, "udp4500_dropped") == 0 &&
                      d.problems[0].confidence == 90 && d.problems[0].scope == FAULT_SCOPE_GLOBAL,
              "nft drop: firewall, udp4500_dropped, global, 90%%");
        diagnosis_done(&d);
        reset(&w);

        /* the probe fails and nothing here drops: boundary firewall, lower confidence */
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL &&
                      d.problems[0].confidence == 50 &&
                      strcmp(d.problems[0].reason, "boundary_or_path") == 0,
              "unexplained probe failure: firewall at the boundary, 50%% (%u)", d.problems[0].confidence);
        diagnosis_done(&d);
        reset(&w);

        /* an external monitor's probe fails and nothing here drops: the boundary, with the
         * confidence of an independent vantage point; an external alert of another class is
         * taken as told */
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        add(&w, "alerts", "alerts", CHECK_FAIL, "class=reachability", "reason=udp500_silent", "scope=global", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL &&
                      d.problems[0].confidence == 85 && strcmp(d.problems[0].reason, "boundary_or_path") == 0 &&
                      d.problems[0].scope == FAULT_SCOPE_GLOBAL,
              "external probe failure, local view clean: boundary firewall, 85%% (%u)", d.problems[0].confidence);
        diagnosis_done(&d);
        reset(&w);
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "firewall", "firewall", CHECK_FAIL, "class=firewall", "reason=udp500_dropped", "scope=global", NULL);
        add(&w, "alerts", "alerts", CHECK_FAIL, "class=reachability", "reason=udp500_silent", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL &&
                      strcmp(d.problems[0].reason, "udp500_dropped") == 0 && d.problems[0].confidence == 90 &&
                      strstr(d.problems[0].explains, "alerts"),
              "the local firewall drops: its problem (90%%) explains the external alert");
        diagnosis_done(&d);
        reset(&w);
        add(&w, "daemon", "daemon", CHECK_OK, NULL);
        add(&w, "alerts", "alerts", CHECK_FAIL, "class=certificate", "reason=expires_soon", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_CERTIFICATE &&
                      d.problems[0].confidence == 80 && strcmp(d.problems[0].reason, "expires_soon") == 0,
              "an external certificate alert: taken as told, 80%% (%u)", d.problems[0].confidence);
        diagnosis_done(&d);
        reset(&w);

        /* a hung charon (alive, answers nothing) explains the silent probe: one daemon problem */
        add(&w, "daemon", "daemon", CHECK_FAIL, "class=daemon", "reason=hung", "scope=global", NULL);
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", "reason=udp500_silent", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON &&
                      strcmp(d.problems[0].reason, "hung") == 0 && strstr(d.problems[0].explains, "probe"),
              "hung charon: one daemon problem, reason hung, explains the probe");
        diagnosis_done(&d);
        reset(&w);

        /* the probe went silent, and charon has not answered anything since the probe began: not
         * yet the boundary (a hung charon is silent too; the daemon check decides first) */
        add(&w, "daemon", "daemon", CHECK_OK, "answered_usec=1000000", NULL);
        add(&w, "firewall", "firewall", CHECK_OK, NULL);
        add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", NULL);
        w.f[2]->started_usec = 1500000;
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0,
              "silent probe, charon unconfirmed since: held, no boundary problem (%zu problems)", d.n_problems);
        diagnosis_done(&d);
        /* charon answered after the probe began: the silence is outside, the boundary */
        (void) finding_fact_set(w.f[0], "answered_usec", "2000000");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_FIREWALL &&
                      strcmp(d.problems[0].reason, "boundary_or_path") == 0,
              "silent probe, charon answered since: boundary firewall");
        diagnosis_done(&d);
        /* but charon came (back) up after the probe began: the probe met it down */
        (void) finding_fact_set(w.f[0], "connected_usec", "1600000");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0,
              "silent probe that began before charon came up: held (%zu problems)", d.n_problems);
        diagnosis_done(&d);
        reset(&w);

        /* a boundary incident the probe found stays as it is while a later run is held: the
         * held failure neither resolves it nor makes triage settle (run every check again) —
         * with the probe every 0.5 s and charon asked every 1 s, every other run is held */
        {
                incident_store *hs = NULL;
                add(&w, "daemon", "daemon", CHECK_OK, "answered_usec=2000000", NULL);
                add(&w, "firewall", "firewall", CHECK_OK, NULL);
                add(&w, "probe", "ike_probe", CHECK_FAIL, "class=reachability", NULL);
                w.f[2]->started_usec = 1500000;
                CHECK(incident_store_new(&hs, NULL, NULL) == 0 && diagnosis_run(w.in, w.n, &d) == 0 &&
                              d.n_problems == 1 && incident_store_apply(hs, &d, w.in, w.n, 1000, NULL, NULL) == 0 &&
                              incident_store_active(hs) == 1,
                      "boundary incident opened");
                diagnosis_done(&d);
                w.f[2]->started_usec = 2500000; /* the next probe run began after charon's last answer */
                CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0 && diagnosis_withheld(&d, "probe"),
                      "the next run is held (withheld: probe)");
                CHECK(!incident_store_would_resolve(hs, &d, w.in, w.n), "held: the incident would not resolve (no settle)");
                CHECK(incident_store_apply(hs, &d, w.in, w.n, 2000, NULL, NULL) == 0 && incident_store_active(hs) == 1,
                      "held: the incident stays open");
                diagnosis_done(&d);
                w.in[2].reported = CHECK_OK;
                w.f[2]->status = CHECK_OK;
                CHECK(diagnosis_run(w.in, w.n, &d) == 0 && !diagnosis_withheld(&d, "probe") &&
                              incident_store_would_resolve(hs, &d, w.in, w.n) &&
                              incident_store_apply(hs, &d, w.in, w.n, 3000, NULL, NULL) == 0 && incident_store_active(hs) == 0,
                      "the probe answered: resolved");
                diagnosis_done(&d);
                incident_store_free(hs);
                reset(&w);
        }

        /* clock skew explains an "expired" certificate */
        add(&w, "clock", "clock", CHECK_FAIL, "class=clock", "reason=skew", NULL);
        add(&w, "certs", "certificate", CHECK_FAIL, "class=certificate", "reason=expired", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_CLOCK &&
                      strstr(d.problems[0].explains, "certs"),
              "skew: clock is the cause, the certificate its evidence");
        diagnosis_done(&d);
        reset(&w);

        /* a certificate not about time stays its own problem */
        add(&w, "clock", "clock", CHECK_FAIL, "class=clock", "reason=skew", NULL);
        add(&w, "certs", "certificate", CHECK_FAIL, "class=certificate", "reason=chain_incomplete", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 2 && find(&d, FAULT_CERTIFICATE),
              "chain incomplete is not the clock's doing");
        diagnosis_done(&d);
        reset(&w);

        /* expired gateway certificate: peers' AUTHENTICATION_FAILED is its evidence */
        healthy_base(&w, "peers_up=");
        add(&w, "certs", "certificate", CHECK_FAIL, "class=certificate", "reason=expired", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=authentication", "reason=auth_failed", "peers=c1,c2", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_CERTIFICATE &&
                      d.problems[0].scope == FAULT_SCOPE_GLOBAL,
              "expired gateway cert: one global certificate problem");
        diagnosis_done(&d);
        reset(&w);

        /* a key readable by others, seen by the certificate and the config checks: one
         * warning, the config view (naming the file), the certificate's as its evidence */
        healthy_base(&w, "peers_up=a");
        add(&w, "certs", "certificate", CHECK_WARN, "class=certificate", "reason=key_permissions", NULL);
        add(&w, "config", "config", CHECK_WARN, "class=daemon_config", "reason=unsafe_permissions", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON_CONFIG &&
                      d.problems[0].severity == CHECK_WARN && strcmp(d.problems[0].reason, "unsafe_permissions") == 0 &&
                      strstr(d.problems[0].explains, "certs"),
              "0644 key: one problem, daemon_config/unsafe_permissions warning, explaining the certificate view "
              "[%zu problems]", d.n_problems);
        diagnosis_done(&d);
        reset(&w);

        /* …but a certificate broken for another reason stays a problem of its own */
        add(&w, "certs", "certificate", CHECK_FAIL, "class=certificate", "reason=expired", NULL);
        add(&w, "config", "config", CHECK_WARN, "class=daemon_config", "reason=unsafe_permissions", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 2 && find(&d, FAULT_CERTIFICATE) &&
                      find(&d, FAULT_CERTIFICATE)->severity == CHECK_FAIL,
              "expired certificate and an unsafe key mode: two causes, two problems");
        diagnosis_done(&d);
        reset(&w);

        /* without the config check, the certificate's view stands alone */
        add(&w, "certs", "certificate", CHECK_WARN, "class=certificate", "reason=key_permissions", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_CERTIFICATE &&
                      d.problems[0].severity == CHECK_WARN && d.impact == FAULT_SCOPE_UNKNOWN,
              "key_permissions alone: a certificate warning, no impact");
        diagnosis_done(&d);
        reset(&w);

        /* one peer fails authentication while another is up: local, naming the peer */
        healthy_base(&w, "peers_up=c2");
        add(&w, "logs", "logs", CHECK_FAIL, "class=authentication", "reason=auth_failed", "peers=c1", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 &&
                      d.problems[0].cls == FAULT_AUTHENTICATION && d.problems[0].scope == FAULT_SCOPE_LOCAL &&
                      strcmp(d.problems[0].peers, "c1") == 0 && d.impact == FAULT_SCOPE_LOCAL,
              "one peer failing, one up: local (peers '%s')", d.problems[0].peers);
        diagnosis_done(&d);
        reset(&w);

        /* every peer fails, none up: global */
        healthy_base(&w, "peers_up=");
        add(&w, "logs", "logs", CHECK_FAIL, "class=proposal", "reason=no_proposal", "peers=c1,c2", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_PROPOSAL &&
                      d.problems[0].scope == FAULT_SCOPE_GLOBAL,
              "two peers fail, none up: global");
        diagnosis_done(&d);
        reset(&w);

        /* a finding's own scope wins; config drift is evidence, not a problem */
        healthy_base(&w, "peers_up=c2");
        add(&w, "config", "config", CHECK_WARN, "class=config_change", "reason=drift", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=traffic_selectors", "peers=c1", "scope=global", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 &&
                      d.problems[0].scope == FAULT_SCOPE_GLOBAL && strstr(d.recent_changes, "config"),
              "explicit scope kept; drift goes to recent changes");
        diagnosis_done(&d);
        reset(&w);

        /* "no IKE config" from peers while every connection is loaded: a reload window, dropped */
        healthy_base(&w, "peers_up=c2");
        add(&w, "conns", "conns", CHECK_OK, NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=daemon_config", "reason=no_config", "peers=probe", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0,
              "peers' no_config with the connections loaded is not a problem");
        diagnosis_done(&d);
        reset(&w);
        add(&w, "conns", "conns", CHECK_FAIL, "class=daemon_config", "reason=conns_missing", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=daemon_config", "reason=no_config", "peers=c1", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON_CONFIG &&
                      strcmp(d.problems[0].reason, "conns_missing") == 0 && d.problems[0].scope == FAULT_SCOPE_GLOBAL,
              "connections missing: one daemon_config problem, the conns check is the root");
        diagnosis_done(&d);
        reset(&w);
        /* charon down: what peers were told by it before (its restart window) is explained */
        add(&w, "daemon", "daemon", CHECK_FAIL, "class=daemon", "reason=stopped", "scope=global", NULL);
        add(&w, "conns", "conns", CHECK_UNKNOWN, NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=daemon_config", "reason=no_config", "peers=probe", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 1 && d.problems[0].cls == FAULT_DAEMON,
              "charon stopped: one daemon problem; the peers' earlier no_config is explained by it");
        diagnosis_done(&d);
        reset(&w);

        /* ordering: FAIL before WARN, global before local */
        healthy_base(&w, "peers_up=c2");
        add(&w, "certs", "certificate", CHECK_WARN, "class=certificate", "reason=expires_soon", NULL);
        add(&w, "logs", "logs", CHECK_FAIL, "class=proposal", "peers=c1", NULL);
        add(&w, "fw", "firewall", CHECK_FAIL, "class=firewall", "reason=esp_dropped", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 3 &&
                      d.problems[0].cls == FAULT_FIREWALL && d.problems[1].cls == FAULT_PROPOSAL &&
                      d.problems[2].cls == FAULT_CERTIFICATE,
              "order: global fail, local fail, warn");

        /* incidents: one per class, updated in place, resolved when gone */
        incident_store *s = NULL;
        unsigned opened = 0;
        CHECK(incident_store_new(&s, NULL, NULL) == 0, "store (memory)");
        CHECK(incident_store_apply(s, &d, w.in, w.n, 1000, NULL, NULL) == 0 && incident_store_size(s) == 3 &&
                      incident_store_active(s) == 3,
              "three problems, three incidents");
        CHECK(incident_store_apply(s, &d, w.in, w.n, 2000, NULL, NULL) == 0 && incident_store_size(s) == 3,
              "same diagnosis again: no new incident");
        (void) opened;
        diagnosis_done(&d);
        reset(&w);
        healthy_base(&w, "peers_up=c2");
        add(&w, "fw", "firewall", CHECK_FAIL, "class=firewall", "reason=udp500_dropped", NULL);
        CHECK(diagnosis_run(w.in, w.n, &d) == 0, "run");
        CHECK(incident_store_apply(s, &d, w.in, w.n, 3000, NULL, NULL) == 0 && incident_store_active(s) == 1,
              "two resolved, firewall still active");
        const incident *fw = NULL;
        for (size_t i = 0; i < incident_store_size(s); i++)
                if (incident_store_get(s, i)->cls == FAULT_FIREWALL)
                        fw = incident_store_get(s, i);
        CHECK(fw && fw->state == INCIDENT_OPEN && strcmp(fw->reason, "udp500_dropped") == 0 &&
                      fw->updates == 1 && fw->opened_usec == 1000,
              "firewall incident updated in place (reason changed, opened kept)");
        CHECK(incident_store_set_state(s, fw->id, INCIDENT_REMEDIATING, "runbook", 3500, NULL, NULL) == 0,
              "open → remediating");
        diagnosis_done(&d);
        reset(&w);
        /* the firewall check cannot tell (UNKNOWN): no evidence of health, nothing resolved */
        healthy_base(&w, "peers_up=c2");
        w.in[1].reported = CHECK_UNKNOWN;
        w.f[1]->status = CHECK_UNKNOWN;
        w.in[1].check = "fw";
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 0 &&
                      incident_store_apply(s, &d, w.in, w.n, 3600, NULL, NULL) == 0 &&
                      incident_store_active(s) == 1,
              "root check unknown: the incident stays open");
        diagnosis_done(&d);
        reset(&w);
        healthy_base(&w, "peers_up=c2");
        CHECK(diagnosis_run(w.in, w.n, &d) == 0 && incident_store_apply(s, &d, w.in, w.n, 4000, NULL, NULL) == 0 &&
                      incident_store_active(s) == 0,
              "all healthy: everything resolved");
        CHECK(incident_store_set_state(s, 1, INCIDENT_OPEN, "reopen", 5000, NULL, NULL) == -EINVAL,
              "nothing leaves resolved");
        diagnosis_done(&d);
        reset(&w);
        incident_store_free(s);

        /* durable: what was open is known again after a restart, resolved stays resolved */
        {
                char dir[] = "/tmp/ikh-test-incidents-XXXXXX";
                uint64_t dropped = 1;
                CHECK(mkdtemp(dir) != NULL, "tmp dir");
                healthy_base(&w, "peers_up=c2");
                add(&w, "fw", "firewall", CHECK_FAIL, "class=firewall", "reason=udp4500_dropped", NULL);
                add(&w, "logs", "logs", CHECK_FAIL, "class=proposal", "peers=c1", NULL);
                CHECK(diagnosis_run(w.in, w.n, &d) == 0 && d.n_problems == 2, "two problems");
                CHECK(incident_store_new(&s, dir, &dropped) == 0 && dropped == 0, "open empty log");
                CHECK(incident_store_apply(s, &d, w.in, w.n, 1000, NULL, NULL) == 0, "apply, durable");
                diagnosis_done(&d);
                reset(&w);
                healthy_base(&w, "peers_up=c2");
                add(&w, "fw", "firewall", CHECK_FAIL, "class=firewall", "reason=udp4500_dropped", NULL);
                CHECK(diagnosis_run(w.in, w.n, &d) == 0 && incident_store_apply(s, &d, w.in, w.n, 2000, NULL, NULL) == 0,
                      "proposal resolved");
                diagnosis_done(&d);
                reset(&w);
                incident_store_free(s);
                s = NULL;
                CHECK(incident_store_new(&s, dir, &dropped) == 0 && incident_store_size(s) == 2 &&
                              incident_store_active(s) == 1,
                      "reopened: 2 incidents, 1 active [%zu, %zu]", s ? incident_store_size(s) : 0,
                      s ? incident_store_active(s) : 0);
                const incident *i0 = s ? incident_store_get(s, 0) : NULL, *i1 = s ? incident_store_get(s, 1) : NULL;
                CHECK(i0 && i1 && ((i0->cls == FAULT_FIREWALL && i0->state == INCIDENT_OPEN &&
                                    strcmp(i0->reason, "udp4500_dropped") == 0 && i0->n_evidence > 0) ||
                                   (i1->cls == FAULT_FIREWALL && i1->state == INCIDENT_OPEN)),
                      "the firewall incident came back open, with reason and evidence");
                /* a new incident after reopening gets a fresh id */
                healthy_base(&w, "peers_up=");
                add(&w, "clock", "clock", CHECK_FAIL, "class=clock", NULL);
                add(&w, "fw", "firewall", CHECK_FAIL, "class=firewall", NULL);
                CHECK(diagnosis_run(w.in, w.n, &d) == 0 && incident_store_apply(s, &d, w.in, w.n, 3000, NULL, NULL) == 0 &&
                              incident_store_get(s, 0)->id == 3,
                      "ids continue after a restart (new id %llu)",
                      (unsigned long long) incident_store_get(s, 0)->id);
                diagnosis_done(&d);
                reset(&w);
                incident_store_free(s);
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
                (void) !system(cmd);
        }
        return TAP_END();
}
