/* `run RUNBOOK [INCIDENT]` (an operator executes a runbook, e.g. a manual one the agent only
 * proposed — under the same checks: approver rights, the runbook's approvers, policy), and
 * `pause REASON` / `resume` (stop and restart automatic remediation; resume also resets the
 * circuit breakers). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/engine/engine.h"
#include "agent/verbs/verbs.h"
#include "now.h"

/* One run as a section named after its number (`runs`, `pending`), with its plan as it would be
 * made now (and the new hash if that differs from the approved one). */
void run_verb_add_run(const verbs_ctx *v, const run *r, vici_builder *b) {
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
                if (engine_plan(v->engine, r->rb, r->id, r->incident, &p) == 0) {
                        vici_builder_add_str(b, "plan", p.text);
                        if (strcmp(p.hash, r->plan_hash) != 0)
                                vici_builder_add_str(b, "plan_changed", p.hash);
                        runbook_plan_done(&p);
                }
        }
        vici_builder_end_section(b);
}

static int run_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *name = vici_node_str(body, "runbook");
        uint64_t incident_id = 0, id = 0;
        char why[512] = "";
        engine_who who;
        int r;

        if (!name || (vici_node_get(body, "incident") && vici_node_u64(body, "incident", &incident_id) < 0)) {
                control_request_set_error(req, "run: expected a runbook name and optionally an incident number");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        r = engine_run(v->engine, name, incident_id, &who, &id, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_fmt(b, "run", "%llu", (unsigned long long) id);
        vici_builder_add_str(b, "result", why);
        return 0;
}

static int pause_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *reason = vici_node_str(control_request_body(req), "reason");
        bool pause = control_request_verb(req) == PROTO_PAUSE;
        engine_who who;

        if (pause && (!reason || !reason[0])) {
                control_request_set_error(req, "pause: a reason is required (--reason TEXT)");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        (void) engine_pause(v->engine, pause, reason ? reason : "", &who);
        vici_builder_add_str(b, "result", pause ? "automatic remediation paused" : "automatic remediation resumed");
        return 0;
}

/* `runs [ID]`: runs newest first (what was decided for which incident, and how it ended). */
static int runs_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        uint64_t id = 0;

        if (vici_node_get(body, "id") && vici_node_u64(body, "id", &id) < 0) {
                control_request_set_error(req, "runs: expected a run number");
                return -EINVAL;
        }
        if (id && !engine_run_find(v->engine, id)) {
                control_request_set_error(req, "no run %llu", (unsigned long long) id);
                return -ENOENT;
        }
        vici_builder_begin_section(b, "runs");
        for (size_t i = 0; i < engine_runs(v->engine); i++) {
                const run *r = engine_run_get(v->engine, i);
                if (!id || r->id == id)
                        run_verb_add_run(v, r, b);
        }
        vici_builder_end_section(b);
        return 0;
}

int run_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_RUN, run_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_RUNS, runs_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_PAUSE, pause_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_RESUME, pause_handler, (void *) v);
        return r;
}
