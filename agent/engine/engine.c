/* The runbook engine's life cycle and its queue (see engine.h): what triage reports is queued
 * and acted on in the next loop iteration; an incident gets a runbook (matched, held for a
 * cooldown or a clock incident, or left to a human) and a new run; listeners hear of every
 * change of a run. A run's states and transitions are engine_run.c; the operators' verbs
 * engine_ops.c; why an incident waits (a clock incident, a cooldown, a run it must not overlap)
 * engine_hold.c; temporary measures measure.c; durable state engine_store.c; who hears of a run's
 * changes engine_publish.c; names, lookups, audit and webhooks engine_base.c — each file calls
 * only those listed after it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "agent/config/config.h"
#include "agent/checks/check_set.h"
#include "agent/engine/engine_internal.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "agent/notify/notifier.h"
#include "duration.h"
#include "log.h"
#include "rfc3339.h"

static void run_free(run *r) {
        if (!r)
                return;
        engine_run_clear_runtime(r);
        for (size_t i = 0; i < RUNBOOK_STEPS_MAX; i++)
                action_params_done(&r->steps[i].params);
        runbook_set_free(r->set);
        free(r);
}

/* Keep every active run and the newest ENGINE_RUNS_KEEP finished ones. */
void engine_prune(engine *e) {
        size_t finished = 0, w = 0;

        for (size_t i = 0; i < e->n_runs; i++)
                finished += !run_state_active(e->runs[i]->state);
        for (size_t i = 0; i < e->n_runs; i++) {
                run *r = e->runs[i];
                if (!run_state_active(r->state) && finished > ENGINE_RUNS_KEEP) {
                        finished--;
                        run_free(r);
                        continue;
                }
                e->runs[w++] = r;
        }
        e->n_runs = w;
}

/* Facts of the agent's checks, for `match: fact:` */
static const char *fact_lookup(void *userdata, const char *check_name, const char *key) {
        engine *e = userdata;
        check_set *cs = triage_checks(e->triage);
        check *c = cs ? check_set_find(cs, check_name) : NULL;
        const finding *f = c ? check_last_finding(c) : NULL;
        return f ? finding_fact_get(f, key) : NULL;
}

/* The best runbook for the incident as if it had been open for OPEN_USEC (0: only runbooks
 * without open_for can match). */
static const runbook *match_at(engine *e, const incident *inc, uint64_t open_usec) {
        rb_subject s = {
                .cls = fault_class_to_string(inc->cls),
                .scope = fault_scope_to_string(inc->scope),
                .reason = inc->reason,
                .severity = inc->severity == CHECK_FAIL ? "fail" : "warn",
                .check = inc->root_check,
                .peers = inc->peers,
                .open_usec = open_usec,
                .fact = fact_lookup,
                .userdata = e,
        };
        return runbook_set_match(e->config->runbooks, &s);
}

static uint64_t open_for(const incident *inc) {
        uint64_t now = real_usec();
        return now > inc->opened_usec ? now - inc->opened_usec : 0;
}

const runbook *engine_match(engine *e, const incident *inc) {
        return match_at(e, inc, open_for(inc));
}

void engine_incident_signature(const incident *inc, char *buf, size_t size) {
        char first[128] = "";
        const char *comma = strchr(inc->peers, ',');
        (void) snprintf(first, sizeof(first), "%.*s", comma ? (int) (comma - inc->peers) : (int) strlen(inc->peers),
                        inc->peers);
        (void) policy_signature(buf, size, inc->root_check, fault_class_to_string(inc->cls), first);
}

/* The newest run for an incident. */
static run *run_for_incident(engine *e, uint64_t incident_id) {
        for (size_t i = e->n_runs; i-- > 0;)
                if (e->runs[i]->incident == incident_id)
                        return e->runs[i];
        return NULL;
}

/* Did runbook NAME already fail for the incident? Then a run of another runbook waiting for it
 * is that failure's escalation (on_failure: escalate to a runbook), not a stale plan. */
