/* Temporary measures: what a runbook step did that weakens security or bypasses normal
 * configuration (a PSK enabled, a port opened, a standby chain in use), with an expiry.
 *
 * The order is the guarantee: the measure — with the parameters its revert needs and its
 * expiry — is written durably (ARMING) before the step is applied; once applied it is ACTIVE
 * and a CLOCK_REALTIME timer reverts it at its expiry. A crash anywhere leaves a record that
 * the next start reconciles: ARMING or REVERTING → revert now (reverts are idempotent), ACTIVE
 * and expired → revert now, ACTIVE → re-arm. When a measure expires, it is reverted even if the
 * fault it papered over is still there: then its incident is escalated, and the signature's
 * circuit breaker is tripped so the agent does not quietly apply it again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/engine/engine_internal.h"
#include "agent/engine/engine_owed.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "duration.h"
#include "log.h"

/* Forget the oldest reverted measures beyond ENGINE_MEASURES_KEEP. */
static void prune(engine *e) {
        size_t dead = 0, w = 0;

        for (size_t i = 0; i < e->n_measures; i++)
                dead += !measure_state_live(e->measures[i]->state);
        for (size_t i = 0; i < e->n_measures; i++) {
                measure *m = e->measures[i];
                if (!measure_state_live(m->state) && dead > ENGINE_MEASURES_KEEP && !m->call) {
                        dead--;
                        measure_free_runtime(m);
                        action_params_done(&m->params);
                        free(m);
                        continue;
                }
                e->measures[w++] = m;
        }
        e->n_measures = w;
}

measure *measure_new(engine *e, run *r, const rb_step *s, const action_params *p) {
        measure **n, *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        if (action_params_copy(p, &m->params) < 0) {
                free(m);
                return NULL;
        }
        m->engine = e;
        m->id = e->next_measure_id++;
        m->state = MEASURE_ARMING;
        m->run = r->id;
        m->incident = r->incident;
        (void) snprintf(m->runbook, sizeof(m->runbook), "%s", r->runbook);
        (void) snprintf(m->step, sizeof(m->step), "%s", s->name);
        (void) snprintf(m->kind, sizeof(m->kind), "%s", p->ops->kind);
        (void) snprintf(m->signature, sizeof(m->signature), "%s", r->signature);
        /* the expiry counts from now: a crash before "applied" still bounds its life */
        m->applied_usec = real_usec();
        m->expires_usec = m->applied_usec + s->expires_in_usec;
        n = realloc(e->measures, (e->n_measures + 1) * sizeof(*n));
        if (!n) {
                action_params_done(&m->params);
                free(m);
                return NULL;
        }
        e->measures = n;
        e->measures[e->n_measures++] = m;
        if (engine_persist_measure(e, m) < 0 && e->store.log) {
                e->n_measures--;
                action_params_done(&m->params);
                free(m);
                return NULL;
        }
        char d[32];
        engine_audit(e, "measure", "measure %llu (%s, run %llu step %s) recorded before it is applied; reverted in %s",
                     (unsigned long long) m->id, m->kind, (unsigned long long) m->run, m->step,
                     duration_format(s->expires_in_usec, d, sizeof(d)));
        return m;
}

static int on_expiry(ev_source *s, uint64_t usec, void *userdata);
static void measure_reverted(measure *m, int result, const char *detail);

/* A kind with a hold check (log_level: the disk budget) is asked every few seconds whether
 * its measure may stay; when not, the measure ends early, reverted as an operator's revert is. */
