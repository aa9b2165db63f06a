/* GET /healthz for load balancers: 200 while this gateway should take new IKE sessions, 503
 * with a JSON reason while a global outage incident is active (an incident of every peer that
 * failed: charon down or hung, IKE dropped by the firewall, the gateway's certificate broken) or
 * while the gateway is drained. The answer is kept, not computed per request: incident events
 * and drain changes push it, so a probe sees the change as soon as triage has opened the
 * incident, and a flood of probes costs a copy each.
 *
 * The drain is <state_dir>/drain (common/drain_file.h), so it survives a restart: an
 * operator's (`ikehealctl drain --for DUR`) ends at its own expiry, by a timer here (also right
 * at start when it passed while the agent was down); a runbook's `drain` measure ends when the
 * engine reverts it. Whoever writes or removes the file, this room learns of it from inotify on
 * the state directory (the drain file's name only), not by looking again and again. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "agent/observe/observe_internal.h"
#include "agent/triage/incident.h"
#include "ev.h"
#include "http_server.h"
#include "log.h"
#include "now.h"
#include "rfc3339.h"

static bool is_outage(const incident *i) {
        return i->state != INCIDENT_RESOLVED && i->scope == FAULT_SCOPE_GLOBAL && i->severity == CHECK_FAIL;
}

/* The answer for what holds now. */
static void health_render(observe *o) {
        json_object *j = json_object_new_object();
        const char *text;
        size_t len = 0;
        char when[40];

        o->health_status = 200;
        if (!j)
                goto fail;
        if (o->outage_id) {
                o->health_status = 503;
                json_object_object_add(j, "status", json_object_new_string("unavailable"));
                json_object_object_add(j, "reason", json_object_new_string("global outage incident"));
                json_object_object_add(j, "incident", json_object_new_uint64(o->outage_id));
                json_object_object_add(j, "class", json_object_new_string(o->outage_class));
                json_object_object_add(j, "summary", json_object_new_string(o->outage_summary));
        } else if (o->drained) {
                o->health_status = 503;
                json_object_object_add(j, "status", json_object_new_string("drained"));
                json_object_object_add(j, "reason", json_object_new_string(o->drain.reason));
                json_object_object_add(j, "by", json_object_new_string(o->drain.owner));
                json_object_object_add(j, "since", json_object_new_string(rfc3339_format(o->drain.since_usec, when, sizeof(when))));
                json_object_object_add(j, "until", o->drain.until_usec
                                                           ? json_object_new_string(rfc3339_format(o->drain.until_usec, when, sizeof(when)))
                                                           : NULL);
        } else
                json_object_object_add(j, "status", json_object_new_string("ok"));
        text = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!text || len + 2 > sizeof(o->health_body))
                goto fail;
        memcpy(o->health_body, text, len);
        o->health_body[len++] = '\n';
        o->health_body[len] = 0;
        o->health_len = len;
        json_object_put(j);
        return;
fail:
        json_object_put(j);
        /* the status is what matters to a load balancer; the body is a courtesy */
        o->health_len = (size_t) snprintf(o->health_body, sizeof(o->health_body), "{\"status\":\"%s\"}\n",
                                          o->health_status == 200 ? "ok" : "unavailable");
}

static void outage_scan(observe *o) {
        o->outage_id = 0;
        for (size_t k = 0; o->deps.incidents && k < incident_store_size(o->deps.incidents); k++) {
                const incident *i = incident_store_get(o->deps.incidents, k);
                if (!is_outage(i) || (o->outage_id && i->id > o->outage_id))
                        continue; /* the oldest outage names the reason */
                o->outage_id = i->id;
                (void) snprintf(o->outage_class, sizeof(o->outage_class), "%s", fault_class_to_string(i->cls));
                (void) snprintf(o->outage_summary, sizeof(o->outage_summary), "%.255s", i->summary);
        }
}

void observe_health_incident(observe *o, const incident *i) {
        uint64_t before = o->outage_id;
        char cls[sizeof(o->outage_class)];

        memcpy(cls, o->outage_class, sizeof(cls));
        outage_scan(o);
        if (o->outage_id != before) {
                if (o->outage_id)
                        log_notice("GET /healthz: 503 (global %s incident %llu)", o->outage_class,
                                   (unsigned long long) o->outage_id);
                else
                        log_notice("GET /healthz: the global %s incident %llu is over", cls, (unsigned long long) before);
        }
        health_render(o);
}

