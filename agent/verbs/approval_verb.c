/* Approval gates on the control socket: `pending` (runs waiting for approval, or proposed for
 * an operator, with their plan and its hash), `approve ID HASH` and `deny ID REASON`. Approving
 * or denying needs root or a group in control.approver_groups (checked here, by the peer's
 * SO_PEERCRED credentials, on top of the operator check every write verb gets); the engine
 * binds the approval to the plan hash and names the uid and user in the audit log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/engine/engine.h"
#include "agent/verbs/verbs.h"
#include "now.h"

static int pending_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *reason = NULL;

        vici_builder_add_str(b, "paused", engine_paused(v->engine, &reason) ? "yes" : "no");
        if (reason && reason[0])
                vici_builder_add_str(b, "pause_reason", reason);
        vici_builder_begin_section(b, "runs");
        for (size_t i = 0; i < engine_runs(v->engine); i++) {
                const run *r = engine_run_get(v->engine, i);
                if (r->state == RUN_PENDING || r->state == RUN_PROPOSED)
                        run_verb_add_run(v, r, b);
        }
        vici_builder_end_section(b);
        return 0;
}

static int approve_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *hash = vici_node_str(body, "plan_hash");
        char why[512] = "";
        engine_who who;
        uint64_t id;
        int r;

        if (vici_node_u64(body, "id", &id) < 0) {
                control_request_set_error(req, "approve: expected a run number");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        r = engine_approve(v->engine, id, hash, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

static int deny_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *reason = vici_node_str(body, "reason");
        char why[512] = "";
        engine_who who;
        uint64_t id;
        int r;

        if (vici_node_u64(body, "id", &id) < 0 || !reason || !reason[0]) {
                control_request_set_error(req, "deny: expected a run number and a reason");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        r = engine_deny(v->engine, id, reason, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

int approval_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_PENDING, pending_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_APPROVE, approve_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_DENY, deny_handler, (void *) v);
        return r;
}
