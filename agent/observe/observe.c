/* The observe room's life cycle: its subscriptions (triage's findings and incident events, the
 * engine's run changes, charon's up/down events) and its HTTP listener, built from the `http:`
 * section and rebuilt when a reload changes it. Every request the listener refuses (bad
 * token, too large, too many) is written to the audit trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/engine/engine.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/triage.h"
#include "ev.h"
#include "http_server.h"
#include "log.h"
#include "mhd_lib.h"

static void on_finding(check *c, const finding *f, void *userdata) {
        observe *o = userdata;
        observe_tally_finding(&o->tally, c, f);
}

static void on_incident(const incident *i, incident_event ev, void *userdata) {
        observe *o = userdata;
        observe_tally_incident(&o->tally, i, (int) ev);
        observe_health_incident(o, i);
        observe_hooks_incident(o, i, (int) ev);
        observe_am_incident(o, i, (int) ev);
        if (i->state == INCIDENT_RESOLVED)
                observe_told_forget(o, i->id);
}

static void on_run(const run *r, void *userdata) {
        observe *o = userdata;
        observe_tally_run(&o->tally, r);
        observe_am_run(o, r);
}

static void on_ike(const char *event, const vici_node *msg, void *userdata) {
        observe *o = userdata;
        bool up = vici_node_str(msg, "up") != NULL;
        if (strcmp(event, "ike-updown") == 0) {
                if (up)
                        o->tally.ike_established++;
                else
                        o->tally.ike_deleted++;
        } else if (up)
                o->tally.child_up++;
        else
                o->tally.child_down++;
}

int observe_new(observe **ret, const observe_deps *deps) {
        _cleanup_(observe_freep) observe *o = calloc(1, sizeof(*o));
        int r;

        if (!o)
                return -ENOMEM;
        o->deps = *deps;
        o->deps.state_dir = NULL;
        if (deps->state_dir && !(o->state_dir_copy = strdup(deps->state_dir)))
                return -ENOMEM;
        o->deps.state_dir = o->state_dir_copy;
        http_config_init(&o->config);
        observe_tally_init(&o->tally);
        if (deps->triage) {
                r = triage_subscribe(deps->triage, &(triage_listener){ .finding = on_finding, .incident = on_incident,
                                                                       .userdata = o });
                if (r < 0)
                        return r;
        }
        if (deps->engine) {
                r = engine_subscribe(deps->engine, &(engine_listener){ .run_changed = on_run, .userdata = o });
                if (r < 0)
                        return r;
        }
        if (deps->hub) {
                r = charon_hub_listen(deps->hub, "ike-updown", on_ike, NULL, o, &o->ike_listener);
                if (r >= 0)
                        r = charon_hub_listen(deps->hub, "child-updown", on_ike, NULL, o, &o->child_listener);
                if (r < 0)
                        return r;
                /* counters for a scrape: they may trail charon by one of someone's requests */
                charon_listener_set_delivery(o->ike_listener, CHARON_DELIVER_LATER);
                charon_listener_set_delivery(o->child_listener, CHARON_DELIVER_LATER);
        }
        /* what holds since before this start: open incidents, a drain */
        observe_health_incident(o, NULL);
        r = observe_drain_watch(o);
        if (r < 0)
                log_warning_errno(r, "cannot watch %s for the drain: it is read at start and at `drain` only, "
                                  "ignoring", o->deps.state_dir);
        observe_drain_reload(o);
        r = observe_am_start(o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

observe *observe_free(observe *o) {
        if (!o)
                return NULL;
        if (o->deps.triage)
                triage_unsubscribe(o->deps.triage, o);
        if (o->deps.engine)
                engine_unsubscribe(o->deps.engine, o);
        charon_listener_free(o->ike_listener);
        charon_listener_free(o->child_listener);
        http_server_free(o->server);
        http_config_done(&o->config);
        ev_source_disable_unref(o->drain_timer);
        ev_source_disable_unref(o->drain_watch);
        ev_source_disable_unref(o->am_timer);
        free(o->state_dir_copy);
        free(o);
        return NULL;
}

static int on_metrics(const http_request *req, http_reply *reply, void *userdata) {
        observe *o = userdata;
        char *text = NULL;
        size_t len = 0;
        int r = observe_metrics_render(o, &text, &len);
        if (r < 0)
                return r;
        reply->status = 200;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        reply->body = text;
        reply->body_len = len;
        return 0;
}

static void on_refusal(const http_refusal *rf, void *userdata) {
        observe *o = userdata;
        char text[512];

        (void) snprintf(text, sizeof(text), "%u %s %s %s: %s", rf->status, rf->peer, rf->method ?: "-",
                        rf->path ?: "-", rf->reason);
        if (o->deps.audit)
                o->deps.audit(o->deps.audit_userdata, "http_refused", text);
}

static int http_config_copy(http_config *dst, const http_config *src) {
        http_config n;
        size_t k = 0;

        http_config_init(&n);
        n = *src;
        n.listen = NULL;
        for (size_t i = 0; i < _HTTP_EP_MAX; i++) {
                n.token_file[i] = NULL;
                n.token[i] = src->token[i] ? strdup(src->token[i]) : NULL;
                if (src->token[i] && !n.token[i])
                        goto oom;
        }
        while (src->listen && src->listen[k])
                k++;
        n.listen = calloc(k + 1, sizeof(char *));
        if (!n.listen)
                goto oom;
        for (size_t i = 0; i < k; i++)
                if (!(n.listen[i] = strdup(src->listen[i])))
                        goto oom;
        n.node = NULL;
        http_config_done(dst);
        *dst = n;
        return 0;
oom:
        http_config_done(&n);
        return -ENOMEM;
}

/* A listener for c (NULL when c is off). */
static int server_build(observe *o, const http_config *c, http_server **ret, uint16_t *ports, size_t *n_ports,
                        char **ret_error) {
        _cleanup_(http_server_freep) http_server *s = NULL;
        http_server_limits lim = {
                .max_body = (size_t) c->max_body_kib * 1024,
                .max_connections = c->max_connections,
                .max_per_client = c->max_per_client,
                .rate_per_sec = c->rate_per_sec,
                .rate_burst = c->rate_burst,
                .timeout_sec = (unsigned) (c->timeout_usec / USEC_PER_SEC),
                /* below everything else on the loop: scrapers wait, the control socket, charon's
                 * events and the checks do not */
                .priority = EV_PRIORITY_IDLE,
        };
        int r;

        *n_ports = 0;
        if (!c->enabled) {
                *ret = NULL;
                return 0;
        }
        r = http_server_new(&s, o->deps.event, &lim);
        if (r < 0) {
                if (ret_error && mhd_lib_error() && asprintf(ret_error, "http: %s", mhd_lib_error()) < 0)
                        *ret_error = NULL;
                return r;
        }
        http_server_on_refusal(s, on_refusal, o);
        r = http_server_handle(s, "GET", http_endpoint_path(HTTP_EP_METRICS), c->token[HTTP_EP_METRICS], on_metrics, o);
        /* one exposition for every scrape of a dispatch: a hundred scrapers ready at once cost
         * one render, not a hundred */
        if (r >= 0)
                r = http_server_share(s, "GET", http_endpoint_path(HTTP_EP_METRICS));
        if (r >= 0)
                r = http_server_handle(s, "GET", http_endpoint_path(HTTP_EP_HEALTHZ), c->token[HTTP_EP_HEALTHZ],
                                       observe_on_healthz, o);
        /* alerts make incidents: never taken from whoever can connect */
        if (r >= 0 && c->token[HTTP_EP_ALERTS])
                r = http_server_handle(s, "POST", http_endpoint_path(HTTP_EP_ALERTS), c->token[HTTP_EP_ALERTS],
                                       observe_on_alerts, o);
        if (r < 0)
                return r;
        for (size_t i = 0; c->listen && c->listen[i] && i < OBSERVE_LISTEN_MAX; i++) {
                r = http_server_listen(s, c->listen[i], &ports[i]);
                if (r < 0) {
                        if (ret_error && asprintf(ret_error, "http.listen %s: %s", c->listen[i], strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                *n_ports = i + 1;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int observe_configure(observe *o, const http_config *c, char **ret_error) {
        http_server *s = NULL;
        uint16_t ports[OBSERVE_LISTEN_MAX] = { 0 };
        size_t n_ports = 0;
        int r;

        /* what /metrics shows: no listener to rebuild for it */
        o->config.metrics_per_peer = c->metrics_per_peer;
        if (o->server && http_config_equal(&o->config, c))
                return 0;
        if (!o->server && !c->enabled)
                return 0;
        r = server_build(o, c, &s, ports, &n_ports, ret_error);
        if (r == -EADDRINUSE && o->server) {
                /* the new listener wants an address the old one holds: close the old first,
                 * and put it back if the new one still cannot listen */
                o->server = http_server_free(o->server);
                if (ret_error) {
                        free(*ret_error);
                        *ret_error = NULL;
                }
                r = server_build(o, c, &s, ports, &n_ports, ret_error);
                if (r < 0) {
                        uint16_t old_ports[OBSERVE_LISTEN_MAX];
                        size_t n_old = 0;
                        if (server_build(o, &o->config, &o->server, old_ports, &n_old, NULL) < 0)
                                log_error("the HTTP listener could not be reopened as before: it is off");
                        return r;
                }
        }
        if (r < 0)
                return r;
        r = http_config_copy(&o->config, c);
        if (r < 0) {
                http_server_free(s);
                return r;
        }
        http_server_free(o->server);
        o->server = s;
        memcpy(o->ports, ports, sizeof(ports));
        o->n_ports = n_ports;
        for (size_t i = 0; i < n_ports; i++)
                log_info("HTTP listener on %s (port %u)", c->listen[i], ports[i]);
        if (!s)
                log_info("HTTP listener off");
        return 0;
}

uint16_t observe_port(const observe *o, size_t n) {
        return n < o->n_ports ? o->ports[n] : 0;
}
