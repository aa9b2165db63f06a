/* The `failover` action: this gateway hands its virtual address to the standby of its VRRP pair
 * by lowering its own priority through keepalived's track_file — a temporary measure (the
 * parser insists on expires_in), taken back once this gateway is healthy again.
 *
 * keepalived adds the number in the tracked file (weight 1) to the instance's priority; the file
 * is the agent's alone. Apply first asks the standby whether it is fit to take over (an HTTP GET
 * of `standby_url`, e.g. the standby agent's health endpoint, must answer 2xx within
 * `standby_timeout`); if it is not, nothing is written and the step fails saying so: moving the
 * clients onto a sick gateway is worse than leaving them. Then it writes -`lower_by` to the
 * file atomically (temporary file, rename), and keepalived's inotify watch sees the new value.
 *
 * The measure does not wait for its expiry once this gateway is healthy again: its hold check
 * (every few seconds while it is in force) asks the agent (action_env's gateway_healthy:
 * charon's VICI link up, no active incident of global scope at severity fail) and, when it is,
 * says the measure may end, and the engine reverts it early. `return_when_healthy: false` keeps
 * the address away until the expiry or an operator's revert (a planned hand-over).
 *
 * The revert (early, the measure's expiry, an operator's revert, a rollback) writes 0 back, but
 * only after charon here has answered a VICI request every half second for `hold` and the agent
 * has called this gateway healthy at each of those answers, without a break: a gateway that is
 * still down must not pull the clients back, and one that flaps (heals, fails again within the
 * hold) must not bounce the VIP — a break starts the hold again. If that does not happen within
 * the revert's time (the hold plus a minute), the revert fails, the priority stays lowered and
 * the engine calls a human. A file already at 0 (the apply never wrote, or a revert already
 * did) is nothing to undo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "atomic_file.h"
#include "curl_glue.h"
#include "duration.h"
#include "now.h"
#include "vici.h"

enum { P_WEIGHT_FILE, P_LOWER_BY, P_STANDBY_URL, P_STANDBY_TIMEOUT, P_HOLD, P_CHECK, P_RETURN_WHEN_HEALTHY, _P_MAX };

static const action_param_spec params[] = {
        [P_WEIGHT_FILE] = { "weight_file", AP_PATH, false },
        [P_LOWER_BY] = { "lower_by", AP_U32, false, 1, 253 },
        [P_STANDBY_URL] = { "standby_url", AP_STRING, false },
        [P_STANDBY_TIMEOUT] = { "standby_timeout", AP_DURATION, false, 100 * USEC_PER_MSEC, 30 * USEC_PER_SEC },
        [P_HOLD] = { "hold", AP_DURATION, false, USEC_PER_SEC, 10 * 60 * USEC_PER_SEC },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_RETURN_WHEN_HEALTHY] = { "return_when_healthy", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

#define HEALTH_PERIOD_USEC (500 * USEC_PER_MSEC)
/* how long a revert may wait for this gateway to become healthy, on top of its hold */
#define REVERT_WAIT_USEC (60 * USEC_PER_SEC)
#define WEIGHT_FILE_MAX 64u

typedef struct failover_state {
        action_call *call;
        curl_glue *glue;
        CURL *easy;
        ev_source *timer;
        bool vici_asked;
        uint64_t healthy_since; /* CLOCK_MONOTONIC µs of the first answer of this healthy stretch */
        unsigned answers;
} failover_state;

/* A param of the step, else the same one of the vrrp check (param `check`, default "vrrp"). */
static const char *pair_param(const action_params *p, const action_env *env, unsigned i) {
        if (p->v[i].set)
                return p->v[i].str;
        if (!env || !env->check_param)
                return NULL;
        return env->check_param(env->check_userdata, p->v[P_CHECK].set ? p->v[P_CHECK].str : "vrrp", params[i].name);
}

static const char *wfile(const action_params *p, const action_env *env) {
        return pair_param(p, env, P_WEIGHT_FILE) ?: "?";
}

static const char *surl(const action_params *p, const action_env *env) {
        return pair_param(p, env, P_STANDBY_URL) ?: "?";
}

