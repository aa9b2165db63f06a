/* The `status` verb: the agent's own state at once, then charon's — version, stats and a
 * streamed list-sas — over VICI, answered when the last of those replies arrives. A query in
 * flight when the VICI client is replaced (reload) or the agent stops is answered with what is
 * known and the reason, never left hanging. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine/engine.h"
#include "agent/notify/notifier.h"
#include "agent/verbs/verbs.h"
#include "policy/ledger.h"
#include "now.h"
#include "vici.h"

typedef struct status_query status_query;
struct status_query {
        status_query **list;   /* the waiting queries this one is on */
        control_request *req;
        vici_builder *reply;   /* positioned inside the open "charon" section */
        char ike_total[24], ike_half_open[24];
        uint64_t child_sas;
        bool have_stats, have_list;
        status_query *next;
};

static void query_unlink(status_query *q) {
        for (status_query **p = q->list; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

/* Close the charon section, add what was counted, send. */
static void query_finish(status_query *q, const char *error) {
        vici_builder *b = q->reply;

        if (error)
                vici_builder_add_str(b, "error", error);
        vici_builder_end_section(b);
        if (q->have_stats) {
                vici_builder_begin_section(b, "ikesas");
                vici_builder_add_str(b, "total", q->ike_total);
                vici_builder_add_str(b, "half_open", q->ike_half_open);
                vici_builder_end_section(b);
        }
        if (q->have_list) {
                vici_builder_begin_section(b, "childsas");
                vici_builder_add_fmt(b, "total", "%llu", (unsigned long long) q->child_sas);
                vici_builder_end_section(b);
        }
        query_unlink(q);
        (void) control_request_reply(q->req, 0, NULL);
        free(q);
}

static void copy_value(vici_builder *b, const vici_node *msg, const char *from, const char *to) {
        const char *v = vici_node_str(msg, from);
        if (v)
                vici_builder_add_str(b, to, v);
}

static void on_list_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        status_query *q = userdata;
        q->have_list = error >= 0;
        query_finish(q, error < 0 ? "list-sas failed" : NULL);
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        status_query *q = userdata;

        /* an item is { <ike-sa name> { …, child-sas { <child> {…} … } } } */
        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                const vici_node *children = vici_node_get(ike, "child-sas");
                for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next)
                        q->child_sas++;
        }
}

static void on_stats(vici_client *c, int error, const vici_node *reply, void *userdata) {
        status_query *q = userdata;
        const char *v;
        int r;

        if (error < 0) {
                query_finish(q, "stats failed");
                return;
        }
        v = vici_node_str(reply, "uptime.since");
        if (v)
                vici_builder_add_str(q->reply, "since", v);
        (void) snprintf(q->ike_total, sizeof(q->ike_total), "%s",
                        vici_node_str(reply, "ikesas.total") ?: "0");
        (void) snprintf(q->ike_half_open, sizeof(q->ike_half_open), "%s",
                        vici_node_str(reply, "ikesas.half-open") ?: "0");
        q->have_stats = true;
        r = vici_client_stream(c, "list-sas", "list-sa", NULL, 0, on_sa, on_list_done, q);
        if (r < 0)
                query_finish(q, "list-sas could not be sent");
}

static void on_version(vici_client *c, int error, const vici_node *reply, void *userdata) {
        status_query *q = userdata;
        vici_builder *b = q->reply;
        int r;

        if (error < 0) {
                query_finish(q, "version failed");
                return;
        }
        copy_value(b, reply, "daemon", "daemon");
        copy_value(b, reply, "version", "version");
        copy_value(b, reply, "sysname", "sysname");
        copy_value(b, reply, "release", "release");
        copy_value(b, reply, "machine", "machine");
        r = vici_client_command(c, "stats", NULL, 0, on_stats, q);
        if (r < 0)
                query_finish(q, "stats could not be sent");
}

static void add_events(vici_builder *b, const charon_link_stats *s) {
        vici_builder_begin_section(b, "events");
        vici_builder_add_fmt(b, "connects", "%llu", (unsigned long long) s->connects);
        vici_builder_add_fmt(b, "disconnects", "%llu", (unsigned long long) s->disconnects);
        vici_builder_add_fmt(b, "ike_updown", "%llu", (unsigned long long) s->ike_updown);
        vici_builder_add_fmt(b, "child_updown", "%llu", (unsigned long long) s->child_updown);
        vici_builder_add_fmt(b, "log", "%llu", (unsigned long long) s->log);
        if (s->last_event[0]) {
                vici_builder_add_str(b, "last", s->last_event);
                vici_builder_add_fmt(b, "last_time", "%llu",
                                     (unsigned long long) (s->last_event_usec / USEC_PER_SEC));
        }
        vici_builder_end_section(b);
}

