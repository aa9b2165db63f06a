/* See check_debounce.h. */
#include "agent/checks/check_debounce.h"

static int on_due(ev_source *src, uint64_t usec, void *userdata) {
        check_debounce *d = userdata;

        d->timer = ev_source_disable_unref(d->timer);
        (void) check_trigger(d->check);
        return 0;
}

void check_debounce_kick(check_debounce *d, ev_loop *e, check *c, uint64_t delay_usec) {
        if (d->timer)
                return;
        d->check = c;
        (void) ev_add_time_relative(e, &d->timer, CLOCK_MONOTONIC, delay_usec, USEC_PER_MSEC, on_due, d);
}

void check_debounce_done(check_debounce *d) {
        d->timer = ev_source_disable_unref(d->timer);
}
