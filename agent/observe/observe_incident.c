/* An incident as those outside the agent read it (webhooks, Alertmanager): its class, scope,
 * severity and reason as words, its peers one by one, and its latest run. One view, so that a
 * webhook and an alert about the same incident say the same thing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine.h"
#include "agent/observe/observe_internal.h"
#include "agent/checks/finding.h"
#include "agent/triage/incident.h"

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void observe_incident_view_init(observe *o, const incident *i, observe_incident_view *v) {
        char *save = NULL;

        *v = (observe_incident_view){ .class_name = fault_class_to_string(i->cls),
                                      .scope = fault_scope_to_string(i->scope),
                                      .severity = check_status_to_string(i->severity) };
        (void) snprintf(v->peers_buf, sizeof(v->peers_buf), "%s", i->peers);
        for (char *p = strtok_r(v->peers_buf, ",", &save); p && v->n_peers < OBSERVE_VIEW_PEERS_MAX;
             p = strtok_r(NULL, ",", &save)) {
                p += strspn(p, " ");
                if (*p)
                        v->peers[v->n_peers++] = p;
        }
        /* sorted and distinct: the same peers are the same label whatever order diagnosis found them */
        qsort(v->peers, v->n_peers, sizeof(v->peers[0]), cmp_str);
        size_t n = 0;
        for (size_t k = 0; k < v->n_peers; k++)
                if (n == 0 || strcmp(v->peers[k], v->peers[n - 1]) != 0)
                        v->peers[n++] = v->peers[k];
        v->n_peers = n;
        for (size_t k = 0; o->deps.engine && k < engine_runs(o->deps.engine); k++) {
                const run *r = engine_run_get(o->deps.engine, k); /* newest first */
                if (r && r->incident == i->id) {
                        v->run = r->id;
                        (void) snprintf(v->runbook, sizeof(v->runbook), "%.*s", (int) sizeof(v->runbook) - 1, r->runbook);
                        v->run_state = run_state_to_string(r->state);
                        break;
                }
        }
}

observe_told *observe_told_get(observe *o, uint64_t id, bool add) {
        for (size_t k = 0; k < o->n_told; k++)
                if (o->told[k].id == id)
                        return &o->told[k];
        if (!add || o->n_told >= OBSERVE_TOLD_MAX)
                return NULL;
        o->told[o->n_told] = (observe_told){ .id = id, .severity = -1, .scope = -1 };
        return &o->told[o->n_told++];
}

void observe_told_forget(observe *o, uint64_t id) {
        observe_told *t = observe_told_get(o, id, false);

        if (t)
                *t = o->told[--o->n_told];
}
