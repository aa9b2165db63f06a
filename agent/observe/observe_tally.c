/* What /metrics counts from events, as they happen: incidents opened, resolved and escalated
 * by class, their time to detect and to repair; runs by runbook and outcome; each probed
 * port's latency; IKE handshake failures by class. Everything is bounded (fixed tables); what
 * does not fit is not counted rather than allowed to grow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check.h"
#include "agent/checks/finding.h"
#include "agent/checks/registry.h"
#include "agent/engine/engine.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/incident.h"

/* a probe's round trip: 1 ms to 5 s */
const double observe_latency_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
const size_t observe_latency_n_bounds = ELEMENTSOF(observe_latency_bounds);
/* time to detect / repair: 100 ms to an hour */
const double observe_repair_bounds[] = { 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600 };
const size_t observe_repair_n_bounds = ELEMENTSOF(observe_repair_bounds);

void observe_tally_init(observe_tally *t) {
        *t = (observe_tally){ 0 };
        (void) prom_hist_init(&t->ttd, observe_repair_bounds, observe_repair_n_bounds);
        (void) prom_hist_init(&t->ttr, observe_repair_bounds, observe_repair_n_bounds);
}

static observe_probe *probe_row(observe_tally *t, const char *target, const char *port) {
        for (size_t i = 0; i < t->n_probes; i++)
                if (strcmp(t->probes[i].target, target) == 0 && strcmp(t->probes[i].port, port) == 0)
                        return &t->probes[i];
        if (t->n_probes >= OBSERVE_PROBES_MAX)
                return NULL;
        observe_probe *p = &t->probes[t->n_probes++];
        *p = (observe_probe){ 0 };
        snprintf(p->target, sizeof(p->target), "%s", target);
        snprintf(p->port, sizeof(p->port), "%s", port);
        (void) prom_hist_init(&p->latency, observe_latency_bounds, observe_latency_n_bounds);
        return p;
}

/* "198.18.0.1:500" or "[2001:db8::1]:4500" → target and port. */
static bool split_label(const char *label, char *target, size_t tsize, char *port, size_t psize) {
        const char *colon = strrchr(label, ':');
        if (!colon || !colon[1] || colon == label)
                return false;
        size_t n = (size_t) (colon - label);
        if (label[0] == '[' && n >= 2 && label[n - 1] == ']') {
                label++;
                n -= 2;
        }
        if (n >= tsize || strlen(colon + 1) >= psize)
                return false;
        memcpy(target, label, n);
        target[n] = 0;
        snprintf(port, psize, "%s", colon + 1);
        return true;
}

/* The probe check's facts: "<target>:<port>" = its verdict, "rtt_us <target>:<port>" = the
 * round trip of an answered one. */
static void probe_facts(observe_tally *t, const finding *f) {
        char target[64], port[8];

        for (size_t i = 0; i < f->n_facts; i++) {
                const char *k = f->facts[i].key, *v = f->facts[i].value;
                if (strncmp(k, "rtt_us ", 7) == 0) {
                        observe_probe *p;
                        if (split_label(k + 7, target, sizeof(target), port, sizeof(port)) &&
                            (p = probe_row(t, target, port)))
                                prom_hist_observe(&p->latency, strtod(v, NULL) / 1e6);
                } else if (strchr(k, ':') && !strchr(k, ' ') && split_label(k, target, sizeof(target), port, sizeof(port))) {
                        observe_probe *p = probe_row(t, target, port);
                        if (p)
                                p->answered = strcmp(v, "answered") == 0;
                }
        }
}

/* The logs check reports failures per class within its window: every increase of a class's
 * count is that many new failures (a count that falls is the window sliding on). */
static void logs_facts(observe_tally *t, const finding *f) {
        for (int c = 1; c < _FAULT_CLASS_MAX; c++) {
                const char *v = finding_fact_get(f, fault_class_to_string((fault_class) c));
                uint64_t n = v ? strtoull(v, NULL, 10) : 0;
                if (n > t->logs_window[c])
                        t->handshake_failures[c] += n - t->logs_window[c];
                t->logs_window[c] = n;
        }
}