static int on_hold(ev_source *s, uint64_t usec, void *userdata) {
        measure *m = userdata;
        engine *e = m->engine;
        char why[256];
        int k;

        if (m->state != MEASURE_ACTIVE || m->call) {
                m->hold_timer = ev_source_disable_unref(m->hold_timer);
                return 0;
        }
        k = action_hold(&m->params, &e->env, why, sizeof(why));
        if (k >= 0) {
                /* a fired timer is off: set its next time and turn it on again */
                int r = ev_source_set_time_relative(s, ACTION_HOLD_INTERVAL_USEC);
                return r < 0 ? r : ev_source_set_enabled(s, EV_ONESHOT);
        }
        m->hold_timer = ev_source_disable_unref(m->hold_timer);
        if (!why[0])
                (void) snprintf(why, sizeof(why), "%s", strerror(-k));
        log_notice("measure %llu (%s) cannot stay: %s; reverting it early", (unsigned long long) m->id, m->kind, why);
        engine_audit(e, "revert_early", "measure %llu (%s) reverted early: %s", (unsigned long long) m->id, m->kind, why);
        (void) snprintf(m->early_why, sizeof(m->early_why), "%.120s", why);
        m->early = true;
        measure_revert(e, m, false, NULL, NULL);
        return 0;
}

static void arm(engine *e, measure *m) {
        m->timer = ev_source_disable_unref(m->timer);
        if (ev_add_time(e->event, &m->timer, CLOCK_REALTIME, m->expires_usec, 10 * USEC_PER_MSEC, on_expiry, m) < 0)
                log_error("measure %llu: cannot arm its expiry timer; it will be reverted at the next start",
                          (unsigned long long) m->id);
        m->hold_timer = ev_source_disable_unref(m->hold_timer);
        if (m->params.ops && m->params.ops->hold &&
            ev_add_time_relative(e->event, &m->hold_timer, CLOCK_MONOTONIC, ACTION_HOLD_INTERVAL_USEC,
                                       100 * USEC_PER_MSEC, on_hold, m) < 0)
                log_error("measure %llu: cannot arm its hold check; it stays until its expiry", (unsigned long long) m->id);
}

void measure_activate(engine *e, measure *m) {
        char d[32];

        m->state = MEASURE_ACTIVE;
        (void) engine_persist_measure(e, m);
        arm(e, m);
        engine_audit(e, "measure", "measure %llu (%s) active for %s, until %llu", (unsigned long long) m->id, m->kind,
                     duration_format(m->expires_usec > real_usec() ? (m->expires_usec - real_usec() + USEC_PER_SEC / 2) /
                                                                              USEC_PER_SEC * USEC_PER_SEC
                                                                    : 0,
                                     d, sizeof(d)),
                     (unsigned long long) (m->expires_usec / USEC_PER_SEC));
}

/* After an expiry's revert: the fault it papered over may still be there. */
static void expired_aftermath(engine *e, measure *m) {
        const incident *inc = m->incident ? incident_store_find(e->incidents, m->incident) : NULL;
        const run *r = engine_run_find(e, m->run);
        char why[256];

        (void) snprintf(why, sizeof(why), "temporary measure %llu (%s) expired and was reverted; not re-applied "
                        "automatically", (unsigned long long) m->id, m->kind);
        if (!r || !r->drill) { /* a drill's measure trips no breaker a real incident would meet */
                policy_ledger_trip(e->ledger, m->signature, real_usec(), why);
                (void) engine_persist_meta(e);
        }
        engine_notify(e, NULL, RB_EV_EXPIRED, "%s (runbook %s)", why, m->runbook);
        if (inc && inc->state != INCIDENT_RESOLVED)
                engine_escalate_incident(e, m->incident, "measure %llu (%s) expired while the fault is still present: "
                                         "a human is needed", (unsigned long long) m->id, m->kind);
        /* look again now: if the fault comes back, the new incident meets the tripped breaker; one
         * that came back while the revert was in flight was held (measure_expiring()) */
        triage_trigger_all(e->triage);
        engine_recheck_at(e, real_usec());
}

bool measure_live_for(const engine *e, uint64_t incident_id) {
        for (size_t i = 0; i < e->n_measures; i++)
                if (e->measures[i]->incident == incident_id && measure_state_live(e->measures[i]->state))
                        return true;
        return false;
}