/* The runbook engine at a glance: is it paused, what runs or waits, what is in force. */
static void add_engine(vici_builder *b, const verbs_ctx *v, const ikeheal_config *c) {
        size_t active = 0, pending = 0, live = 0;
        const char *reason = NULL;
        notifier_stats ns = { 0 };

        if (!v->engine)
                return;
        for (size_t i = 0; i < engine_runs(v->engine); i++) {
                run_state st = engine_run_get(v->engine, i)->state;
                active += st == RUN_RUNNING || st == RUN_ROLLING_BACK;
                pending += st == RUN_PENDING || st == RUN_PROPOSED;
        }
        for (size_t i = 0; i < engine_measures(v->engine); i++)
                live += measure_state_live(engine_measure_get(v->engine, i)->state);
        vici_builder_begin_section(b, "runbooks");
        vici_builder_add_fmt(b, "loaded", "%zu", runbook_set_size(c->runbooks));
        vici_builder_add_str(b, "paused", engine_paused(v->engine, &reason) ? "yes" : "no");
        if (reason && reason[0])
                vici_builder_add_str(b, "pause_reason", reason);
        vici_builder_add_fmt(b, "running", "%zu", active);
        vici_builder_add_fmt(b, "waiting", "%zu", pending);
        vici_builder_add_fmt(b, "measures", "%zu", live);
        vici_builder_add_fmt(b, "breakers_open", "%zu", policy_ledger_count_open(engine_ledger(v->engine)));
        if (v->notifier) {
                notifier_get_stats(v->notifier, &ns);
                vici_builder_add_fmt(b, "notify_delivered", "%llu", (unsigned long long) ns.delivered);
                vici_builder_add_fmt(b, "notify_failed", "%llu", (unsigned long long) (ns.failed + ns.dropped));
        }
        vici_builder_end_section(b);
}

static int status_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const ikeheal_config *c = v->config(v->userdata);
        vici_client *vc = v->vici(v->userdata);
        verbs_figures f;
        status_query *q;
        int r;

        v->figures(v->userdata, &f);

        vici_builder_add_str(b, "version", IKEHEAL_VERSION);
        vici_builder_add_fmt(b, "pid", "%lu", (unsigned long) getpid());
        vici_builder_add_fmt(b, "uptime", "%llu",
                             (unsigned long long) (mono_usec() / USEC_PER_SEC -
                                                   f.start_mono_usec / USEC_PER_SEC));
        vici_builder_add_fmt(b, "started", "%llu",
                             (unsigned long long) (f.start_real_usec / USEC_PER_SEC));
        vici_builder_add_str(b, "config", c->path);
        vici_builder_add_str(b, "socket", c->control_socket);
        vici_builder_add_fmt(b, "reloads", "%llu", (unsigned long long) f.reloads);
        vici_builder_add_fmt(b, "reload_failures", "%llu", (unsigned long long) f.reload_failures);
        add_events(b, f.vici);
        add_engine(b, v, c);

        vici_builder_begin_section(b, "charon");
        vici_builder_add_str(b, "socket", c->vici_socket);
        if (!vc || !vici_client_is_connected(vc)) {
                int e = vc ? vici_client_last_error(vc) : 0;
                vici_builder_add_str(b, "state", "disconnected");
                if (e < 0)
                        vici_builder_add_str(b, "error", strerror(-e));
                vici_builder_end_section(b);
                return 0;
        }
        vici_builder_add_str(b, "state", "connected");

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (status_query){ .list = v->status_queries, .req = req, .reply = b, .next = *v->status_queries };
        r = vici_client_command(vc, "version", NULL, 0, on_version, q);
        if (r < 0) {
                free(q);
                vici_builder_add_str(b, "error", "version could not be sent");
                vici_builder_end_section(b);
                return 0;
        }
        *v->status_queries = q;
        control_request_defer(req);
        return 0;
}

void status_verb_abort_all(status_query **queries, const char *why) {
        while (*queries)
                query_finish(*queries, why);
}

int status_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_STATUS, status_handler, (void *) v);
}
