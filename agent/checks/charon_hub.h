/* The charon hub: one VICI connection, many listeners. The agent owns the VICI client and
 * subscribes once to charon's pushed events (ike-updown, child-updown, log …); the hub fans
 * them out, with the connection's state changes, to whatever checks want them. This is how a
 * check reacts to an event instead of waiting for its interval: a listener calls
 * check_trigger() on its check.
 *
 * Listeners may be added and removed at any time, also from inside a callback (a removed
 * listener is not called again, even later in the same dispatch). The hub outlives reloads;
 * the VICI client behind it may change. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "vici_msg.h"

typedef struct charon_hub charon_hub;
typedef struct charon_listener charon_listener;

/* A pushed event: `event` is charon's name ("log", "ike-updown", …), msg its message (valid
 * during the call only). */
typedef void (*charon_event_cb)(const char *event, const vici_node *msg, void *userdata);
/* The VICI connection to charon came up (reason 0) or went away (reason <0, as in vici.h:
 * -ECONNRESET for EOF, -ENOENT/-ECONNREFUSED when nobody listens). */
typedef void (*charon_state_cb)(bool connected, int reason, void *userdata);

int charon_hub_new(charon_hub **ret);
/* Frees the listeners still attached (their owners must not use them afterwards). */
charon_hub *charon_hub_free(charon_hub *h);
DEFINE_FREE_FUNC(charon_hub, charon_hub_free);

/* Listen to `event` (NULL: every event) and/or to state changes (either callback may be NULL).
 * The handle is freed with charon_listener_free(). */
int charon_hub_listen(charon_hub *h, const char *event, charon_event_cb ecb, charon_state_cb scb,
                      void *userdata, charon_listener **ret);
charon_listener *charon_listener_free(charon_listener *l);
DEFINE_FREE_FUNC(charon_listener, charon_listener_free);
/* How soon a listener needs its events. charon answers a request only after every event it
 * sent before it, and a closed connection is seen at once, so events may wait in the socket
 * until the next request. While no listener needs them at once and one of them asks charon
 * something regularly, the link leaves pushed events unread until then instead of waking the
 * loop for each. */
typedef enum charon_delivery {
        CHARON_DELIVER_NOW,        /* the default: as they come */
        CHARON_DELIVER_LATER,      /* may wait for anyone's next request */
        CHARON_DELIVER_LATER_ASKS, /* may wait, and the owner asks charon regularly (a heartbeat) */
} charon_delivery;
void charon_listener_set_delivery(charon_listener *l, charon_delivery d);

/* For the VICI client's owner (the agent, or a test tool): */
/* True when no event listener needs its events at once and one of them asks regularly. */
bool charon_hub_events_deferrable(const charon_hub *h);
/* cb runs whenever charon_hub_events_deferrable() changes (one callback; NULL: none). */
void charon_hub_on_demand(charon_hub *h, void (*cb)(void *userdata), void *userdata);
void charon_hub_emit_event(charon_hub *h, const char *event, const vici_node *msg);
void charon_hub_emit_state(charon_hub *h, bool connected, int reason);
bool charon_hub_connected(const charon_hub *h);
/* When the last state change happened (CLOCK_MONOTONIC µs; 0: never) and its reason. */
uint64_t charon_hub_state_since(const charon_hub *h);
int charon_hub_last_reason(const charon_hub *h);
