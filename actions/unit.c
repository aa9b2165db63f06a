/* The `unit` action: restart (or start, stop) the systemd unit running charon — or another one
 * named by `unit` — through the system bus, and wait for systemd's answer: the job's result
 * (JobRemoved: "done" or why not), asynchronously on the loop. A unit that systemd gave up on
 * (start-limit-hit after a crash loop) is reset first (ResetFailed), so a restart means one.
 * Restarting or stopping drops every established SA: the step is disruptive, and the policy's
 * blast radius applies. Verify: the unit's ActiveState is "active" (asked again every 200 ms
 * while it is "activating"). No revert: a restart has nothing to undo. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/unit_job.h"

enum { P_UNIT, P_OPERATION, P_RESET_FAILED, _P_MAX };

static const action_param_spec params[] = {
        [P_UNIT] = { "unit", AP_STRING, false },
        [P_OPERATION] = { "operation", AP_STRING, false },
        [P_RESET_FAILED] = { "reset_failed", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

typedef struct unit_state {
        action_call *call;
        sd_bus *bus;
        unit_job *job;
        sd_bus_slot *call_slot;
        sd_event_source *retry;
} unit_state;

static const char *unit_of(const action_params *p, const action_env *env) {
        return p->v[P_UNIT].set ? p->v[P_UNIT].str : env->charon_unit ? env->charon_unit : "strongswan.service";
}

static const char *operation_of(const action_params *p) {
        return p->v[P_OPERATION].set ? p->v[P_OPERATION].str : "restart";
}

static const char *method_of(const char *op) {
        return strcmp(op, "start") == 0 ? "StartUnit" : strcmp(op, "stop") == 0 ? "StopUnit" : "RestartUnit";
}

static int unit_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        const char *op = operation_of(p), *u = unit_of(p, env);
        if (strcmp(op, "restart") != 0 && strcmp(op, "start") != 0 && strcmp(op, "stop") != 0) {
                (void) snprintf(why, n, "operation: expected restart, start or stop, got '%s'", op);
                return -EINVAL;
        }
        if (strlen(u) > 200 || !strchr(u, '.') || strpbrk(u, "/ \t\n")) {
                (void) snprintf(why, n, "unit: '%s' is not a unit name", u);
                return -EINVAL;
        }
        return 0;
}

static int unit_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        if (strcmp(unit_of(p, env), "none") == 0)
                return action_plan_add(out, "  systemd: nothing (charon runs under no unit here: charon.unit is none)");
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  systemd: %s must be active", unit_of(p, env));
        if (strcmp(operation_of(p), "start") != 0)
                out->disruptive = true;
        return action_plan_add(out, "  systemd (D-Bus): %s%s %s, wait for the job's result%s",
                               !p->v[P_RESET_FAILED].set || p->v[P_RESET_FAILED].num ? "ResetFailed, then " : "",
                               method_of(operation_of(p)), unit_of(p, env),
                               out->disruptive ? "; every established SA drops" : "");
}

static void finish(unit_state *s, int r) {
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        s->job = unit_job_free(s->job);
        s->retry = sd_event_source_disable_unref(s->retry);
        action_call_done(s->call, r);
}

static int on_reset(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_state *s = userdata;
        const action_params *p = action_call_params(s->call);
        int r;

        /* "not failed" / "not loaded" answers are fine: the job below says what matters */
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if ((r = unit_job_run(s->job, method_of(operation_of(p)), unit_of(p, action_call_env(s->call)))) < 0)
                finish(s, r);
        return 0;
}

static int on_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        unit_state *s = userdata;
        int r;
        s->retry = sd_event_source_disable_unref(s->retry);
        if ((r = unit_job_active_state(s->job, unit_of(action_call_params(s->call), action_call_env(s->call)))) < 0)
                finish(s, r);
        return 0;
}

/* verify: the unit's ActiveState, asked again while it is on its way */
static void on_state(unit_job *j, int r, const char *state, void *userdata) {
        unit_state *s = userdata;

        if (r < 0) {
                action_call_set_detail(s->call, "%s", state);
                finish(s, r);
                return;
        }
        if (strcmp(state, "activating") == 0 || strcmp(state, "reloading") == 0) {
                if (sd_event_add_time_relative(action_call_env(s->call)->event, &s->retry, CLOCK_MONOTONIC,
                                               200 * USEC_PER_MSEC, 0, on_retry, s) < 0)
                        finish(s, -ENOMEM);
                return;
        }
        action_call_set_detail(s->call, "%s is %s", unit_of(action_call_params(s->call), action_call_env(s->call)), state);
        finish(s, strcmp(state, "active") == 0 ? 0 : -EPROTO);
}

static void on_job(unit_job *j, int r, const char *detail, void *userdata) {
        unit_state *s = userdata;
        action_call_set_detail(s->call, "%s", detail);
        finish(s, r);
}

static int unit_start(void *state, action_call *call, action_op op) {
        unit_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        int r;

        *s = (unit_state){ .call = call, .bus = env->bus };
        if (strcmp(unit_of(p, env), "none") == 0) {
                action_call_set_detail(call, "charon runs under no systemd unit here (charon.unit: none)");
                return -ENOENT;
        }
        if (!s->bus) {
                action_call_set_detail(call, "no system bus here");
                return -ENOTCONN;
        }
        r = unit_job_new(&s->job, s->bus, op == ACTION_VERIFY ? on_state : on_job, s);
        if (r < 0)
                return r;
        if (op == ACTION_VERIFY)
                return unit_job_active_state(s->job, unit_of(p, env));
        if (!p->v[P_RESET_FAILED].set || p->v[P_RESET_FAILED].num)
                return sd_bus_call_method_async(s->bus, &s->call_slot, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit",
                                                on_reset, s, "s", unit_of(p, env));
        return unit_job_run(s->job, method_of(operation_of(p)), unit_of(p, env));
}

static void unit_cancel(void *state) {
        unit_state *s = state;
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        s->job = unit_job_free(s->job);
        s->retry = sd_event_source_disable_unref(s->retry);
}

static bool unit_supports(const action_params *p, action_op op) {
        return op == ACTION_VERIFY;
}

const action_ops action_unit = {
        .kind = "unit",
        .description = "restart, start or stop a systemd unit (charon's by default) and wait for the result",
        .params = params,
        .effects = true,
        .state_size = sizeof(unit_state),
        .validate = unit_validate,
        .plan = unit_plan,
        .start = unit_start,
        .cancel = unit_cancel,
        .done = unit_cancel,
        .supports = unit_supports,
};
