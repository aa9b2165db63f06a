/* The `tunnel_initiate` action: bring the site-to-site tunnels that are down back up. The
 * tunnels are those the tunnels check expects (its `tunnels` list, and with its `from_config`
 * the start/trap children of its `swanctl_conf`) plus the step's own `tunnels`, narrowed to
 * the `peers` of the incident ("identity@address", an identity or an address; none: every
 * peer). Of these, the ones charon has loaded and has neither INSTALLED nor trapped are
 * initiated over VICI — the CHILD_SA under its connection's IKE_SA when that is up, else the
 * IKE_SA with it — and the step waits until each is INSTALLED, at most `wait` (less when charon
 * was seen at it and gave up: its IKE_SA came and went).
 *
 * It only ever sends `initiate`: no SA, of this peer or another, is terminated or rekeyed, so
 * it is not disruptive. Each initiate asks charon to return at once (timeout -1) and the step
 * then polls list-sas: the agent's one VICI connection is never held for the seconds a peer
 * that does not answer takes to give up (the checks' requests, and the daemon check's view of
 * a charon that answers, go on meanwhile). A tunnel still down after `wait` is initiated
 * again after `backoff` (doubling each time), at most `attempts` times in all: a peer that is
 * down is retried, not hammered. Still down after the last attempt fails the step with what
 * charon has of it (its IKE_SA's state, charon's refusal); the runbook then escalates.
 *
 * verify: the selected tunnels are all INSTALLED (or trapped) now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "now.h"
#include "swconf.h"
#include "tunnel_set.h"
#include "vici.h"

#define POLL_USEC (250 * USEC_PER_MSEC)
#define CHECK_DEFAULT "tunnels"
#define SWANCTL_CONF_DEFAULT "/etc/swanctl/swanctl.conf"

enum { P_PEERS, P_TUNNELS, P_CHECK, P_WAIT, P_ATTEMPTS, P_BACKOFF, _P_MAX };

static const action_param_spec params[] = {
        [P_PEERS] = { "peers", AP_STRING, false },
        [P_TUNNELS] = { "tunnels", AP_STRV, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_WAIT] = { "wait", AP_DURATION, false, USEC_PER_SEC, 600 * USEC_PER_SEC },
        [P_ATTEMPTS] = { "attempts", AP_U32, false, 1, 10 },
        [P_BACKOFF] = { "backoff", AP_DURATION, false, USEC_PER_SEC, 3600 * USEC_PER_SEC },
        [_P_MAX] = { 0 },
};

typedef enum phase {
        PHASE_LIST,     /* list-conns, list-policies, list-sas: what is down */
        PHASE_INITIATE, /* initiate each selected tunnel */
        PHASE_POLL,     /* list-sas until every one is INSTALLED */
} phase;

typedef struct ti_state {
        action_call *call;
        vici_client *vici;
        ev_source *timer;
        action_op op;
        phase phase;
        int list_error;
        uint64_t deadline; /* CLOCK_MONOTONIC: the end of this attempt's wait */
        unsigned attempt;  /* 1… */
        bool seen_trying;  /* this attempt: charon was seen working on it (an IKE_SA) */
        uint64_t backoff;  /* before the next attempt (doubles) */
        tunnel_set set;
        bool selected[TUNNELS_MAX];
        size_t n_selected, next; /* next: the next one to initiate */
        char failed[512];        /* initiates charon refused: "conn/child: errmsg; …" */
} ti_state;

static const char *check_of(const action_params *p) {
        return p->v[P_CHECK].set ? p->v[P_CHECK].str : CHECK_DEFAULT;
}

static uint64_t wait_of(const action_params *p) {
        return p->v[P_WAIT].set ? p->v[P_WAIT].num : 30 * USEC_PER_SEC;
}

static unsigned attempts_of(const action_params *p) {
        return p->v[P_ATTEMPTS].set ? (unsigned) p->v[P_ATTEMPTS].num : 1;
}

static uint64_t backoff_of(const action_params *p) {
        return p->v[P_BACKOFF].set ? p->v[P_BACKOFF].num : 10 * USEC_PER_SEC;
}

static int ti_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        for (size_t i = 0; p->v[P_TUNNELS].set && p->v[P_TUNNELS].strv[i]; i++)
                if (tunnel_name_split(p->v[P_TUNNELS].strv[i], conn, child) < 0) {
                        (void) snprintf(why, n, "tunnels: '%.80s' is not CONNECTION/CHILD", p->v[P_TUNNELS].strv[i]);
                        return -EINVAL;
                }
        return 0;
}

