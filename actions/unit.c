/* The `unit` action: restart (or start, stop) the systemd unit running charon — or another one
 * named by `unit` — through the system bus, and wait for systemd's answer: the job's result
 * (JobRemoved: "done" or why not), asynchronously on the loop. A unit that systemd gave up on
 * (start-limit-hit) is reset first (ResetFailed), so a restart means one.
 *
 * With `stop_timeout` a restart is a stop bounded by that time, then a start: a hung process
 * may never react to its stop signal, and systemd would wait out the unit's own
 * TimeoutStopSec (90 s by default) before it kills it. When the stop job has not finished in
 * time, every process of the unit gets SIGKILL (KillUnit), the stop job completes, and the
 * unit is started.
 *
 * Restarting or stopping drops every established SA: the step is disruptive, and the policy's
 * blast radius applies. Verify: the unit's ActiveState is "active" (asked again every 200 ms
 * while it is "activating"), and, for charon's own unit, that charon answers a VICI request —
 * an active unit whose charon answers nothing is not healed. No revert: a restart has nothing
 * to undo. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/unit_job.h"
#include "duration.h"
#include "now.h"
#include "sysbus.h"
#include "vici.h"

enum { P_UNIT, P_OPERATION, P_RESET_FAILED, P_STOP_TIMEOUT, _P_MAX };

static const action_param_spec params[] = {
        [P_UNIT] = { "unit", AP_STRING, false },
        [P_OPERATION] = { "operation", AP_STRING, false },
        [P_RESET_FAILED] = { "reset_failed", AP_BOOL, false },
        [P_STOP_TIMEOUT] = { "stop_timeout", AP_DURATION, false, 100 * USEC_PER_MSEC, 10 * 60 * USEC_PER_SEC },
        [_P_MAX] = { 0 },
};

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

typedef enum unit_phase {
        PH_JOB,   /* the one job of the operation (or, bounded, the stop) */
        PH_START, /* bounded restart: the start after the stop */
        PH_VICI,  /* verify: the unit is active, charon must answer */
} unit_phase;

typedef struct unit_state {
        action_call *call;
        const action_env *env;
        sd_bus *bus;
        unit_job *job;
        sd_bus_slot *call_slot, *kill_slot;
        ev_source *retry, *stop_timer;
        unit_phase phase;
        bool killed;          /* the bounded stop ran out: SIGKILL sent */
        bool vici_asked;      /* verify: a VICI request is outstanding */
        uint64_t stop_began;  /* CLOCK_MONOTONIC µs */
} unit_state;

static const char *unit_of(const action_params *p, const action_env *env) {
        return p->v[P_UNIT].set ? p->v[P_UNIT].str : env->charon_unit ? env->charon_unit : "strongswan.service";
}

static const char *operation_of(const action_params *p) {
        return p->v[P_OPERATION].set ? p->v[P_OPERATION].str : "restart";
}

/* A restart bounded by stop_timeout: stop, SIGKILL if it takes too long, start. */
static bool bounded(const action_params *p) {
        return p->v[P_STOP_TIMEOUT].set && strcmp(operation_of(p), "restart") == 0;
}

/* Is the unit charon's (so that its health is an answer over VICI)? */
static bool is_charon(const action_params *p, const action_env *env) {
        return !p->v[P_UNIT].set || (env->charon_unit && strcmp(p->v[P_UNIT].str, env->charon_unit) == 0);
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
                return action_plan_add(out, "  systemd: %s must be active%s", unit_of(p, env),
                                       is_charon(p, env) ? ", and charon must answer a VICI request" : "");
        if (strcmp(operation_of(p), "start") != 0)
                out->disruptive = true;
        if (bounded(p)) {
                char d[32];
                return action_plan_add(out, "  systemd (D-Bus): %sStopUnit %s; if not stopped within %s, KillUnit "
                                       "SIGKILL; then StartUnit, wait for the job's result; every established SA drops",
                                       !p->v[P_RESET_FAILED].set || p->v[P_RESET_FAILED].num ? "ResetFailed, then " : "",
                                       unit_of(p, env), duration_format(p->v[P_STOP_TIMEOUT].num, d, sizeof(d)));
        }
        return action_plan_add(out, "  systemd (D-Bus): %s%s %s, wait for the job's result%s",
                               !p->v[P_RESET_FAILED].set || p->v[P_RESET_FAILED].num ? "ResetFailed, then " : "",
                               method_of(operation_of(p)), unit_of(p, env),
                               out->disruptive ? "; every established SA drops" : "");
}

static void unit_cancel(void *state) {
        unit_state *s = state;
        const action_env *env = s->env;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        s->kill_slot = sd_bus_slot_unref(s->kill_slot);
        s->job = unit_job_free(s->job);
        s->bus = sd_bus_unref(s->bus);
        s->retry = ev_source_disable_unref(s->retry);
        s->stop_timer = ev_source_disable_unref(s->stop_timer);
        if (s->vici_asked && env && env->vici)
                vici_client_forget(env->vici, s);
        s->vici_asked = false;
}

static void finish(unit_state *s, int r) {
        unit_cancel(s);
        action_call_done(s->call, r);
}

static const char *call_unit(unit_state *s) {
        return unit_of(action_call_params(s->call), action_call_env(s->call));
}

/* ---- apply ---- */

static int on_kill(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_state *s = userdata;
        /* an error here (nothing left to kill) is fine: the stop job's result says the rest */
        s->kill_slot = sd_bus_slot_unref(s->kill_slot);
        return 0;
}