static int on_drain_expiry(ev_source *s, uint64_t usec, void *userdata);

/* Take what <state_dir>/drain says now (and end an operator's drain past its expiry). */
void observe_drain_reload(observe *o) {
        drain_state s;
        bool was = o->drained;
        int r;

        o->drain_timer = ev_source_disable_unref(o->drain_timer);
        r = o->deps.state_dir ? drain_file_read(o->deps.state_dir, &s) : -ENOENT;
        if (r == -EBADMSG) {
                log_warning("%s/" DRAIN_FILE_NAME " is not a drain this agent wrote: removing it", o->deps.state_dir);
                (void) drain_file_remove(o->deps.state_dir, NULL);
        }
        o->drained = r >= 0;
        if (o->drained) {
                o->drain = s;
                if (s.until_usec && s.until_usec <= real_usec()) {
                        (void) drain_file_remove(o->deps.state_dir, s.owner);
                        o->drained = false;
                        if (o->deps.audit)
                                o->deps.audit(o->deps.audit_userdata, "undrain", "the drain expired");
                } else if (s.until_usec &&
                           ev_add_time(o->deps.event, &o->drain_timer, CLOCK_REALTIME, s.until_usec, 1000,
                                             on_drain_expiry, o) < 0)
                        log_warning("cannot arm the drain's expiry: it ends at the next restart or `undrain`");
        }
        if (was != o->drained)
                log_notice("GET /healthz: %s", o->drained ? "drained (503)" : "no longer drained");
        health_render(o);
}

static int on_drain_expiry(ev_source *s, uint64_t usec, void *userdata) {
        observe *o = userdata;
        observe_drain_reload(o); /* removes it: its expiry has passed */
        return 0;
}

int observe_drain(observe *o, uint64_t for_usec, const char *reason, const char *who, char *why, size_t n) {
        drain_state s = { .owner = "operator" };
        char text[DRAIN_REASON_MAX + 128], when[40];
        int r;

        if (!o->deps.state_dir) {
                (void) snprintf(why, n, "no state directory");
                return -EINVAL;
        }
        s.since_usec = real_usec();
        s.until_usec = s.since_usec + for_usec;
        (void) snprintf(s.reason, sizeof(s.reason), "%s", reason);
        r = drain_file_write(o->deps.state_dir, &s);
        if (r < 0) {
                (void) snprintf(why, n, "cannot write %s/" DRAIN_FILE_NAME ": %s", o->deps.state_dir, strerror(-r));
                return r;
        }
        (void) snprintf(text, sizeof(text), "drained by %s until %s: %s", who,
                        rfc3339_format(s.until_usec, when, sizeof(when)), s.reason);
        if (o->deps.audit)
                o->deps.audit(o->deps.audit_userdata, "drain", text);
        observe_drain_reload(o);
        return 0;
}

int observe_undrain(observe *o, const char *who, char *why, size_t n) {
        char text[DRAIN_REASON_MAX + 128];
        int r;

        if (!o->drained) {
                (void) snprintf(why, n, "not drained");
                return -ENOENT;
        }
        (void) snprintf(text, sizeof(text), "undrained by %s (the %s's drain: %s)", who, o->drain.owner, o->drain.reason);
        r = drain_file_remove(o->deps.state_dir, NULL);
        if (r < 0) {
                (void) snprintf(why, n, "cannot remove the drain: %s", strerror(-r));
                return r;
        }
        if (o->deps.audit)
                o->deps.audit(o->deps.audit_userdata, "undrain", text);
        observe_drain_reload(o);
        return 0;
}

bool observe_drained(const observe *o, drain_state *ret) {
        if (o->drained && ret)
                *ret = o->drain;
        return o->drained;
}

int observe_on_healthz(const http_request *req, http_reply *reply, void *userdata) {
        observe *o = userdata;
        return http_reply_set(reply, o->health_status, "application/json", o->health_body, o->health_len);
}

static int on_state_dir(ev_source *s, const struct inotify_event *ev, void *userdata) {
        observe *o = userdata;
        if (ev->len > 0 && strcmp(ev->name, DRAIN_FILE_NAME) == 0)
                observe_drain_reload(o);
        return 0;
}

int observe_drain_watch(observe *o) {
        if (!o->deps.state_dir)
                return 0;
        return ev_add_inotify(o->deps.event, &o->drain_watch, o->deps.state_dir,
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_ONLYDIR, on_state_dir, o);
}