static bool failed_for(const engine *e, uint64_t incident_id, const char *name) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->incident == incident_id && e->runs[i]->state == RUN_FAILED &&
                    strcmp(e->runs[i]->runbook, name) == 0)
                        return true;
        return false;
}

/* Did runbook NAME get a run for the incident (in any state)? */
static bool ran_for(const engine *e, uint64_t incident_id, const char *name) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->incident == incident_id && strcmp(e->runs[i]->runbook, name) == 0)
                        return true;
        return false;
}

/* A runbook with open_for in its match, matching now and not yet run for the incident: what to
 * do when the incident outlived the local runbooks (a failover). It is decided beside them —
 * whatever ran or runs for the incident, even when it went to a human — once per incident. */
static const runbook *timed_match(engine *e, const incident *inc) {
        const runbook *rb = engine_match(e, inc);
        return rb && rb->timed && !ran_for(e, inc->id, rb->name) ? rb : NULL;
}

/* Look at the incident again when it reaches the next open_for of the set. */
static void recheck_when_older(engine *e, const incident *inc) {
        uint64_t next = runbook_set_next_open_for(e->config->runbooks, open_for(inc));
        if (next)
                engine_recheck_at(e, inc->opened_usec + next);
}

static uint64_t last_finished(engine *e, const char *name) {
        uint64_t t = 0;
        for (size_t i = 0; i < e->n_runs; i++)
                if (strcmp(e->runs[i]->runbook, name) == 0 && e->runs[i]->state != RUN_OBSERVED && !e->runs[i]->drill &&
                    e->runs[i]->finished_usec > t)
                        t = e->runs[i]->finished_usec;
        return t;
}

/* A cooldown ended (engine_recheck_at()): decide every active incident afresh. */
static void recheck(engine *e) {
        for (size_t i = 0; i < incident_store_size(e->incidents); i++) {
                const incident *inc = incident_store_get(e->incidents, i);
                if (inc->state == INCIDENT_OPEN || inc->state == INCIDENT_REMEDIATING || inc->state == INCIDENT_ESCALATED)
                        engine_incident(e, inc->id, false);
        }
}

