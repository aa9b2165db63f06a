/* A check's push sources (inotify on a tree, charon's up/down events, nftables changes) run the
 * check once, a short quiet delay after the first event of a burst: a tree replaced file by
 * file, or a storm of SA events, is one run, not hundreds. Embedded in a check's state. */
#pragma once

#include <stdint.h>

#include "agent/checks/check.h"
#include "ev.h"

typedef struct check_debounce {
        check *check;
        ev_source *timer; /* armed: a run is due */
} check_debounce;

/* An event came: run c delay_usec from now, unless a run is already due. A timer that cannot
 * be armed leaves the check to its interval. */
void check_debounce_kick(check_debounce *d, ev_loop *e, check *c, uint64_t delay_usec);
void check_debounce_done(check_debounce *d);
