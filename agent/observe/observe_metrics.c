/* GET /metrics: the Prometheus exposition of what the agent holds now. Every family is written
 * in a fixed order from state already in memory — the checks' last findings (the sas check's
 * per-connection tally, the probe's and the certificate check's facts, charon's liveness),
 * triage's incidents, the engine's runs and measures, the drill runner's history, the audit
 * head, this room's counters — so a scrape costs a walk over bounded tables and never waits.
 * The metric names are the ones etc/prometheus/ikeheal-rules.yml documents. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <dirent.h>

#include "agent/checks/check.h"
#include "agent/checks/check_set.h"
#include "agent/checks/charon_hub.h"
#include "agent/checks/registry.h"
#include "agent/checks/sas.h"
#include "agent/checks/sas_tally.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine.h"
#include "agent/notify/audit_trail.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "now.h"
#include "policy/ledger.h"
#include "prom_text.h"

#define L(n, v) ((prom_label){ (n), (v) })

static void charon_metrics(observe *o, prom_text *p, check_set *set) {
        double restarts = 0;
        for (size_t i = 0; set && i < check_set_size(set); i++) {
                check *c = check_set_get(set, i);
                const finding *f = check_last_finding(c);
                const char *v = f ? finding_fact_get(f, "restarts_seen") : NULL;
                if (v && check_kind_is(check_kind(c), CHECK_ROLE_LIVENESS))
                        restarts = strtod(v, NULL);
        }
        prom_text_family(p, "ikeheal_charon_up", PROM_GAUGE, "1 when charon is connected on VICI");
        prom_text_sample(p, NULL, 0, o->deps.hub && charon_hub_connected(o->deps.hub) ? 1 : 0);
        prom_text_family(p, "ikeheal_charon_restarts_total", PROM_COUNTER, "charon starts seen after the first");
        prom_text_sample(p, NULL, 0, restarts);
}

/* Per peer (http.metrics_per_peer): each CHILD SA's bytes and packets by connection, peer
 * identity and CHILD_SA name. */
static void peer_metrics(prom_text *p, const sas_tally *t) {
        static const struct {
                const char *name, *help;
                size_t in, out;
        } fam[] = {
                { "ikeheal_peer_child_sa_bytes_total", "bytes of the CHILD SAs now up, per peer identity",
                  offsetof(sas_peer, bytes_in), offsetof(sas_peer, bytes_out) },
                { "ikeheal_peer_child_sa_packets_total", "packets of the CHILD SAs now up, per peer identity",
                  offsetof(sas_peer, packets_in), offsetof(sas_peer, packets_out) },
        };

        for (size_t f = 0; f < ELEMENTSOF(fam); f++) {
                prom_text_family(p, fam[f].name, PROM_COUNTER, fam[f].help);
                for (size_t i = 0; t && i < t->peers.n; i++) {
                        const sas_peer *r = &t->peers.rows[i];
                        const char *base = (const char *) r;
                        prom_label a[] = { L("connection", r->conn), L("peer", r->peer), L("child", r->child),
                                           L("direction", "in") };
                        prom_text_sample(p, a, 4, (double) *(const uint64_t *) (base + fam[f].in));
                        a[3].value = "out";
                        prom_text_sample(p, a, 4, (double) *(const uint64_t *) (base + fam[f].out));
                }
        }
        prom_text_family(p, "ikeheal_peer_rows_dropped", PROM_GAUGE,
                         "CHILD SAs left out of the per-peer series (past their maximum) in the last look");
        prom_text_sample(p, NULL, 0, t ? (double) t->peers.dropped : 0);
}