static const char *check_param(const action_env *env, const char *check, const char *key) {
        return env->check_param ? env->check_param(env->check_userdata, check, key) : NULL;
}

/* What the tunnels check expects, and the step's own list. */
static void expect(const action_params *p, const action_env *env, tunnel_set *s) {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX], key[32], err[256];
        const char *check = check_of(p), *v;

        *s = (tunnel_set){};
        for (size_t i = 0; p->v[P_TUNNELS].set && p->v[P_TUNNELS].strv[i]; i++)
                if (tunnel_name_split(p->v[P_TUNNELS].strv[i], conn, child) >= 0)
                        (void) tunnel_set_add(s, conn, child, TUNNEL_FROM_LIST);
        for (unsigned i = 0; i < TUNNELS_MAX; i++) {
                (void) snprintf(key, sizeof(key), "tunnels.%u", i);
                if (!(v = check_param(env, check, key)))
                        break;
                if (tunnel_name_split(v, conn, child) >= 0)
                        (void) tunnel_set_add(s, conn, child, TUNNEL_FROM_LIST);
        }
        v = check_param(env, check, "from_config");
        if (v && (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0))
                return;
        _cleanup_(swconf_freep) swconf *c = NULL;
        v = check_param(env, check, "swanctl_conf");
        if (swconf_load(v ? v : SWANCTL_CONF_DEFAULT, &c, err, sizeof(err)) >= 0)
                tunnel_set_from_swanctl(s, c);
}

/* Is `t` a tunnel to one of `peers` (comma-separated; NULL or "" or "-": any)? */
static bool peer_matches(const tunnel *t, const char *peers) {
        char name[2 * TUNNEL_PEER_MAX + 2];

        if (!peers || !*peers || strcmp(peers, "-") == 0)
                return true;
        tunnel_peer(t, name, sizeof(name));
        for (const char *q = peers; *q;) {
                const char *e = strchr(q, ',');
                size_t len = e ? (size_t) (e - q) : strlen(q);
                if ((len == strlen(name) && memcmp(q, name, len) == 0) ||
                    (t->peer_id[0] && len == strlen(t->peer_id) && memcmp(q, t->peer_id, len) == 0) ||
                    (t->peer_addr[0] && len == strlen(t->peer_addr) && memcmp(q, t->peer_addr, len) == 0))
                        return true;
                q = e ? e + 1 : q + len;
        }
        return false;
}

static bool is_up(const tunnel *t) {
        return t->installed || t->trapped;
}

static int ti_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        const char *peers = p->v[P_PEERS].set ? p->v[P_PEERS].str : NULL;
        int r;

        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  VICI: list-sas: the tunnels%s%s are INSTALLED", peers ? " to " : "",
                                       peers ? peers : "");
        r = action_plan_add(out, "  VICI: initiate each tunnel expected by check %s%s that is down%s%s", check_of(p),
                            p->v[P_TUNNELS].set ? " or listed here" : "", peers ? ", to peers " : "", peers ? peers : "");
        if (r < 0)
                return r;
        for (size_t i = 0; p->v[P_TUNNELS].set && p->v[P_TUNNELS].strv[i]; i++)
                if ((r = action_plan_add(out, "    %s", p->v[P_TUNNELS].strv[i])) < 0)
                        return r;
        if ((r = action_plan_add(out, "  wait up to %llus for each to be INSTALLED; no SA is terminated",
                                 (unsigned long long) (wait_of(p) / USEC_PER_SEC))) < 0)
                return r;
        if (attempts_of(p) > 1)
                r = action_plan_add(out, "  at most %u attempts, %llus apart, doubling", attempts_of(p),
                                    (unsigned long long) (backoff_of(p) / USEC_PER_SEC));
        return r;
}

static void finish(ti_state *s, int r) {
        s->timer = ev_source_disable_unref(s->timer);
        action_call_done(s->call, r);
}

static void list_names(const ti_state *s, bool want_up, char *buf, size_t size) {
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < s->set.n; i++) {
                const tunnel *t = &s->set.t[i];
                if (!s->selected[i] || is_up(t) != want_up)
                        continue;
                int w = snprintf(buf + used, size - used, "%s%s/%s%s%s", used ? ", " : "", t->conn, t->child,
                                 want_up ? "" : " (IKE_SA ", want_up ? "" : tunnel_ike_to_string(t->ike));
                if (w < 0 || (size_t) w >= size - used)
                        break;
                used += (size_t) w;
                if (!want_up && used + 2 < size) {
                        buf[used++] = ')';
                        buf[used] = 0;
                }
        }
}

