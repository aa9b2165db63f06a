/* Scheduled drills (drills.schedule): once a minute, the first entry whose window is open and
 * whose drill last ran longer than `every` ago is started — under every refusal a manual start
 * meets (no incident, steady state, nothing else running). A refused attempt is audited and
 * tried again after DRILL_SCHEDULE_RETRY, not every minute.
 *
 * In a fleet, the fleet's drill schedule (agent/fleet/fleet.h: the <prefix>drills/schedule key)
 * is run as well, after the local one and under the same refusals, looked at once a minute and
 * at once whenever it changes. Its `every` is the fleet's: an entry whose window is open is
 * first claimed in etcd (the drill's last start anywhere in the fleet older than `every`; of
 * agents that try at once one wins), then started — taking the fleet's drill slot like any drill.
 * A claimed start refused here gives its claim back; a claim not won is no refusal (another
 * gateway runs it). */
#include <stdio.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/drill.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "agent/fleet/fleet.h"
#include "log.h"

#define DRILL_SCHEDULE_TICK (60ULL * USEC_PER_SEC)
#define DRILL_SCHEDULE_RETRY (15ULL * 60ULL * USEC_PER_SEC)

static uint64_t last_started(const drill_runner *dr, const char *name) {
        for (size_t i = dr->n_recs; i-- > 0;)
                if (strcmp(dr->recs[i]->name, name) == 0)
                        return dr->recs[i]->started_usec;
        return 0;
}

static void fleet_tick(drill_runner *dr);
static void fleet_say(drill_runner *dr, const char *name, const char *why);

static void tick(drill_runner *dr) {
        const drill_config *c = &dr->config->drills;
        uint64_t now = real_usec();

        if (!c->enabled) {
                const drill_schedule *e;
                if (fleet_drills(dr->fleet, &e))
                        fleet_say(dr, e[0].drill, "drills are disabled here (drills.enabled)");
                return;
        }
        if (dr->active || dr->wait.on || dr->claiming)
                return;
        for (size_t i = 0; i < c->n_schedule; i++) {
                const drill_schedule *s = &c->schedule[i];
                uint64_t last = last_started(dr, s->drill), id = 0;
                char why[2048];
                engine_who who = { .uid = 0, .user = "schedule", .approver = true };

                if (!policy_in_hours(&s->window, now) || (last && now - last < s->every_usec))
                        continue;
                if (dr->schedule_refused && now - dr->schedule_refused < DRILL_SCHEDULE_RETRY)
                        return;
                if (drill_start(dr, s->drill, false, true, &who, &id, why, sizeof(why)) < 0) {
                        dr->schedule_refused = now;
                        log_notice("scheduled drill %s not started: %s", s->drill, why);
                        drill_audit(dr, "drill", "scheduled drill %s not started: %s", s->drill, why);
                } else
                        dr->schedule_refused = 0;
                return; /* one at a time */
        }
        dr->fleet_next = 0; /* a new look at the fleet's entries */
        fleet_tick(dr);
}

/* Said once until it changes: a minute's tick must not repeat the same refusal in the audit. */
static void fleet_say(drill_runner *dr, const char *name, const char *why) {
        char text[sizeof(dr->fleet_said)];

        (void) snprintf(text, sizeof(text), "%s: %s", name, why);
        if (strcmp(text, dr->fleet_said) == 0)
                return;
        (void) snprintf(dr->fleet_said, sizeof(dr->fleet_said), "%s", text);
        log_notice("fleet-scheduled drill %s not started: %s", name, why);
        drill_audit(dr, "drill", "fleet-scheduled drill %s not started: %s", name, why);
}

static void on_claim(void *userdata, int r, const char *cwhy) {
        drill_runner *dr = userdata;
        engine_who who = { .uid = 0, .user = "fleet schedule", .approver = true };
        char name[DRILL_NAME_MAX + 1], why[2048];
        uint64_t id = 0;
        int k;

        (void) snprintf(name, sizeof(name), "%s", dr->claim_drill);
        dr->claiming = false;
        if (r == 0) {
                log_debug("fleet-scheduled drill %s not due: %s", name, cwhy);
                fleet_tick(dr); /* the next entry of this look, if any */
                return;
        }
        if (r < 0) {
                fleet_say(dr, name, cwhy);
                return;
        }
        k = drill_start(dr, name, false, true, &who, &id, why, sizeof(why));
        if (k < 0) {
                fleet_drills_unclaim(dr->fleet, name);
                dr->schedule_refused = real_usec();
                fleet_say(dr, name, why);
                return;
        }
        dr->fleet_said[0] = 0;
        if (dr->wait.on)
                dr->wait.fleet_claim = true; /* a start refused once the slot came gives the claim back */
        drill_audit(dr, "drill", "fleet-scheduled drill %s claimed for this gateway (the fleet's every holds): %s", name,
                    id ? "started" : "waiting for the fleet's drill slot");
}

/* One look goes through the entries in turn, one claim at a time: an entry not due (or whose
 * window is shut) passes the turn to the next; the look ends with a claim won or the last entry. */
static void fleet_tick(drill_runner *dr) {
        const drill_schedule *e;
        size_t n = fleet_drills(dr->fleet, &e);
        uint64_t now = real_usec();
        char why[512];

        if (dr->schedule_refused && now - dr->schedule_refused < DRILL_SCHEDULE_RETRY)
                return;
        for (; dr->fleet_next < n; dr->fleet_next++) {
                const drill_schedule *x = &e[dr->fleet_next];
                if (!policy_in_hours(&x->window, now))
                        continue;
                if (!drill_set_find(dr->config->drill_set, x->drill)) {
                        if (!dr->fleet_unknown_said)
                                fleet_say(dr, x->drill, "no drill of that name here (drills.dirs)");
                        dr->fleet_unknown_said = true;
                        continue;
                }
                (void) snprintf(dr->claim_drill, sizeof(dr->claim_drill), "%s", x->drill);
                dr->claiming = true;
                dr->fleet_next++;
                if (fleet_drills_claim(dr->fleet, x->drill, x->every_usec, on_claim, dr, why, sizeof(why)) < 0) {
                        dr->claiming = false;
                        fleet_say(dr, x->drill, why);
                }
                return;
        }
}

/* The fleet's schedule changed: look now, not at the next minute. */
static void on_fleet_schedule(void *userdata) {
        drill_runner *dr = userdata;
        dr->fleet_said[0] = 0;
        dr->fleet_unknown_said = false;
        dr->schedule_refused = 0;
        tick(dr);
}

static int on_tick(ev_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;

        tick(dr);
        (void) ev_source_set_time_relative(s, DRILL_SCHEDULE_TICK);
        (void) ev_source_set_enabled(s, EV_ON);
        return 0;
}

void drill_schedule_start(drill_runner *dr) {
        if (dr->fleet && !dr->fleet_subscribed) {
                fleet_drills_subscribe(dr->fleet, on_fleet_schedule, dr);
                dr->fleet_subscribed = true;
        }
        if (dr->schedule_timer || (!dr->config->drills.n_schedule && !dr->fleet))
                return;
        if (ev_add_time_relative(dr->event, &dr->schedule_timer, CLOCK_MONOTONIC, DRILL_SCHEDULE_TICK,
                                       USEC_PER_SEC, on_tick, dr) < 0)
                log_warning("cannot arm the drill schedule's timer: scheduled drills will not run");
}
