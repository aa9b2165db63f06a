/* The `fleet` verbs: `fleet_status` (read) shows this gateway in its fleet — its lease and
 * whether it is known alive, the slots it holds and the runs waiting for one, the fleet's pause
 * and freeze as this agent last read or watched them (and whether its watches are open), the
 * fleet's drill schedule in force (or why its value was refused), the last request etcd did not
 * answer; with `show: drills`, the fleet's drill schedule alone, entry by entry. `fleet` (write,
 * operators) pauses, resumes or freezes automatic remediation for every agent of the fleet, or
 * sets (checked first: a schedule that does not parse is not written) or clears the fleet's
 * drill schedule, through etcd. Audited with who asked once etcd answered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/config/drill_config.h"
#include "agent/fleet/fleet.h"
#include "agent/verbs/verbs.h"
#include "duration.h"
#include "now.h"
#include "rfc3339.h"

#define FLEET_FREEZE_MAX (30ULL * 24 * 3600 * USEC_PER_SEC)

static const char *window_format(const policy_hours *h, char *buf, size_t n) {
        static const char *const day[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
        size_t w = 0;

        buf[0] = 0;
        for (unsigned i = 0; i < 7; i++)
                if (h->days & (1u << i)) {
                        int k = snprintf(buf + w, n - w, "%s%s", w ? "," : "", day[i]);
                        if (k < 0 || (size_t) k >= n - w)
                                return buf;
                        w += (size_t) k;
                }
        (void) snprintf(buf + w, n - w, " %02u:%02u-%02u:%02u %s", h->from_min / 60, h->from_min % 60, h->to_min / 60,
                        h->to_min % 60, h->utc ? "utc" : "local");
        return buf;
}

/* `fleet drills`: the fleet's drill schedule as this agent holds it. */
static int fleet_drills_answer(const verbs_ctx *v, const fleet_status *s, vici_builder *b) {
        const drill_schedule *e;
        size_t n = fleet_drills(v->fleet, &e);
        const char *text = fleet_drills_text(v->fleet), *seen;
        char k[24], d[32], w[96];

        vici_builder_add_fmt(b, "key", "%sdrills/schedule", s->prefix);
        vici_builder_add_str(b, "set", text ? "yes" : "no");
        if (s->drills_error[0])
                vici_builder_add_str(b, "error", s->drills_error);
        if (text)
                vici_builder_add_str(b, "value", text);
        vici_builder_add_fmt(b, "entries", "%zu", n);
        vici_builder_begin_section(b, "schedule");
        for (size_t i = 0; i < n; i++) {
                (void) snprintf(k, sizeof(k), "%zu", i);
                vici_builder_begin_section(b, k);
                vici_builder_add_str(b, "drill", e[i].drill);
                vici_builder_add_str(b, "every", duration_format(e[i].every_usec, d, sizeof(d)));
                vici_builder_add_str(b, "window", window_format(&e[i].window, w, sizeof(w)));
                vici_builder_add_str(b, "window_open", policy_in_hours(&e[i].window, real_usec()) ? "yes" : "no");
                if ((seen = fleet_drills_seen(v->fleet, e[i].drill)))
                        vici_builder_add_str(b, "fleet", seen);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        return 0;
}

static int fleet_status_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *show = vici_node_str(control_request_body(req), "show");
        fleet_status s;
        char when[40];

        if (!v->fleet) {
                control_request_set_error(req, "fleet: not running");
                return -ENOTCONN;
        }
        fleet_status_get(v->fleet, &s);
        vici_builder_add_str(b, "enabled", s.enabled ? "yes" : "no");
        if (!s.enabled)
                return 0;
        if (show && strcmp(show, "drills") == 0)
                return fleet_drills_answer(v, &s, b);
        vici_builder_add_str(b, "name", s.name);
        vici_builder_add_str(b, "prefix", s.prefix);
        vici_builder_add_fmt(b, "lease", "%lld", (long long) s.lease);
        vici_builder_add_str(b, "lease_alive", s.lease_alive ? "yes" : "no");
        vici_builder_add_str(b, "paused", s.paused ? "yes" : "no");
        if (s.freeze_until_usec && s.freeze_until_usec > real_usec())
                vici_builder_add_str(b, "frozen_until", s.freeze_until_usec == UINT64_MAX ? "unreadable key: until lifted" :
                                     rfc3339_format(s.freeze_until_usec, when, sizeof(when)));
        if (s.pause_reason[0])
                vici_builder_add_str(b, "reason", s.pause_reason);
        vici_builder_add_fmt(b, "slots_held", "%u", s.slots_held);
        vici_builder_add_fmt(b, "waiting", "%u", s.waiting);
        vici_builder_add_fmt(b, "requests", "%llu", (unsigned long long) s.requests);
        vici_builder_add_str(b, "watching", s.watching ? "yes" : "no");
        vici_builder_add_fmt(b, "watch_events", "%llu", (unsigned long long) s.watch_events);
        vici_builder_add_fmt(b, "drill_schedule", "%zu", s.drills);
        if (s.drills_error[0])
                vici_builder_add_str(b, "drill_schedule_error", s.drills_error);
        if (s.last_error[0])
                vici_builder_add_str(b, "last_error", s.last_error);
        return 0;
}

static int fleet_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *op = vici_node_str(body, "op"), *reason = vici_node_str(body, "reason"), *for_s = vici_node_str(body, "for");
        const char *schedule = vici_node_str(body, "schedule");
        const control_peer *p = control_request_peer(req);
        fleet_control c;
        uint64_t usec = 0;
        char who[96], why[2048];
        int r;

        if (!v->fleet) {
                control_request_set_error(req, "fleet: not running");
                return -ENOTCONN;
        }
        if (op && strcmp(op, "pause") == 0)
                c = FLEET_PAUSE;
        else if (op && strcmp(op, "resume") == 0)
                c = FLEET_RESUME;
        else if (op && strcmp(op, "freeze") == 0) {
                c = FLEET_FREEZE;
                if (!for_s || duration_parse(for_s, &usec) < 0 || usec == 0 || usec > FLEET_FREEZE_MAX) {
                        control_request_set_error(req, "fleet freeze: --for DURATION is required (e.g. 2h; at most 30d)");
                        return -EINVAL;
                }
        } else if (op && strcmp(op, "drill-schedule-set") == 0) {
                c = FLEET_DRILLS_SET;
                if (!schedule || !schedule[0]) {
                        control_request_set_error(req, "fleet drill-schedule set: the schedule's text is required");
                        return -EINVAL;
                }
                reason = schedule;
        } else if (op && strcmp(op, "drill-schedule-clear") == 0)
                c = FLEET_DRILLS_CLEAR;
        else {
                control_request_set_error(req, "fleet: pause, resume, freeze, drill-schedule-set or drill-schedule-clear");
                return -EINVAL;
        }
        (void) snprintf(who, sizeof(who), "uid %u (%s)", (unsigned) p->uid, p->user);
        r = fleet_control_send(v->fleet, c, reason, c == FLEET_FREEZE ? real_usec() + usec : 0, who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "fleet %s: %s", op, why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

int fleet_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_FLEET, fleet_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_FLEET_STATUS, fleet_status_handler, (void *) v);
        return r;
}
