/* See notify_later.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/notify/notify_later.h"
#include "log.h"

typedef struct later {
        notifier *const *where;
        char *event, *text;
} later;

static void later_free(void *userdata) {
        later *l = userdata;

        free(l->event);
        free(l->text);
        free(l);
}

static int on_defer(ev_source *s, void *userdata) {
        later *l = userdata;
        notify_message m = { .event = l->event, .text = l->text };

        if (*l->where)
                (void) notifier_send(*l->where, NULL, &m);
        /* sent: the loop lets go of the source, which is freed with the message once this
         * callback returns */
        (void) ev_source_set_floating(s, false);
        return 0;
}

void notifier_send_later(notifier *const *where, ev_loop *e, const char *event, const char *text) {
        ev_source *s = NULL;
        later *l = calloc(1, sizeof(*l));

        if (!l || !(l->event = strdup(event)) || !(l->text = strdup(text))) {
                if (l)
                        later_free(l);
                log_warning("out of memory: the webhook for '%s' is not sent, ignoring", event);
                return;
        }
        l->where = where;
        /* floating: the loop owns it until it has run, and frees the message with it */
        if (ev_add_defer(e, &s, on_defer, l) < 0) {
                later_free(l);
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        if (ev_source_set_destroy_callback(s, later_free) < 0) {
                ev_source_disable_unref(s);
                later_free(l);
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        if (ev_source_set_floating(s, 1) < 0) {
                ev_source_disable_unref(s); /* frees l */
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        ev_source_unref(s);
}
