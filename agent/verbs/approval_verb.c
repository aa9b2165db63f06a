/* Approval gates on the control socket: `pending` (runs waiting for approval, or proposed for
 * an operator, with their plan and its hash), `approve ID HASH` and `deny ID REASON`. Approving
 * or denying needs root or a group in control.approver_groups (checked here, by the peer's
 * SO_PEERCRED credentials, on top of the operator check every write verb gets); the engine
 * binds the approval to the plan hash and names the uid and user in the audit log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/control/control.h"
#include "agent/engine/engine.h"
#include "now.h"

void agent_who(agent *a, control_request *req, engine_who *ret) {
        const control_peer *p = control_request_peer(req);
        *ret = (engine_who){
                .uid = p->uid,
                .user = p->user,
                .approver = p->uid == 0 ||
                            config_groups_match(a->config->approver_groups, p->gid, p->groups, p->n_groups),
        };
}

static void add_run(agent *a, const run *r, vici_builder *b) {
        char k[24];
        (void) snprintf(k, sizeof(k), "%llu", (unsigned long long) r->id);
        vici_builder_begin_section(b, k);
        vici_builder_add_str(b, "state", run_state_to_string(r->state));
        vici_builder_add_str(b, "runbook", r->runbook);
        vici_builder_add_fmt(b, "incident", "%llu", (unsigned long long) r->incident);
        vici_builder_add_str(b, "grade", grade_to_string(r->grade));
        if (r->why[0])
                vici_builder_add_str(b, "why", r->why);
        vici_builder_add_fmt(b, "step", "%zu", r->step + 1);
        vici_builder_add_fmt(b, "steps", "%zu", r->n_steps);
        if (r->step < r->n_steps && run_state_active(r->state))
                vici_builder_add_str(b, "step_name", r->steps[r->step].name);
        vici_builder_add_str(b, "plan_hash", r->plan_hash);
        vici_builder_add_fmt(b, "approvals", "%zu", r->n_approvals);
        vici_builder_add_fmt(b, "approvers_needed", "%u", r->approvers_needed);
        vici_builder_begin_list(b, "approved_by");
        for (size_t i = 0; i < r->n_approvals; i++) {
                char who[96];
                (void) snprintf(who, sizeof(who), "%s (uid %u)", r->approvals[i].user, r->approvals[i].uid);
                vici_builder_add_list_item(b, who);
        }
        vici_builder_end_list(b);
        if (r->state == RUN_PENDING)
                vici_builder_add_fmt(b, "expires_in", "%llu",
                                     (unsigned long long) (r->approval_expires_usec > real_usec()
                                                                   ? (r->approval_expires_usec - real_usec()) / USEC_PER_SEC
                                                                   : 0));
        vici_builder_add_fmt(b, "created", "%llu", (unsigned long long) (r->created_usec / USEC_PER_SEC));
        if (r->finished_usec)
                vici_builder_add_fmt(b, "finished", "%llu", (unsigned long long) (r->finished_usec / USEC_PER_SEC));
        if (r->operator_run)
                vici_builder_add_str(b, "requested_by", r->requested_by);
        vici_builder_begin_list(b, "phases");
        for (size_t i = 0; i < r->n_steps; i++) {
                char ph[96];
                (void) snprintf(ph, sizeof(ph), "%s: %s%s", r->steps[i].name, step_phase_to_string(r->steps[i].phase),
                                r->steps[i].measure ? " (measure)" : "");
                vici_builder_add_list_item(b, ph);
        }
        vici_builder_end_list(b);
        if (r->note[0])
                vici_builder_add_str(b, "note", r->note);
        if (r->rb) {
                runbook_plan p = { 0 };
                if (runbook_plan_make(r->rb, engine_action_env(a->engine), &p) == 0) {
                        vici_builder_add_str(b, "plan", p.text);
                        if (strcmp(p.hash, r->plan_hash) != 0)
                                vici_builder_add_str(b, "plan_changed", p.hash);
                        runbook_plan_done(&p);
                }
        }
        vici_builder_end_section(b);
}

void agent_add_run(agent *a, const run *r, vici_builder *b) {
        add_run(a, r, b);
}

static int pending_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const char *reason = NULL;

        vici_builder_add_str(b, "paused", engine_paused(a->engine, &reason) ? "yes" : "no");
        if (reason && reason[0])
                vici_builder_add_str(b, "pause_reason", reason);
        vici_builder_begin_section(b, "runs");
        for (size_t i = 0; i < engine_runs(a->engine); i++) {
                const run *r = engine_run_get(a->engine, i);
                if (r->state == RUN_PENDING || r->state == RUN_PROPOSED)
                        add_run(a, r, b);
        }
        vici_builder_end_section(b);
        return 0;
}

static int approve_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
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
        agent_who(a, req, &who);
        r = engine_approve(a->engine, id, hash, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

static int deny_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
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
        agent_who(a, req, &who);
        r = engine_deny(a->engine, id, reason, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

int approval_verb_register(agent *a) {
        int r = control_server_register(a->control, PROTO_PENDING, pending_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_APPROVE, approve_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_DENY, deny_handler, a);
        return r;
}
