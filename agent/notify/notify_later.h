/* Damage found while the agent starts (a broken audit log kept aside, a state log reset) goes
 * to every webhook too. At that point the notifier may not exist yet: the message is kept and
 * sent on the event loop's first iteration, through the notifier found then. */
#pragma once

#include "ev.h"

#include "agent/notify/notifier.h"

/* Queue `text` as event `event` ([a-z_]+) to every webhook of the notifier at *where once the
 * loop `e` runs (`where` must outlive the loop's iterations; a NULL notifier then: nothing is
 * sent). Failures are logged. */
void notifier_send_later(notifier *const *where, ev_loop *e, const char *event, const char *text);
