/* The charon hub's delivery demand (agent/checks/charon_hub.h): pushed events may wait for the
 * next request only while no event listener needs them at once and one that asks charon
 * regularly is there; the link hears every change of that answer, also of a listener freed
 * from inside a dispatch. */
#include "agent/checks/charon_hub.h"
#include "tap.h"

static unsigned changes;
static charon_listener *freed_in_dispatch;

static void on_demand(void *userdata) {
        changes++;
}

static void on_event(const char *event, const vici_node *msg, void *userdata) {
}

static void on_state(bool connected, int reason, void *userdata) {
}

static void on_event_free(const char *event, const vici_node *msg, void *userdata) {
        freed_in_dispatch = charon_listener_free(freed_in_dispatch);
}

int main(void) {
        charon_hub *hub = NULL;
        charon_listener *asks = NULL, *later = NULL, *now = NULL, *state_only = NULL;

        CHECK(charon_hub_new(&hub) == 0, "hub");
        charon_hub_on_demand(hub, on_demand, NULL);
        CHECK(!charon_hub_events_deferrable(hub), "no listener: not deferrable (nobody would read)");

        CHECK(charon_hub_listen(hub, "ike-updown", on_event, NULL, NULL, &later) == 0, "a listener");
        charon_listener_set_delivery(later, CHARON_DELIVER_LATER);
        CHECK(!charon_hub_events_deferrable(hub) && changes == 0,
              "one that may wait, but nobody asks regularly: not deferrable");

        CHECK(charon_hub_listen(hub, "log", on_event, NULL, NULL, &asks) == 0, "a second listener");
        CHECK(!charon_hub_events_deferrable(hub), "added: it needs events at once until it says otherwise");
        charon_listener_set_delivery(asks, CHARON_DELIVER_LATER_ASKS);
        CHECK(charon_hub_events_deferrable(hub) && changes == 1,
              "one asks regularly, none needs them at once: deferrable, the link told once (%u)", changes);

        CHECK(charon_hub_listen(hub, NULL, NULL, on_state, NULL, &state_only) == 0 &&
                      charon_hub_events_deferrable(hub) && changes == 1,
              "a listener of the connection's state only changes nothing");

        CHECK(charon_hub_listen(hub, "log", on_event, NULL, NULL, &now) == 0 && !charon_hub_events_deferrable(hub) &&
                      changes == 2,
              "one that needs events at once: not deferrable, told");
        now = charon_listener_free(now);
        CHECK(charon_hub_events_deferrable(hub) && changes == 3, "it went: deferrable again, told");

        /* freed while the hub dispatches: the answer changes at once */
        CHECK(charon_hub_listen(hub, "log", on_event_free, NULL, NULL, &freed_in_dispatch) == 0 && changes == 4,
              "a listener that frees itself when called");
        charon_hub_emit_event(hub, "log", NULL);
        CHECK(!freed_in_dispatch && charon_hub_events_deferrable(hub) && changes == 5,
              "freed inside the dispatch: deferrable again, told (%u)", changes);

        asks = charon_listener_free(asks);
        CHECK(!charon_hub_events_deferrable(hub) && changes == 6, "the one that asks went: not deferrable");

        later = charon_listener_free(later);
        state_only = charon_listener_free(state_only);
        hub = charon_hub_free(hub);
        return TAP_END();
}
