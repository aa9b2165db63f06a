/* The `reload` verb: the same atomic reload as SIGHUP, with the outcome (and every
 * configuration error) returned to the operator who asked. */
#include <stdlib.h>

#include "agent/verbs/verbs.h"
#include "log.h"

static int reload_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const control_peer *p = control_request_peer(req);
        const ikeheal_config *c;
        char *err = NULL;
        int r;

        log_info("reload requested by uid %u (%s)", (unsigned) p->uid, p->user);
        r = v->reload(v->userdata, &err);
        if (r < 0) {
                control_request_set_error(req, "%s", err ? err : "reload failed");
                free(err);
                return r;
        }
        /* the new configuration now; a moved control socket registered this verb anew */
        c = v->config(v->userdata);
        vici_builder_add_str(b, "config", c->path);
        if (c->warnings)
                vici_builder_add_str(b, "warnings", c->warnings);
        return 0;
}

int reload_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_RELOAD, reload_handler, (void *) v);
}