void engine_incident(engine *e, uint64_t incident_id, bool opened) {
        const incident *inc = incident_store_find(e->incidents, incident_id);
        char sig[LEDGER_SIGNATURE_MAX];
        const runbook *rb;
        run *last, *r;

        if (!inc || !e->started)
                return;
        engine_incident_signature(inc, sig, sizeof(sig));
        if (opened && !engine_exempt_of(e, incident_id)) {
                (void) policy_ledger_note_open(e->ledger, sig, real_usec());
                (void) engine_persist_meta(e);
        }
        last = run_for_incident(e, incident_id);
        if (inc->state == INCIDENT_RESOLVED) {
                if (last && (last->state == RUN_PENDING || last->state == RUN_PROPOSED)) {
                        engine_run_finish(e, last, RUN_CANCELLED, "incident %llu resolved", (unsigned long long) incident_id);
                        engine_audit(e, "plan", "run %llu runbook %s cancelled: incident %llu resolved",
                                     (unsigned long long) last->id, last->runbook, (unsigned long long) incident_id);
                }
                if (inc->cls == FAULT_CLOCK && !engine_clock_incident_active(e)) {
                        /* the clock is right again: what it held is decided afresh */
                        uint64_t ids[16];
                        size_t n = engine_clock_held(e, ids, ELEMENTSOF(ids));
                        for (size_t i = 0; i < n; i++)
                                engine_incident(e, ids[i], false);
                }
                return;
        }
        /* No run is known for it (a state log reset, or its run pruned) but the measure one took
         * for it is in force (taken back from its side record): that measure answers it until
         * it is reverted, when the incident is decided afresh; a second run would stack a second
         * measure on a fault nobody has seen since the restart. */
        if (!last && measure_live_for(e, incident_id))
                return;
        recheck_when_older(e, inc);
        if ((rb = timed_match(e, inc))) {
                log_info("incident %llu open for %llus: runbook %s matches it now", (unsigned long long) incident_id,
                         (unsigned long long) (open_for(inc) / USEC_PER_SEC), rb->name);
                goto decide;
        }
        if (inc->state == INCIDENT_ESCALATED)
                return; /* a human's now */
        /* The incident changed since its plan was offered (a broken configuration joined a file
         * mode in the same class): a plan still waiting for an approver or an operator that is
         * no longer the one that matches is superseded, and the incident decided afresh. */
        if (last && (last->state == RUN_PENDING || last->state == RUN_PROPOSED) && !last->operator_run) {
                const runbook *now = match_at(e, inc, 0);
                if (now && strcmp(now->name, last->runbook) != 0 && !failed_for(e, incident_id, now->name)) {
                        engine_run_finish(e, last, RUN_CANCELLED, "superseded: incident %llu now matches runbook %s",
                                          (unsigned long long) incident_id, now->name);
                        engine_audit(e, "plan", "run %llu runbook %s cancelled: incident %llu changed (%s, %s): runbook %s "
                                     "matches it now", (unsigned long long) last->id, last->runbook,
                                     (unsigned long long) incident_id, inc->severity == CHECK_FAIL ? "fail" : "warn",
                                     inc->reason, now->name);
                }
        }
        if (last && (run_state_active(last->state) || last->state == RUN_OBSERVED || last->state == RUN_DENIED ||
                     last->state == RUN_ESCALATED))
                return;
        /* A run succeeded (its verify passed) but the incident is still there: running the same
         * runbook again would not help. Give diagnosis time to resolve it, then a human. */
        if (last && last->state == RUN_SUCCEEDED) {
                if (real_usec() < last->finished_usec + ENGINE_PERSIST_GRACE_USEC)
                        engine_recheck_at(e, last->finished_usec + ENGINE_PERSIST_GRACE_USEC);
                else
                        engine_escalate_incident(e, incident_id, "runbook %s succeeded (run %llu) but the problem persists",
                                                 last->runbook, (unsigned long long) last->id);
                return;
        }
        rb = match_at(e, inc, 0);
        if (!rb)
                return;
decide:
        if (engine_held_by_clock(e, inc, rb)) {
                if (opened)
                        engine_audit(e, "policy", "incident %llu: runbook %s held until the clock incident is resolved "
                                     "(a wrong clock makes good certificates look bad)", (unsigned long long) incident_id,
                                     rb->name);
                return;
        }
        const run *busy = rb->grade != GRADE_OBSERVE ? engine_run_conflict(e, rb->name, rb) : NULL;
        if (busy) {
                engine_hold_for_run(e, inc, rb, busy);
                return;
        }
        if (rb->cooldown_usec && rb->grade != GRADE_OBSERVE && !engine_exempt_of(e, incident_id)) {
                uint64_t t = last_finished(e, rb->name);
                policy_config bp = engine_budget_policy(e, rb);
                char lw[256];
                /* with the budget already spent, waiting out the cooldown would only end in an
                 * escalation: decided now (engine_decide escalates), not held */
                if (t && real_usec() < t + rb->cooldown_usec &&
                    policy_ledger_check(e->ledger, &bp, sig, real_usec(), lw, sizeof(lw)) == LEDGER_ALLOW) {
                        engine_hold_for_cooldown(e, inc, rb, t + rb->cooldown_usec);
                        engine_recheck_at(e, t + rb->cooldown_usec);
                        return;
                }
        }
        /* A temporary measure for the same problem is being reverted at its expiry: the fault it
         * covered is back before the revert has returned. What the expiry decides (its breaker)
         * comes first; the incident is looked at again once the revert is done. */
        if (measure_expiring(e, sig))
                return;
        r = engine_run_new(e, rb, e->config->runbooks, incident_id, sig);
        if (!r)
                return;
        log_info("incident %llu matches runbook %s (grade %s): run %llu", (unsigned long long) incident_id, rb->name,
                 grade_to_string(rb->grade), (unsigned long long) r->id);
        engine_decide(e, r, rb->grade, true);
        engine_prune(e);
}

