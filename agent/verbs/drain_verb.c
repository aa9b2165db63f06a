/* The `drain` and `undrain` verbs: take the gateway out of its load balancers' pool for a
 * while (GET /healthz answers 503 with the reason) and put it back. Write verbs (operators);
 * audited with who asked. The drain is kept on disk, so it outlives an agent restart and ends
 * on time either way. */
#include <errno.h>
#include <stdio.h>

#include "agent/observe/observe.h"
#include "agent/verbs/verbs.h"
#include "drain_file.h"
#include "duration.h"
#include "rfc3339.h"

#define DRAIN_FOR_MAX (30ULL * 24 * 3600 * USEC_PER_SEC)

static int drain_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *for_s = vici_node_str(body, "for"), *reason = vici_node_str(body, "reason");
        const control_peer *p = control_request_peer(req);
        char who[96], why[256], when[40], text[512];
        drain_state s;
        uint64_t usec = 0;
        int r;

        if (!v->observe) {
                control_request_set_error(req, "drain: the observe room is not running");
                return -ENOTCONN;
        }
        if (!for_s || duration_parse(for_s, &usec) < 0 || usec == 0 || usec > DRAIN_FOR_MAX) {
                control_request_set_error(req, "drain: --for DURATION is required (e.g. 30m; at most 30d)");
                return -EINVAL;
        }
        if (!reason || !reason[0]) {
                control_request_set_error(req, "drain: a reason is required (--reason TEXT)");
                return -EINVAL;
        }
        (void) snprintf(who, sizeof(who), "uid %u (%s)", (unsigned) p->uid, p->user);
        r = observe_drain(v->observe, usec, reason, who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "drain: %s", why);
                return r;
        }
        (void) observe_drained(v->observe, &s);
        (void) snprintf(text, sizeof(text), "drained until %s: GET /healthz answers 503",
                        rfc3339_format(s.until_usec, when, sizeof(when)));
        vici_builder_add_str(b, "result", text);
        vici_builder_add_str(b, "until", when);
        return 0;
}

static int undrain_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const control_peer *p = control_request_peer(req);
        char who[96], why[256];
        int r;

        if (!v->observe) {
                control_request_set_error(req, "undrain: the observe room is not running");
                return -ENOTCONN;
        }
        (void) snprintf(who, sizeof(who), "uid %u (%s)", (unsigned) p->uid, p->user);
        r = observe_undrain(v->observe, who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "undrain: %s", why);
                return r;
        }
        vici_builder_add_str(b, "result", "undrained: GET /healthz follows the incidents again");
        return 0;
}

int drain_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_DRAIN, drain_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_UNDRAIN, undrain_handler, (void *) v);
        return r;
}
