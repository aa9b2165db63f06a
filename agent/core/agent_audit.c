/* The agent's audit trail and state logs at start-up, and the record helper the agent's parts
 * share: the trail (agent/notify/audit_trail.h) opens first, so that a reset of a damaged state
 * log (agent/notify/state_logs.h) is audited. */
#include <stdarg.h>

#include "agent/core/agent.h"
#include "agent/notify/audit_trail.h"
#include "agent/notify/state_logs.h"

int agent_audit_open(agent *a) {
        const ikeheal_config *c = a->config;
        int r;

        r = audit_trail_open(&a->audit, a->event, &a->notifier,
                             &(audit_trail_params){ .state_dir = c->state_dir, .key_file = c->audit_key_file,
                                                    .rotate_kib = c->audit_rotate_kib, .keep = c->audit_keep });
        if (r < 0)
                return r;
        /* the state logs next, while nothing has read them */
        return state_logs_vet(c->state_dir, c->reset_state, a->audit, &a->notifier, a->event);
}

void agent_audit(agent *a, const char *kind, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        audit_trail_addv(a->audit, kind, fmt, ap);
        va_end(ap);
}