/* IKE and CHILD SAs per connection, from the sas check's last complete list-sas. */
static void sa_metrics(observe *o, prom_text *p, check_set *set) {
        const sas_tally *t = NULL;
        char v[32];

        for (size_t i = 0; set && i < check_set_size(set); i++) {
                check *c = check_set_get(set, i);
                /* asked at every scrape: checks a reload rebuilt count per peer from their next run */
                sas_check_set_per_peer(c, o->config.metrics_per_peer);
                if (!t)
                        t = sas_check_tally(c);
        }
        prom_text_family(p, "ikeheal_ike_sas", PROM_GAUGE, "IKE SAs by connection and state (the sas check's last look)");
        for (size_t i = 0; t && i < t->n; i++)
                for (int s = 0; s < _SAS_IKE_MAX; s++) {
                        prom_label l[] = { L("connection", t->conns[i].name), L("state", sas_ike_state_to_string(s)) };
                        prom_text_sample(p, l, 2, t->conns[i].ike[s]);
                }
        prom_text_family(p, "ikeheal_child_sas", PROM_GAUGE, "CHILD SAs by connection and state");
        for (size_t i = 0; t && i < t->n; i++) {
                prom_label a[] = { L("connection", t->conns[i].name), L("state", "installed") };
                prom_label b[] = { L("connection", t->conns[i].name), L("state", "other") };
                prom_text_sample(p, a, 2, t->conns[i].child_installed);
                prom_text_sample(p, b, 2, t->conns[i].child_other);
        }
        prom_text_family(p, "ikeheal_child_sa_bytes_total", PROM_COUNTER,
                         "bytes of the CHILD SAs now up, summed per connection");
        for (size_t i = 0; t && i < t->n; i++) {
                prom_label a[] = { L("connection", t->conns[i].name), L("direction", "in") };
                prom_label b[] = { L("connection", t->conns[i].name), L("direction", "out") };
                prom_text_sample(p, a, 2, (double) t->conns[i].bytes_in);
                prom_text_sample(p, b, 2, (double) t->conns[i].bytes_out);
        }
        prom_text_family(p, "ikeheal_child_sa_packets_total", PROM_COUNTER,
                         "packets of the CHILD SAs now up, summed per connection");
        for (size_t i = 0; t && i < t->n; i++) {
                prom_label a[] = { L("connection", t->conns[i].name), L("direction", "in") };
                prom_label b[] = { L("connection", t->conns[i].name), L("direction", "out") };
                prom_text_sample(p, a, 2, (double) t->conns[i].packets_in);
                prom_text_sample(p, b, 2, (double) t->conns[i].packets_out);
        }
        if (o->config.metrics_per_peer)
                peer_metrics(p, t);
        prom_text_family(p, "ikeheal_ike_sa_events_total", PROM_COUNTER, "charon's IKE SA up/down events");
        prom_text_sample(p, (prom_label[]){ L("event", "established") }, 1, (double) o->tally.ike_established);
        prom_text_sample(p, (prom_label[]){ L("event", "deleted") }, 1, (double) o->tally.ike_deleted);
        prom_text_family(p, "ikeheal_ike_handshake_failures_total", PROM_COUNTER,
                         "IKE failures charon logged, by class (the logs check)");
        for (int c = 1; c < _FAULT_CLASS_MAX; c++)
                if (o->tally.handshake_failures[c])
                        prom_text_sample(p, (prom_label[]){ L("class", fault_class_to_string((fault_class) c)) }, 1,
                                         (double) o->tally.handshake_failures[c]);
        (void) v;
}

static double status_value(check_status s) {
        switch (s) {
        case CHECK_OK:
                return 0;
        case CHECK_WARN:
                return 1;
        case CHECK_FAIL:
                return 2;
        default:
                return 3;
        }
}

