/* Scheduled drills (drills.schedule): once a minute, the first entry whose window is open and
 * whose drill last ran longer than `every` ago is started — under every refusal a manual start
 * meets (no incident, steady state, nothing else running). A refused attempt is audited and
 * tried again after DRILL_SCHEDULE_RETRY, not every minute. */
#include <stdio.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"
#include "log.h"

#define DRILL_SCHEDULE_TICK (60ULL * USEC_PER_SEC)
#define DRILL_SCHEDULE_RETRY (15ULL * 60ULL * USEC_PER_SEC)

static uint64_t last_started(const drill_runner *dr, const char *name) {
        for (size_t i = dr->n_recs; i-- > 0;)
                if (strcmp(dr->recs[i]->name, name) == 0)
                        return dr->recs[i]->started_usec;
        return 0;
}

static void tick(drill_runner *dr) {
        const drill_config *c = &dr->config->drills;
        uint64_t now = real_usec();

        if (!c->enabled || dr->active || dr->wait.on)
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
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        drill_runner *dr = userdata;

        tick(dr);
        (void) sd_event_source_set_time_relative(s, DRILL_SCHEDULE_TICK);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

void drill_schedule_start(drill_runner *dr) {
        if (dr->schedule_timer || !dr->config->drills.n_schedule)
                return;
        if (sd_event_add_time_relative(dr->event, &dr->schedule_timer, CLOCK_MONOTONIC, DRILL_SCHEDULE_TICK,
                                       USEC_PER_SEC, on_tick, dr) < 0)
                log_warning("cannot arm the drill schedule's timer: scheduled drills will not run");
}