static unsigned lower_by(const action_params *p) {
        return p->v[P_LOWER_BY].set ? (unsigned) p->v[P_LOWER_BY].num : 100;
}

static uint64_t hold(const action_params *p) {
        return p->v[P_HOLD].set ? p->v[P_HOLD].num : 30 * USEC_PER_SEC;
}

static bool return_when_healthy(const action_params *p) {
        return !p->v[P_RETURN_WHEN_HEALTHY].set || p->v[P_RETURN_WHEN_HEALTHY].num;
}

static uint64_t standby_timeout(const action_params *p) {
        return p->v[P_STANDBY_TIMEOUT].set ? p->v[P_STANDBY_TIMEOUT].num : 3 * USEC_PER_SEC;
}

static int url_ok(const char *u, char *why, size_t n) {
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
                (void) snprintf(why, n, "standby_url: an http:// or https:// URL, not '%.100s'", u);
                return -EINVAL;
        }
        if (strlen(u) > 1024 || strpbrk(u, " \t\r\n")) {
                (void) snprintf(why, n, "standby_url: no white space, at most 1024 characters");
                return -EINVAL;
        }
        return 0;
}

static int failover_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        return p->v[P_STANDBY_URL].set ? url_ok(p->v[P_STANDBY_URL].str, why, n) : 0;
}

/* Both ends of the pair must be known: the weight file and the standby's health URL. */
static int failover_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        const char *w = pair_param(p, env, P_WEIGHT_FILE), *u = pair_param(p, env, P_STANDBY_URL);
        if (!w || w[0] != '/') {
                (void) snprintf(why, n, "no weight_file: give it to the step or to the vrrp check (keepalived's track_file)");
                return -ENOENT;
        }
        if (!u) {
                (void) snprintf(why, n, "no standby_url: give it to the step or to the vrrp check (the standby's health)");
                return -ENOENT;
        }
        return url_ok(u, why, n);
}

/* The number in the weight file: 0 when it is absent (keepalived's own initial value). */
static int weight_read(const char *path, long *ret) {
        _cleanup_(freep) char *text = NULL;
        size_t len;
        char *end;
        int r = atomic_file_read(path, WEIGHT_FILE_MAX, &text, &len);

        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        errno = 0;
        long v = strtol(text, &end, 10);
        while (*end == '\n' || *end == ' ')
                end++;
        if (errno || end == text || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int weight_write(const char *path, long v) {
        char text[32];
        int k = snprintf(text, sizeof(text), "%ld\n", v);
        return atomic_file_write(path, text, (size_t) k, 0644);
}

static void stop(failover_state *s) {
        const action_env *env = s->call ? action_call_env(s->call) : NULL;

        if (s->easy) {
                curl_glue_remove(s->glue, s->easy);
                curl_easy_cleanup(s->easy);
                s->easy = NULL;
        }
        s->timer = ev_source_disable_unref(s->timer);
        if (s->vici_asked && env && env->vici)
                vici_client_forget(env->vici, s);
        s->vici_asked = false;
}

static void finish(failover_state *s, int r) {
        action_call *c = s->call;
        stop(s);
        action_call_done(c, r);
}

/* ---- apply: the standby's health, then the weight ---- */

static void on_standby(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        failover_state *s = userdata;
        const action_params *p = action_call_params(s->call);
        long code = 0;
        int r;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(easy);
        s->easy = NULL;
        if (result != CURLE_OK || code / 100 != 2) {
                action_call_set_detail(s->call, "standby at %.200s is not healthy (%s%ld): no failover, the virtual "
                                       "address stays here",
                                       surl(p, action_call_env(s->call)), result != CURLE_OK ? curl_easy_strerror(result) : "HTTP ",
                                       result != CURLE_OK ? 0L : code);
                finish(s, -EHOSTDOWN);
                return;
        }
        r = weight_write(wfile(p, action_call_env(s->call)), -(long) lower_by(p));
        if (r < 0) {
                action_call_set_detail(s->call, "cannot write %.300s: %s", wfile(p, action_call_env(s->call)), strerror(-r));
                finish(s, r);
                return;
        }
        action_call_set_detail(s->call, "standby at %.200s healthy (HTTP %ld); wrote -%u to %.300s: this gateway's VRRP "
                               "priority is lowered, the standby takes the virtual address",
                               surl(p, action_call_env(s->call)), code, lower_by(p), wfile(p, action_call_env(s->call)));
        finish(s, 0);
}

static size_t discard(char *ptr, size_t size, size_t n, void *userdata) {
        return size * n;
}

static int apply(failover_state *s, const action_params *p, const action_env *env) {
        int r = curl_glue_new(&s->glue, env->event);
        if (r < 0) {
                action_call_set_detail(s->call, "no HTTP client to ask the standby: %s", strerror(-r));
                return r;
        }
        if (!(s->easy = curl_easy_init()))
                return -ENOMEM;
        (void) curl_easy_setopt(s->easy, CURLOPT_URL, surl(p, env));
        (void) curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long) (standby_timeout(p) / USEC_PER_MSEC));
        if ((r = curl_glue_add(s->glue, s->easy, on_standby, s)) < 0) {
                curl_easy_cleanup(s->easy);
                s->easy = NULL;
                return r;
        }
        return 0;
}