static void check_metrics(observe *o, prom_text *p, check_set *set) {
        size_t n = set ? check_set_size(set) : 0;

        prom_text_family(p, "ikeheal_check_status", PROM_GAUGE, "0 ok, 1 warning, 2 failing, 3 unknown");
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(set, i);
                prom_label l[] = { L("check", check_name(c)), L("kind", check_kind(c)) };
                prom_text_sample(p, l, 2, status_value(check_get_state(c)->reported));
        }
        prom_text_family(p, "ikeheal_check_duration_seconds", PROM_GAUGE, "the last run's duration");
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(set, i);
                const finding *f = check_last_finding(c);
                prom_label l[] = { L("check", check_name(c)), L("kind", check_kind(c)) };
                if (f && f->finished_usec >= f->started_usec && f->started_usec)
                        prom_text_sample(p, l, 2, (double) (f->finished_usec - f->started_usec) / 1e6);
        }
        prom_text_family(p, "ikeheal_probe_latency_seconds", PROM_HISTOGRAM, "IKE probe round trips per target and port");
        for (size_t i = 0; i < o->tally.n_probes; i++) {
                prom_label l[] = { L("target", o->tally.probes[i].target), L("port", o->tally.probes[i].port) };
                prom_text_histogram(p, l, 2, &o->tally.probes[i].latency);
        }
        prom_text_family(p, "ikeheal_probe_success", PROM_GAUGE, "1 when the last probe was answered");
        for (size_t i = 0; i < o->tally.n_probes; i++) {
                prom_label l[] = { L("target", o->tally.probes[i].target), L("port", o->tally.probes[i].port) };
                prom_text_sample(p, l, 2, o->tally.probes[i].answered);
        }
        /* certificate facts "expiry_s <path>"; the revocation check's cached CRL time left */
        prom_text_family(p, "ikeheal_cert_expiry_seconds", PROM_GAUGE, "seconds to notAfter (< 0: expired)");
        for (size_t i = 0; i < n; i++) {
                const finding *f = check_last_finding(check_set_get(set, i));
                for (size_t k = 0; f && k < f->n_facts; k++)
                        if (strncmp(f->facts[k].key, "expiry_s ", 9) == 0)
                                prom_text_sample(p, (prom_label[]){ L("cert", f->facts[k].key + 9) }, 1,
                                                 strtod(f->facts[k].value, NULL));
        }
        prom_text_family(p, "ikeheal_crl_next_update_seconds", PROM_GAUGE,
                         "seconds to the nextUpdate of the local CRL that stands in for a distribution point");
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(set, i);
                const finding *f = check_last_finding(c);
                const char *v = f ? finding_fact_get(f, "cached_crl_left_s") : NULL;
                if (v)
                        prom_text_sample(p, (prom_label[]){ L("crl", check_name(c)) }, 1, strtod(v, NULL));
        }
}

static void incident_metrics(observe *o, prom_text *p) {
        size_t n = incident_store_size(o->deps.incidents);
        double active[_FAULT_CLASS_MAX][_FAULT_SCOPE_MAX][_CHECK_STATUS_MAX] = { 0 };

        for (size_t i = 0; i < n; i++) {
                const incident *in = incident_store_get(o->deps.incidents, i);
                if (in->state != INCIDENT_RESOLVED && in->cls < _FAULT_CLASS_MAX && in->scope < _FAULT_SCOPE_MAX &&
                    in->severity < _CHECK_STATUS_MAX)
                        active[in->cls][in->scope][in->severity]++;
        }
        prom_text_family(p, "ikeheal_incidents_active", PROM_GAUGE, "incidents not resolved, by class, scope and severity");
        for (int c = 0; c < _FAULT_CLASS_MAX; c++)
                for (int s = 0; s < _FAULT_SCOPE_MAX; s++)
                        for (int v = 0; v < _CHECK_STATUS_MAX; v++)
                                if (active[c][s][v]) {
                                        prom_label l[] = { L("class", fault_class_to_string((fault_class) c)),
                                                           L("scope", fault_scope_to_string((fault_scope) s)),
                                                           L("severity", check_status_to_string((check_status) v)) };
                                        prom_text_sample(p, l, 3, active[c][s][v]);
                                }
        static const struct {
                const char *name, *help;
                size_t off;
        } totals[] = {
                { "ikeheal_incidents_opened_total", "incidents opened since the agent started", offsetof(observe_tally, opened) },
                { "ikeheal_incidents_resolved_total", "incidents resolved since the agent started", offsetof(observe_tally, resolved) },
                { "ikeheal_incidents_escalated_total", "incidents escalated to a human", offsetof(observe_tally, escalated) },
        };
        for (size_t t = 0; t < ELEMENTSOF(totals); t++) {
                const uint64_t *v = (const uint64_t *) ((const char *) &o->tally + totals[t].off);
                prom_text_family(p, totals[t].name, PROM_COUNTER, totals[t].help);
                for (int c = 1; c < _FAULT_CLASS_MAX; c++)
                        prom_text_sample(p, (prom_label[]){ L("class", fault_class_to_string((fault_class) c)) }, 1,
                                         (double) v[c]);
        }
}

