/* See check.h. One in-flight run per check at most. The run handle belongs to the kind from
 * ops->start() until it calls check_run_done(), or until the runner cancels it: ops->cancel()
 * must unhook everything that could still complete it, after which the runner frees it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/checks/check.h"
#include "now.h"

struct check_run {
        check *check;
};

struct check {
        char *name;
        const check_ops *ops;
        void *state;
        check_schedule sched;
        const check_env *env;
        ev_loop *event;
        bool attached;
        ev_source *interval_timer;
        ev_source *timeout_timer;
        check_run *run;            /* in flight, or NULL */
        unsigned attempt;          /* 0 = first try of this cycle */
        bool rerun;                /* a trigger arrived while running */
        bool telling;              /* the observer is being told of c->last: a trigger waits (a
                                    * check that ran synchronously would free the finding the
                                    * observer's later listeners still read) */
        uint64_t run_started_usec; /* CLOCK_REALTIME */
        uint64_t runs;
        check_state hysteresis;
        finding *last;
        check_observer observer;
        void *userdata;
};

static int check_begin(check *c);

static void check_finish(check *c, finding *f) {
        bool changed;

        c->run = NULL;
        c->timeout_timer = ev_source_disable_unref(c->timeout_timer);

        if (f->status != CHECK_OK && c->attempt < c->sched.retries) {
                /* a retry belongs to the same cycle: the result counts once */
                c->attempt++;
                finding_free(f);
                if (check_begin(c) >= 0)
                        return;
                /* could not even retry: fall through with an UNKNOWN */
                if (finding_new(&f) < 0)
                        return;
                (void) finding_set(f, CHECK_UNKNOWN, "retry could not start");
        }
        c->attempt = 0;
        if (!f->started_usec)
                f->started_usec = c->run_started_usec;
        if (!f->finished_usec)
                f->finished_usec = real_usec();
        c->runs++;
        changed = check_state_feed(&c->hysteresis, f->status);
        finding_free(c->last);
        c->last = f;
        c->telling = true;
        if (c->observer)
                c->observer(c, f, changed, c->userdata);
        c->telling = false;
        if (c->rerun) {
                c->rerun = false;
                (void) check_begin(c);
        }
}

void check_run_done(check_run *run, finding *f) {
        check *c = run->check;

        if (!c || c->run != run) {
                /* not the run in flight: a kind bug, but never a reason to misreport */
                finding_free(f);
                return;
        }
        free(run);
        check_finish(c, f);
}

int check_run_unknown(check_run *run, const char *fmt, ...) {
        finding *f = NULL;
        char why[FINDING_TEXT_MAX];
        va_list ap;

        if (finding_new(&f) < 0)
                return -ENOMEM;
        va_start(ap, fmt);
        (void) vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        (void) finding_set(f, CHECK_UNKNOWN, "%s", why);
        check_run_done(run, f);
        return 0;
}

static int on_timeout(ev_source *s, uint64_t usec, void *userdata) {
        check *c = userdata;
        finding *f = NULL;

        if (!c->run)
                return 0;
        if (c->ops->cancel)
                c->ops->cancel(c->state);
        free(c->run);
        c->run = NULL;
        if (finding_new(&f) < 0)
                return 0;
        (void) finding_set(f, CHECK_UNKNOWN, "timed out after %llums",
                           (unsigned long long) (c->sched.timeout_usec / USEC_PER_MSEC));
        (void) finding_fact_set(f, "timeout_ms", "%llu",
                                (unsigned long long) (c->sched.timeout_usec / USEC_PER_MSEC));
        check_finish(c, f);
        return 0;
}