/* ---- revert: healthy for `hold`, then weight 0 ---- */

static void ask(failover_state *s);

static int on_tick(ev_source *src, uint64_t usec, void *userdata) {
        failover_state *s = userdata;
        s->timer = ev_source_disable_unref(s->timer);
        ask(s);
        return 0;
}

static void again(failover_state *s) {
        if (ev_add_time_relative(action_call_env(s->call)->event, &s->timer, CLOCK_MONOTONIC, HEALTH_PERIOD_USEC, 0,
                                       on_tick, s) < 0)
                finish(s, -ENOMEM);
}

static void on_version(vici_client *c, int error, const vici_node *reply, void *userdata) {
        failover_state *s = userdata;
        const action_params *p = action_call_params(s->call);
        char d[32];
        int r;

        s->vici_asked = false;
        if (error < 0) {
                s->healthy_since = 0;
                s->answers = 0;
                action_call_set_detail(s->call, "charon here does not answer (%s): the priority stays lowered",
                                       strerror(-error));
                again(s);
                return;
        }
        const action_env *env = action_call_env(s->call);
        char why[192];
        if (env->gateway_healthy && env->gateway_healthy(env->check_userdata, why, sizeof(why)) != 0) {
                s->healthy_since = 0;
                s->answers = 0;
                action_call_set_detail(s->call, "charon here answers, but this gateway is not healthy (%s): the priority "
                                       "stays lowered", why);
                again(s);
                return;
        }
        if (!s->healthy_since)
                s->healthy_since = mono_usec();
        s->answers++;
        if (mono_usec() - s->healthy_since < hold(p)) {
                action_call_set_detail(s->call, "charon here answers and this gateway is healthy (%u times in a row); "
                                       "holding for %s before the priority is restored",
                                       s->answers, duration_format(hold(p), d, sizeof(d)));
                again(s);
                return;
        }
        r = weight_write(wfile(p, action_call_env(s->call)), 0);
        if (r < 0) {
                action_call_set_detail(s->call, "cannot write %.300s: %s", wfile(p, action_call_env(s->call)), strerror(-r));
                finish(s, r);
                return;
        }
        action_call_set_detail(s->call, "charon here answered for %s without a break; wrote 0 to %.300s: the priority is "
                               "restored and the virtual address comes back",
                               duration_format(hold(p), d, sizeof(d)), wfile(p, action_call_env(s->call)));
        finish(s, 0);
}

static void ask(failover_state *s) {
        const action_env *env = action_call_env(s->call);

        if (!env->vici) {
                action_call_set_detail(s->call, "no VICI connection to tell whether charon here is healthy");
                finish(s, -ENOTCONN);
                return;
        }
        if (!vici_client_is_connected(env->vici))
                (void) vici_client_reconnect_now(env->vici);
        if (!vici_client_is_connected(env->vici) || vici_client_command(env->vici, "version", NULL, 0, on_version, s) < 0) {
                s->healthy_since = 0;
                s->answers = 0;
                action_call_set_detail(s->call, "charon here is not reachable over VICI: the priority stays lowered");
                again(s);
                return;
        }
        s->vici_asked = true;
}

