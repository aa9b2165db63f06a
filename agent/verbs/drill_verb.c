/* `drill` (write: run NAME [--dry-run], abort --reason) and `drills` (read: list, status,
 * report [ID]) — chaos drills, agent/drill/drill_run.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/verbs/verbs.h"
#include "agent/drill/drill_internal.h"
#include "agent/engine/engine.h"

static int drill_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *op = vici_node_str(body, "op"), *name = vici_node_str(body, "name");
        const char *reason = vici_node_str(body, "reason"), *dry = vici_node_str(body, "dry_run");
        char why[4096] = "";
        engine_who who;
        uint64_t id = 0;
        int r;

        verbs_who(v->config(v->userdata), req, &who);
        if (op && strcmp(op, "run") == 0 && name) {
                bool dry_run = dry && strcmp(dry, "yes") == 0;
                r = drill_start(v->drills, name, dry_run, false, &who, &id, why, sizeof(why));
                if (r < 0) {
                        control_request_set_error(req, "%s", why);
                        return r;
                }
                if (id)
                        vici_builder_add_fmt(b, "drill", "%llu", (unsigned long long) id);
                vici_builder_add_str(b, "result", why);
                return 0;
        }
        if (op && strcmp(op, "abort") == 0) {
                if (!reason || !reason[0]) {
                        control_request_set_error(req, "drill abort: a reason is required (--reason TEXT)");
                        return -EINVAL;
                }
                r = drill_abort(v->drills, reason, &who, why, sizeof(why));
                if (r < 0) {
                        control_request_set_error(req, "%s", why);
                        return r;
                }
                vici_builder_add_str(b, "result", why);
                return 0;
        }
        control_request_set_error(req, "drill: expected 'run NAME [--dry-run]' or 'abort --reason TEXT'");
        return -EINVAL;
}

static void add_list(const verbs_ctx *v, vici_builder *b) {
        const drill_set *s = v->config(v->userdata)->drill_set;

        vici_builder_begin_section(b, "drills");
        for (size_t i = 0; s && i < drill_set_size(s); i++) {
                const drill *d = drill_set_get(s, i);
                const drill_rec *last = NULL;
                for (size_t j = 0; j < drill_history(v->drills) && !last; j++)
                        if (strcmp(drill_history_get(v->drills, j)->name, d->name) == 0)
                                last = drill_history_get(v->drills, j);
                vici_builder_begin_section(b, d->name);
                vici_builder_add_str(b, "description", d->description);
                vici_builder_add_str(b, "class", d->fault_class);
                vici_builder_add_fmt(b, "weight", "%u", d->weight);
                vici_builder_add_str(b, "fault", d->fault.ops->kind);
                vici_builder_add_str(b, "expect_class", d->expect_class);
                vici_builder_add_str(b, "expect_runbook", d->expect_runbook ? d->expect_runbook : "");
                vici_builder_add_fmt(b, "detect_within_ms", "%llu", (unsigned long long) (d->detect_within_usec / 1000));
                vici_builder_add_fmt(b, "recover_within_ms", "%llu", (unsigned long long) (d->recover_within_usec / 1000));
                vici_builder_add_str(b, "auto_approve", d->auto_approve ? "yes" : "no");
                vici_builder_add_str(b, "file", d->file);
                if (last) {
                        vici_builder_add_fmt(b, "last_id", "%llu", (unsigned long long) last->id);
                        vici_builder_add_str(b, "last_phase", drill_phase_to_string(last->phase));
                        vici_builder_add_fmt(b, "last_started", "%llu", (unsigned long long) last->started_usec);
                }
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
}

static int drills_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *op = vici_node_str(body, "op");
        const drill_rec *r;
        uint64_t id = 0;

        if (vici_node_get(body, "id") && vici_node_u64(body, "id", &id) < 0) {
                control_request_set_error(req, "drills: expected a drill number");
                return -EINVAL;
        }
        vici_builder_add_str(b, "enabled", v->config(v->userdata)->drills.enabled ? "yes" : "no");
        vici_builder_add_str(b, "auto_approve", v->config(v->userdata)->drills.auto_approve ? "yes" : "no");
        if (!op || strcmp(op, "list") == 0) {
                add_list(v, b);
                return 0;
        }
        if (strcmp(op, "status") == 0) {
                const char *wname, *wuser;
                uint64_t wsince;
                char wwhy[512];
                if ((r = drill_active(v->drills))) {
                        vici_builder_begin_section(b, "active");
                        drill_rec_to_vici(r, b);
                        vici_builder_end_section(b);
                }
                if (drill_waiting(v->drills, &wname, &wuser, &wsince, wwhy, sizeof(wwhy))) {
                        vici_builder_begin_section(b, "waiting");
                        vici_builder_add_str(b, "drill", wname);
                        vici_builder_add_str(b, "requested_by", wuser);
                        vici_builder_add_fmt(b, "since", "%llu", (unsigned long long) wsince);
                        vici_builder_add_str(b, "why", wwhy);
                        vici_builder_end_section(b);
                }
                return 0;
        }
        if (strcmp(op, "report") != 0) {
                control_request_set_error(req, "drills: expected list, status or report");
                return -EINVAL;
        }
        if (id) {
                if (!(r = drill_history_find(v->drills, id))) {
                        control_request_set_error(req, "no drill %llu in the history", (unsigned long long) id);
                        return -ENOENT;
                }
                vici_builder_begin_section(b, "drill");
                drill_rec_to_vici(r, b);
                vici_builder_end_section(b);
                return 0;
        }
        vici_builder_begin_section(b, "history");
        for (size_t i = 0; i < drill_history(v->drills); i++) {
                char k[24];
                r = drill_history_get(v->drills, i);
                (void) snprintf(k, sizeof(k), "%llu", (unsigned long long) r->id);
                vici_builder_begin_section(b, k);
                drill_rec_to_vici(r, b);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        drill_scores_to_vici(v->drills, b);
        return 0;
}

int drill_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_DRILL, drill_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_DRILLS, drills_handler, (void *) v);
        return r;
}
