/* An sd-bus connection driven by the agent's event loop (common/ev.h), as sd_bus_attach_event()
 * drives one on sd-event: one io source on the bus's descriptor, watching what the bus wants
 * (sd_bus_get_events), and one CLOCK_MONOTONIC timer at the bus's next deadline
 * (sd_bus_get_timeout: a method call's timeout, or "now" while read messages wait to be
 * dispatched), both brought up to date before every wait. When either fires, the bus processes
 * what is there — replies, signals, the connection's own handshake — calling the handlers
 * registered with its slots. A bus that fails (the broker went away, a processing error) is
 * left alone: its sources are turned off and bus_ev_error() says why; calls on it fail from
 * then on as sd-bus answers on a closed bus.
 *
 * Does not log. Errors are -errno. */
#pragma once

#include <systemd/sd-bus.h>

#include "ev.h"
#include "macro.h"

typedef struct bus_ev bus_ev;

/* Attach BUS (connected or connecting, one descriptor for both directions as the system bus
 * has) to E. The bus is the caller's and must outlive the returned handle; the handle must not
 * be freed from within one of the bus's handlers. */
int bus_ev_new(bus_ev **ret, ev_loop *e, sd_bus *bus);
/* Detach: no processing after this. */
bus_ev *bus_ev_free(bus_ev *b);
DEFINE_FREE_FUNC(bus_ev, bus_ev_free);

/* 0 while the bus is driven; the -errno that stopped it otherwise. */
int bus_ev_error(const bus_ev *b);