static void engine_metrics(observe *o, prom_text *p) {
        uint64_t now = real_usec();
        const engine *e = o->deps.engine;

        prom_text_family(p, "ikeheal_runs_total", PROM_COUNTER, "finished runs by runbook and outcome");
        for (size_t i = 0; i < o->tally.n_runbooks; i++)
                for (int s = 0; s < _RUN_STATE_MAX && s < 16; s++)
                        if (o->tally.runbooks[i].outcomes[s]) {
                                prom_label l[] = { L("runbook", o->tally.runbooks[i].name),
                                                   L("outcome", run_state_to_string((run_state) s)) };
                                prom_text_sample(p, l, 2, (double) o->tally.runbooks[i].outcomes[s]);
                        }
        /* measures by kind (a handful of action kinds) */
        const char *kinds[32];
        double counts[32];
        size_t n_kinds = 0;
        uint64_t oldest = 0;
        for (size_t i = 0; e && i < engine_measures(e); i++) {
                const measure *m = engine_measure_get(e, i);
                if (!measure_state_live(m->state))
                        continue;
                if (m->applied_usec && now > m->applied_usec && now - m->applied_usec > oldest)
                        oldest = now - m->applied_usec;
                size_t k;
                for (k = 0; k < n_kinds; k++)
                        if (strcmp(kinds[k], m->kind) == 0)
                                break;
                if (k == n_kinds && n_kinds < ELEMENTSOF(kinds)) {
                        kinds[n_kinds] = m->kind;
                        counts[n_kinds++] = 0;
                }
                if (k < n_kinds)
                        counts[k]++;
        }
        prom_text_family(p, "ikeheal_measures_in_force", PROM_GAUGE, "temporary measures in force, by action kind");
        for (size_t k = 0; k < n_kinds; k++)
                prom_text_sample(p, (prom_label[]){ L("kind", kinds[k]) }, 1, counts[k]);
        prom_text_family(p, "ikeheal_measure_oldest_seconds", PROM_GAUGE, "age of the oldest measure in force (0: none)");
        prom_text_sample(p, NULL, 0, (double) oldest / 1e6);

        double pending = 0;
        uint64_t waiting = 0;
        for (size_t i = 0; e && i < engine_runs(e); i++) {
                const run *r = engine_run_get(e, i);
                if (r->state != RUN_PENDING)
                        continue;
                pending++;
                if (r->created_usec && now > r->created_usec && now - r->created_usec > waiting)
                        waiting = now - r->created_usec;
        }
        prom_text_family(p, "ikeheal_approvals_pending", PROM_GAUGE, "runs waiting for approval");
        prom_text_sample(p, NULL, 0, pending);
        prom_text_family(p, "ikeheal_approval_oldest_seconds", PROM_GAUGE, "wait of the oldest of them (0: none)");
        prom_text_sample(p, NULL, 0, (double) waiting / 1e6);
        prom_text_family(p, "ikeheal_drained", PROM_GAUGE, "1 while the gateway is drained (GET /healthz answers 503)");
        prom_text_sample(p, NULL, 0, o->drained);
        prom_text_family(p, "ikeheal_breaker_open", PROM_GAUGE, "heal-loop breakers open (healing paused for their signature)");
        prom_text_sample(p, (prom_label[]){ L("breaker", "heal_loop") }, 1,
                         e && engine_ledger(e) ? (double) policy_ledger_count_open(engine_ledger(e)) : 0);
}

