/* Incidents pushed to Alertmanager (notify.alertmanager) as alerts of its v2 API, one alert per
 * incident (common/am_alert_body.h: the labels and annotations), through the notifier's queue
 * (in order, retried, bounded).
 *
 * An alert is posted when its incident opens, changes state, changes a label (severity, reason,
 * peers) or its run changes, and every `resend` while it is active: Alertmanager ends an alert
 * that has no endsAt after its resolve_timeout unless it is posted again. A resolved incident is
 * posted with endsAt. Labels are an alert's identity to Alertmanager, so a changed label makes
 * another alert: the one under the old labels is posted resolved in the same body, and what
 * was posted is remembered per incident (observe_told) to know the old labels.
 *
 * The configuration is the notifier's (replaced on reload); when none is in force the timer
 * looks again every AM_IDLE_USEC, so an Alertmanager configured by a reload gets the active
 * incidents within that. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/engine/engine.h"
#include "agent/notify/notifier.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/incident.h"
#include "am_alert_body.h"
#include "ev.h"
#include "log.h"
#include "now.h"

#define AM_IDLE_USEC (10 * USEC_PER_SEC)
#define AM_EVIDENCE_MAX 4096u

typedef struct am_item {
        am_incident a;
        observe_incident_view v;
        char id[24], evidence[AM_EVIDENCE_MAX], runbook[192];
        const char *old_peers[OBSERVE_VIEW_PEERS_MAX];
        char old_buf[512];
} am_item;

/* Alertmanager's usual severities: a failure pages, a warning does not. */
static const char *am_severity(const incident *i) {
        return i->severity == CHECK_FAIL ? "critical" : "warning";
}

static void join_peers(const observe_incident_view *v, char *buf, size_t n) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t k = 0; k < v->n_peers && used < n; k++)
                used += (size_t) snprintf(buf + used, n - used, "%s%s", k ? "," : "", v->peers[k]);
}

static void item_fill(observe *o, const incident *i, const char *instance, am_item *it) {
        size_t used = 0;

        observe_incident_view_init(o, i, &it->v);
        (void) snprintf(it->id, sizeof(it->id), "%llu", (unsigned long long) i->id);
        it->evidence[0] = 0;
        for (size_t k = 0; k < i->n_evidence && used + 1 < sizeof(it->evidence); k++) {
                int w = snprintf(it->evidence + used, sizeof(it->evidence) - used, "%s%s", k ? "\n" : "",
                                 i->evidence[k]);
                if (w < 0 || (size_t) w >= sizeof(it->evidence) - used) {
                        it->evidence[used] = 0; /* a whole line or none */
                        break;
                }
                used += (size_t) w;
        }
        if (it->v.run)
                (void) snprintf(it->runbook, sizeof(it->runbook), "%s (run %llu: %s)", it->v.runbook,
                                (unsigned long long) it->v.run, it->v.run_state);
        else {
                const runbook *rb = o->deps.engine ? engine_match(o->deps.engine, i) : NULL;
                (void) snprintf(it->runbook, sizeof(it->runbook), "%s", rb ? "matched, no run yet" : "none matches");
        }
        it->a = (am_incident){
                .id = it->id,
                .class_name = it->v.class_name,
                .scope = it->v.scope,
                .severity = am_severity(i),
                .reason = i->reason[0] ? i->reason : "-",
                .instance = instance,
                .peers = it->v.peers,
                .n_peers = it->v.n_peers,
                .summary = i->summary[0] ? i->summary : NULL,
                .evidence = it->evidence[0] ? it->evidence : NULL,
                .runbook = it->runbook,
                .starts_usec = i->opened_usec ?: real_usec(),
                .ends_usec = i->state == INCIDENT_RESOLVED ? (i->resolved_usec ?: real_usec()) : 0,
        };
}

/* it under the labels last posted (t), ended now. */
static void item_old(const observe_told *t, am_item *it, uint64_t now) {
        char *save = NULL;
        size_t n = 0;

        (void) snprintf(it->old_buf, sizeof(it->old_buf), "%s", t->am_peers);
        for (char *p = strtok_r(it->old_buf, ",", &save); p && n < OBSERVE_VIEW_PEERS_MAX; p = strtok_r(NULL, ",", &save))
                it->old_peers[n++] = p;
        it->a.severity = t->am_severity;
        it->a.reason = t->am_reason;
        it->a.peers = it->old_peers;
        it->a.n_peers = n;
        it->a.starts_usec = t->am_starts_usec ?: it->a.starts_usec;
        it->a.ends_usec = now;
}

static bool labels_differ(const observe_told *t, const am_item *it) {
        char peers[sizeof(t->am_peers)];

        join_peers(&it->v, peers, sizeof(peers));
        return strcmp(t->am_severity, it->a.severity) != 0 || strcmp(t->am_reason, it->a.reason) != 0 ||
               strcmp(t->am_peers, peers) != 0;
}

static void told_labels(observe_told *t, const am_item *it) {
        t->pushed = true;
        (void) snprintf(t->am_severity, sizeof(t->am_severity), "%s", it->a.severity);
        (void) snprintf(t->am_reason, sizeof(t->am_reason), "%s", it->a.reason);
        join_peers(&it->v, t->am_peers, sizeof(t->am_peers));
        t->am_starts_usec = it->a.starts_usec;
}