static int revert(failover_state *s, const action_params *p) {
        long v;
        int r = weight_read(wfile(p, action_call_env(s->call)), &v);

        if (r < 0) {
                action_call_set_detail(s->call, "cannot read %.300s: %s", wfile(p, action_call_env(s->call)), strerror(-r));
                return r;
        }
        if (v == 0) {
                action_call_set_detail(s->call, "%.300s holds 0: the priority was not lowered, nothing to restore",
                                       wfile(p, action_call_env(s->call)));
                action_call_done(s->call, 0);
                return 0;
        }
        ask(s);
        return 0;
}

/* While the measure is in force: may it stay? Not once this gateway is healthy again — the
 * engine then reverts it early, and the revert's hold keeps a gateway that fails again within it
 * from pulling the clients back. */
static int failover_hold(const action_params *p, const action_env *env, char *why, size_t n) {
        char w[192], d[32];

        if (!return_when_healthy(p) || !env || !env->gateway_healthy || env->gateway_healthy(env->check_userdata, w, sizeof(w)) != 0)
                return 0;
        (void) snprintf(why, n, "failover: this gateway healthy again (charon's VICI link up, no active global incident "
                        "at severity fail): reverted early, VIP back after hold (%s of continuous health)",
                        duration_format(hold(p), d, sizeof(d)));
        return -ECANCELED;
}

static uint64_t failover_revert_timeout(const action_params *p) {
        return hold(p) + REVERT_WAIT_USEC;
}

static int failover_start(void *state, action_call *call, action_op op) {
        failover_state *s = state;
        char why[256];
        int r;

        *s = (failover_state){ .call = call };
        /* the vrrp check may have changed since the plan (a reload): never write to "?" */
        if ((r = failover_precondition(action_call_params(call), action_call_env(call), why, sizeof(why))) < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        return op == ACTION_APPLY ? apply(s, action_call_params(call), action_call_env(call))
                                  : revert(s, action_call_params(call));
}

static void failover_cancel(void *state) {
        failover_state *s = state;
        stop(s);
        /* not in stop(): finish() runs inside the glue's own completion callback */
        s->glue = curl_glue_free(s->glue);
}

static int failover_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char d[32], t[32];

        if (op == ACTION_REVERT)
                return action_plan_add(out, "  %sonce charon here has answered VICI and this gateway has been healthy "
                                       "for %s without a break, write 0 to %s (this gateway's VRRP priority restored: it "
                                       "takes the virtual address back)",
                                       return_when_healthy(p) ? "as soon as this gateway is healthy again (not only at the "
                                                                "expiry): " : "",
                                       duration_format(hold(p), d, sizeof(d)), wfile(p, env));
        out->disruptive = true; /* every session moves to the standby */
        return action_plan_add(out, "  GET %s: the standby must answer 2xx within %s, else no failover\n"
                               "  write -%u to %s (keepalived track_file: this gateway's VRRP priority drops by %u, "
                               "the standby takes the virtual address and the clients reconnect to it)",
                               surl(p, env), duration_format(standby_timeout(p), t, sizeof(t)), lower_by(p),
                               wfile(p, env), lower_by(p));
}

static bool failover_supports(const action_params *p, action_op op) {
        return op == ACTION_REVERT;
}

const action_ops action_failover = {
        .kind = "failover",
        .description = "hand the virtual address to a healthy VRRP standby (keepalived track_file; a measure with an expiry)",
        .params = params,
        .effects = true,
        .measure = true,
        .state_size = sizeof(failover_state),
        .validate = failover_validate,
        .precondition = failover_precondition,
        .hold = failover_hold,
        .revert_timeout = failover_revert_timeout,
        .plan = failover_plan,
        .start = failover_start,
        .cancel = failover_cancel,
        .done = failover_cancel,
        .supports = failover_supports,
};
