/* A webhook for every change of an incident — opened, its severity or scope changed,
 * remediating, escalated, resolved — whether a runbook matches it or not, so whoever watches the
 * webhooks sees every problem the agent found, not only those it acts on. Each message carries
 * what the incident is (class, scope, severity, reason, peers) and its latest run when it has
 * one; it goes to every webhook, signed as each is configured (agent/notify/notifier.h).
 *
 * Updates that change only details (the evidence, a renamed peer list) are not sent: a flood
 * would turn into a webhook storm. The incident's severity and scope as last sent are kept
 * (observe_told) to tell. */
#include <stdio.h>

#include "agent/notify/notifier.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/incident.h"

static const char *event_of(const incident *i, incident_event ev, const observe_told *t) {
        switch (ev) {
        case INCIDENT_OPENED:
                return "incident_opened";
        case INCIDENT_STATE_CHANGED:
                switch (i->state) {
                case INCIDENT_REMEDIATING:
                        return "incident_remediating";
                case INCIDENT_ESCALATED:
                        return "incident_escalated";
                case INCIDENT_RESOLVED:
                        return "incident_resolved";
                default:
                        return NULL;
                }
        case INCIDENT_UPDATED:
                if (!t)
                        return NULL;
                /* one that opened before this start: say it now */
                if (!t->hooked)
                        return "incident_opened";
                return t->severity != (int) i->severity || t->scope != (int) i->scope ? "incident_changed" : NULL;
        }
        return NULL;
}

void observe_hooks_incident(observe *o, const incident *i, int ev) {
        observe_told *t = observe_told_get(o, i->id, i->state != INCIDENT_RESOLVED);
        const char *event = event_of(i, (incident_event) ev, t);
        observe_incident_view v;
        char text[NOTIFY_TEXT_MAX];

        if (!event || !o->deps.notifier)
                goto remember;
        observe_incident_view_init(o, i, &v);
        if (i->note[0] && ev == INCIDENT_STATE_CHANGED)
                (void) snprintf(text, sizeof(text), "%s (%s)", i->summary, i->note);
        else
                (void) snprintf(text, sizeof(text), "%s", i->summary);
        (void) notifier_send(o->deps.notifier, NULL,
                             &(notify_message){ .event = event,
                                                .incident = i->id,
                                                .runbook = v.run ? v.runbook : NULL,
                                                .text = text,
                                                .class_name = v.class_name,
                                                .scope = v.scope,
                                                .severity = v.severity,
                                                .reason = i->reason,
                                                .peers = v.peers,
                                                .n_peers = v.n_peers,
                                                .run = v.run,
                                                .run_runbook = v.run ? v.runbook : NULL,
                                                .run_state = v.run_state });
remember:
        if (t) {
                t->hooked = true;
                t->severity = (int) i->severity;
                t->scope = (int) i->scope;
        }
}
