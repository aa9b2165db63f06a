/* The `incidents` verb: incidents newest first — by default the active ones and the resolved
 * ones still remembered; request "active=yes" for active only, "id=N" for one with its
 * evidence. */
#include <errno.h>
#include <string.h>

#include "agent/triage/incident.h"
#include "agent/verbs/verbs.h"

static int incidents_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *active = vici_node_str(body, "active");
        bool only_active = active && strcmp(active, "yes") == 0;
        uint64_t id = 0;

        if (vici_node_get(body, "id") && (vici_node_u64(body, "id", &id) < 0 || id == 0)) {
                control_request_set_error(req, "id: expected an incident number");
                return -EINVAL;
        }
        if (id && !incident_store_find(v->incidents, id)) {
                control_request_set_error(req, "no incident %llu", (unsigned long long) id);
                return -ENOENT;
        }
        vici_builder_add_fmt(b, "active", "%zu", incident_store_active(v->incidents));
        if (id)
                vici_builder_add_str(b, "detail", "yes");
        vici_builder_begin_section(b, "incidents");
        for (size_t i = 0; i < incident_store_size(v->incidents); i++) {
                const incident *inc = incident_store_get(v->incidents, i);
                if (id && inc->id != id)
                        continue;
                if (only_active && inc->state == INCIDENT_RESOLVED)
                        continue;
                incident_to_vici(inc, b, true);
        }
        vici_builder_end_section(b);
        return 0;
}

int incidents_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_INCIDENTS, incidents_handler, (void *) v);
}
