/* The `checks` verb: every configured check with its schedule, its reported status (after
 * hysteresis), the raw status of its last run and that run's finding — summary, facts and
 * evidence. Request: optional "name" to show one check. */
#include <errno.h>

#include "agent/checks/check_set.h"
#include "agent/verbs/verbs.h"

void checks_verb_add_check(vici_builder *b, check *c, bool with_detail) {
        const check_schedule *s = check_get_schedule(c);
        const check_state *st = check_get_state(c);
        const finding *f = check_last_finding(c);

        vici_builder_begin_section(b, check_name(c));
        vici_builder_add_str(b, "kind", check_kind(c));
        if (check_get_ops(c)->description)
                vici_builder_add_str(b, "description", check_get_ops(c)->description);
        vici_builder_add_str(b, "status", check_status_to_string(st->reported));
        vici_builder_add_fmt(b, "runs", "%llu", (unsigned long long) check_runs(c));
        if (with_detail) {
                vici_builder_add_fmt(b, "interval_ms", "%llu",
                                     (unsigned long long) (s->interval_usec / USEC_PER_MSEC));
                vici_builder_add_fmt(b, "timeout_ms", "%llu",
                                     (unsigned long long) (s->timeout_usec / USEC_PER_MSEC));
                vici_builder_add_fmt(b, "retries", "%u", s->retries);
                vici_builder_add_fmt(b, "rise", "%u", s->rise);
                vici_builder_add_fmt(b, "fall", "%u", s->fall);
                vici_builder_add_fmt(b, "flips", "%u", check_state_flips(st));
        }
        if (f) {
                vici_builder_add_str(b, "last", check_status_to_string(f->status));
                vici_builder_add_str(b, "summary", f->summary ? f->summary : "");
                vici_builder_add_fmt(b, "started_usec", "%llu", (unsigned long long) f->started_usec);
                vici_builder_add_fmt(b, "finished_usec", "%llu", (unsigned long long) f->finished_usec);
                if (with_detail) {
                        vici_builder_begin_section(b, "facts");
                        for (size_t i = 0; i < f->n_facts; i++)
                                vici_builder_add_str(b, f->facts[i].key, f->facts[i].value);
                        vici_builder_end_section(b);
                        vici_builder_begin_list(b, "evidence");
                        for (size_t i = 0; i < f->n_evidence; i++)
                                vici_builder_add_list_item(b, f->evidence[i]);
                        vici_builder_end_list(b);
                }
        }
        vici_builder_end_section(b);
}

static int checks_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        check_set *set = v->checks(v->userdata);
        const char *name = vici_node_str(control_request_body(req), "name");
        size_t n = check_set_size(set);

        if (name && !check_set_find(set, name)) {
                control_request_set_error(req, "no check named '%s'", name);
                return -ENOENT;
        }
        vici_builder_begin_section(b, "checks");
        for (size_t i = 0; i < n; i++) {
                check *c = check_set_get(set, i);
                if (!name || c == check_set_find(set, name))
                        checks_verb_add_check(b, c, true);
        }
        vici_builder_end_section(b);
        return 0;
}

int checks_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_CHECKS, checks_handler, (void *) v);
}