static void failing_note(observe_tally *t, const char *name, const finding *f) {
        size_t i;
        for (i = 0; i < t->n_failing; i++)
                if (strcmp(t->failing[i].name, name) == 0)
                        break;
        if (i == t->n_failing) {
                if (i >= OBSERVE_CHECKS_MAX)
                        return;
                snprintf(t->failing[i].name, sizeof(t->failing[i].name), "%s", name);
                t->failing[i].since_usec = 0;
                t->n_failing++;
        }
        if (f->status == CHECK_OK)
                t->failing[i].since_usec = 0;
        else if (f->status != CHECK_UNKNOWN && !t->failing[i].since_usec)
                t->failing[i].since_usec = f->started_usec ?: f->finished_usec;
}

void observe_tally_finding(observe_tally *t, check *c, const finding *f) {
        const char *kind = check_kind(c);

        failing_note(t, check_name(c), f);
        if (check_kind_is(kind, CHECK_ROLE_OUTSIDE))
                probe_facts(t, f);
        if (check_kind_is(kind, CHECK_ROLE_PEERS_SAY))
                logs_facts(t, f);
}

void observe_tally_incident(observe_tally *t, const incident *i, int ev) {
        size_t cls = i->cls < _FAULT_CLASS_MAX ? (size_t) i->cls : 0;

        if (ev == INCIDENT_OPENED) {
                t->opened[cls]++;
                /* detection: from the root check's first failing look to the incident */
                for (size_t k = 0; k < t->n_failing; k++)
                        if (strcmp(t->failing[k].name, i->root_check) == 0 && t->failing[k].since_usec &&
                            t->failing[k].since_usec <= i->opened_usec)
                                prom_hist_observe(&t->ttd, (double) (i->opened_usec - t->failing[k].since_usec) / 1e6);
        } else if (ev == INCIDENT_STATE_CHANGED && i->state == INCIDENT_RESOLVED) {
                t->resolved[cls]++;
                if (i->resolved_usec >= i->opened_usec)
                        prom_hist_observe(&t->ttr, (double) (i->resolved_usec - i->opened_usec) / 1e6);
        } else if (ev == INCIDENT_STATE_CHANGED && i->state == INCIDENT_ESCALATED)
                t->escalated[cls]++;
}

static bool run_finished(run_state s) {
        return s == RUN_OBSERVED || s == RUN_SUCCEEDED || s == RUN_FAILED || s == RUN_DENIED || s == RUN_ESCALATED ||
               s == RUN_CANCELLED || s == RUN_PROPOSED;
}

void observe_tally_run(observe_tally *t, const run *r) {
        if (!run_finished(r->state))
                return;
        for (size_t i = 0; i < OBSERVE_RUNS_SEEN; i++)
                if (t->runs_seen[i].id == r->id && t->runs_seen[i].state == (int) r->state)
                        return; /* told again: counted already */
        t->runs_seen[t->runs_seen_next].id = r->id;
        t->runs_seen[t->runs_seen_next].state = (int) r->state;
        t->runs_seen_next = (t->runs_seen_next + 1) % OBSERVE_RUNS_SEEN;

        size_t i;
        for (i = 0; i < t->n_runbooks; i++)
                if (strcmp(t->runbooks[i].name, r->runbook) == 0)
                        break;
        if (i == t->n_runbooks) {
                if (i >= OBSERVE_RUNBOOKS_MAX)
                        return;
                (void) snprintf(t->runbooks[i].name, sizeof(t->runbooks[i].name), "%.63s", r->runbook);
                t->n_runbooks++;
        }
        if ((size_t) r->state < ELEMENTSOF(t->runbooks[i].outcomes))
                t->runbooks[i].outcomes[r->state]++;
}
