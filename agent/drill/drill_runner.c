/* The drill runner as a whole (agent/drill/drill_run.h): built from what it uses, it subscribes to
 * triage (findings, incidents) and to the engine (changes of runs, and the exemption of a drill's
 * incident from the rate limits); started after the loop runs, reconfigured on reload, stopped
 * before the agent exits; and the read access the verbs use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/config/config.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"

static void on_triage_finding(check *c, const finding *f, void *userdata) {
        drill_finding(userdata, c, f);
}

static void on_triage_incident(const incident *i, incident_event ev, void *userdata) {
        drill_incident(userdata, i, ev == INCIDENT_OPENED);
}

static void on_run_changed(const run *rn, void *userdata) {
        drill_run_changed(userdata, rn);
}

static uint64_t on_exempt(uint64_t incident_id, void *userdata) {
        return drill_of_incident(userdata, incident_id);
}

int drill_runner_new(drill_runner **ret, const drill_deps *deps, const ikeheal_config *config) {
        drill_runner *dr = calloc(1, sizeof(*dr));
        int r;

        if (!dr)
                return -ENOMEM;
        dr->event = deps->event;
        dr->triage = deps->triage;
        dr->incidents = deps->incidents;
        dr->engine = deps->engine;
        dr->notifier = deps->notifier;
        dr->fleet = deps->fleet;
        dr->audit = deps->audit;
        dr->audit_userdata = deps->audit_userdata;
        dr->config = config;
        r = drill_store_open(dr, config->state_dir);
        if (r >= 0)
                r = triage_subscribe(dr->triage, &(triage_listener){ .finding = on_triage_finding,
                                                                    .incident = on_triage_incident,
                                                                    .userdata = dr });
        if (r >= 0)
                r = engine_subscribe(dr->engine, &(engine_listener){ .run_changed = on_run_changed, .userdata = dr });
        if (r < 0) {
                drill_runner_free(dr);
                return r;
        }
        engine_set_exempt(dr->engine, on_exempt, dr);
        *ret = dr;
        return 0;
}

drill_runner *drill_runner_free(drill_runner *dr) {
        if (!dr)
                return NULL;
        triage_unsubscribe(dr->triage, dr);
        engine_unsubscribe(dr->engine, dr);
        engine_set_exempt(dr->engine, NULL, NULL);
        drill_runtime_clear(dr);
        if (dr->wait.on)
                fleet_drill_release(dr->fleet);
        fleet_drills_forget(dr->fleet, dr);
        dr->schedule_timer = ev_source_disable_unref(dr->schedule_timer);
        for (size_t i = 0; i < dr->n_recs; i++)
                drill_rec_free(dr->recs[i]);
        free(dr->recs);
        record_store_done(&dr->store);
        free(dr);
        return NULL;
}

int drill_runner_start(drill_runner *dr) {
        drill_reconcile_next(dr);
        drill_schedule_start(dr);
        return 0;
}

bool drill_runner_stop(drill_runner *dr, void (*done)(void *userdata), void *userdata) {
        dr->schedule_timer = ev_source_disable_unref(dr->schedule_timer);
        if (!dr->active)
                return false;
        dr->stopping = true;
        dr->stop_done = done;
        dr->stop_userdata = userdata;
        if (!dr->end_pending)
                drill_end(dr, DRILL_ABORTED, "the agent is stopping");
        return dr->active != NULL;
}

const drill_rec *drill_active(const drill_runner *dr) {
        return dr->active;
}

bool drill_waiting(const drill_runner *dr, const char **ret_name, const char **ret_user, uint64_t *ret_since,
                   char *why, size_t n) {
        if (!dr->wait.on)
                return false;
        *ret_name = dr->wait.name;
        *ret_user = dr->wait.user;
        *ret_since = dr->wait.since_usec;
        if (!fleet_drill_waiting(dr->fleet, why, n))
                (void) snprintf(why, n, "waiting for the fleet's drill slot");
        return true;
}

size_t drill_history(const drill_runner *dr) {
        return dr->n_recs;
}

const drill_rec *drill_history_get(const drill_runner *dr, size_t i) {
        return i < dr->n_recs ? dr->recs[dr->n_recs - 1 - i] : NULL;
}

const drill_rec *drill_history_find(const drill_runner *dr, uint64_t id) {
        for (size_t i = 0; i < dr->n_recs; i++)
                if (dr->recs[i]->id == id)
                        return dr->recs[i];
        return NULL;
}

void drill_runner_reconfigure(drill_runner *dr, const ikeheal_config *config) {
        dr->config = config;
        if (!dr->config->drills.enabled || (!dr->config->drills.n_schedule && !dr->fleet))
                dr->schedule_timer = ev_source_disable_unref(dr->schedule_timer);
        drill_schedule_start(dr);
}
