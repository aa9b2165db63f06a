/* The change guard's one state machine (agent/guard/guard.h): begin, confirm, verify, keep or
 * roll back, each transition recorded (guard_store.c) before it takes effect elsewhere, audited,
 * and — for a rollback — notified. Deadlines are CLOCK_REALTIME timers at the recorded instants,
 * so a restart (of the agent or the host) keeps them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check.h"
#include "agent/checks/check_set.h"
#include "agent/checks/check_state.h"
#include "agent/checks/finding.h"
#include "agent/config/config.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine.h"
#include "agent/guard/guard_internal.h"
#include "agent/notify/notifier.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "duration.h"
#include "log.h"
#include "now.h"
#include "rfc3339.h"

/* After verify_for, how long a check that has not reported since the confirmation is waited for
 * before the change counts as unverified (and is rolled back). */
#define GUARD_REPORT_GRACE_USEC (60 * USEC_PER_SEC)

struct guard {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        engine *engine;
        drill_runner *drills;
        notifier *notifier;
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
        const ikeheal_config *config;

        guard_rec rec;
        bool have_rec;
        ev_source *timer;
        guard_rollback *rollback;
        /* each check's runs at the confirmation: a verification needs a run after it */
        check_set *runs_of;
        uint64_t *runs_at;
        size_t n_runs;
        /* the roster for the next begin (taken), then the listing that looks for it back */
        guard_peers roster, back;
        bool roster_ready;
        void (*roster_done)(int result, const char *why, void *userdata);
        void *roster_userdata;
};

static vici_client *charon(const guard *g) {
        const action_env *env = g->engine ? engine_action_env(g->engine) : NULL;
        return env ? env->vici : NULL;
}

