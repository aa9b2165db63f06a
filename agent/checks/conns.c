/* The connections check (kind "conns"): are the IKE connections that worked still loaded in
 * charon? A broken swanctl.conf is the common way to lose them: `swanctl --load-all` on a file
 * with a syntax error unloads every connection it no longer finds (measured in the lab: "no
 * connections found, 1 unloaded"), and charon then refuses every peer while looking perfectly
 * healthy. So each run lists the loaded connections over VICI (list-conns) and compares them
 * with the expected set: the `expected` parameter plus the last-good set recorded by
 * mark_good() in <state_dir>/snapshots/<check>.conns (kept across restarts).
 *
 *   missing expected connection → FAIL class=daemon_config reason=conns_missing (global)
 *   nothing loaded, nothing known → WARN reason=no_conns
 *   charon unreachable           → UNKNOWN (the daemon check owns that failure)
 *   either of the first two within charon.start_grace of a reconnect → UNKNOWN (still loading)
 *
 * Push: charon's own log says when a client loads or unloads connections ("vici client N
 * requests: unload-conn"); those lines and a reconnect to charon trigger a run. But charon
 * sends its log over VICI only up to level 1 (vici_logger: LEVEL_CTRL) and those lines are
 * level 2, so in practice a reconnect is the only push and a lost connection is seen at the
 * next interval (measured by the config-syntax drill: TTD ~0.7 s at 1 s, ~4.7 s at 5 s). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/conns.h"
#include "snapshot.h"
#include "vici.h"
#include "atomic_file.h"
#include "yaml_bind.h"

#define CONNS_MAX 256u
#define CONN_NAME_MAX 128u
#define SNAPSHOT_MAX (CONNS_MAX * (CONN_NAME_MAX + 1))

typedef struct names {
        char *v[CONNS_MAX];
        size_t n;
} names;

typedef struct conns_state {
        char **expected; /* params */
        check *check;
        const check_env *env;
        charon_listener *listener;
        names good;      /* last-good set */
        names loaded;    /* being collected by the run in flight */
        check_run *run;
        ev_source *grace; /* after charon (re)connected: judge when it is over */
} conns_state;

static const yfield conns_fields[] = {
        { "expected", YF_STRV, offsetof(conns_state, expected), .max = CONNS_MAX },
        {}
};

static void names_clear(names *n) {
        for (size_t i = 0; i < n->n; i++)
                free(n->v[i]);
        n->n = 0;
}

static bool names_has(const names *n, const char *s) {
        for (size_t i = 0; i < n->n; i++)
                if (strcmp(n->v[i], s) == 0)
                        return true;
        return false;
}

static int names_add(names *n, const char *s, size_t len) {
        if (len == 0 || len > CONN_NAME_MAX || n->n >= CONNS_MAX)
                return -E2BIG;
        char *c = strndup(s, len);
        if (!c)
                return -ENOMEM;
        if (names_has(n, c)) {
                free(c);
                return 0;
        }
        n->v[n->n++] = c;
        return 0;
}

static int conns_parse(void *state, const ynode *params, ydiag *d) {
        return ybind(params, conns_fields, state, d);
}

static char *conns_snapshot_path(const conns_state *s) {
        char *p = NULL;
        if (snapshot_path(s->env->state_dir, check_name(s->check), "conns", &p) < 0)
                return NULL;
        return p;
}

static void snapshot_load(conns_state *s) {
        _cleanup_(freep) char *path = conns_snapshot_path(s), *buf = NULL;
        size_t len;

        if (!path || atomic_file_read(path, SNAPSHOT_MAX, &buf, &len) < 0)
                return; /* none yet: nothing learnt */
        for (char *line = buf, *end; line < buf + len; line = end + 1) {
                end = memchr(line, '\n', (size_t) (buf + len - line));
                if (!end)
                        end = buf + len;
                (void) names_add(&s->good, line, (size_t) (end - line));
        }
}

static void on_log(const char *event, const vici_node *msg, void *userdata) {
        conns_state *s = userdata;
        const char *m = vici_node_str(msg, "msg");

        if (m && (strstr(m, "requests: unload-conn") || strstr(m, "requests: load-conn")))
                (void) check_trigger(s->check);
}

/* charon starts without connections; its service loads them right after (swanctl --load-all
 * in ExecStartPost). Missing connections within charon.start_grace of a (re)connect are not a
 * fault yet (UNKNOWN); every expected one loaded ends the grace at once. */

static int on_grace(ev_source *src, uint64_t usec, void *userdata) {
        conns_state *s = userdata;
        s->grace = ev_source_disable_unref(s->grace);
        (void) check_trigger(s->check);
        return 0;
}

static void on_state(bool connected, int reason, void *userdata) {
        conns_state *s = userdata;
        s->grace = ev_source_disable_unref(s->grace);
        if (connected && s->env->charon.start_grace_usec)
                (void) ev_add_time_relative(s->env->event, &s->grace, CLOCK_MONOTONIC,
                                                  s->env->charon.start_grace_usec, 10 * USEC_PER_MSEC,
                                                  on_grace, s);
}

static int conns_attach(void *state, check *c, const check_env *env) {
        conns_state *s = state;

        s->check = c;
        s->env = env;
        snapshot_load(s);
        if (!env->hub)
                return 0;
        return charon_hub_listen(env->hub, "log", on_log, on_state, s, &s->listener);
}

