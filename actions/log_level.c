/* The `log_level` action: raise charon's log levels for chosen subsystems while an incident is
 * looked at, then put them back. Always a temporary measure (the step carries `expires_in`; the
 * engine records the revert before applying and reverts at the expiry, also after a crash).
 *
 * The levels go into one strongswan.d drop-in (default /etc/strongswan.d/zz-ikeheal-loglevel.conf,
 * read last when strongswan.conf includes the strongswan.d directory), one section per logger named
 * in `loggers` (default charon-systemd's journal), and `swanctl --reload-settings` asks charon
 * over VICI to re-read its settings, which re-creates its loggers with the new levels. The
 * revert deletes the drop-in and reloads again: each logger falls back to what the rest of the
 * configuration says. swanctl rather than the agent's own VICI link, so that a revert right
 * after a restart does not wait for that link; a charon that cannot be reached at revert time
 * is not running, and reads its settings without the drop-in when it starts.
 *
 * One drop-in, one owner: apply refuses a drop-in that exists already (another log_level
 * measure's, whose revert would undo this one, or a file ikeheald did not write), and revert
 * leaves alone a drop-in that is no longer ikeheald's.
 *
 * Verbose logs fill disks: with `disk_budget` the step is refused when the file system holding
 * charon's log (`log_path`, default /var/log) has less free space than the budget, and while
 * the levels are raised the engine checks it every few seconds (the kind's hold): below the
 * budget, the measure is reverted early. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/swanctl.h"
#include "atomic_file.h"
#include "byte_size.h"
#include "file_read.h"

#define LOG_LEVEL_DROPIN_DEFAULT "/etc/strongswan.d/zz-ikeheal-loglevel.conf"
#define LOG_LEVEL_LOGGER_DEFAULT "charon-systemd.journal"
#define LOG_LEVEL_LOG_PATH_DEFAULT "/var/log"
#define LOG_LEVEL_MARK "# Written by ikeheald: charon's log levels raised"

enum { P_SUBSYSTEMS, P_LOGGERS, P_DROPIN, P_DISK_BUDGET, P_LOG_PATH, P_SWANCTL, _P_MAX };

static const action_param_spec params[] = {
        [P_SUBSYSTEMS] = { "subsystems", AP_STRV, true },
        [P_LOGGERS] = { "loggers", AP_STRV, false },
        [P_DROPIN] = { "dropin", AP_PATH, false },
        [P_DISK_BUDGET] = { "disk_budget", AP_STRING, false },
        [P_LOG_PATH] = { "log_path", AP_PATH, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [_P_MAX] = { 0 },
};

/* charon's log groups (strongSwan's debug_names) and `default`. */
static const char *const subsystems[] = { "default", "dmn", "mgr", "ike", "chd", "job", "cfg", "knl", "net",
                                          "asn", "enc", "tnc", "imc", "imv", "pts", "tls", "esp", "lib" };

typedef struct log_level_state {
        action_call *call;
        spawn *child;
        action_op op;
        char detail[600];
} log_level_state;

static const char *dropin_of(const action_params *p) {
        return p->v[P_DROPIN].set ? p->v[P_DROPIN].str : LOG_LEVEL_DROPIN_DEFAULT;
}

static const char *log_path_of(const action_params *p) {
        return p->v[P_LOG_PATH].set ? p->v[P_LOG_PATH].str : LOG_LEVEL_LOG_PATH_DEFAULT;
}

/* "ike=2" → the subsystem's index and the level; -EINVAL if it is not that. */
static int subsystem_parse(const char *s, size_t *ret_index, int *ret_level) {
        const char *eq = strchr(s, '=');
        char *end;
        long level;

        if (!eq)
                return -EINVAL;
        errno = 0;
        level = strtol(eq + 1, &end, 10);
        if (errno || end == eq + 1 || *end || level < -1 || level > 4)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(subsystems); i++)
                if (strlen(subsystems[i]) == (size_t) (eq - s) && strncmp(subsystems[i], s, (size_t) (eq - s)) == 0) {
                        *ret_index = i;
                        *ret_level = (int) level;
                        return 0;
                }
        return -EINVAL;
}

/* A logger is a settings section path: "charon.filelog.NAME", "charon.syslog.daemon",
 * "charon-systemd.journal" … — dotted names of letters, digits, '-' and '_' only, so that it
 * cannot end a section or start another in the drop-in. */
static bool logger_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 200 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") || !strchr(s, '.'))
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr("._-", *c)))
                        return false;
        return true;
}