bool measure_expiring(const engine *e, const char *signature) {
        for (size_t i = 0; i < e->n_measures; i++) {
                const measure *m = e->measures[i];
                if (m->state == MEASURE_REVERTING && m->expiry && strcmp(m->signature, signature) == 0)
                        return true;
        }
        return false;
}

static void measure_reverted(measure *m, int result, const char *detail) {
        engine *e = m->engine;
        void (*cb)(engine *, measure *, int, void *) = m->on_reverted;
        void *ud = m->on_reverted_userdata;
        bool expiry = m->expiry;

        m->on_reverted = NULL;
        m->on_reverted_userdata = NULL;
        m->state = result < 0 ? MEASURE_REVERT_FAILED : MEASURE_REVERTED;
        m->reverted_usec = real_usec();
        /* an early revert's note keeps why the measure could not stay */
        int k = m->early ? snprintf(m->note, sizeof(m->note), "reverted early: %s; ", m->early_why) : 0;
        size_t w = k > 0 && (size_t) k < sizeof(m->note) ? (size_t) k : 0;
        (void) snprintf(m->note + w, sizeof(m->note) - w, "%s%s%s", result < 0 ? strerror(-result) : "reverted",
                        detail && detail[0] ? ": " : "", detail ? detail : "");
        (void) engine_persist_measure(e, m);
        if (result < 0) {
                log_error("measure %llu (%s): revert FAILED: %s", (unsigned long long) m->id, m->kind, m->note);
                engine_audit(e, "revert_failed", "measure %llu (%s) revert failed: %s", (unsigned long long) m->id, m->kind,
                             m->note);
                engine_notify(e, NULL, RB_EV_ESCALATED, "temporary measure %llu (%s) could NOT be reverted: %s; a human "
                              "is needed", (unsigned long long) m->id, m->kind, m->note);
                engine_escalate_incident(e, m->incident, "measure %llu (%s) could not be reverted", (unsigned long long) m->id,
                                         m->kind);
        } else {
                log_notice("measure %llu (%s) reverted%s", (unsigned long long) m->id, m->kind, expiry ? " at its expiry" : "");
                engine_audit(e, "revert", "measure %llu (%s, runbook %s step %s) reverted%s", (unsigned long long) m->id,
                             m->kind, m->runbook, m->step, expiry ? " at its expiry" : "");
        }
        if (expiry)
                expired_aftermath(e, m);
        /* done with the call (freeing it from its own completion is allowed; `detail` pointed
         * into it and is not used past this point) */
        m->call = action_call_free(m->call);
        if (cb)
                cb(e, m, result, ud);
}

static void on_revert_done(action_call *call, int result, void *userdata) {
        measure *m = userdata;
        measure_reverted(m, result, action_call_detail(call));
}

void measure_revert(engine *e, measure *m, bool expiry, measure_done_cb done, void *userdata) {
        int k;

        if (done) {
                m->on_reverted = done;
                m->on_reverted_userdata = userdata;
        }
        m->expiry |= expiry;
        if (m->call)
                return; /* in flight: done() is told when it completes */
        if (!measure_state_live(m->state)) {
                m->on_reverted = NULL;
                if (done)
                        done(e, m, m->state == MEASURE_REVERTED ? 0 : -EIO, userdata);
                return;
        }
        m->timer = ev_source_disable_unref(m->timer);
        m->hold_timer = ev_source_disable_unref(m->hold_timer);
        m->state = MEASURE_REVERTING;
        (void) engine_persist_measure(e, m);
        k = action_call_new(&m->call, &m->params, &e->env, ACTION_REVERT,
                            action_revert_timeout(&m->params, RUNBOOK_STEP_TIMEOUT_DEFAULT),
                            call_context_fill(&m->ctx, m->incident, m->run, m->step, "revert"), on_revert_done, m);
        if (k < 0)
                measure_reverted(m, k, "cannot start the revert");
}

static int on_expiry(ev_source *s, uint64_t usec, void *userdata) {
        measure *m = userdata;

        m->timer = ev_source_disable_unref(m->timer);
        log_notice("measure %llu (%s) expires now: reverting", (unsigned long long) m->id, m->kind);
        measure_revert(m->engine, m, true, NULL, NULL);
        return 0;
}

