/* Damage found while the agent starts (a broken audit log kept aside, a state log reset) goes
 * to every webhook too. At that point the notifier does not exist yet: the message is kept and
 * sent on the event loop's first iteration. */
#pragma once

#include "agent/core/agent.h"

/* Queue `text` as event `event` ([a-z_]+) to every webhook once the loop runs. */
void alert_send_later(agent *a, const char *event, const char *text);