static const char *instance_of(const notify_alertmanager *a, char *host, size_t n) {
        if (a->instance)
                return a->instance;
        if (gethostname(host, n - 1) < 0 || !host[0])
                (void) snprintf(host, n, "localhost");
        host[n - 1] = 0;
        return host;
}

static int post(observe *o, const char *what, const am_item *items, size_t n) {
        _cleanup_(freep) am_incident *all = calloc(n ?: 1, sizeof(*all));
        _cleanup_(freep) char *body = NULL;
        int r;

        if (!all)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                all[k] = items[k].a;
        r = am_alert_body(all, n, &body, NULL);
        if (r < 0)
                return r;
        return notifier_alertmanager_post(o->deps.notifier, what, body);
}

void observe_am_incident(observe *o, const incident *i, int ev) {
        const notify_alertmanager *a = notifier_alertmanager(o->deps.notifier);
        _cleanup_(freep) am_item *it = NULL;
        char host[HOST_NAME_MAX + 1], what[64];
        observe_told *t;
        size_t n = 0;
        int r;

        if (!a)
                return;
        t = observe_told_get(o, i->id, i->state != INCIDENT_RESOLVED);
        it = calloc(2, sizeof(*it));
        if (!it) {
                log_warning("alertmanager: incident %llu: out of memory, not posted", (unsigned long long) i->id);
                return;
        }
        item_fill(o, i, instance_of(a, host, sizeof(host)), &it[0]);
        if (t && t->pushed && labels_differ(t, &it[0])) {
                /* the alert under the old labels ends; the new one (unless resolved) follows it */
                item_old(t, &it[0], real_usec());
                n = i->state == INCIDENT_RESOLVED ? 1 : 2;
                if (n == 2)
                        item_fill(o, i, instance_of(a, host, sizeof(host)), &it[1]);
        } else if (ev == INCIDENT_UPDATED && t && t->pushed)
                return; /* details only: the next resend carries them */
        else
                n = 1;
        (void) snprintf(what, sizeof(what), "incident %llu %s", (unsigned long long) i->id,
                        i->state == INCIDENT_RESOLVED ? "resolved" : "firing");
        r = post(o, what, it, n);
        if (r < 0)
                log_warning_errno(r, "alertmanager: incident %llu not posted, ignoring", (unsigned long long) i->id);
        else if (t && i->state != INCIDENT_RESOLVED)
                told_labels(t, &it[n - 1]);
}

void observe_am_run(observe *o, const run *r) {
        const incident *i = r->incident && o->deps.incidents ? incident_store_find(o->deps.incidents, r->incident) : NULL;

        if (i && i->state != INCIDENT_RESOLVED)
                observe_am_incident(o, i, INCIDENT_STATE_CHANGED);
}

/* Every active incident, again. */
static void resend(observe *o, const notify_alertmanager *a) {
        size_t n_all = o->deps.incidents ? incident_store_size(o->deps.incidents) : 0, n = 0;
        _cleanup_(freep) am_item *it = NULL;
        char host[HOST_NAME_MAX + 1];
        int r;

        for (size_t k = 0; k < n_all; k++)
                n += incident_store_get(o->deps.incidents, k)->state != INCIDENT_RESOLVED;
        if (n == 0)
                return;
        it = calloc(n, sizeof(*it));
        if (!it) {
                log_warning("alertmanager: out of memory, active incidents not posted again");
                return;
        }
        n = 0;
        for (size_t k = 0; k < n_all; k++) {
                const incident *i = incident_store_get(o->deps.incidents, k);
                observe_told *t;
                if (i->state == INCIDENT_RESOLVED)
                        continue;
                t = observe_told_get(o, i->id, true);
                item_fill(o, i, instance_of(a, host, sizeof(host)), &it[n]);
                if (t && t->pushed && labels_differ(t, &it[n])) {
                        /* changed while not posted: post it as a change, on its own */
                        observe_am_incident(o, i, INCIDENT_STATE_CHANGED);
                        continue;
                }
                n++;
        }
        /* item_fill keeps pointers into its own item: instance points at host, which lives here */
        r = n ? post(o, "active incidents", it, n) : 0;
        if (r < 0) {
                log_warning_errno(r, "alertmanager: active incidents not posted again, ignoring");
                return;
        }
        for (size_t k = 0; k < n; k++) {
                observe_told *t = observe_told_get(o, strtoull(it[k].id, NULL, 10), true);
                if (t)
                        told_labels(t, &it[k]);
        }
}

static int on_am_timer(ev_source *s, uint64_t usec, void *userdata) {
        observe *o = userdata;
        const notify_alertmanager *a = notifier_alertmanager(o->deps.notifier);

        if (a)
                resend(o, a);
        else
                for (size_t k = 0; k < o->n_told; k++)
                        o->told[k].pushed = false; /* a later Alertmanager holds none of them */
        (void) ev_source_set_time_relative(s, a ? a->resend_usec : AM_IDLE_USEC);
        (void) ev_source_set_enabled(s, EV_ON);
        return 0;
}

int observe_am_start(observe *o) {
        if (!o->deps.notifier)
                return 0;
        /* the first look on the loop's first iteration: open incidents of before this start */
        return ev_add_time_relative(o->deps.event, &o->am_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_am_timer,
                                          o);
}