static void audit(guard *g, const char *fmt, ...) _printf_(2, 3);
static void audit(guard *g, const char *fmt, ...) {
        char text[2 * GUARD_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        log_notice("%s", text);
        if (g->audit)
                g->audit(g->audit_userdata, "guard", text);
}

static int save(guard *g) {
        int r = guard_store_save(g->config->state_dir, &g->rec);
        if (r < 0)
                log_error_errno(r, "guard %llu: cannot record its state (%s) in %s", (unsigned long long) g->rec.id,
                                guard_state_to_string(g->rec.state), g->config->state_dir);
        return r;
}

static void engine_hold(guard *g, bool hold) {
        engine_who who = { .uid = g->rec.uid, .user = g->rec.user, .approver = true };
        char reason[128];

        if (!g->engine || !g->rec.paused_engine)
                return;
        (void) snprintf(reason, sizeof(reason), "guarded change %llu %s", (unsigned long long) g->rec.id,
                        hold ? "in progress: its rollback is the remedy" : "ended");
        (void) engine_pause(g->engine, hold, reason, &who);
}

static int arm(guard *g, uint64_t at_real_usec, ev_time_handler cb) {
        g->timer = ev_source_disable_unref(g->timer);
        int r = ev_add_time(g->event, &g->timer, CLOCK_REALTIME, at_real_usec, 100 * USEC_PER_MSEC, cb, g);
        if (r < 0)
                log_error_errno(r, "guard %llu: cannot arm its timer", (unsigned long long) g->rec.id);
        return r;
}

/* The guard is over: the last-good recording and automatic remediation are released. */
static void release(guard *g) {
        g->timer = ev_source_disable_unref(g->timer);
        guard_peers_cancel(&g->back, charon(g));
        free(g->runs_at);
        g->runs_at = NULL;
        g->n_runs = 0;
        triage_hold_good(g->triage, TRIAGE_HOLD_GUARD, false);
        engine_hold(g, false);
}

static void notify(guard *g, const char *event, const char *text) {
        if (g->notifier)
                (void) notifier_send(g->notifier, NULL, &(notify_message){ .event = event, .text = text });
}

static void on_rolled_back(int result, const char *undone, void *userdata) {
        guard *g = userdata;
        char text[3 * GUARD_TEXT_MAX];

        g->rec.state = result < 0 ? GUARD_ROLLBACK_FAILED : GUARD_ROLLED_BACK;
        g->rec.ended_usec = real_usec();
        /* the reason stays first; what was undone follows */
        size_t l = strlen(g->rec.outcome);
        (void) snprintf(g->rec.outcome + l, sizeof(g->rec.outcome) - l, "; undone: %s", undone);
        (void) save(g);
        g->rollback = guard_rollback_free(g->rollback);
        release(g);
        (void) snprintf(text, sizeof(text), "guarded change %llu (%s)%s%s %s: %s", (unsigned long long) g->rec.id,
                        g->rec.reason, g->rec.packages[0] ? ", packages " : "", g->rec.packages,
                        result < 0 ? "NOT fully rolled back, a human must look" : "rolled back", g->rec.outcome);
        audit(g, "%s", text);
        notify(g, result < 0 ? "guard_rollback_failed" : "guard_rolled_back", text);
        /* the checks look at what the rollback left */
        triage_trigger_all(g->triage);
}

/* The incidents the change opened are being remedied by its rollback: each says so, naming the
 * change (and the packages of a dpkg run). */
static void claim_incidents(guard *g) {
        char note[256];

        (void) snprintf(note, sizeof(note), "guarded change %llu (%.60s)%s%.120s: being rolled back",
                        (unsigned long long) g->rec.id, g->rec.reason, g->rec.packages[0] ? ", packages " : "",
                        g->rec.packages);
        for (size_t i = 0; g->incidents && i < incident_store_size(g->incidents); i++) {
                const incident *inc = incident_store_get(g->incidents, i);
                if (inc->state == INCIDENT_OPEN && inc->opened_usec >= g->rec.begun_usec)
                        (void) triage_incident_set_state(g->triage, inc->id, INCIDENT_REMEDIATING, note);
        }
}

static void rollback(guard *g, const char *fmt, ...) _printf_(2, 3);
static void rollback(guard *g, const char *fmt, ...) {
        va_list ap;
        int r;

        if (guard_state_final(g->rec.state) || g->rollback)
                return;
        g->timer = ev_source_disable_unref(g->timer);
        va_start(ap, fmt);
        (void) vsnprintf(g->rec.outcome, sizeof(g->rec.outcome), fmt, ap);
        va_end(ap);
        g->rec.state = GUARD_ROLLING_BACK;
        (void) save(g);
        audit(g, "guarded change %llu (%s): rolling back: %s", (unsigned long long) g->rec.id, g->rec.reason,
              g->rec.outcome);
        claim_incidents(g);
        r = guard_rollback_new(&g->rollback, g->engine ? engine_action_env(g->engine) : NULL, triage_checks(g->triage),
                               on_rolled_back, g);
        if (r < 0) {
                char why[128];
                (void) snprintf(why, sizeof(why), "cannot begin: %s", strerror(-r));
                on_rolled_back(r, why, g);
                return;
        }
        guard_rollback_start(g->rollback);
}

static unsigned roster_size(const char *peers) {
        unsigned n = peers[0] ? 1 : 0;
        for (const char *p = peers; *p; p++)
                n += *p == '\n';
        return n;
}

static void keep(guard *g) {
        char d[32], peers[96] = "";

        g->rec.state = GUARD_KEPT;
        g->rec.ended_usec = real_usec();
        if (g->rec.peers[0])
                (void) snprintf(peers, sizeof(peers), ", the %u peer(s) up before it are up%s", roster_size(g->rec.peers),
                                g->rec.peers_untracked ? " (more were not tracked)" : "");
        (void) snprintf(g->rec.outcome, sizeof(g->rec.outcome),
                        "every check ran after the change and none failed for %s%s: kept as the last good state",
                        duration_format(g->rec.verify_for_usec, d, sizeof(d)), peers);
        /* the new state is what rollbacks return to from now on (as `accept` would record it) */
        triage_mark_good(g->triage);
        (void) save(g);
        release(g);
        audit(g, "guarded change %llu (%s)%s%s kept: %s", (unsigned long long) g->rec.id, g->rec.reason,
              g->rec.packages[0] ? ", packages " : "", g->rec.packages, g->rec.outcome);
}

/* Which check fails now, or has not run since the confirmation (NULL: none). */
static check *failing(guard *g, bool *ret_unreported) {
        check_set *checks = triage_checks(g->triage);

        *ret_unreported = false;
        for (size_t i = 0; i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                const finding *f = check_last_finding(c);
                if ((f && f->status == CHECK_FAIL) || check_get_state(c)->reported == CHECK_FAIL)
                        return c;
        }
        for (size_t i = 0; i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                if (checks == g->runs_of && i < g->n_runs && check_runs(c) <= g->runs_at[i]) {
                        *ret_unreported = true;
                        return c;
                }
        }
        return NULL;
}

static void on_peers_back(int result, guard_peers *p, void *userdata) {
        guard *g = userdata;
        char missing[GUARD_TEXT_MAX - 128], d[32];
        unsigned n;

        if (g->rec.state != GUARD_VERIFYING)
                return;
        if (result < 0) {
                rollback(g, "cannot list charon's SAs to see the peers come back: %s", strerror(-result));
                return;
        }
        n = guard_peers_missing(g->rec.peers, p, missing, sizeof(missing));
        if (n > 0) {
                rollback(g, "%u peer(s) up before the change not back within %s: %s", n,
                         duration_format(g->rec.verify_for_usec, d, sizeof(d)), missing);
                return;
        }
        keep(g);
}

static int on_verify_timer(ev_source *s, uint64_t usec, void *userdata);

/* Every check is healthy: are the peers that were up at the begin up again? */
static void peers_verify(guard *g) {
        int r;

        if (!g->rec.peers[0]) {
                keep(g);
                return;
        }
        if (g->back.busy && g->back.vici == charon(g)) {
                if (real_usec() < g->rec.verify_until_usec + GUARD_REPORT_GRACE_USEC) {
                        (void) arm(g, real_usec() + USEC_PER_SEC, on_verify_timer);
                        return;
                }
                guard_peers_cancel(&g->back, charon(g));
                rollback(g, "charon did not list its SAs: the peers up before the change are not seen back");
                return;
        }
        r = guard_peers_list(&g->back, charon(g), on_peers_back, g);
        if (r < 0) {
                rollback(g, "cannot list charon's SAs to see the peers come back: %s", strerror(-r));
                return;
        }
        /* the answer ends the verification; this only ends a listing that never answers */
        (void) arm(g, real_usec() + USEC_PER_SEC, on_verify_timer);
}

static int on_verify_timer(ev_source *s, uint64_t usec, void *userdata) {
        guard *g = userdata;
        bool unreported;
        check *c;

        if (g->rec.state != GUARD_VERIFYING)
                return 0;
        c = failing(g, &unreported);
        if (!c) {
                peers_verify(g);
                return 0;
        }
        if (!unreported) {
                rollback(g, "check %s fails after the change: %s", check_name(c),
                         check_last_finding(c) && check_last_finding(c)->summary ? check_last_finding(c)->summary : "fail");
                return 0;
        }
        if (real_usec() >= g->rec.verify_until_usec + GUARD_REPORT_GRACE_USEC) {
                rollback(g, "check %s did not run after the change: the change is not verified", check_name(c));
                return 0;
        }
        (void) arm(g, real_usec() + USEC_PER_SEC, on_verify_timer);
        return 0;
}

static int on_confirm_timer(ev_source *s, uint64_t usec, void *userdata) {
        guard *g = userdata;
        char d[32];

        if (g->rec.state == GUARD_OPEN)
                rollback(g, "not confirmed within %s",
                         duration_format(g->rec.confirm_by_usec - g->rec.begun_usec, d, sizeof(d)));
        return 0;
}

static void on_finding(check *c, const finding *f, void *userdata) {
        guard *g = userdata;

        /* while the change is being made, a failure may be a step on the way: only the
         * confirmation's deadline counts; once confirmed, any failure is the change's */
        if (g->rec.state == GUARD_VERIFYING && g->have_rec && f->status == CHECK_FAIL)
                rollback(g, "check %s failed after the change: %s", check_name(c), f->summary ? f->summary : "fail");
}

/* A rollback begins on the first failing finding, before triage has diagnosed it: the incident
 * that finding opens comes with the next diagnosis, and is the rollback's to remedy too. */
static void on_diagnosed(void *userdata) {
        guard *g = userdata;

        if (g->rollback && g->rec.state == GUARD_ROLLING_BACK)
                claim_incidents(g);
}

static int verify_begin(guard *g) {
        check_set *checks = triage_checks(g->triage);
        size_t n = check_set_size(checks);

        free(g->runs_at);
        g->runs_at = calloc(n ? n : 1, sizeof(uint64_t));
        if (!g->runs_at)
                return -ENOMEM;
        g->runs_of = checks;
        g->n_runs = n;
        for (size_t i = 0; i < n; i++)
                g->runs_at[i] = check_runs(check_set_get(checks, i));
        triage_trigger_all(g->triage);
        return arm(g, g->rec.verify_until_usec, on_verify_timer);
}

int guard_new(guard **ret, const guard_deps *deps, const ikeheal_config *config) {
        guard *g = calloc(1, sizeof(*g));
        int r;

        if (!g)
                return -ENOMEM;
        g->event = deps->event;
        g->triage = deps->triage;
        g->incidents = deps->incidents;
        g->engine = deps->engine;
        g->drills = deps->drills;
        g->notifier = deps->notifier;
        g->audit = deps->audit;
        g->audit_userdata = deps->audit_userdata;
        g->config = config;
        r = guard_store_load(config->state_dir, &g->rec);
        if (r == -EBADMSG && config->reset_state) {
                /* --reset-state: set aside (kept for a human), start without a guard */
                char from[512], to[512];
                (void) snprintf(from, sizeof(from), "%s/guard.rec", config->state_dir);
                (void) snprintf(to, sizeof(to), "%s/guard.rec.damaged", config->state_dir);
                if (rename(from, to) < 0)
                        r = -errno;
                else {
                        audit(g, "%s holds no valid guard record: set aside as %s (--reset-state); a guarded change it "
                                 "recorded is not rolled back automatically", from, to);
                        r = -ENOENT;
                }
        }
        if (r == -EBADMSG) {
                /* nothing can be resumed or undone from it: a human looks, as for a damaged state log */
                log_error("%s/guard.rec holds no valid guard record: a guarded change it recorded cannot be rolled back "
                          "automatically; check the gateway, then start with --reset-state", config->state_dir);
                free(g);
                return -EUCLEAN;
        }
        if (r < 0 && r != -ENOENT) {
                free(g);
                return r;
        }
        g->have_rec = r >= 0;
        /* an unconfirmed change of a previous life must not become last good before start */
        if (g->have_rec && !guard_state_final(g->rec.state))
                triage_hold_good(g->triage, TRIAGE_HOLD_GUARD, true);
        r = triage_subscribe(g->triage, &(triage_listener){ .finding = on_finding, .diagnosed = on_diagnosed,
                                                       .userdata = g });
        if (r < 0) {
                free(g);
                return r;
        }
        *ret = g;
        return 0;
}

guard *guard_free(guard *g) {
        if (!g)
                return NULL;
        triage_unsubscribe(g->triage, g);
        g->timer = ev_source_disable_unref(g->timer);
        if (g->roster.busy && g->roster_done) {
                /* a begin waits for it: it is answered, not left hanging */
                guard_peers_cancel(&g->roster, charon(g));
                g->roster_done(-ECANCELED, "the agent is stopping", g->roster_userdata);
        }
        guard_peers_cancel(&g->back, charon(g));
        g->rollback = guard_rollback_free(g->rollback);
        free(g->runs_at);
        free(g);
        return NULL;
}

void guard_reconfigure(guard *g, const ikeheal_config *config) {
        g->config = config;
}

/* The guard's time ran out longer ago than guard.stale_after while the agent was down (a host
 * off for days, the package removed and installed again): the gateway has run with the change
 * since, and what the rollback would put back may undo what came after it. Not rolled back: a
 * human decides, told by the audit, a webhook and the guard's state. */
static bool stale(guard *g) {
        uint64_t due = g->rec.state == GUARD_VERIFYING ? g->rec.verify_until_usec : g->rec.confirm_by_usec;
        uint64_t after = g->config->guard.stale_after_usec ?: GUARD_CONFIG_STALE_USEC;
        char d[32], text[3 * GUARD_TEXT_MAX];

        if (g->rec.state == GUARD_ROLLING_BACK || real_usec() < due + after)
                return false;
        (void) snprintf(g->rec.outcome, sizeof(g->rec.outcome), "its time ran out %s ago while the agent was down "
                        "(more than guard.stale_after): not rolled back, a human decides",
                        duration_format((real_usec() - due) / USEC_PER_SEC * USEC_PER_SEC, d, sizeof(d)));
        g->rec.state = GUARD_STALE;
        g->rec.ended_usec = real_usec();
        (void) save(g);
        engine_hold(g, false);
        (void) snprintf(text, sizeof(text), "guarded change %llu (%s)%s%s: %s", (unsigned long long) g->rec.id,
                        g->rec.reason, g->rec.packages[0] ? ", packages " : "", g->rec.packages, g->rec.outcome);
        log_warning("%s", text);
        if (g->audit)
                g->audit(g->audit_userdata, "guard", text);
        notify(g, "guard_stale", text);
        return true;
}

int guard_start(guard *g) {
        char d[32];

        if (!g->have_rec || guard_state_final(g->rec.state) || stale(g))
                return 0;
        switch (g->rec.state) {
        case GUARD_OPEN:
                if (real_usec() >= g->rec.confirm_by_usec) {
                        rollback(g, "not confirmed: the agent (or the host) was down when its %s to confirm ended",
                                 duration_format(g->rec.confirm_by_usec - g->rec.begun_usec, d, sizeof(d)));
                        return 0;
                }
                audit(g, "guarded change %llu (%s) still open after a restart: confirm by %s or it is rolled back",
                      (unsigned long long) g->rec.id, g->rec.reason, rfc3339_format(g->rec.confirm_by_usec, d, sizeof(d)));
                engine_hold(g, true);
                return arm(g, g->rec.confirm_by_usec, on_confirm_timer);
        case GUARD_VERIFYING:
                /* what was verified before the restart proves nothing about the gateway now */
                g->rec.verify_until_usec = real_usec() + g->rec.verify_for_usec;
                (void) save(g);
                audit(g, "guarded change %llu (%s) was being verified at a restart: verified again for %s",
                      (unsigned long long) g->rec.id, g->rec.reason, duration_format(g->rec.verify_for_usec, d, sizeof(d)));
                engine_hold(g, true);
                return verify_begin(g);
        case GUARD_ROLLING_BACK: {
                /* the restore actions are idempotent: the undo runs again whole */
                char why[GUARD_TEXT_MAX + 32];
                (void) snprintf(why, sizeof(why), "%s (again after a restart)", g->rec.outcome);
                g->rec.state = GUARD_OPEN;
                rollback(g, "%s", why);
                return 0;
        }
        default:
                return 0;
        }
}

const char *guard_refusal(const guard *g, char *why, size_t n) {
        check_set *checks = triage_checks(g->triage);

        if (g->have_rec && !guard_state_final(g->rec.state)) {
                (void) snprintf(why, n, "guarded change %llu (%s) is %s", (unsigned long long) g->rec.id, g->rec.reason,
                                guard_state_to_string(g->rec.state));
                return why;
        }
        /* before the incidents: a drill's fault opens one, and the drill is the reason to name */
        if (g->drills && drill_active(g->drills))
                return "a drill is in progress";
        for (size_t i = 0; g->incidents && i < incident_store_size(g->incidents); i++) {
                const incident *inc = incident_store_get(g->incidents, i);
                if (inc->state != INCIDENT_RESOLVED) {
                        (void) snprintf(why, n, "incident %llu (%s) is active", (unsigned long long) inc->id,
                                        fault_class_to_string(inc->cls));
                        return why;
                }
        }
        if (g->engine && engine_measure_owed(g->engine, why, n))
                return why;
        if (!checks || !check_set_size(checks))
                return "no checks are running: there is nothing to verify a change with";
        for (size_t i = 0; i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                check_status st = check_get_state(c)->reported;
                if (st == CHECK_FAIL || st == CHECK_UNKNOWN || !check_last_finding(c)) {
                        (void) snprintf(why, n, "check %s is %s: the point a rollback returns to must be a healthy one",
                                        check_name(c), check_last_finding(c) ? check_status_to_string(st) : "not reported yet");
                        return why;
                }
        }
        return NULL;
}

int guard_begin(guard *g, const guard_begin_params *p, char *why, size_t n) {
        uint64_t now = real_usec(),
                 confirm = p->confirm_within_usec ?: g->config->guard.confirm_within_usec ?: GUARD_CONFIRM_DEFAULT_USEC;
        const char *no;
        char d1[32], d2[32];
        guard_rec rec;
        int r;

        if ((no = guard_refusal(g, why, n))) {
                if (no != why)
                        (void) snprintf(why, n, "%s", no);
                return -EBUSY;
        }
        if (g->config->guard.window.set && !policy_in_hours(&g->config->guard.window, now) && !p->force) {
                (void) snprintf(why, n, "outside the change window (guard.window); --force makes the change anyway, audited");
                audit(g, "guarded change refused for uid %u (%s): %s: outside the change window", p->uid, p->user ?: "?",
                      p->reason && p->reason[0] ? p->reason : "a change");
                return -EBUSY;
        }
        rec = (guard_rec){ .id = (g->have_rec ? g->rec.id : 0) + 1,
                           .state = GUARD_OPEN,
                           .begun_usec = now,
                           .confirm_by_usec = now + confirm,
                           .verify_for_usec = p->verify_for_usec ?: g->config->guard.verify_for_usec ?: GUARD_VERIFY_DEFAULT_USEC,
                           .uid = p->uid,
                           .paused_engine = g->engine && !engine_paused(g->engine, NULL),
                           .forced = p->force && g->config->guard.window.set &&
                                     !policy_in_hours(&g->config->guard.window, now) };
        (void) snprintf(rec.user, sizeof(rec.user), "%s", p->user ?: "?");
        (void) snprintf(rec.reason, sizeof(rec.reason), "%s", p->reason && p->reason[0] ? p->reason : "a change");
        (void) snprintf(rec.mark, sizeof(rec.mark), "%s", p->mark ?: "");
        if (g->roster_ready) {
                (void) snprintf(rec.peers, sizeof(rec.peers), "%s", g->roster.list);
                rec.peers_untracked = g->roster.untracked;
        }
        g->roster_ready = false;
        /* the point first: a crash after it and before the record leaves no guard and a last-good
         * state that is the healthy gateway of a moment ago — nothing to undo, nothing lost */
        triage_mark_good(g->triage);
        r = guard_store_save(g->config->state_dir, &rec);
        if (r < 0) {
                (void) snprintf(why, n, "cannot record the guard in %s: %s; nothing begun", g->config->state_dir, strerror(-r));
                return -EIO;
        }
        g->rec = rec;
        g->have_rec = true;
        triage_hold_good(g->triage, TRIAGE_HOLD_GUARD, true);
        engine_hold(g, true);
        (void) arm(g, rec.confirm_by_usec, on_confirm_timer);
        audit(g, "guarded change %llu begun by uid %u (%s)%s: %s; last-good point taken, %u peer(s) up%s; confirm within %s, "
                 "then verified for %s",
              (unsigned long long) rec.id, rec.uid, rec.user, rec.forced ? " outside the change window (--force)" : "",
              rec.reason, roster_size(rec.peers), rec.peers_untracked ? " (more were not tracked)" : "",
              duration_format(confirm, d1, sizeof(d1)), duration_format(rec.verify_for_usec, d2, sizeof(d2)));
        return 0;
}

int guard_confirm(guard *g, const char *packages, char *why, size_t n) {
        char d[32];
        int r;

        if (!g->have_rec || guard_state_final(g->rec.state)) {
                (void) snprintf(why, n, "no guarded change is open");
                return -ENOENT;
        }
        if (g->rec.state != GUARD_OPEN) {
                (void) snprintf(why, n, "guarded change %llu is already %s", (unsigned long long) g->rec.id,
                                guard_state_to_string(g->rec.state));
                return -EALREADY;
        }
        g->rec.state = GUARD_VERIFYING;
        g->rec.verify_until_usec = real_usec() + g->rec.verify_for_usec;
        if (packages && packages[0])
                (void) snprintf(g->rec.packages, sizeof(g->rec.packages), "%s", packages);
        (void) save(g);
        audit(g, "guarded change %llu (%s)%s%s made: every check runs now and must stay healthy for %s",
              (unsigned long long) g->rec.id, g->rec.reason, g->rec.packages[0] ? ", packages " : "", g->rec.packages,
              duration_format(g->rec.verify_for_usec, d, sizeof(d)));
        r = verify_begin(g);
        if (r < 0)
                rollback(g, "the verification could not begin: %s", strerror(-r));
        return 0;
}

int guard_abort(guard *g, const char *reason, uint32_t uid, const char *user, char *why, size_t n) {
        if (!g->have_rec || guard_state_final(g->rec.state) || g->rec.state == GUARD_ROLLING_BACK) {
                (void) snprintf(why, n, "no guarded change is open");
                return -ENOENT;
        }
        rollback(g, "aborted by uid %u (%s)%s%s", uid, user ?: "?", reason && reason[0] ? ": " : "", reason ?: "");
        return 0;
}

static void on_roster(int result, guard_peers *p, void *userdata) {
        guard *g = userdata;
        char why[128] = "";

        g->roster_ready = result >= 0;
        if (result < 0)
                (void) snprintf(why, sizeof(why), "cannot list charon's SAs (the peers a change must not lose): %s",
                                strerror(-result));
        g->roster_done(result, why, g->roster_userdata);
}

int guard_take_roster(guard *g, void (*done)(int result, const char *why, void *userdata), void *userdata) {
        g->roster_ready = false;
        g->roster_done = done;
        g->roster_userdata = userdata;
        return guard_peers_list(&g->roster, charon(g), on_roster, g);
}

const guard_rec *guard_current(const guard *g) {
        return g->have_rec ? &g->rec : NULL;
}

bool guard_active(const guard *g) {
        return g && g->have_rec && !guard_state_final(g->rec.state);
}