static int list_start(ti_state *s);

static int on_poll_timer(ev_source *src, uint64_t usec, void *userdata) {
        ti_state *s = userdata;
        int r;

        s->timer = ev_source_disable_unref(s->timer);
        if ((r = list_start(s)) < 0)
                finish(s, r);
        return 0;
}

static void initiate_next(ti_state *s);

/* A peer that does not answer is tried again after a pause that doubles, not hammered. */
static int on_backoff_timer(ev_source *src, uint64_t usec, void *userdata) {
        ti_state *s = userdata;

        s->timer = ev_source_disable_unref(s->timer);
        s->attempt++;
        s->backoff *= 2;
        s->deadline = mono_usec() + wait_of(action_call_params(s->call));
        s->failed[0] = 0; /* charon's refusals of this attempt only */
        s->seen_trying = false;
        s->phase = PHASE_INITIATE;
        s->next = 0;
        initiate_next(s);
        return 0;
}

/* The three lists are in: judge (and, applying, select and initiate). */
static void judge(ti_state *s) {
        const action_params *p = action_call_params(s->call);
        const char *peers = p->v[P_PEERS].set ? p->v[P_PEERS].str : NULL;
        char down[ACTION_DETAIL_MAX / 2], up[ACTION_DETAIL_MAX / 4];
        size_t n_down = 0;

        if (s->phase == PHASE_LIST) {
                s->n_selected = 0;
                for (size_t i = 0; i < s->set.n; i++) {
                        const tunnel *t = &s->set.t[i];
                        s->selected[i] = t->loaded && peer_matches(t, peers) && (s->op == ACTION_VERIFY || !is_up(t));
                        s->n_selected += s->selected[i];
                }
        }
        for (size_t i = 0; i < s->set.n; i++)
                n_down += s->selected[i] && !is_up(&s->set.t[i]);
        list_names(s, false, down, sizeof(down));
        list_names(s, true, up, sizeof(up));
        if (n_down == 0) {
                if (s->n_selected == 0)
                        action_call_set_detail(s->call, "no tunnel%s%s is down: nothing to initiate", peers ? " to " : "",
                                               peers ? peers : "");
                else
                        action_call_set_detail(s->call, "INSTALLED: %s", up);
                finish(s, 0);
                return;
        }
        if (s->op == ACTION_VERIFY) {
                action_call_set_detail(s->call, "down: %s", down);
                finish(s, -EAGAIN);
                return;
        }
        if (s->phase == PHASE_LIST) {
                s->phase = PHASE_INITIATE;
                s->next = 0;
                initiate_next(s);
                return;
        }
        /* charon was seen at it and has given up (the IKE_SA is gone): this attempt is over
         * before its wait, a peer that refused or does not answer is not waited for in vain */
        bool trying = false;
        for (size_t i = 0; i < s->set.n; i++)
                trying = trying || (s->selected[i] && !is_up(&s->set.t[i]) && s->set.t[i].ike >= TUNNEL_IKE_CONNECTING);
        s->seen_trying = s->seen_trying || trying;
        if (s->seen_trying && !trying)
                s->deadline = mono_usec();
        if (mono_usec() >= s->deadline && s->attempt < attempts_of(p)) {
                if (ev_add_time_relative(action_call_env(s->call)->event, &s->timer, CLOCK_MONOTONIC, s->backoff,
                                               10 * USEC_PER_MSEC, on_backoff_timer, s) < 0)
                        finish(s, -ENOMEM);
                return;
        }
        if (mono_usec() >= s->deadline) {
                action_call_set_detail(s->call, "still down after %u attempt(s) of %llus: %s%s%s", s->attempt,
                                       (unsigned long long) (wait_of(p) / USEC_PER_SEC), down,
                                       s->failed[0] ? "; charon: " : "", s->failed);
                finish(s, -ETIMEDOUT);
                return;
        }
        if (ev_add_time_relative(action_call_env(s->call)->event, &s->timer, CLOCK_MONOTONIC, POLL_USEC,
                                       10 * USEC_PER_MSEC, on_poll_timer, s) < 0)
                finish(s, -ENOMEM);
}

static void on_conn(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnel_set_conn(&((ti_state *) userdata)->set, item);
}

static void on_policy(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnel_set_policy(&((ti_state *) userdata)->set, item);
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnel_set_sa(&((ti_state *) userdata)->set, item);
}