static int log_level_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        char *const *sub = p->v[P_SUBSYSTEMS].strv, *const *loggers = p->v[P_LOGGERS].strv;
        uint64_t budget;
        size_t idx;
        int level;

        if (!sub || !sub[0]) {
                (void) snprintf(why, n, "subsystems: at least one SUBSYSTEM=LEVEL");
                return -EINVAL;
        }
        for (size_t i = 0; sub[i]; i++)
                if (subsystem_parse(sub[i], &idx, &level) < 0) {
                        (void) snprintf(why, n, "subsystems: '%.60s' is not SUBSYSTEM=LEVEL (a charon log group such as "
                                        "ike, knl, cfg, net, enc or default; a level from -1 to 4)", sub[i]);
                        return -EINVAL;
                }
        if (p->v[P_LOGGERS].set && (!loggers || !loggers[0])) {
                (void) snprintf(why, n, "loggers: at least one logger section");
                return -EINVAL;
        }
        for (size_t i = 0; loggers && loggers[i]; i++)
                if (!logger_ok(loggers[i])) {
                        (void) snprintf(why, n, "loggers: '%.100s' is not a logger's settings section (e.g. "
                                        "charon.filelog.NAME, charon.syslog.daemon, charon-systemd.journal)", loggers[i]);
                        return -EINVAL;
                }
        if (p->v[P_DISK_BUDGET].set && byte_size_parse(p->v[P_DISK_BUDGET].str, &budget) < 0) {
                (void) snprintf(why, n, "disk_budget: '%.60s' is not a size (e.g. 50M, 1G)", p->v[P_DISK_BUDGET].str);
                return -EINVAL;
        }
        return 0;
}