static void on_item(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        conns_state *s = userdata;

        /* an item is { <connection name> { … } } */
        for (const vici_node *n = item ? item->child : NULL; n; n = n->next)
                if (n->type == VICI_NODE_SECTION && n->name)
                        (void) names_add(&s->loaded, n->name, strlen(n->name));
}

static void list_join(const names *n, const names *filter, bool in, char *buf, size_t size) {
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < n->n; i++) {
                if (filter && names_has(filter, n->v[i]) != in)
                        continue;
                int w = snprintf(buf + used, size - used, "%s%s", used ? "," : "", n->v[i]);
                if (w < 0 || (size_t) w >= size - used)
                        break;
                used += (size_t) w;
        }
}

static void on_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        conns_state *s = userdata;
        finding *f = NULL;
        names want = {};
        char missing[1024], loaded[1024];

        if (finding_new(&f) < 0)
                goto out;
        if (error < 0) {
                (void) finding_set(f, CHECK_UNKNOWN, "cannot list charon's connections: %s",
                                   strerror(-error));
                goto deliver;
        }
        for (size_t i = 0; s->expected && s->expected[i]; i++)
                (void) names_add(&want, s->expected[i], strlen(s->expected[i]));
        for (size_t i = 0; i < s->good.n; i++)
                (void) names_add(&want, s->good.v[i], strlen(s->good.v[i]));

        list_join(&want, &s->loaded, false, missing, sizeof(missing));
        list_join(&s->loaded, NULL, true, loaded, sizeof(loaded));
        (void) finding_fact_set(f, "loaded", "%s", loaded);
        (void) finding_fact_set(f, "n_loaded", "%zu", s->loaded.n);
        (void) finding_fact_set(f, "n_expected", "%zu", want.n);
        if (s->grace && (missing[0] || s->loaded.n == 0)) {
                size_t have = 0;
                for (size_t i = 0; i < want.n; i++)
                        have += names_has(&s->loaded, want.v[i]);
                (void) finding_set(f, CHECK_UNKNOWN, "charon just (re)started: its connections are being loaded "
                                   "(%zu of %zu expected so far)", have, want.n);
        } else if (missing[0]) {
                (void) finding_set(f, CHECK_FAIL,
                                   "connection(s) %s no longer loaded in charon: every peer of them "
                                   "is refused (a broken swanctl.conf unloads what it cannot parse)",
                                   missing);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon_config");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "conns_missing");
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
                (void) finding_fact_set(f, "missing", "%s", missing);
                (void) finding_evidence(f, "expected: %zu connection(s), loaded: %s", want.n,
                                        loaded[0] ? loaded : "none");
        } else if (s->loaded.n == 0) {
                (void) finding_set(f, CHECK_WARN, "charon has no connection loaded");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "daemon_config");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "no_conns");
        } else {
                (void) finding_set(f, CHECK_OK, "%zu connection(s) loaded: %s", s->loaded.n, loaded);
                s->grace = ev_source_disable_unref(s->grace); /* loaded: the start is over */
        }
deliver:
        if (s->run) {
                check_run *run = s->run;
                s->run = NULL;
                check_run_done(run, f);
                f = NULL;
        }
out:
        finding_free(f);
        names_clear(&want);
}

static int conns_start(void *state, const check_env *env, check_run *run) {
        conns_state *s = state;
        int r;

        if (!env->vici || !vici_client_is_connected(env->vici))
                return check_run_unknown(run, "charon is not connected (the daemon check says why)");
        names_clear(&s->loaded);
        r = vici_client_stream(env->vici, "list-conns", "list-conn", NULL, 0, on_item, on_done, s);
        if (r < 0)
                return r;
        s->run = run;
        return 0;
}

static void conns_cancel(void *state) {
        conns_state *s = state;
        s->run = NULL;
        vici_client_forget(s->env->vici, s);
}

static void conns_mark_good(void *state, const check_env *env) {
        conns_state *s = state;
        _cleanup_(freep) char *path = conns_snapshot_path(s);
        char buf[SNAPSHOT_MAX];
        size_t used = 0;
        const check_status st = check_get_state(s->check)->reported;
        const finding *last = check_last_finding(s->check);

        if (!path || st != CHECK_OK || !last)
                return;
        /* the last OK run's list (the fact) is what worked */
        const char *loaded = finding_fact_get(last, "loaded");
        names_clear(&s->good);
        for (const char *p = loaded; p && *p;) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                (void) names_add(&s->good, p, n);
                p = e ? e + 1 : NULL;
        }
        for (size_t i = 0; i < s->good.n && used + strlen(s->good.v[i]) + 1 < sizeof(buf); i++)
                used += (size_t) snprintf(buf + used, sizeof(buf) - used, "%s\n", s->good.v[i]);
        (void) atomic_file_write(path, buf, used, 0640);
}

static void conns_done(void *state) {
        conns_state *s = state;
        if (s->env)
                vici_client_forget(s->env->vici, s);
        charon_listener_free(s->listener);
        s->grace = ev_source_disable_unref(s->grace);
        names_clear(&s->good);
        names_clear(&s->loaded);
        strv_free(s->expected);
}

const check_ops conns_check_ops = {
        .kind = "conns",
        .description = "charon still has the connections that worked (a broken swanctl.conf unloads them)",
        .state_size = sizeof(conns_state),
        .parse = conns_parse,
        .attach = conns_attach,
        .start = conns_start,
        .cancel = conns_cancel,
        .mark_good = conns_mark_good,
        .done = conns_done,
};
