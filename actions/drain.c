/* The `drain` action: take the gateway out of its load balancers' pool while a runbook heals
 * it — GET /healthz answers 503 with the reason — and put it back on revert. A temporary
 * measure like the others: a step of this kind must carry `expires_in`; the engine records
 * the revert before applying and reverts on expiry, also after an agent restart. The drain is
 * <state_dir>/drain (common/drain_file.h) with owner "runbook": the revert removes only a
 * drain a runbook made, never an operator's. Verify: the file is there, a runbook's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "drain_file.h"
#include "now.h"

enum { P_REASON, _P_MAX };

static const action_param_spec params[] = {
        [P_REASON] = { "reason", AP_STRING, true },
        [_P_MAX] = { 0 },
};

static int drain_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        switch (op) {
        case ACTION_APPLY:
                return action_plan_add(out, "  drain: %s/" DRAIN_FILE_NAME " written; GET /healthz answers 503 (%s)",
                                       env->state_dir, p->v[P_REASON].str);
        case ACTION_VERIFY:
                return action_plan_add(out, "  drain: the gateway is drained by a runbook");
        default:
                return action_plan_add(out, "  drain: %s/" DRAIN_FILE_NAME " removed if a runbook made it; /healthz "
                                       "answers 200 again unless something else holds it", env->state_dir);
        }
}

static int drain_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        drain_state s = { .owner = "runbook" };
        int r;

        if (!env->state_dir) {
                action_call_set_detail(call, "no state directory");
                action_call_done(call, -EINVAL);
                return 0;
        }
        switch (op) {
        case ACTION_APPLY:
                s.since_usec = real_usec();
                (void) snprintf(s.reason, sizeof(s.reason), "%s", p->v[P_REASON].str);
                r = drain_file_write(env->state_dir, &s);
                action_call_set_detail(call, r < 0 ? "cannot write the drain: %s" : "drained: %s",
                                       r < 0 ? strerror(-r) : s.reason);
                break;
        case ACTION_VERIFY:
                r = drain_file_read(env->state_dir, &s);
                if (r >= 0 && strcmp(s.owner, "runbook") != 0)
                        r = -EBUSY;
                action_call_set_detail(call, r == -EBUSY ? "drained by an operator, not by a runbook"
                                             : r < 0   ? "not drained: %s"
                                                       : "drained by a runbook",
                                       strerror(-r));
                break;
        default:
                r = drain_file_remove(env->state_dir, "runbook");
                if (r == -EBUSY) {
                        /* an operator's drain is theirs to end; ours is gone either way */
                        action_call_set_detail(call, "an operator's drain is in force: left in place");
                        r = 0;
                } else
                        action_call_set_detail(call, r < 0 ? "cannot remove the drain: %s" : "undrained",
                                               strerror(-r));
                break;
        }
        action_call_done(call, r);
        return 0;
}

static bool drain_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_drain = {
        .kind = "drain",
        .description = "take the gateway out of the load balancers' pool (GET /healthz answers 503) until reverted",
        .params = params,
        .effects = true,
        .measure = true,
        .plan = drain_plan,
        .start = drain_start,
        .supports = drain_supports,
};
