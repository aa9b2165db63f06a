/* The `plan` verb (a dry run): for an incident (the runbook it matches) or a runbook by name,
 * the exact effects each step would have, the grade it would run at now and why, and the plan's
 * hash — what an approval binds to. Nothing is executed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine.h"
#include "agent/verbs/verbs.h"
#include "now.h"
#include "agent/triage/incident.h"
#include "duration.h"

static void add_runbook_plan(const verbs_ctx *v, const runbook *rb, uint64_t incident_id, vici_builder *b) {
        runbook_plan p = { 0 };
        char why[256] = "";
        grade g;

        vici_builder_add_str(b, "runbook", rb->name);
        if (rb->description)
                vici_builder_add_str(b, "description", rb->description);
        vici_builder_add_str(b, "file", rb->file);
        vici_builder_add_str(b, "grade", grade_to_string(rb->grade));
        g = policy_grade_at(&v->config(v->userdata)->policy, rb->grade, engine_paused(v->engine, NULL), real_usec(), why, sizeof(why));
        vici_builder_add_str(b, "effective_grade", grade_to_string(g));
        if (why[0])
                vici_builder_add_str(b, "grade_raised_by", why);
        vici_builder_begin_section(b, "steps");
        for (size_t i = 0; i < rb->n_steps; i++) {
                const rb_step *s = &rb->steps[i];
                action_plan ap = { 0 };
                char k[24], d[32];
                (void) snprintf(k, sizeof(k), "%zu", i + 1);
                (void) action_plan_make(&s->params, engine_action_env(v->engine), ACTION_APPLY, &ap);
                vici_builder_begin_section(b, k);
                vici_builder_add_str(b, "name", s->name);
                vici_builder_add_str(b, "action", s->params.ops->kind);
                vici_builder_add_str(b, "effects", ap.text);
                vici_builder_add_str(b, "timeout", duration_format(s->timeout_usec, d, sizeof(d)));
                if (s->has_grade)
                        vici_builder_add_str(b, "grade", grade_to_string(s->grade));
                if (s->verify_check)
                        vici_builder_add_str(b, "verify_check", s->verify_check);
                if (s->verify_check || s->verify_action)
                        vici_builder_add_str(b, "verify_within", duration_format(s->verify_within_usec, d, sizeof(d)));
                if (s->expires_in_usec)
                        vici_builder_add_str(b, "expires_in", duration_format(s->expires_in_usec, d, sizeof(d)));
                if (ap.disruptive)
                        vici_builder_add_fmt(b, "drops_sas", "%u", engine_established_sas_public(v->engine));
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        if (engine_plan(v->engine, rb, 0, incident_id, &p) == 0) {
                vici_builder_add_str(b, "plan", p.text);
                vici_builder_add_str(b, "plan_hash", p.hash);
                runbook_plan_done(&p);
        }
}

static int plan_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *target = vici_node_str(control_request_body(req), "target");
        const runbook *rb = NULL;
        uint64_t id = 0;

        if (!target || !target[0]) {
                control_request_set_error(req, "plan: name an incident number or a runbook");
                return -EINVAL;
        }
        if (strspn(target, "0123456789") == strlen(target)) {
                const incident *inc;
                id = strtoull(target, NULL, 10);
                inc = incident_store_find(v->incidents, id);
                if (!inc) {
                        control_request_set_error(req, "no incident %s", target);
                        return -ENOENT;
                }
                rb = engine_match(v->engine, inc);
                if (!rb) {
                        control_request_set_error(req, "no runbook matches incident %s (%s, %s)", target,
                                                  fault_class_to_string(inc->cls), fault_scope_to_string(inc->scope));
                        return -ENOENT;
                }
                vici_builder_add_fmt(b, "incident", "%llu", (unsigned long long) id);
        } else if (!(rb = runbook_set_find(v->config(v->userdata)->runbooks, target))) {
                control_request_set_error(req, "no runbook '%s' (%zu loaded)", target, runbook_set_size(v->config(v->userdata)->runbooks));
                return -ENOENT;
        }
        add_runbook_plan(v, rb, id, b);
        return 0;
}

int plan_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_PLAN, plan_handler, (void *) v);
}
