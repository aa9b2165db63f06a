/* POST /alerts: Alertmanager's webhook (payload version 4) as external findings. The body is
 * parsed with hard limits (common/am_payload.h); each alert is handed to the configured alerts
 * checks (agent/checks/alerts.c: the label mapping), which then run, so diagnosis weighs what
 * the external monitor says with every local check at once. Every alert taken or refused is a
 * record on the audit trail, with the sender's address; a body that is no such payload is
 * refused whole with 400 and the place it went wrong. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/alerts.h"
#include "agent/checks/check.h"
#include "agent/checks/check_set.h"
#include "agent/checks/registry.h"
#include "agent/observe/observe_internal.h"
#include "agent/triage/triage.h"
#include "am_alert_body.h"
#include "am_payload.h"
#include "http_server.h"

static void audit(observe *o, const char *kind, const char *text) {
        if (o->deps.audit)
                o->deps.audit(o->deps.audit_userdata, kind, text);
}

static int reply_text(http_reply *reply, unsigned status, const char *fmt, ...) _printf_(3, 4);
static int reply_text(http_reply *reply, unsigned status, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        return http_reply_set(reply, status, "text/plain; charset=utf-8", buf, strlen(buf));
}

int observe_on_alerts(const http_request *req, http_reply *reply, void *userdata) {
        observe *o = userdata;
        _cleanup_(am_webhook_freep) am_webhook *w = NULL;
        check_set *set = o->deps.triage ? triage_checks(o->deps.triage) : NULL;
        check *targets[8];
        size_t n_targets = 0, taken = 0, refused = 0;
        char err[AM_ERROR_MAX], text[768];
        am_limits lim = { .max_bytes = (size_t) o->config.max_body_kib * 1024 };
        int r;

        r = am_webhook_parse(req->body, req->body_len, &lim, &w, err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (void) snprintf(text, sizeof(text), "400 %s POST /alerts: %s", req->peer,
                                r == -EMSGSIZE ? "body too large" : err);
                audit(o, "alert_refused", text);
                return reply_text(reply, r == -EMSGSIZE ? 413 : 400, "%u %s\n", r == -EMSGSIZE ? 413u : 400u,
                                  r == -EMSGSIZE ? "body too large" : err);
        }
        for (size_t i = 0; set && i < check_set_size(set) && n_targets < ELEMENTSOF(targets); i++) {
                check *c = check_set_get(set, i);
                if (check_kind_is(check_kind(c), CHECK_ROLE_EXTERNAL))
                        targets[n_targets++] = c;
        }
        if (n_targets == 0) {
                (void) snprintf(text, sizeof(text), "503 %s POST /alerts: %zu alert(s) from receiver '%s' refused: no "
                                "check of kind alerts is configured", req->peer, w->n_alerts, w->receiver);
                audit(o, "alert_refused", text);
                return reply_text(reply, 503, "503 no check of kind alerts is configured\n");
        }
        for (size_t i = 0; i < w->n_alerts; i++) {
                const am_alert *a = &w->alerts[i];
                const char *name = am_alert_label(a, "alertname") ?: "?";
                char why[160] = "";
                int k = 0;
                /* the agent's own incidents, routed back by Alertmanager: taking them would make
                 * each incident feed itself */
                bool own = strcmp(name, AM_INCIDENT_ALERTNAME) == 0;
                if (own) {
                        (void) snprintf(why, sizeof(why), "%s is this agent's own incident alert",
                                        AM_INCIDENT_ALERTNAME);
                        k = -EINVAL;
                }
                for (size_t t = 0; !own && t < n_targets; t++) {
                        int x = alerts_check_take(targets[t], a, why, sizeof(why));
                        if (x < 0 || k == 0)
                                k = x;
                }
                if (k < 0) {
                        refused++;
                        (void) snprintf(text, sizeof(text), "%s %s from %s (receiver '%s') refused: %s",
                                        a->firing ? "firing" : "resolved", name, req->peer, w->receiver, why);
                        audit(o, "alert_refused", text);
                } else {
                        taken++;
                        (void) snprintf(text, sizeof(text), "%s %s from %s (receiver '%s', class %s, reason %s, "
                                        "instance %s)%s", a->firing ? "firing" : "resolved", name, req->peer, w->receiver,
                                        am_alert_label(a, "ikeheal_class") ?: "reachability",
                                        am_alert_label(a, "ikeheal_reason") ?: name,
                                        am_alert_label(a, "instance") ?: "-", k == 1 ? ": was not held" : "");
                        audit(o, "alert", text);
                }
        }
        if (w->truncated) {
                (void) snprintf(text, sizeof(text), "%llu alert(s) from %s left out by the sender (max_alerts)",
                                (unsigned long long) w->truncated, req->peer);
                audit(o, "alert_refused", text);
        }
        for (size_t t = 0; t < n_targets; t++)
                (void) check_trigger(targets[t]);
        /* Alertmanager retries a 5xx, not a 4xx: alerts it cannot fix by sending again are 422 */
        if (refused && !taken)
                return reply_text(reply, 422, "422 refused %zu alert(s) (see the audit trail)\n", refused);
        return reply_text(reply, 200, "taken %zu, refused %zu\n", taken, refused);
}