/* The drop-in's text: for each logger, its sections opened one by one, the levels, closed. */
static int dropin_text(const action_params *p, char **ret, size_t *ret_size) {
        static char *const default_loggers[] = { (char *) LOG_LEVEL_LOGGER_DEFAULT, NULL };
        char *const *loggers = p->v[P_LOGGERS].set ? p->v[P_LOGGERS].strv : default_loggers;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        fprintf(f, LOG_LEVEL_MARK " for a while (a measure with an expiry,\n"
                   "# removed when it ends). Do not edit.\n");
        for (size_t i = 0; loggers[i]; i++) {
                const char *s = loggers[i];
                unsigned depth = 0;
                while (*s) {
                        size_t len = strcspn(s, ".");
                        fprintf(f, "%*s%.*s {\n", (int) depth * 4, "", (int) len, s);
                        depth++;
                        s += len + (s[len] == '.');
                }
                for (size_t j = 0; p->v[P_SUBSYSTEMS].strv[j]; j++) {
                        size_t idx = 0;
                        int level = 0;
                        if (subsystem_parse(p->v[P_SUBSYSTEMS].strv[j], &idx, &level) == 0)
                                fprintf(f, "%*s%s = %d\n", (int) depth * 4, "", subsystems[idx], level);
                }
                while (depth-- > 0)
                        fprintf(f, "%*s}\n", (int) depth * 4, "");
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret_size = size;
        *ret = TAKE_PTR(text);
        return 0;
}

static void on_reloaded(spawn *child, int code, int status, const char *out, void *userdata) {
        log_level_state *s = userdata;
        const action_params *p = action_call_params(s->call);
        bool bad = swanctl_failed(code, status, out);

        if (bad && s->op == ACTION_REVERT && strstr(out, "connecting to")) {
                action_call_set_detail(s->call, "%s; charon cannot be reached (%s): it reads its settings without the "
                                       "drop-in when it starts", s->detail, out);
                action_call_done(s->call, 0);
                return;
        }
        if (bad && s->op == ACTION_APPLY)
                /* nothing half-applied: the levels were not raised, so the drop-in goes too */
                (void) unlink(dropin_of(p));
        action_call_set_detail(s->call, "%s; swanctl --reload-settings: %s%s", s->detail, bad ? "FAILED: " : "",
                               out[0] ? out : "ok");
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static int reload(log_level_state *s, const action_params *p, const action_env *env) {
        return swanctl_load(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                            "--reload-settings", NULL,
                            env->check_param ? env->check_param(env->check_userdata, "config", "strongswan_conf") : NULL,
                            false, on_reloaded, s);
}

/* Is the drop-in there, and ours? 1 ours, 0 absent, -EEXIST someone else's (or unreadable). */
static int dropin_owned(const action_params *p) {
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        int r = file_read_all(dropin_of(p), 64 * 1024, 0, &text, &len, NULL);

        if (r == -ENOENT)
                return 0;
        return r >= 0 && strncmp(text, LOG_LEVEL_MARK, strlen(LOG_LEVEL_MARK)) == 0 ? 1 : -EEXIST;
}

/* Is there at least the disk budget free where the log goes? 0 (also with no budget), or
 * -ENOSPC / -errno with why filled. */
static int budget_check(const action_params *p, char *why, size_t n) {
        char have[32], want[32];
        struct statvfs st;
        uint64_t budget, avail;
        int r;

        if (!p->v[P_DISK_BUDGET].set)
                return 0;
        if (byte_size_parse(p->v[P_DISK_BUDGET].str, &budget) < 0)
                return -EINVAL;
        if (statvfs(log_path_of(p), &st) < 0) {
                r = -errno;
                (void) snprintf(why, n, "cannot measure the free space at %s: %s", log_path_of(p), strerror(-r));
                return r;
        }
        avail = (uint64_t) st.f_bavail * st.f_frsize;
        if (avail < budget) {
                (void) snprintf(why, n, "%s has %s free, less than the disk budget %s", log_path_of(p),
                                byte_size_format(avail, have, sizeof(have)), byte_size_format(budget, want, sizeof(want)));
                return -ENOSPC;
        }
        return 0;
}

/* While the levels are raised: the log's file system must keep its budget free, or the
 * measure ends early (the engine asks every few seconds: one statvfs). */
static int log_level_hold(const action_params *p, const action_env *env, char *why, size_t n) {
        return budget_check(p, why, n);
}

static int apply(log_level_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *text = NULL;
        char why[512] = "";
        size_t size = 0;
        int r;

        if ((r = budget_check(p, why, sizeof(why))) < 0) {
                action_call_set_detail(s->call, "%s%s", r == -ENOSPC ? "refused: " : "", why);
                return r;
        }
        /* one measure per drop-in: a second would be undone by the first one's revert, and a
         * file someone else put there is not ours to replace */
        if (dropin_owned(p) != 0) {
                action_call_set_detail(s->call, "refused: %s exists already (another log_level measure in force, or "
                                       "not ikeheald's)", dropin_of(p));
                return -EEXIST;
        }
        if ((r = dropin_text(p, &text, &size)) < 0)
                return r;
        if ((r = atomic_file_write(dropin_of(p), text, size, 0644)) < 0) {
                action_call_set_detail(s->call, "cannot write %s: %s", dropin_of(p), strerror(-r));
                return r;
        }
        (void) snprintf(s->detail, sizeof(s->detail), "log levels written to %.300s", dropin_of(p));
        return reload(s, p, env);
}

static int revert(log_level_state *s, const action_params *p, const action_env *env) {
        if (dropin_owned(p) < 0) {
                /* undo only our own change: someone replaced the drop-in since */
                action_call_set_detail(s->call, "%s is not ikeheald's any more: left in place", dropin_of(p));
                return -EEXIST;
        }
        if (unlink(dropin_of(p)) < 0 && errno != ENOENT) {
                action_call_set_detail(s->call, "cannot remove %s: %s", dropin_of(p), strerror(errno));
                return -errno;
        }
        (void) snprintf(s->detail, sizeof(s->detail), "%.300s removed", dropin_of(p));
        return reload(s, p, env);
}

static int log_level_start(void *state, action_call *call, action_op op) {
        log_level_state *s = state;
        *s = (log_level_state){ .call = call, .op = op };
        return op == ACTION_APPLY ? apply(s, action_call_params(call), action_call_env(call))
                                  : revert(s, action_call_params(call), action_call_env(call));
}

static void log_level_cancel(void *state) {
        log_level_state *s = state;
        s->child = spawn_free(s->child);
}

static int log_level_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char subs[400] = "", loggers[400] = "";
        size_t w = 0;

        for (size_t i = 0; p->v[P_SUBSYSTEMS].strv && p->v[P_SUBSYSTEMS].strv[i]; i++) {
                int k = snprintf(subs + w, sizeof(subs) - w, "%s%s", i ? " " : "", p->v[P_SUBSYSTEMS].strv[i]);
                if (k < 0 || (size_t) k >= sizeof(subs) - w)
                        break;
                w += (size_t) k;
        }
        w = 0;
        for (size_t i = 0; p->v[P_LOGGERS].set && p->v[P_LOGGERS].strv[i]; i++) {
                int k = snprintf(loggers + w, sizeof(loggers) - w, "%s%s", i ? ", " : "", p->v[P_LOGGERS].strv[i]);
                if (k < 0 || (size_t) k >= sizeof(loggers) - w)
                        break;
                w += (size_t) k;
        }
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  delete %s, then swanctl --reload-settings (charon's loggers back to its "
                                       "configuration)", dropin_of(p));
        return action_plan_add(out, "  write %s: %s for %s; then swanctl --reload-settings%s%s%s", dropin_of(p), subs,
                               loggers[0] ? loggers : LOG_LEVEL_LOGGER_DEFAULT,
                               p->v[P_DISK_BUDGET].set ? "; refused if less than " : "",
                               p->v[P_DISK_BUDGET].set ? p->v[P_DISK_BUDGET].str : "",
                               p->v[P_DISK_BUDGET].set ? " is free for the log (and reverted early when it falls below)" : "");
}

static bool log_level_supports(const action_params *p, action_op op) {
        return op == ACTION_REVERT;
}

const action_ops action_log_level = {
        .kind = "log_level",
        .description = "raise charon's log levels for chosen subsystems (a measure with an expiry)",
        .params = params,
        .effects = true,
        .measure = true,
        .state_size = sizeof(log_level_state),
        .validate = log_level_validate,
        .hold = log_level_hold,
        .plan = log_level_plan,
        .start = log_level_start,
        .cancel = log_level_cancel,
        .done = log_level_cancel,
        .supports = log_level_supports,
};
