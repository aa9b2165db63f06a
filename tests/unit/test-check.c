/* The check runner on a real sd-event loop with scripted kinds: retries count once per cycle,
 * a run that never completes times out as UNKNOWN and is cancelled, a start failure is UNKNOWN
 * with the reason, triggers coalesce, hysteresis applies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check.h"
#include "tap.h"

typedef struct script {
        const check_status *results; /* consumed per attempt */
        size_t n, i;
        unsigned starts;
        int start_error;
        bool hang;                   /* never complete */
        check_run *held;             /* a hung run, completed late by the test */
        unsigned cancels;
} script;

static int script_start(void *state, const check_env *env, check_run *run) {
        script *s = *(script **) state;
        finding *f = NULL;

        s->starts++;
        if (s->start_error)
                return s->start_error;
        if (s->hang) {
                s->held = run;
                return 0;
        }
        if (finding_new(&f) < 0)
                return -ENOMEM;
        (void) finding_set(f, s->results[s->i < s->n ? s->i : s->n - 1], "scripted %zu", s->i);
        s->i++;
        check_run_done(run, f);
        return 0;
}

static void script_cancel(void *state) {
        script *s = *(script **) state;
        s->cancels++;
        s->held = NULL; /* the contract: forget the run, never complete it */
}

static const check_ops script_ops = {
        .kind = "script",
        .state_size = sizeof(script *),
        .start = script_start,
        .cancel = script_cancel,
};

typedef struct seen {
        unsigned findings, changes;
        check_status last;
        char summary[128];
        unsigned stop_after;
        ev_loop *e;
        bool retrigger;              /* trigger the check from inside the first finding's observer */
        char after[128];             /* that finding's summary, read after the trigger */
} seen;

static void observe(check *c, const finding *f, bool changed, void *userdata) {
        seen *s = userdata;
        s->findings++;
        s->changes += changed;
        s->last = f->status;
        snprintf(s->summary, sizeof(s->summary), "%s", f->summary ? f->summary : "");
        if (s->stop_after && s->findings >= s->stop_after)
                (void) ev_exit(s->e, 0);
        if (s->retrigger && s->findings == 1) {
                (void) check_trigger(c);
                snprintf(s->after, sizeof(s->after), "%s", f->summary ? f->summary : "");
        }
}

static check_env env;

static check *make(ev_loop *e, script *sc, check_schedule sched, seen *sn) {
        check *c = NULL;
        env.event = e; /* check_new takes its own reference of the loop */
        if (check_new(&c, &env, "t", &script_ops, &sched, observe, sn) < 0)
                return NULL;
        *(script **) check_ops_state(c) = sc;
        return c;
}

int main(void) {
        ev_loop *e = NULL;

        if (ev_new(&e) < 0)
                return 1;

        { /* retries: fail, fail, ok within one cycle → one OK finding */
                static const check_status r[] = { CHECK_FAIL, CHECK_FAIL, CHECK_OK };
                script sc = { .results = r, .n = 3 };
                seen sn = {};
                check *c = make(e, &sc, (check_schedule){ .retries = 2, .timeout_usec = USEC_PER_SEC }, &sn);
                CHECK(check_start(c) == 0, "start");
                CHECK(sc.starts == 3 && sn.findings == 1 && sn.last == CHECK_OK,
                      "2 retries then ok: 3 attempts, 1 finding (ok) [%u attempts]", sc.starts);
                check_free(c);
        }
        { /* a trigger from inside the observer of a check that completes synchronously: the
           * finding being told stays valid (later listeners read it), the new run comes after */
                static const check_status r[] = { CHECK_FAIL, CHECK_OK };
                script sc = { .results = r, .n = 2 };
                seen sn = { .retrigger = true };
                check *c = make(e, &sc, (check_schedule){}, &sn);
                (void) check_start(c);
                CHECK(strcmp(sn.after, "scripted 0") == 0, "the finding told is intact after the trigger: '%s'", sn.after);
                CHECK(sc.starts == 2 && sn.findings == 2 && sn.last == CHECK_OK,
                      "the trigger ran once the observer returned (%u starts, %u findings)", sc.starts, sn.findings);
                check_free(c);
        }
        { /* retries exhausted: the failure counts */
                static const check_status r[] = { CHECK_FAIL };
                script sc = { .results = r, .n = 1 };
                seen sn = {};
                check *c = make(e, &sc, (check_schedule){ .retries = 1 }, &sn);
                (void) check_start(c);
                CHECK(sc.starts == 2 && sn.findings == 1 && sn.last == CHECK_FAIL,
                      "retries exhausted: fail reported");
                check_free(c);
        }
        { /* start failure: UNKNOWN with reason, not retried */
                static const check_status r[] = { CHECK_OK };
                script sc = { .results = r, .n = 1, .start_error = -EACCES };
                seen sn = {};
                check *c = make(e, &sc, (check_schedule){ .retries = 3 }, &sn);
                (void) check_start(c);
                CHECK(sc.starts == 1 && sn.last == CHECK_UNKNOWN && strstr(sn.summary, "Permission denied"),
                      "start failure → unknown: %s", sn.summary);
                check_free(c);
        }
        { /* timeout → UNKNOWN; the late completion is dropped */
                static const check_status r[] = { CHECK_OK };
                script sc = { .results = r, .n = 1, .hang = true };
                seen sn = { .stop_after = 1, .e = e };
                check *c = make(e, &sc, (check_schedule){ .timeout_usec = 50 * USEC_PER_MSEC }, &sn);
                (void) check_start(c);
                CHECK(check_trigger(c) == 0 && sc.starts == 1, "trigger while running coalesces");
                (void) ev_loop_run(e);
                CHECK(sn.last == CHECK_UNKNOWN && strstr(sn.summary, "timed out") && sc.cancels == 1,
                      "hung run times out as unknown and is cancelled: %s", sn.summary);
                /* the coalesced trigger started a second run after the timeout */
                CHECK(sc.starts == 2, "the coalesced trigger ran after the first finished");
                CHECK(sc.held != NULL, "second run in flight");
                check_free(c); /* cancels the second run */
                CHECK(sc.held == NULL && sc.cancels == 2 && sn.findings == 1,
                      "free cancels the run in flight, no finding after free");
        }
        /* an ev_loop that exited cannot loop again: a fresh one */
        e = ev_unref(e);
        if (ev_new(&e) < 0)
                return 1;
        { /* interval + hysteresis: fall=2 */
                static const check_status r[] = { CHECK_OK, CHECK_FAIL, CHECK_FAIL, CHECK_FAIL };
                script sc = { .results = r, .n = 4 };
                seen sn = { .stop_after = 4, .e = e };
                check *c = make(e, &sc, (check_schedule){ .interval_usec = 10 * USEC_PER_MSEC, .fall = 2 }, &sn);
                (void) check_start(c);
                (void) ev_loop_run(e);
                CHECK(sn.findings == 4 && sn.changes == 2 && check_get_state(c)->reported == CHECK_FAIL,
                      "interval runs; ok then fail after 2 in a row: %u changes", sn.changes);
                CHECK(check_runs(c) == 4 && check_last_finding(c) && strcmp(check_kind(c), "script") == 0,
                      "accessors");
                check_free(c);
        }
        ev_unref(e);
        return TAP_END();
}
