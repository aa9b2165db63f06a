/* The `reload` verb: the same atomic reload as SIGHUP, with the outcome (and every
 * configuration error) returned to the operator who asked. */
#include <stdlib.h>

#include "agent/core/agent.h"
#include "agent/control/control.h"
#include "log.h"

static int reload_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        const control_peer *p = control_request_peer(req);
        char *err = NULL;
        int r;

        log_info("reload requested by uid %u (%s)", (unsigned) p->uid, p->user);
        r = agent_reload(a, &err);
        if (r < 0) {
                control_request_set_error(req, "%s", err ? err : "reload failed");
                free(err);
                return r;
        }
        /* a->config is the new one now; a moved control socket re-registered this verb */
        vici_builder_add_str(b, "config", a->config->path);
        if (a->config->warnings)
                vici_builder_add_str(b, "warnings", a->config->warnings);
        return 0;
}

int reload_verb_register(agent *a) {
        return control_server_register(a->control, PROTO_RELOAD, reload_handler, a);
}
