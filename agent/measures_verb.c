/* Temporary measures on the control socket: `measures [all]` (in force, with the time left;
 * `all` adds the reverted ones remembered), `extend ID DURATION` (approvers only, within the
 * policy's maximum life for that kind) and `revert ID` (end one now). */
#include <errno.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/control.h"
#include "agent/engine.h"
#include "duration.h"

static int measures_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const char *all = vici_node_str(control_request_body(req), "all");
        uint64_t now = agent_now_usec();
        size_t live = 0;

        vici_builder_begin_section(b, "measures");
        for (size_t i = 0; i < engine_measures(a->engine); i++) {
                const measure *m = engine_measure_get(a->engine, i);
                bool in_force = measure_state_live(m->state);
                char k[24];
                live += in_force;
                if (!in_force && !all)
                        continue;
                (void) snprintf(k, sizeof(k), "%llu", (unsigned long long) m->id);
                vici_builder_begin_section(b, k);
                vici_builder_add_str(b, "kind", m->kind);
                vici_builder_add_str(b, "state", measure_state_to_string(m->state));
                vici_builder_add_str(b, "runbook", m->runbook);
                vici_builder_add_str(b, "step", m->step);
                vici_builder_add_fmt(b, "run", "%llu", (unsigned long long) m->run);
                vici_builder_add_fmt(b, "incident", "%llu", (unsigned long long) m->incident);
                vici_builder_add_fmt(b, "applied", "%llu", (unsigned long long) (m->applied_usec / USEC_PER_SEC));
                vici_builder_add_fmt(b, "expires", "%llu", (unsigned long long) (m->expires_usec / USEC_PER_SEC));
                if (in_force)
                        vici_builder_add_fmt(b, "left", "%llu",
                                             (unsigned long long) (m->expires_usec > now ? (m->expires_usec - now) / USEC_PER_SEC : 0));
                vici_builder_add_fmt(b, "extensions", "%u", m->extensions);
                if (m->reverted_usec)
                        vici_builder_add_fmt(b, "reverted", "%llu", (unsigned long long) (m->reverted_usec / USEC_PER_SEC));
                if (m->note[0])
                        vici_builder_add_str(b, "note", m->note);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        vici_builder_add_fmt(b, "in_force", "%zu", live);
        return 0;
}

static int extend_revert_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const vici_node *body = control_request_body(req);
        const char *dur = vici_node_str(body, "duration");
        bool extend = control_request_verb(req) == PROTO_EXTEND;
        char why[512] = "";
        uint64_t id, by = 0;
        engine_who who;
        int r;

        if (vici_node_u64(body, "id", &id) < 0 || (extend && (!dur || duration_parse(dur, &by) < 0 || by == 0))) {
                control_request_set_error(req, extend ? "extend: expected a measure number and a duration (30m, 2h)"
                                                      : "revert: expected a measure number");
                return -EINVAL;
        }
        agent_who(a, req, &who);
        r = extend ? engine_measure_extend(a->engine, id, by, &who, why, sizeof(why))
                   : engine_measure_revert(a->engine, id, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

int measures_verb_register(agent *a) {
        int r = control_server_register(a->control, PROTO_MEASURES, measures_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_EXTEND, extend_revert_handler, a);
        if (r >= 0)
                r = control_server_register(a->control, PROTO_REVERT, extend_revert_handler, a);
        return r;
}
