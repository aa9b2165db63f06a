/* Why an incident waits instead of getting its run now (engine.c decides, this says and
 * keeps track): a clock incident (certificate and revocation runbooks wait for the time to be
 * right), its runbook's cooldown, or another run it must not overlap — a second run of the same
 * runbook, or a second disruptive one. Each hold is said once: audit, log, webhook. */
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "agent/config/config.h"
#include "agent/engine/engine_internal.h"
#include "agent/notify/notifier.h"
#include "agent/triage/incident.h"
#include "duration.h"
#include "log.h"
#include "rfc3339.h"

bool engine_clock_incident_active(engine *e) {
        for (size_t i = 0; i < incident_store_size(e->incidents); i++) {
                const incident *inc = incident_store_get(e->incidents, i);
                if (inc->cls == FAULT_CLOCK && inc->state != INCIDENT_RESOLVED)
                        return true;
        }
        return false;
}

/* A wrong clock makes good certificates look expired: nothing is done to certificates (or their
 * revocation data) while a clock incident is active — fix the time first. Such incidents are
 * held, not escalated: when the clock is right again they are decided afresh (the certificate
 * may really be expired, or not at all). */
bool engine_held_by_clock(engine *e, const incident *inc, const runbook *rb) {
        return (inc->cls == FAULT_CERTIFICATE || inc->cls == FAULT_REVOCATION) && rb->grade != GRADE_OBSERVE &&
               engine_clock_incident_active(e);
}

size_t engine_clock_held(engine *e, uint64_t *ids, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < incident_store_size(e->incidents) && n < max; i++) {
                const incident *inc = incident_store_get(e->incidents, i);
                if ((inc->cls == FAULT_CERTIFICATE || inc->cls == FAULT_REVOCATION) && inc->state == INCIDENT_OPEN)
                        ids[n++] = inc->id;
        }
        return n;
}

/* Say a hold once (a new hold: another incident, a cooldown that ends at another time, another
 * run waited for, is said again). KEY: the cooldown's end, or the id of the run waited for. */
static bool hold_said(engine *e, const incident *inc, uint64_t key) {
        for (size_t i = 0; i < ELEMENTSOF(e->holds_said); i++)
                if (e->holds_said[i].incident == inc->id && e->holds_said[i].until == key)
                        return true;
        e->holds_said[e->holds_next].incident = inc->id;
        e->holds_said[e->holds_next].until = key;
        e->holds_next = (e->holds_next + 1) % ELEMENTSOF(e->holds_said);
        return false;
}

static void say_hold(engine *e, const incident *inc, const runbook *rb, const char *text) {
        log_notice("%s", text);
        engine_audit(e, "hold", "%s", text);
        if (e->notifier) {
                notify_message m = { .event = "held", .incident = inc->id, .runbook = rb->name,
                                     .grade = grade_to_string(rb->grade), .text = text };
                (void) notifier_send(e->notifier, (const char *const *) rb->notify_targets, &m);
        }
}

/* A re-opened incident waits for its runbook's cooldown: say so, with until when. */
void engine_hold_for_cooldown(engine *e, const incident *inc, const runbook *rb, uint64_t until) {
        char when[40], left[32], text[NOTIFY_TEXT_MAX];

        if (hold_said(e, inc, until))
                return;
        (void) rfc3339_format(until, when, sizeof(when));
        (void) duration_format((until - real_usec()) / USEC_PER_SEC * USEC_PER_SEC, left, sizeof(left));
        (void) snprintf(text, sizeof(text), "incident %llu (%s) held: runbook %s in cooldown until %s (%s); decided then",
                        (unsigned long long) inc->id, fault_class_to_string(inc->cls), rb->name, when, left);
        say_hold(e, inc, rb, text);
}

/* Does a step of RB drop established SAs (a restart, a reload)? */
static bool runbook_disruptive(const engine *e, const runbook *rb) {
        for (size_t i = 0; rb && i < rb->n_steps; i++) {
                action_plan ap = { 0 };
                if (action_plan_make(&rb->steps[i].params, &e->env, ACTION_APPLY, &ap) >= 0 && ap.disruptive)
                        return true;
        }
        return false;
}

const run *engine_run_conflict(const engine *e, const char *name, const runbook *rb) {
        bool disruptive = runbook_disruptive(e, rb);
        for (size_t i = 0; i < e->n_runs; i++) {
                const run *o = e->runs[i];
                if (o->state != RUN_RUNNING && o->state != RUN_ROLLING_BACK)
                        continue;
                if (strcmp(o->runbook, name) == 0 || (disruptive && runbook_disruptive(e, o->rb)))
                        return o;
        }
        return NULL;
}

/* Another incident matches a runbook that is running, or a disruptive one while another
 * disruptive run is under way: it waits for that run's outcome (the run's end decides it
 * afresh). Two runs of one runbook would act on the same thing at once — a restart whose own
 * bounded stop SIGKILLed charon sees "charon crashed", and a second restart would cancel the
 * first one's start job; two disruptive runbooks (a restart, a configuration rollback that
 * reloads) would each take the other's effect for the fault. */
void engine_hold_for_run(engine *e, const incident *inc, const runbook *rb, const run *busy) {
        char text[NOTIFY_TEXT_MAX];

        if (hold_said(e, inc, busy->id))
                return;
        (void) snprintf(text, sizeof(text), "incident %llu (%s) held: runbook %s is running (run %llu, incident %llu); "
                        "decided when it ends", (unsigned long long) inc->id, fault_class_to_string(inc->cls), busy->runbook,
                        (unsigned long long) busy->id, (unsigned long long) busy->incident);
        say_hold(e, inc, rb, text);
}