static void on_list_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        ti_state *s = userdata;
        if (error < 0 && !s->list_error)
                s->list_error = error;
}

static void on_sas_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        ti_state *s = userdata;

        if (error < 0 || s->list_error < 0) {
                action_call_set_detail(s->call, "VICI: cannot list charon's connections and SAs: %s",
                                       strerror(-(error < 0 ? error : s->list_error)));
                finish(s, error < 0 ? error : s->list_error);
                return;
        }
        judge(s);
}

/* Ask charon what it has: connections and trap policies the first time, SAs every time. */
static int list_start(ti_state *s) {
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r = 0;

        s->list_error = 0;
        tunnel_set_reset(&s->set);
        r = vici_client_stream(s->vici, "list-conns", "list-conn", NULL, 0, on_conn, on_list_done, s);
        if (r >= 0)
                r = vici_builder_new(&b);
        if (r >= 0) {
                vici_builder_add_str(b, "trap", "yes");
                r = vici_builder_finish(b, &msg, &len);
        }
        if (r >= 0)
                r = vici_client_stream(s->vici, "list-policies", "list-policy", msg, len, on_policy, on_list_done, s);
        if (r >= 0)
                r = vici_client_stream(s->vici, "list-sas", "list-sa", NULL, 0, on_sa, on_sas_done, s);
        if (r < 0)
                vici_client_forget(s->vici, s);
        return r;
}

static void on_initiated(vici_client *c, int error, const vici_node *reply, void *userdata) {
        ti_state *s = userdata;
        const char *ok = reply ? vici_node_str(reply, "success") : NULL, *err = reply ? vici_node_str(reply, "errmsg") : NULL;
        const tunnel *t = &s->set.t[s->next];

        if (error < 0) {
                action_call_set_detail(s->call, "VICI: initiate %s/%s: %s", t->conn, t->child, strerror(-error));
                finish(s, error);
                return;
        }
        if (!ok || strcmp(ok, "yes") != 0) {
                size_t used = strlen(s->failed);
                (void) snprintf(s->failed + used, sizeof(s->failed) - used, "%s%s/%s: %s", used ? "; " : "", t->conn,
                                t->child, err ? err : "refused");
        }
        s->next++;
        initiate_next(s);
}

static void initiate_next(ti_state *s) {
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r;

        while (s->next < s->set.n && !(s->selected[s->next] && !is_up(&s->set.t[s->next])))
                s->next++;
        if (s->next >= s->set.n) {
                s->phase = PHASE_POLL;
                if ((r = list_start(s)) < 0)
                        finish(s, r);
                return;
        }
        const tunnel *t = &s->set.t[s->next];
        if ((r = vici_builder_new(&b)) < 0) {
                finish(s, r);
                return;
        }
        vici_builder_add_str(b, "child", t->child);
        vici_builder_add_str(b, "ike", t->conn);
        /* return at once: the step polls, the VICI connection stays free */
        vici_builder_add_str(b, "timeout", "-1");
        if ((r = vici_builder_finish(b, &msg, &len)) < 0 ||
            (r = vici_client_command(s->vici, "initiate", msg, len, on_initiated, s)) < 0)
                finish(s, r);
}

static int ti_start(void *state, action_call *call, action_op op) {
        ti_state *s = state;
        const action_env *env = action_call_env(call);

        *s = (ti_state){ .call = call, .vici = env->vici, .op = op, .attempt = 1,
                         .backoff = backoff_of(action_call_params(call)) };
        if (!s->vici || !vici_client_is_connected(s->vici)) {
                action_call_set_detail(call, "charon is not connected over VICI");
                return -ENOTCONN;
        }
        expect(action_call_params(call), env, &s->set);
        s->deadline = mono_usec() + wait_of(action_call_params(call));
        return list_start(s);
}

static void ti_cancel(void *state) {
        ti_state *s = state;
        s->timer = ev_source_disable_unref(s->timer);
        if (s->vici)
                vici_client_forget(s->vici, s);
}

static bool ti_supports(const action_params *p, action_op op) {
        return op == ACTION_APPLY || op == ACTION_VERIFY;
}

const action_ops action_tunnel_initiate = {
        .kind = "tunnel_initiate",
        .description = "initiate the site-to-site tunnels that are down (never terminates an SA), wait until INSTALLED",
        .params = params,
        .effects = true,
        .state_size = sizeof(ti_state),
        .validate = ti_validate,
        .plan = ti_plan,
        .start = ti_start,
        .cancel = ti_cancel,
        .done = ti_cancel,
        .supports = ti_supports,
};
