/* The `diagnose` verb: run every check now, wait until each has finished a run that started
 * after the request (or until the longest check could have timed out), then answer with a
 * triage report in the order an operator reads it — impact first (nobody, some peers, everyone), then the
 * problems with their class, scope, confidence and evidence, then every check in checklist
 * order. Runs in flight are not doubled: a trigger during a run queues exactly one more. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check_set.h"
#include "agent/checks/registry.h"
#include "agent/control/control.h"
#include "agent/triage/diagnosis.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "agent/verbs/verbs.h"
#include "now.h"

#define DIAGNOSE_SLACK_USEC (2 * USEC_PER_SEC)
#define DIAGNOSE_MAX_USEC (300 * USEC_PER_SEC)

struct diagnose_query {
        const verbs_ctx *v;
        verbs_round_fn finish; /* what the answer is, once the round is complete (or timed out) */
        control_request *req;
        vici_builder *reply;
        uint64_t *runs_before; /* per check index */
        size_t n;
        uint64_t started_usec; /* CLOCK_MONOTONIC */
        ev_source *timer;
        diagnose_query *next;
};

static void query_unlink(diagnose_query *q) {
        for (diagnose_query **p = q->v->diagnose_queries; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static void query_free(diagnose_query *q) {
        query_unlink(q);
        ev_source_disable_unref(q->timer);
        control_request_unref(q->req);
        free(q->runs_before);
        free(q);
}

static bool query_complete(const diagnose_query *q) {
        check_set *s = q->v->checks(q->v->userdata);
        if (check_set_size(s) != q->n)
                return false;
        for (size_t i = 0; i < q->n; i++)
                if (check_runs(check_set_get(s, i)) <= q->runs_before[i])
                        return false;
        return true;
}

/* Position of a check's kind in the registry: the diagnostic checklist order. */
static size_t kind_rank(const char *kind) {
        size_t n;
        const check_ops *const *all = check_registry_all(&n);
        for (size_t i = 0; i < n; i++)
                if (strcmp(all[i]->kind, kind) == 0)
                        return i;
        return n;
}

static void add_problem(vici_builder *b, const verbs_ctx *v, const diagnosis_problem *p, size_t idx) {
        char name[24];

        (void) snprintf(name, sizeof(name), "%zu", idx + 1);
        vici_builder_begin_section(b, name);
        vici_builder_add_str(b, "class", fault_class_to_string(p->cls));
        vici_builder_add_str(b, "scope", fault_scope_to_string(p->scope));
        vici_builder_add_str(b, "severity", check_status_to_string(p->severity));
        vici_builder_add_fmt(b, "confidence", "%u", p->confidence);
        vici_builder_add_str(b, "reason", p->reason);
        vici_builder_add_str(b, "peers", p->peers);
        vici_builder_add_str(b, "root_check", p->root_check);
        vici_builder_add_str(b, "summary", p->summary);
        vici_builder_add_str(b, "explains", p->explains);
        for (size_t i = 0; i < incident_store_size(v->incidents); i++) {
                const incident *inc = incident_store_get(v->incidents, i);
                if (inc->state != INCIDENT_RESOLVED && inc->cls == p->cls) {
                        vici_builder_add_fmt(b, "incident", "%llu", (unsigned long long) inc->id);
                        break;
                }
        }
        vici_builder_begin_list(b, "evidence");
        for (size_t i = 0; i < p->n_evidence; i++)
                vici_builder_add_list_item(b, p->evidence[i]);
        vici_builder_end_list(b);
        vici_builder_end_section(b);
}

static void query_finish(diagnose_query *q, const char *error) {
        int r;

        query_unlink(q);
        if (error) {
                control_request_set_error(q->req, "%s", error);
                (void) control_request_reply(q->req, -ECANCELED, NULL);
                query_free(q);
                return;
        }
        /* the incidents follow the same picture the answer is made from */
        triage_diagnose(q->v->triage);
        r = q->finish(q->v, q->req, q->reply, query_complete(q), mono_usec() - q->started_usec);
        (void) control_request_reply(q->req, r, NULL);
        query_free(q);
}

static int diagnose_report(const verbs_ctx *v, control_request *req, vici_builder *b, bool complete, uint64_t elapsed_usec) {
        diagnosis_input in[CONFIG_CHECKS_MAX];
        size_t order[CONFIG_CHECKS_MAX];
        size_t n;
        diagnosis d;
        int r;

        n = triage_inputs(v->triage, in, CONFIG_CHECKS_MAX);
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        r = diagnosis_run(in, n, &d);
        if (r < 0) {
                control_request_set_error(req, "diagnosis failed: %s", strerror(-r));
                return r;
        }
        vici_builder_add_str(b, "complete", complete ? "yes" : "no");
        vici_builder_add_fmt(b, "elapsed_ms", "%llu", (unsigned long long) (elapsed_usec / USEC_PER_MSEC));
        vici_builder_add_str(b, "impact",
                             d.impact == FAULT_SCOPE_UNKNOWN ? "none" : fault_scope_to_string(d.impact));
        if (d.recent_changes[0])
                vici_builder_add_str(b, "recent_changes", d.recent_changes);
        vici_builder_begin_section(b, "problems");
        for (size_t i = 0; i < d.n_problems; i++)
                add_problem(b, v, &d.problems[i], i);
        vici_builder_end_section(b);

        /* checklist order: stable insertion sort by the kind's registry rank */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && kind_rank(in[order[j - 1]].kind) > kind_rank(in[order[j]].kind); j--) {
                        size_t t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        vici_builder_begin_section(b, "checks");
        for (size_t i = 0; i < n; i++)
                checks_verb_add_check(b, check_set_get(v->checks(v->userdata), order[i]), false);
        vici_builder_end_section(b);
        diagnosis_done(&d);
        return 0;
}

static int on_deadline(ev_source *s, uint64_t usec, void *userdata) {
        query_finish(userdata, NULL); /* with what is there; "complete" says no */
        return 0;
}

int verbs_check_round(const verbs_ctx *v, control_request *req, vici_builder *b, verbs_round_fn finish) {
        check_set *checks = v->checks(v->userdata);
        size_t n = check_set_size(checks);
        uint64_t wait = 0;
        diagnose_query *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->runs_before = calloc(n ? n : 1, sizeof(uint64_t));
        if (!q->runs_before) {
                free(q);
                return -ENOMEM;
        }
        q->v = v;
        q->finish = finish;
        q->reply = b;
        q->n = n;
        q->started_usec = mono_usec();
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(checks, i);
                const check_schedule *s = check_get_schedule(c);
                uint64_t w = s->timeout_usec * (s->retries + 1u);
                q->runs_before[i] = check_runs(c);
                /* a run in flight finishes first, then the queued one runs: twice the time */
                if (2 * w > wait)
                        wait = 2 * w;
        }
        wait += DIAGNOSE_SLACK_USEC;
        if (wait > DIAGNOSE_MAX_USEC)
                wait = DIAGNOSE_MAX_USEC;
        r = ev_add_time_relative(v->event, &q->timer, CLOCK_MONOTONIC, wait, 10 * USEC_PER_MSEC,
                                       on_deadline, q);
        if (r < 0) {
                free(q->runs_before);
                free(q);
                return r;
        }
        q->req = control_request_ref(req);
        control_request_defer(req);
        q->next = *v->diagnose_queries;
        *v->diagnose_queries = q;
        check_set_trigger_all(checks);
        /* answered from the loop (findings may arrive synchronously, or there may be no check
         * at all): the coalesced diagnosis pass tells on_diagnosed() */
        triage_schedule(v->triage);
        return 0;
}

static int diagnose_handler(control_request *req, vici_builder *b, void *userdata) {
        return verbs_check_round(userdata, req, b, diagnose_report);
}

/* A diagnosis pass ran: answer the requests whose round is now complete. */
static void on_diagnosed(void *userdata) {
        const verbs_ctx *v = userdata;

        for (diagnose_query *q = *v->diagnose_queries, *next; q; q = next) {
                next = q->next;
                if (query_complete(q))
                        query_finish(q, NULL);
        }
}

void diagnose_verb_abort_all(diagnose_query **queries, const char *why) {
        while (*queries)
                query_finish(*queries, why);
}

int diagnose_verb_register(control_server *s, const verbs_ctx *v) {
        int r = triage_subscribe(v->triage, &(triage_listener){ .diagnosed = on_diagnosed, .userdata = (void *) v });
        if (r < 0)
                return r;
        return control_server_register(s, PROTO_DIAGNOSE, diagnose_handler, (void *) v);
}
