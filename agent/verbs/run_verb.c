/* `run RUNBOOK [INCIDENT]` (an operator executes a runbook, e.g. a manual one the agent only
 * proposed — under the same checks: approver rights, the runbook's approvers, policy), and
 * `pause REASON` / `resume` (stop and restart automatic remediation; resume also resets the
 * circuit breakers). */
#include <errno.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/control/control.h"
#include "agent/engine/engine.h"

static int run_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
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
        agent_who(a, req, &who);
        r = engine_run(a->engine, name, incident_id, &who, &id, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_fmt(b, "run", "%llu", (unsigned long long) id);
        vici_builder_add_str(b, "result", why);
        return 0;
}

static int pause_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const char *reason = vici_node_str(control_request_body(req), "reason");
        bool pause = control_request_verb(req) == PROTO_PAUSE;
        engine_who who;

        if (pause && (!reason || !reason[0])) {
                control_request_set_error(req, "pause: a reason is required (--reason TEXT)");
                return -EINVAL;
        }
        agent_who(a, req, &who);
        (void) engine_pause(a->engine, pause, reason ? reason : "", &who);
        vici_builder_add_str(b, "result", pause ? "automatic remediation paused" : "automatic remediation resumed");
        return 0;
}

/* `runs [ID]`: runs newest first (what was decided for which incident, and how it ended). */
static int runs_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const vici_node *body = control_request_body(req);
        uint64_t id = 0;

        if (vici_node_get(body, "id") && vici_node_u64(body, "id", &id) < 0) {
                control_request_set_error(req, "runs: expected a run number");
                return -EINVAL;
        }
        if (id && !engine_run_find(a->engine, id)) {
                control_request_set_error(req, "no run %llu", (unsigned long long) id);
                return -ENOENT;
        }
        vici_builder_begin_section(b, "runs");
        for (size_t i = 0; i < engine_runs(a->engine); i++) {
                const run *r = engine_run_get(a->engine, i);
                if (!id || r->id == id)
                        agent_add_run(a, r, b);
        }
        vici_builder_end_section(b);
        return 0;
}

int run_verb_register(agent *a) {
        int r = control_server_register(a->control, PROTO_RUN, run_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_RUNS, runs_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_PAUSE, pause_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_RESUME, pause_handler, a);
        return r;
}
