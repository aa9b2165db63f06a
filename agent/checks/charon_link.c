/* See charon_link.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/charon_link.h"
#include "log.h"
#include "macro.h"
#include "now.h"
#include "vici.h"

static void on_event(vici_client *c, const char *event, const vici_node *msg, void *userdata) {
        charon_link *l = userdata;
        const char *fields[4] = {};
        char f_event[96], f_name[160];

        l->stats.last_event_usec = real_usec();
        charon_hub_emit_event(l->hub, event, msg);
        if (strcmp(event, "log") == 0) {
                /* charon's own log lines: counted here, classified by the log check later */
                l->stats.log++;
                log_debug("charon: %s", vici_node_str(msg, "msg") ?: "");
                return;
        }

        /* ike-updown / child-updown: a section named after the connection, "up" = yes when
         * the SA came up; absent when it went down. */
        const vici_node *sa = msg ? msg->child : NULL;
        while (sa && sa->type != VICI_NODE_SECTION)
                sa = sa->next;
        bool up = vici_node_str(msg, "up") != NULL;
        const char *name = sa && sa->name ? sa->name : "?";

        if (strcmp(event, "ike-updown") == 0)
                l->stats.ike_updown++;
        else if (strcmp(event, "child-updown") == 0)
                l->stats.child_updown++;
        (void) snprintf(l->stats.last_event, sizeof(l->stats.last_event), "%s %s %s", event, up ? "up" : "down", name);
        (void) snprintf(f_event, sizeof(f_event), "IKEHEAL_VICI_EVENT=%s", event);
        (void) snprintf(f_name, sizeof(f_name), "IKEHEAL_CONN=%s", name);
        fields[0] = f_event;
        fields[1] = f_name;
        log_fields(LOG_INFO, fields, "charon: %s %s (%s)", event, up ? "up" : "down", name);
}

static void on_state(vici_client *c, bool connected, int reason, void *userdata) {
        charon_link *l = userdata;

        /* the hub hears the first outcome too (charon absent at start is a verdict) */
        if (!charon_hub_state_since(l->hub) || connected != l->connected)
                charon_hub_emit_state(l->hub, connected, reason);
        if (connected == l->connected)
                return;
        l->connected = connected;
        if (connected) {
                l->stats.connects++;
                log_info("connected to charon at %s", l->socket);
        } else {
                l->stats.disconnects++;
                /* charon going away is itself a finding; the daemon check builds on this */
                log_warning_errno(reason, "lost connection to charon at %s", l->socket);
        }
        if (l->changed)
                l->changed(l->userdata);
}

/* The listeners now can or cannot wait for pushed events (charon_hub.h). */
static void on_demand(void *userdata) {
        charon_link *l = userdata;

        if (l->vici)
                (void) vici_client_defer_events(l->vici, charon_hub_events_deferrable(l->hub));
}

int charon_link_start(charon_link *l, ev_loop *e, const charon_link_params *p) {
        static const char *const events[] = { "ike-updown", "child-updown", "log" };
        int r;

        free(l->socket);
        l->socket = strdup(p->socket);
        if (!l->socket)
                return -ENOMEM;
        r = vici_client_new(&l->vici, e, p->socket, p->timeout_usec, p->reconnect_min_usec, p->reconnect_max_usec,
                            on_state, l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                r = vici_client_subscribe(l->vici, events[i], on_event, l);
                if (r < 0)
                        return r;
        }
        charon_hub_on_demand(l->hub, on_demand, l);
        on_demand(l);
        return vici_client_start(l->vici);
}

void charon_link_stop(charon_link *l) {
        l->vici = vici_client_free(l->vici);
        l->connected = false;
        free(l->socket);
        l->socket = NULL;
}
