/* Temporary measures on the control socket: `measures [all]` (in force, with the time left;
 * `all` adds the reverted ones remembered), `extend ID DURATION` (approvers only, within the
 * policy's maximum life for that kind) and `revert ID` (end one now). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/registry.h"
#include "atomic_file.h"

#include "agent/engine/engine.h"
#include "agent/verbs/verbs.h"
#include "now.h"
#include "duration.h"

static int measures_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *all = vici_node_str(control_request_body(req), "all");
        uint64_t now = real_usec();
        size_t live = 0;

        vici_builder_begin_section(b, "measures");
        for (size_t i = 0; i < engine_measures(v->engine); i++) {
                const measure *m = engine_measure_get(v->engine, i);
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
        const verbs_ctx *v = userdata;
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
        verbs_who(v->config(v->userdata), req, &who);
        r = extend ? engine_measure_extend(v->engine, id, by, &who, why, sizeof(why))
                   : engine_measure_revert(v->engine, id, &who, why, sizeof(why));
        if (r < 0) {
                control_request_set_error(req, "%s", why);
                return r;
        }
        vici_builder_add_str(b, "result", why);
        return 0;
}

/* `psk show ID`: the secret of a temporary PSK fallback, for an approver who has to give it to
 * a peer; every request (given or refused) is on the audit trail. */
static int psk_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        _cleanup_(freep) char *path = NULL, *secret = NULL;
        const measure *m = NULL;
        engine_who who;
        size_t len = 0;
        uint64_t id;

        if (vici_node_u64(body, "id", &id) < 0) {
                control_request_set_error(req, "psk: expected a measure number");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        if (!who.approver) {
                audit_trail_add(v->audit, "psk_refused", "measure %llu: uid %u (%s) is not an approver", (unsigned long long) id, who.uid,
                            who.user);
                control_request_set_error(req, "uid %u (%s) is not an approver", who.uid, who.user);
                return -EPERM;
        }
        for (size_t i = 0; i < engine_measures(v->engine); i++)
                if (engine_measure_get(v->engine, i)->id == id)
                        m = engine_measure_get(v->engine, i);
        if (!m || strcmp(m->kind, "psk_temp") != 0 || !measure_state_live(m->state)) {
                control_request_set_error(req, "no PSK fallback in force as measure %llu", (unsigned long long) id);
                return -ENOENT;
        }
        const action_value *tag = action_param(&m->params, "tag");
        path = psk_secret_path(v->config(v->userdata)->state_dir, tag ? tag->str : "ikeheal-psk");
        if (!path || atomic_file_read(path, 256, &secret, &len) < 0) {
                control_request_set_error(req, "the secret of measure %llu is not available", (unsigned long long) id);
                return -ENOENT;
        }
        audit_trail_add(v->audit, "psk_show", "measure %llu (PSK fallback) secret shown to uid %u (%s)", (unsigned long long) id, who.uid,
                    who.user);
        vici_builder_add_str(b, "result", secret);
        explicit_bzero(secret, len);
        return 0;
}

int measures_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_MEASURES, measures_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_EXTEND, extend_revert_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_REVERT, extend_revert_handler, (void *) v);
        if (r >= 0)
                r = control_server_register(s, PROTO_PSK, psk_handler, (void *) v);
        return r;
}