void engine_healthy(engine *e) {
        if (policy_ledger_heal(e->ledger, &e->config->policy, real_usec()) > 0) {
                engine_audit(e, "policy", "circuit breakers closed after sustained health");
                (void) engine_persist_meta(e);
        }
}

void engine_finding(engine *e, const char *check_name) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->state == RUN_RUNNING && e->runs[i]->verify_deadline)
                        run_verify_finding(e, e->runs[i], check_name);
}

void engine_reconfigure(engine *e, const ikeheal_config *config, vici_client *vici) {
        e->config = config;
        e->env.exec_dir = e->config->exec_dir;
        e->env.vici_socket = e->config->vici_socket;
        e->env.bus = e->bus;
        e->env.vici = vici;
        e->env.charon_unit = e->config->charon_unit;
        e->env.state_dir = e->config->state_dir;
        if (e->notifier)
                (void) notifier_set_config(e->notifier, &e->config->notify);
}

bool engine_paused(const engine *e, const char **ret_reason) {
        if (ret_reason)
                *ret_reason = e->pause_reason;
        return e->paused;
}

size_t engine_runs(const engine *e) {
        return e->n_runs;
}

const run *engine_run_get(const engine *e, size_t i) {
        return i < e->n_runs ? e->runs[e->n_runs - 1 - i] : NULL;
}

size_t engine_measures(const engine *e) {
        return e->n_measures;
}

const measure *engine_measure_get(const engine *e, size_t i) {
        return i < e->n_measures ? e->measures[e->n_measures - 1 - i] : NULL;
}

bool engine_measure_owed(const engine *e, char *why, size_t n) {
        for (size_t i = 0; i < e->n_measures; i++) {
                const measure *m = e->measures[i];
                if (measure_state_owed(m->state)) {
                        (void) snprintf(why, n, m->state == MEASURE_REVERT_FAILED
                                                        ? "temporary measure %llu (%s) could not be reverted (once its "
                                                          "cause is fixed: ikehealctl revert %llu)"
                                                        : "temporary measure %llu (%s) is in force",
                                        (unsigned long long) m->id, m->kind, (unsigned long long) m->id);
                        return true;
                }
        }
        return false;
}

const policy_ledger *engine_ledger(const engine *e) {
        return e->ledger;
}

const action_env *engine_action_env(const engine *e) {
        return &e->env;
}

static void engine_notify_cb(void *userdata, const char *event, const char *text) {
        engine *e = userdata;
        notify_message m = { .event = event, .text = text };

        log_notice("notify: %s", text);
        if (e->notifier)
                (void) notifier_send(e->notifier, NULL, &m);
}

/* A param of a configured check (action_env.check_param): "key" for a scalar, "key.N" for the
 * N-th item of a sequence. */
static const char *check_param(void *userdata, const char *name, const char *key) {
        engine *e = userdata;
        const ikeheal_config *c = e->config;
        char k[64];
        const char *dot = strchr(key, '.');
        long idx = dot ? strtol(dot + 1, NULL, 10) : -1;

        (void) snprintf(k, sizeof(k), "%.*s", dot ? (int) (dot - key) : (int) strlen(key), key);
        for (size_t i = 0; name && i < c->n_checks; i++) {
                const ynode *n = strcmp(c->checks[i].name, name) == 0 ? ynode_get(c->checks[i].params, k) : NULL;
                if (n && dot && n->type == YNODE_SEQ && idx >= 0 && (size_t) idx < n->n_items)
                        n = n->items[idx];
                else if (dot)
                        n = NULL;
                if (n && n->type == YNODE_SCALAR && !ynode_is_null(n))
                        return n->value;
        }
        return NULL;
}

/* Incidents change inside the incident store's reconciliation; the engine acts after it returns
 * (its own state changes to incidents would otherwise re-enter the store mid-reconciliation). */
