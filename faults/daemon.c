/* The `daemon` fault: charon stopped (`how: stop`) or killed with SIGKILL (`how: kill`, a
 * crash as far as anyone can tell). Through its systemd unit when it has one — StopUnit and the
 * job's result, or KillUnit on the main process — else through its pid file, once the process
 * is seen to be charon (its comm or executable), so a stale pid file reused by another process
 * is never signalled.
 *
 * The revert starts the unit again unless something (its Restart=, a runbook) already did.
 * Without a unit there is nothing to start charon with: the revert succeeds only if charon runs
 * again, and otherwise says so — starting a daemon by hand is its supervisor's job, not ours.
 * Verify: charon is down (unit inactive or failed; the process gone). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/unit_job.h"
#include "atomic_file.h"
#include "faults/faults.h"
#include "sysbus.h"

enum { P_HOW, P_UNIT, P_PID_FILE, _P_MAX };

static const action_param_spec params[] = {
        [P_HOW] = { "how", AP_STRING, true },
        [P_UNIT] = { "unit", AP_STRING, false },
        [P_PID_FILE] = { "pid_file", AP_PATH, false },
        [_P_MAX] = { 0 },
};

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define POLL_USEC (50 * USEC_PER_MSEC)

typedef struct daemon_state {
        action_call *call;
        unit_job *job;
        sd_bus_slot *slot;
        ev_source *poll;
        pid_t pid;
} daemon_state;

/* charon's unit, or NULL: none (charon.unit: none), use the pid file */
static const char *unit_of(const action_params *p, const action_env *env) {
        const char *u = p->v[P_UNIT].set ? p->v[P_UNIT].str : env->charon_unit;
        return u && strcmp(u, "none") != 0 ? u : NULL;
}

static bool kill_of(const action_params *p) {
        return strcmp(p->v[P_HOW].str, "kill") == 0;
}

static int daemon_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        const char *u = unit_of(p, env);

        if (strcmp(p->v[P_HOW].str, "stop") != 0 && !kill_of(p)) {
                (void) snprintf(why, n, "how: expected stop or kill, got '%.100s'", p->v[P_HOW].str);
                return -EINVAL;
        }
        if (u && (strlen(u) > 200 || !strchr(u, '.') || strpbrk(u, "/ \t\n"))) {
                (void) snprintf(why, n, "unit: '%.200s' is not a unit name", u);
                return -EINVAL;
        }
        if (!u && !p->v[P_PID_FILE].set) {
                (void) snprintf(why, n, "charon runs under no unit here: pid_file is needed");
                return -EINVAL;
        }
        return 0;
}

/* Is pid a live (not zombie) charon? */
static bool is_charon(pid_t pid) {
        _cleanup_(freep) char *stat = NULL;
        char path[64], exe[4096], comm[32] = "";
        const char *base, *close_paren;
        ssize_t k;

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (pid <= 1 || atomic_file_read(path, 4096, &stat, NULL) < 0 || !(close_paren = strrchr(stat, ')')) ||
            close_paren[1] != ' ' || close_paren[2] == 'Z' || close_paren[2] == 'X')
                return false;
        if (sscanf(stat, "%*d (%31[^)])", comm) == 1 && (strcmp(comm, "charon") == 0 || strcmp(comm, "charon-systemd") == 0))
                return true;
        (void) snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        if ((k = readlink(path, exe, sizeof(exe) - 1)) <= 0)
                return false;
        exe[k] = 0;
        base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
        return strcmp(base, "charon") == 0 || strcmp(base, "charon-systemd") == 0;
}

static int read_pid(const action_params *p, pid_t *ret) {
        _cleanup_(freep) char *text = NULL;
        char *end;
        long v;
        int r = atomic_file_read(p->v[P_PID_FILE].str, 64, &text, NULL);

        if (r < 0)
                return r;
        v = strtol(text, &end, 10);
        if (end == text || (*end && *end != '\n') || v <= 1 || v > 0x3fffffff)
                return -EBADMSG;
        *ret = (pid_t) v;
        return 0;
}

static void finish(daemon_state *s, int r) {
        s->job = unit_job_free(s->job);
        s->slot = sd_bus_slot_unref(s->slot);
        s->poll = ev_source_disable_unref(s->poll);
        action_call_done(s->call, r);
}

/* apply without a unit: done when the process is gone */
static int on_poll(ev_source *src, uint64_t usec, void *userdata) {
        daemon_state *s = userdata;

        if (is_charon(s->pid))
                return ev_source_set_time_relative(src, POLL_USEC) < 0 ? (finish(s, -EIO), 0) : 0;
        finish(s, 0);
        return 0;
}

static int by_pid(daemon_state *s, const action_params *p, action_op op) {
        const char *f = p->v[P_PID_FILE].str;
        int r = f ? read_pid(p, &s->pid) : -ENOENT;
        bool up = r >= 0 && is_charon(s->pid);

        if (op == ACTION_VERIFY || op == ACTION_REVERT) {
                if (op == ACTION_VERIFY)
                        action_call_set_detail(s->call, up ? "charon (pid %d) is running" : "charon is down", (int) s->pid);
                else if (up)
                        action_call_set_detail(s->call, "charon runs again (pid %d, from %s)", (int) s->pid, f);
                else
                        action_call_set_detail(s->call, "no unit to start charon with: charon.unit is none and the process of "
                                               "%s is not running; start charon by its supervisor", f ?: "(no pid_file)");
                action_call_done(s->call, op == ACTION_VERIFY ? (up ? -EPROTO : 0) : (up ? 0 : -ESRCH));
                return 0;
        }
        if (!up) {
                action_call_set_detail(s->call, "%s names no running charon%s", f ?: "(no pid_file)", r < 0 ? " (unreadable)" : "");
                return -ESRCH;
        }
        if (kill(s->pid, kill_of(p) ? SIGKILL : SIGTERM) < 0) {
                action_call_set_detail(s->call, "kill %d: %s", (int) s->pid, strerror(errno));
                return -errno;
        }
        action_call_set_detail(s->call, "SIG%s sent to charon (pid %d, from %s); it is gone", kill_of(p) ? "KILL" : "TERM",
                               (int) s->pid, f);
        return ev_add_time_relative(action_call_env(s->call)->event, &s->poll, CLOCK_MONOTONIC, POLL_USEC, 0, on_poll, s);
}