void measure_reconcile(engine *e) {
        uint64_t now = real_usec();

        for (size_t i = 0; i < e->n_measures; i++) {
                measure *m = e->measures[i];
                m->engine = e;
                switch (m->state) {
                case MEASURE_ARMING:
                case MEASURE_REVERTING:
                        engine_audit(e, "recovery", "measure %llu (%s) was %s when the agent stopped: reverting it now",
                                     (unsigned long long) m->id, m->kind, measure_state_to_string(m->state));
                        measure_revert(e, m, m->expires_usec <= now, NULL, NULL);
                        break;
                case MEASURE_ACTIVE:
                        if (m->expires_usec <= now) {
                                engine_audit(e, "recovery", "measure %llu (%s) expired while the agent was down: reverting it now",
                                             (unsigned long long) m->id, m->kind);
                                measure_revert(e, m, true, NULL, NULL);
                        } else
                                arm(e, m);
                        break;
                default:
                        break;
                }
        }
        prune(e);
}

int engine_measure_revert(engine *e, uint64_t id, const engine_who *who, char *why, size_t n) {
        measure *m = measure_lookup(e, id);

        if (!m || !measure_state_owed(m->state)) {
                (void) snprintf(why, n, "no measure %llu in force", (unsigned long long) id);
                return -ENOENT;
        }
        engine_audit(e, "revert_requested", "measure %llu (%s) revert requested%s by uid %u (%s)", (unsigned long long) id,
                     m->kind, m->state == MEASURE_REVERT_FAILED ? " again (its revert had failed)" : "", who->uid, who->user);
        /* a failed revert is tried again only when someone asks for it (its note said why it
         * failed; they have fixed that) */
        if (m->state == MEASURE_REVERT_FAILED)
                m->state = MEASURE_ACTIVE;
        measure_revert(e, m, false, NULL, NULL);
        (void) snprintf(why, n, "measure %llu is being reverted", (unsigned long long) id);
        return 0;
}

int engine_measure_extend(engine *e, uint64_t id, uint64_t by_usec, const engine_who *who, char *why, size_t n) {
        measure *m = measure_lookup(e, id);
        uint64_t max, until;
        char a[32], b[32];

        if (!who->approver) {
                (void) snprintf(why, n, "extending a measure needs approval: uid %u (%s) is not an approver", who->uid,
                                who->user);
                engine_audit(e, "approval_refused", "extend measure %llu: %s", (unsigned long long) id, why);
                return -EPERM;
        }
        if (!m || m->state != MEASURE_ACTIVE) {
                (void) snprintf(why, n, "no measure %llu active", (unsigned long long) id);
                return -ENOENT;
        }
        /* the policy bounds the whole life, not each extension */
        max = policy_measure_max(&e->config->policy, m->kind);
        until = m->expires_usec + by_usec;
        if (until - m->applied_usec > max) {
                (void) snprintf(why, n, "refused: measure %llu (%s) would live %s, more than the policy allows (%s)",
                                (unsigned long long) id, m->kind, duration_format(until - m->applied_usec, a, sizeof(a)),
                                duration_format(max, b, sizeof(b)));
                engine_audit(e, "extend_refused", "%s; requested by uid %u (%s)", why, who->uid, who->user);
                return -ERANGE;
        }
        m->expires_usec = until;
        m->extensions++;
        (void) engine_persist_measure(e, m);
        (void) engine_owed_update(e, m);
        arm(e, m);
        engine_audit(e, "extend", "measure %llu (%s) extended by %s by uid %u (%s)", (unsigned long long) id, m->kind,
                     duration_format(by_usec, a, sizeof(a)), who->uid, who->user);
        (void) snprintf(why, n, "measure %llu now expires in %s", (unsigned long long) id,
                        duration_format(until - real_usec(), b, sizeof(b)));
        return 0;
}