static void drill_metrics(observe *o, prom_text *p) {
        prom_hist ttd, ttr;
        const char *classes[_FAULT_CLASS_MAX];
        double scores[_FAULT_CLASS_MAX];
        size_t n_classes = 0;

        (void) prom_hist_init(&ttd, observe_repair_bounds, observe_repair_n_bounds);
        (void) prom_hist_init(&ttr, observe_repair_bounds, observe_repair_n_bounds);
        for (size_t i = 0; o->deps.drills && i < drill_history(o->deps.drills); i++) {
                const drill_rec *r = drill_history_get(o->deps.drills, i); /* newest first */
                uint64_t t0 = r->t[DM_INJECTED];
                if (t0 && r->t[DM_INCIDENT] >= t0)
                        prom_hist_observe(&ttd, (double) (r->t[DM_INCIDENT] - t0) / 1e6);
                if (t0 && r->t[DM_STEADY] >= t0)
                        prom_hist_observe(&ttr, (double) (r->t[DM_STEADY] - t0) / 1e6);
                size_t k;
                for (k = 0; k < n_classes; k++)
                        if (strcmp(classes[k], r->fault_class) == 0)
                                break;
                if (k == n_classes && n_classes < ELEMENTSOF(classes) && r->fault_class[0]) {
                        classes[n_classes] = r->fault_class;
                        scores[n_classes++] = (r->detect_ok + r->recover_ok) / 2.0; /* the newest of its class */
                }
        }
        prom_text_family(p, "ikeheal_ttd_seconds", PROM_HISTOGRAM, "time to detect: incidents (root check's first failing look to incident) and drills");
        prom_text_histogram(p, (prom_label[]){ L("source", "incident") }, 1, &o->tally.ttd);
        prom_text_histogram(p, (prom_label[]){ L("source", "drill") }, 1, &ttd);
        prom_text_family(p, "ikeheal_ttr_seconds", PROM_HISTOGRAM, "time to repair: incidents (opened to resolved) and drills (injection to steady state)");
        prom_text_histogram(p, (prom_label[]){ L("source", "incident") }, 1, &o->tally.ttr);
        prom_text_histogram(p, (prom_label[]){ L("source", "drill") }, 1, &ttr);
        prom_text_family(p, "ikeheal_drill_score", PROM_GAUGE, "the last drill of a fault class: 1 detected and recovered in time, 0.5 one of them, 0 neither");
        for (size_t k = 0; k < n_classes; k++)
                prom_text_sample(p, (prom_label[]){ L("class", classes[k]) }, 1, scores[k]);
}

static double open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        double n = 0;
        if (!d)
                return 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

static double rss_bytes(void) {
        FILE *f = fopen("/proc/self/statm", "re");
        unsigned long size = 0, rss = 0;
        if (!f)
                return 0;
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
                rss = 0;
        fclose(f);
        return (double) rss * (double) sysconf(_SC_PAGESIZE);
}

static void process_metrics(observe *o, prom_text *p) {
        struct rusage ru;
        double cpu = 0;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
                cpu = (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
                      ru.ru_stime.tv_usec / 1e6;
        prom_text_family(p, "ikeheal_audit_head_sequence", PROM_GAUGE, "sequence number of the audit log's head record");
        prom_text_sample(p, NULL, 0,
                         o->deps.audit_log && *o->deps.audit_log ? (double) audit_trail_head(*o->deps.audit_log, (char[65]){ 0 }) : 0);
        prom_text_family(p, "ikeheal_build_info", PROM_GAUGE, "always 1; the version in a label");
        prom_text_sample(p, (prom_label[]){ L("version", IKEHEAL_VERSION) }, 1, 1);
        prom_text_family(p, "process_resident_memory_bytes", PROM_GAUGE, "resident memory size in bytes");
        prom_text_sample(p, NULL, 0, rss_bytes());
        prom_text_family(p, "process_cpu_seconds_total", PROM_COUNTER, "user and system CPU time spent in seconds");
        prom_text_sample(p, NULL, 0, cpu);
        prom_text_family(p, "process_open_fds", PROM_GAUGE, "number of open file descriptors");
        prom_text_sample(p, NULL, 0, open_fds());
        prom_text_family(p, "process_start_time_seconds", PROM_GAUGE, "start time of the process since the epoch in seconds");
        prom_text_sample(p, NULL, 0, (double) (o->deps.start_real_usec / USEC_PER_SEC));
}

int observe_metrics_render(observe *o, char **ret_text, size_t *ret_len) {
        _cleanup_(prom_text_freep) prom_text *p = NULL;
        check_set *set = o->deps.triage ? triage_checks(o->deps.triage) : NULL;
        int r = prom_text_new(&p);
        if (r < 0)
                return r;
        charon_metrics(o, p, set);
        sa_metrics(o, p, set);
        check_metrics(o, p, set);
        incident_metrics(o, p);
        engine_metrics(o, p);
        drill_metrics(o, p);
        observe_fleet_metrics(o, p);
        process_metrics(o, p);
        return prom_text_finish(p, ret_text, ret_len);
}