static int on_queue_defer(ev_source *s, void *userdata) {
        engine *e = userdata;
        struct engine_queue_item *q = e->queue;
        size_t n = e->n_queue;

        (void) ev_source_set_enabled(s, EV_OFF);
        e->queue = NULL;
        e->n_queue = 0;
        for (size_t i = 0; i < n; i++)
                engine_incident(e, q[i].id, q[i].opened);
        free(q);
        return 0;
}

static void on_triage_incident(const incident *i, incident_event ev, void *userdata) {
        engine *e = userdata;
        bool opened = ev == INCIDENT_OPENED;
        struct engine_queue_item *q;

        for (size_t k = 0; k < e->n_queue; k++)
                if (e->queue[k].id == i->id) {
                        e->queue[k].opened |= opened;
                        return;
                }
        q = realloc(e->queue, (e->n_queue + 1) * sizeof(*q));
        if (!q) {
                log_error("out of memory queueing incident %llu for the runbook engine", (unsigned long long) i->id);
                return;
        }
        q[e->n_queue++] = (struct engine_queue_item){ .id = i->id, .opened = opened };
        e->queue = q;
        if (!e->queue_defer && ev_add_defer(e->event, &e->queue_defer, on_queue_defer, e) < 0)
                return;
        (void) ev_source_set_enabled(e->queue_defer, EV_ONESHOT);
}

static void on_triage_finding(check *c, const finding *f, void *userdata) {
        engine_finding(userdata, check_name(c));
}

static void on_triage_healthy(void *userdata) {
        engine_healthy(userdata);
}

int engine_new(engine **ret, const engine_deps *deps, const ikeheal_config *config) {
        engine *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->event = deps->event;
        e->recheck_fn = recheck;
        e->triage = deps->triage;
        e->incidents = deps->incidents;
        e->notifier = deps->notifier;
        e->bus = deps->bus;
        e->audit = deps->audit;
        e->audit_userdata = deps->audit_userdata;
        e->env = (action_env){ .event = e->event, .notify = engine_notify_cb, .notify_userdata = e,
                               .check_param = check_param, .check_userdata = e,
                               .check_fact = fact_lookup, .gateway_healthy = engine_gateway_healthy };
        r = policy_ledger_new(&e->ledger);
        if (r < 0) {
                free(e);
                return r;
        }
        engine_reconfigure(e, config, NULL);
        r = engine_store_open(e, config->state_dir);
        /* measures of a previous life still in force hold the last-good state from the start */
        engine_hold_good_for_measures(e);
        if (r >= 0)
                r = triage_subscribe(e->triage, &(triage_listener){ .finding = on_triage_finding,
                                                                    .incident = on_triage_incident,
                                                                    .healthy = on_triage_healthy,
                                                                    .userdata = e });
        if (r < 0) {
                engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

engine *engine_free(engine *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_runs; i++)
                run_free(e->runs[i]);
        free(e->runs);
        for (size_t i = 0; i < e->n_measures; i++) {
                measure_free_runtime(e->measures[i]);
                action_params_done(&e->measures[i]->params);
                free(e->measures[i]);
        }
        free(e->measures);
        ev_source_disable_unref(e->recheck);
        ev_source_disable_unref(e->queue_defer);
        free(e->queue);
        triage_unsubscribe(e->triage, e);
        policy_ledger_free(e->ledger);
        record_store_done(&e->store);
        free(e);
        return NULL;
}

/* What a previous life left: measures first (expired ones reverted now), then runs. */
int engine_start(engine *e) {
        e->started = true;
        measure_reconcile(e);
        for (size_t i = 0; i < e->n_runs; i++) {
                run *r = e->runs[i];
                const runbook *rb = runbook_set_find(e->config->runbooks, r->runbook);
                r->engine = e;
                if (!run_state_active(r->state))
                        continue;
                if (rb && strcmp(rb->sha256, r->runbook_sha256) == 0) {
                        r->rb = rb;
                        r->set = runbook_set_ref(e->config->runbooks);
                }
                engine_run_resume(e, r);
        }
        engine_prune(e);
        engine_recheck_at(e, real_usec());
        return 0;
}