static int check_begin(check *c) {
        check_run *run;
        finding *f;
        int r;

        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        run->check = c;
        c->run = run;
        c->run_started_usec = real_usec();
        if (c->sched.timeout_usec > 0) {
                r = ev_add_time_relative(c->event, &c->timeout_timer, CLOCK_MONOTONIC,
                                               c->sched.timeout_usec, 1000, on_timeout, c);
                if (r < 0) {
                        c->run = NULL;
                        free(run);
                        return r;
                }
        }
        r = c->ops->start(c->state, c->env, run);
        if (r < 0 && c->run == run) {
                /* could not start: that is itself the finding, with the reason */
                c->run = NULL;
                free(run);
                c->timeout_timer = ev_source_disable_unref(c->timeout_timer);
                if (finding_new(&f) < 0)
                        return -ENOMEM;
                (void) finding_set(f, CHECK_UNKNOWN, "could not run: %s", strerror(-r));
                c->attempt = c->sched.retries; /* no retry for a start failure */
                check_finish(c, f);
        }
        return 0;
}

static int on_interval(ev_source *s, uint64_t usec, void *userdata) {
        check *c = userdata;
        int r;

        r = ev_source_set_time_relative(s, c->sched.interval_usec);
        if (r >= 0)
                r = ev_source_set_enabled(s, EV_ON);
        (void) check_trigger(c);
        return r < 0 ? r : 0;
}

int check_new(check **ret, const check_env *env, const char *name, const check_ops *ops,
              const check_schedule *sched, check_observer observer, void *userdata) {
        check *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->name = strdup(name);
        c->state = ops->state_size ? calloc(1, ops->state_size) : NULL;
        if (!c->name || (ops->state_size && !c->state)) {
                free(c->name);
                free(c->state);
                free(c);
                return -ENOMEM;
        }
        c->ops = ops;
        c->sched = *sched;
        c->env = env;
        c->event = ev_ref(env->event);
        c->observer = observer;
        c->userdata = userdata;
        check_state_init(&c->hysteresis, sched->rise, sched->fall);
        *ret = c;
        return 0;
}

check *check_free(check *c) {
        if (!c)
                return NULL;
        if (c->run) {
                if (c->ops->cancel)
                        c->ops->cancel(c->state);
                free(c->run);
        }
        if (c->ops->done)
                c->ops->done(c->state);
        ev_source_disable_unref(c->interval_timer);
        ev_source_disable_unref(c->timeout_timer);
        ev_unref(c->event);
        finding_free(c->last);
        free(c->state);
        free(c->name);
        free(c);
        return NULL;
}

int check_parse_params(check *c, const ynode *params, ydiag *d) {
        return c->ops->parse ? c->ops->parse(c->state, params, d) : 0;
}

int check_start(check *c) {
        int r;

        if (!c->attached && c->ops->attach) {
                r = c->ops->attach(c->state, c, c->env);
                if (r < 0)
                        return r;
        }
        c->attached = true;
        if (c->sched.interval_usec > 0) {
                r = ev_add_time_relative(c->event, &c->interval_timer, CLOCK_MONOTONIC,
                                               c->sched.interval_usec, c->sched.interval_usec / 50,
                                               on_interval, c);
                if (r < 0)
                        return r;
        }
        return check_trigger(c);
}

int check_trigger(check *c) {
        if (c->run || c->telling) {
                c->rerun = true;
                return 0;
        }
        c->attempt = 0;
        return check_begin(c);
}

void check_mark_good(check *c) {
        if (c->ops->mark_good)
                c->ops->mark_good(c->state, c->env);
}

void check_forget(check *c) {
        if (c->ops->forget)
                c->ops->forget(c->state);
}

const check_schedule *check_get_schedule(const check *c) {
        return &c->sched;
}

const check_ops *check_get_ops(const check *c) {
        return c->ops;
}

const char *check_name(const check *c) {
        return c->name;
}

const char *check_kind(const check *c) {
        return c->ops->kind;
}

const check_state *check_get_state(const check *c) {
        return &c->hysteresis;
}

const finding *check_last_finding(const check *c) {
        return c->last;
}

void *check_ops_state(check *c) {
        return c->state;
}

uint64_t check_runs(const check *c) {
        return c->runs;
}