static void on_job(unit_job *j, int r, const char *detail, void *userdata) {
        daemon_state *s = userdata;

        /* the stop had begun (charon's socket closed) when the healing's start replaced it: the
         * fault took effect, and is being healed already */
        if (r == -ECANCELED && action_call_op(s->call) == ACTION_APPLY) {
                action_call_set_detail(s->call, "%s: the stop job was replaced by a start (the healing overtook the fault)",
                                       detail);
                finish(s, 0);
                return;
        }
        action_call_set_detail(s->call, "%s", detail);
        finish(s, r);
}

static void on_state(unit_job *j, int r, const char *state, void *userdata) {
        daemon_state *s = userdata;
        const char *u = unit_of(action_call_params(s->call), action_call_env(s->call));
        bool up = r >= 0 && (strcmp(state, "active") == 0 || strcmp(state, "activating") == 0 ||
                             strcmp(state, "reloading") == 0);

        if (r < 0) {
                action_call_set_detail(s->call, "%s: %s", u, state);
                finish(s, r);
        } else if (action_call_op(s->call) == ACTION_VERIFY) {
                action_call_set_detail(s->call, "%s is %s", u, state);
                finish(s, strcmp(state, "inactive") == 0 || strcmp(state, "failed") == 0 ? 0 : -EPROTO);
        } else if (up) {
                action_call_set_detail(s->call, "%s is %s already: nothing to start", u, state);
                finish(s, 0);
        } else {
                unit_job_free(s->job);
                s->job = NULL;
                if ((r = unit_job_new(&s->job, sysbus_get(action_call_env(s->call)->bus), on_job, s)) < 0 ||
                    (r = unit_job_run(s->job, "StartUnit", u)) < 0)
                        finish(s, r);
        }
}

static int on_killed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        daemon_state *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        s->slot = sd_bus_slot_unref(s->slot);
        if (e) {
                action_call_set_detail(s->call, "systemd refused KillUnit: %s", e->message ?: e->name);
                finish(s, -sd_bus_message_get_errno(m) ?: -EIO);
        } else {
                action_call_set_detail(s->call, "%s: SIGKILL sent to its main process",
                                       unit_of(action_call_params(s->call), action_call_env(s->call)) ?: "?");
                finish(s, 0);
        }
        return 0;
}

static int daemon_start(void *state, action_call *call, action_op op) {
        daemon_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        const char *u = unit_of(p, env);
        sd_bus *bus;
        int r;

        *s = (daemon_state){ .call = call };
        if (!u)
                return by_pid(s, p, op);
        bus = sysbus_get(env->bus);
        if (!bus) {
                action_call_set_detail(call, "no system bus here to reach %s%s%s", u, env->bus ? ": " : "",
                                       env->bus ? sysbus_reason(env->bus) ?: "" : "");
                return -ENOTCONN;
        }
        if (op == ACTION_APPLY && kill_of(p))
                return sd_bus_call_method_async(bus, &s->slot, SD_DEST, SD_PATH, SD_MANAGER, "KillUnit", on_killed, s, "ssi",
                                                u, "main", (int32_t) SIGKILL);
        r = unit_job_new(&s->job, bus, op == ACTION_APPLY ? on_job : on_state, s);
        if (r < 0)
                return r;
        return op == ACTION_APPLY ? unit_job_run(s->job, "StopUnit", u) : unit_job_active_state(s->job, u);
}

static void daemon_cancel(void *state) {
        daemon_state *s = state;
        s->job = unit_job_free(s->job);
        s->slot = sd_bus_slot_unref(s->slot);
        s->poll = ev_source_disable_unref(s->poll);
}

static int daemon_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        const char *u = unit_of(p, env), *f = p->v[P_PID_FILE].set ? p->v[P_PID_FILE].str : "(no pid_file)";

        if (op == ACTION_VERIFY)
                return action_plan_add(out, u ? "  systemd: %s must be inactive or failed" : "  the process of %s must be gone",
                                       u ?: f);
        if (op == ACTION_REVERT)
                return u ? action_plan_add(out, "  systemd (D-Bus): StartUnit %s unless it is active already, wait for the job", u)
                         : action_plan_add(out, "  none possible (no unit): succeeds only if the process of %s runs again", f);
        out->disruptive = true;
        if (u)
                return action_plan_add(out, kill_of(p) ? "  systemd (D-Bus): KillUnit %s main SIGKILL; every SA drops"
                                                       : "  systemd (D-Bus): StopUnit %s, wait for the job; every SA drops", u);
        return action_plan_add(out, "  SIG%s to the charon whose pid %s holds, wait until it is gone; every SA drops",
                               kill_of(p) ? "KILL" : "TERM", f);
}

static bool daemon_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops fault_daemon = {
        .kind = "daemon",
        .description = "stop or SIGKILL charon (through its unit, else its pid file)",
        .params = params,
        .effects = true,
        .state_size = sizeof(daemon_state),
        .validate = daemon_validate,
        .plan = daemon_plan,
        .start = daemon_start,
        .cancel = daemon_cancel,
        .done = daemon_cancel,
        .supports = daemon_supports,
};
