/* The `notify` action: hand a message to the agent's notifier (the journal and the webhooks).
 * No effects on the system, so observe runbooks may use it; nothing to verify or revert. */
#include "actions/action.h"
#include "actions/registry.h"

enum { P_MESSAGE, P_EVENT };

static const action_param_spec params[] = {
        [P_MESSAGE] = { "message", AP_STRING, true },
        [P_EVENT] = { "event", AP_STRING, false },
        { 0 },
};

static int notify_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        const action_value *ev = action_param(p, "event");
        return action_plan_add(out, "  notify (%s): %s", ev ? ev->str : "notify", action_param(p, "message")->str);
}

static int notify_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        const action_value *ev = action_param(p, "event");

        if (env->notify)
                env->notify(env->notify_userdata, ev ? ev->str : "notify", action_param(p, "message")->str);
        action_call_done(call, 0);
        return 0;
}

const action_ops action_notify = {
        .kind = "notify",
        .description = "send a notification (journal and webhooks)",
        .params = params,
        .plan = notify_plan,
        .start = notify_start,
};
