/* The state logs' vetting and reporting are agent/notify/state_logs.h; this header stays for
 * the stores that include it, and brings the agent they still read. */
#pragma once

#include "agent/core/agent.h"
#include "agent/notify/state_logs.h"
