/* See alert.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/core/alert.h"
#include "agent/notify/notifier.h"
#include "log.h"

typedef struct alert {
        agent *a;
        char *event, *text;
} alert;

static void alert_free(void *userdata) {
        alert *al = userdata;

        free(al->event);
        free(al->text);
        free(al);
}

static int on_defer(sd_event_source *s, void *userdata) {
        alert *al = userdata;
        notify_message m = { .event = al->event, .text = al->text };

        if (al->a->notifier)
                (void) notifier_send(al->a->notifier, NULL, &m);
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

void alert_send_later(agent *a, const char *event, const char *text) {
        sd_event_source *s = NULL;
        alert *al = calloc(1, sizeof(*al));

        if (!al || !(al->event = strdup(event)) || !(al->text = strdup(text))) {
                if (al)
                        alert_free(al);
                log_warning("out of memory: the webhook for '%s' is not sent, ignoring", event);
                return;
        }
        al->a = a;
        /* floating: the loop owns it and frees the message with it */
        if (sd_event_add_defer(a->event, &s, on_defer, al) < 0) {
                alert_free(al);
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        if (sd_event_source_set_destroy_callback(s, alert_free) < 0) {
                sd_event_source_disable_unref(s);
                alert_free(al);
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        if (sd_event_source_set_floating(s, 1) < 0) {
                sd_event_source_disable_unref(s); /* frees al */
                log_warning("cannot queue the webhook for '%s', ignoring", event);
                return;
        }
        sd_event_source_unref(s);
}