/* The bounded stop ran out: SIGKILL every process of the unit; the stop job then completes. */
static int on_stop_timeout(ev_source *src, uint64_t usec, void *userdata) {
        unit_state *s = userdata;
        int r;

        s->stop_timer = ev_source_disable_unref(s->stop_timer);
        s->killed = true;
        r = sd_bus_call_method_async(s->bus, &s->kill_slot, SD_DEST, SD_PATH, SD_MANAGER, "KillUnit", on_kill, s, "ssi",
                                     call_unit(s), "all", (int32_t) SIGKILL);
        if (r < 0)
                finish(s, r);
        return 0;
}

static int begin_job(unit_state *s) {
        const action_params *p = action_call_params(s->call);
        int r;

        if (!bounded(p))
                return unit_job_run(s->job, method_of(operation_of(p)), call_unit(s));
        s->stop_began = mono_usec();
        r = unit_job_run(s->job, "StopUnit", call_unit(s));
        if (r >= 0)
                r = ev_add_time_relative(action_call_env(s->call)->event, &s->stop_timer, CLOCK_MONOTONIC,
                                               p->v[P_STOP_TIMEOUT].num, USEC_PER_MSEC, on_stop_timeout, s);
        return r;
}

static int on_reset(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_state *s = userdata;
        int r;

        /* "not failed" / "not loaded" answers are fine: the job below says what matters */
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if ((r = begin_job(s)) < 0)
                finish(s, r);
        return 0;
}

static void on_job(unit_job *j, int r, const char *detail, void *userdata) {
        unit_state *s = userdata;
        char d[32];

        if (s->phase == PH_JOB && bounded(action_call_params(s->call))) {
                s->stop_timer = ev_source_disable_unref(s->stop_timer);
                if (r < 0) {
                        action_call_set_detail(s->call, "stop: %s", detail);
                        finish(s, r);
                        return;
                }
                s->phase = PH_START;
                if ((r = unit_job_run(s->job, "StartUnit", call_unit(s))) < 0)
                        finish(s, r);
                return;
        }
        if (s->phase == PH_START)
                action_call_set_detail(s->call, "stopped in %s%s; start: %s",
                                       duration_format((mono_usec() - s->stop_began) / USEC_PER_MSEC * USEC_PER_MSEC, d, sizeof(d)),
                                       s->killed ? " (did not stop in time: SIGKILLed)" : "", detail);
        else
                action_call_set_detail(s->call, "%s", detail);
        finish(s, r);
}

/* ---- verify ---- */

static void verify_vici(unit_state *s);

static int on_retry(ev_source *src, uint64_t usec, void *userdata) {
        unit_state *s = userdata;
        int r;
        s->retry = ev_source_disable_unref(s->retry);
        if (s->phase == PH_VICI) {
                verify_vici(s);
                return 0;
        }
        if ((r = unit_job_active_state(s->job, call_unit(s))) < 0)
                finish(s, r);
        return 0;
}

static void retry_later(unit_state *s) {
        if (ev_add_time_relative(action_call_env(s->call)->event, &s->retry, CLOCK_MONOTONIC, 200 * USEC_PER_MSEC, 0,
                                       on_retry, s) < 0)
                finish(s, -ENOMEM);
}

static void on_version(vici_client *c, int error, const vici_node *reply, void *userdata) {
        unit_state *s = userdata;

        s->vici_asked = false;
        if (error < 0) {
                /* not connected again yet, or charon dropped it: ask again (the call's timeout
                 * bounds the wait) */
                retry_later(s);
                return;
        }
        action_call_set_detail(s->call, "%s is active and charon %s answers on VICI", call_unit(s),
                               vici_node_str(reply, "version") ?: "");
        finish(s, 0);
}

/* The unit is active: charon must answer, not just run. */
static void verify_vici(unit_state *s) {
        const action_env *env = action_call_env(s->call);

        s->phase = PH_VICI;
        /* the unit is active: its charon listens again, no need to wait out a long backoff */
        if (env->vici && !vici_client_is_connected(env->vici))
                (void) vici_client_reconnect_now(env->vici);
        if (!env->vici || !vici_client_is_connected(env->vici) ||
            vici_client_command(env->vici, "version", NULL, 0, on_version, s) < 0) {
                retry_later(s);
                return;
        }
        s->vici_asked = true;
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
                retry_later(s);
                return;
        }
        if (strcmp(state, "active") == 0 && is_charon(action_call_params(s->call), action_call_env(s->call)) &&
            action_call_env(s->call)->vici) {
                verify_vici(s);
                return;
        }
        action_call_set_detail(s->call, "%s is %s", call_unit(s), state);
        finish(s, strcmp(state, "active") == 0 ? 0 : -EPROTO);
}

static int unit_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        if (strcmp(unit_of(p, env), "none") == 0) {
                (void) snprintf(why, n, "charon runs under no systemd unit here (charon.unit: none): "
                                        "nothing to restart it with");
                return -ENOENT;
        }
        return 0;
}

static int unit_start(void *state, action_call *call, action_op op) {
        unit_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        int r;

        *s = (unit_state){ .call = call, .env = env };
        if (strcmp(unit_of(p, env), "none") == 0) {
                action_call_set_detail(call, "charon runs under no systemd unit here (charon.unit: none)");
                return -ENOENT;
        }
        /* held for the action's life: the system bus may be replaced meanwhile (a restarted broker) */
        s->bus = sd_bus_ref(sysbus_get(env->bus));
        if (!s->bus) {
                action_call_set_detail(call, "no system bus here%s%s", env->bus ? ": " : "",
                                       env->bus ? sysbus_reason(env->bus) ?: "" : "");
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
        return begin_job(s);
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
        .precondition = unit_precondition,
        .plan = unit_plan,
        .start = unit_start,
        .cancel = unit_cancel,
        .done = unit_cancel,
        .supports = unit_supports,
};
