/* The `encap` action: force UDP encapsulation of ESP for the connections to a peer whose path
 * drops ESP but passes IKE (the tunnels check's probe: `esp_dropped`). A temporary measure
 * (the step carries `expires_in`; the engine records the revert before applying).
 *
 * The connections are the step's `conn`, else every swanctl.conf connection (the tunnels
 * check's `swanctl_conf`, else the config check's tree) to the incident's `peers`. Apply writes one override into the swanctl
 * tree's conf.d/ (zz-ikeheal-encap.conf, read after the connection's own files when
 * swanctl.conf includes every conf.d file, as Debian's does: settings sections of one name merge,
 * the later value wins):
 *
 *   connections { NAME { encap = yes } }
 *
 * then `swanctl --load-conns`: charon compares each connection it is sent with the one it has
 * and replaces only those whose settings changed ("replaced vici connection" in its log),
 * keeping the others and their SAs as they are. encap is settled when an IKE_SA is set up
 * (charon fakes the NAT detection payloads, so both ends float to UDP 4500), so the IKE_SAs of
 * those connections that were up before are then terminated over VICI, and each connection is
 * brought back (by charon's own start action, else an `initiate` of its children) until its
 * CHILD_SAs are INSTALLED and UDP-encapsulated, at most `wait`. That drops the tunnel for the
 * seconds a new IKE_SA takes: the plan says disruptive.
 *
 * Verify: the override is in place and each connection's CHILD_SAs are INSTALLED with
 * encap=yes (charon 5.9's list-conns does not report encap, so the SAs are the evidence).
 * Revert: the override removed (only ours: a file someone else wrote there is left and the
 * revert fails) and `swanctl --load-conns` again. charon replaces the connection again, and
 * one that starts by itself (start_action = start) has its SAs set up anew by charon, without
 * encapsulation; the SAs of any other stay encapsulated until they are next set up.
 *
 * Precondition: an SA that is UDP-encapsulated already (the tunnels check's fact `udp_encap`)
 * gains nothing from this: the step is refused and the engine escalates at once. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/swanctl.h"
#include "atomic_file.h"
#include "file_read.h"
#include "now.h"
#include "swconf.h"
#include "swconf_peer.h"
#include "vici.h"

#define ENCAP_FILE "zz-ikeheal-encap.conf"
#define ENCAP_MARK "# Written by ikeheald: UDP encapsulation forced"
#define TUNNELS_CHECK "tunnels"
#define SWANCTL_CONF_DEFAULT "/etc/swanctl/swanctl.conf"
#define POLL_USEC (250 * USEC_PER_MSEC)
#define CONNS_MAX 8u
#define NAME_MAX_LEN 64u
#define IDS_MAX 16u
#define SWCONF_CONNS_MAX 256u

enum { P_PEERS, P_CONN, P_CHECK, P_WAIT, P_SWANCTL, _P_MAX };

static const action_param_spec params[] = {
        [P_PEERS] = { "peers", AP_STRING, false },
        [P_CONN] = { "conn", AP_STRV, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_WAIT] = { "wait", AP_DURATION, false, USEC_PER_SEC, 600 * USEC_PER_SEC },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [_P_MAX] = { 0 },
};

typedef struct encap_conn {
        char name[NAME_MAX_LEN];
        char children[CONNS_MAX][NAME_MAX_LEN]; /* its children in swanctl.conf */
        size_t n_children;
        uint64_t old_ids[IDS_MAX]; /* its IKE_SAs before the reload */
        size_t n_old;
        bool initiated;
        /* this round of list-sas */
        bool old_seen, new_seen, good;
        char state[128];
} encap_conn;

typedef enum phase {
        PHASE_BEFORE, /* list-sas: the IKE_SAs up before */
        PHASE_LOAD,   /* swanctl --load-conns */
        PHASE_POLL,   /* terminate the old ones, list-sas until the new ones are good */
} phase;

typedef struct encap_state {
        action_call *call;
        action_op op;
        phase phase;
        vici_client *vici;
        spawn *child;
        ev_source *timer;
        uint64_t deadline;
        encap_conn conns[CONNS_MAX];
        size_t n_conns;
        char loaded[256];
} encap_state;

static const char *check_of(const action_params *p) {
        return p->v[P_CHECK].set ? p->v[P_CHECK].str : TUNNELS_CHECK;
}

static uint64_t wait_of(const action_params *p) {
        return p->v[P_WAIT].set ? p->v[P_WAIT].num : 30 * USEC_PER_SEC;
}

static const char *check_param(const action_env *env, const char *check, const char *key) {
        return env->check_param ? env->check_param(env->check_userdata, check, key) : NULL;
}

/* swanctl.conf: the tunnels check's, else the one in the config check's tree, else the default. */
static const char *swanctl_conf_of(const action_params *p, const action_env *env, char *buf, size_t size) {
        const char *c = check_param(env, check_of(p), "swanctl_conf"), *d = check_param(env, "config", "swanctl_dir");

        if (c)
                return c;
        if (!d)
                return SWANCTL_CONF_DEFAULT;
        (void) snprintf(buf, size, "%s/swanctl.conf", d);
        return buf;
}

/* The swanctl tree: the config check's, else the directory of the tunnels check's swanctl.conf. */
static char *swanctl_dir(const action_params *p, const action_env *env) {
        const char *d = check_param(env, "config", "swanctl_dir");
        _cleanup_(freep) char *copy = NULL;

        if (d)
                return strdup(d);
        char buf[4200];
        if (!(copy = strdup(swanctl_conf_of(p, env, buf, sizeof(buf)))))
                return NULL;
        return strdup(dirname(copy));
}

static char *override_path(const action_params *p, const action_env *env) {
        _cleanup_(freep) char *dir = swanctl_dir(p, env);
        char *s;
        return !dir || asprintf(&s, "%s/conf.d/" ENCAP_FILE, dir) < 0 ? NULL : s;
}

/* A connection's name goes into swanctl.conf: nothing that could end or open a section. */
static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= NAME_MAX_LEN)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("_-", *c)))
                        return false;
        return true;
}

int encap_override_text(char *const *conns, size_t n, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!name_ok(conns[i]))
                        return -EINVAL;
        if (!(f = open_memstream(&text, &size)))
                return -ENOMEM;
        fprintf(f, ENCAP_MARK " for these connections (a measure with an\n"
                   "# expiry, removed when it ends). Do not edit.\nconnections {\n");
        for (size_t i = 0; i < n; i++)
                fprintf(f, "        %s {\n                encap = yes\n        }\n", conns[i]);
        fprintf(f, "}\n");
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret_size = size;
        *ret = TAKE_PTR(text);
        return 0;
}

/* The connections to act on: `conn`, else those of swanctl.conf to the peers. 0 with at least
 * one, else -ENOENT (why filled). Children are read from swanctl.conf when it has them. */
static int targets(const action_params *p, const action_env *env, encap_conn *out, size_t *ret_n, char *why, size_t n_why) {
        _cleanup_(swconf_freep) swconf *c = NULL;
        const char *conns[SWCONF_CONNS_MAX], *children[CONNS_MAX];
        char err[256] = "", key[256], buf[4200];
        const char *conf = swanctl_conf_of(p, env, buf, sizeof(buf));
        size_t k = 0;
        bool have_conf = swconf_load(conf, &c, err, sizeof(err)) >= 0;

        for (size_t i = 0; p->v[P_CONN].set && p->v[P_CONN].strv[i] && k < CONNS_MAX; i++)
                if (name_ok(p->v[P_CONN].strv[i]))
                        (void) snprintf(out[k++].name, NAME_MAX_LEN, "%s", p->v[P_CONN].strv[i]);
        if (!p->v[P_CONN].set && have_conf && p->v[P_PEERS].set && p->v[P_PEERS].str[0]) {
                size_t nc = swconf_children(c, "connections", conns, ELEMENTSOF(conns));
                char peers[1024];
                (void) snprintf(peers, sizeof(peers), "%s", p->v[P_PEERS].str);
                for (char *save = NULL, *peer = strtok_r(peers, ", ", &save); peer; peer = strtok_r(NULL, ", ", &save))
                        for (size_t i = 0; i < nc && i < ELEMENTSOF(conns) && k < CONNS_MAX; i++) {
                                bool dup = false;
                                for (size_t j = 0; j < k; j++)
                                        dup = dup || strcmp(out[j].name, conns[i]) == 0;
                                if (!dup && name_ok(conns[i]) && swconf_conn_has_peer(c, conns[i], peer))
                                        (void) snprintf(out[k++].name, NAME_MAX_LEN, "%s", conns[i]);
                        }
        }
        for (size_t i = 0; i < k; i++) {
                out[i].n_children = 0;
                (void) snprintf(key, sizeof(key), "connections.%s.children", out[i].name);
                size_t nch = have_conf ? swconf_children(c, key, children, ELEMENTSOF(children)) : 0;
                for (size_t j = 0; j < nch && j < ELEMENTSOF(children); j++)
                        if (strlen(children[j]) < NAME_MAX_LEN)
                                (void) snprintf(out[i].children[out[i].n_children++], NAME_MAX_LEN, "%s", children[j]);
        }
        if (k == 0) {
                (void) snprintf(why, n_why, "no connection %s%s in %s%s%s", p->v[P_CONN].set ? "named" : "to the peers ",
                                p->v[P_CONN].set ? "" : (p->v[P_PEERS].set ? p->v[P_PEERS].str : "(none given)"),
                                conf, err[0] ? ": " : "", err);
                return -ENOENT;
        }
        *ret_n = k;
        return 0;
}

/* Is the override there, and ours? 1 ours, 0 absent, -EEXIST someone else's (or unreadable). */
static int override_owned(const char *path) {
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        int r = file_read_all(path, 64 * 1024, 0, &text, &len, NULL);

        if (r == -ENOENT)
                return 0;
        return r >= 0 && strncmp(text, ENCAP_MARK, strlen(ENCAP_MARK)) == 0 ? 1 : -EEXIST;
}

/* Is `name` in the comma-separated list? */
static bool listed(const char *list, const char *name) {
        size_t n = strlen(name);
        for (const char *q = list; q && *q;) {
                size_t len = strcspn(q, ",");
                if (len == n && strncmp(q, name, n) == 0)
                        return true;
                q += len + (q[len] == ',');
        }
        return false;
}

/* Of the check's tunnels up ("conn/child" in its `up`), are those of conn all encapsulated
 * (in its `udp_encap`), and is there at least one? */
static bool conn_encapsulated(const char *up, const char *encap, const char *conn, char *which, size_t n_which) {
        size_t cl = strlen(conn), seen = 0;

        for (const char *q = up; q && *q;) {
                size_t len = strcspn(q, ",");
                char one[2 * NAME_MAX_LEN + 2];
                (void) snprintf(one, sizeof(one), "%.*s", (int) len, q);
                if (strncmp(one, conn, cl) == 0 && one[cl] == '/') {
                        if (!listed(encap, one))
                                return false;
                        if (!seen++)
                                (void) snprintf(which, n_which, "%s", one);
                }
                q += len + (q[len] == ',');
        }
        return seen > 0;
}

static int encap_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        encap_conn conns[CONNS_MAX];
        size_t k = 0;
        int r = targets(p, env, conns, &k, why, n);
        const char *up, *encap;
        char which[2 * NAME_MAX_LEN + 2] = "";

        if (r < 0)
                return r;
        if (!env->check_fact)
                return 0;
        up = env->check_fact(env->check_userdata, check_of(p), "up");
        encap = env->check_fact(env->check_userdata, check_of(p), "udp_encap");
        for (size_t i = 0; i < k; i++)
                if (!conn_encapsulated(up, encap, conns[i].name, which, sizeof(which)))
                        return 0;
        (void) snprintf(why, n, "%s is already UDP-encapsulated (ESP in UDP 4500, the tunnels check's udp_encap): "
                        "forcing encapsulation gains nothing", which);
        return -EALREADY;
}

static int encap_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        for (size_t i = 0; p->v[P_CONN].set && p->v[P_CONN].strv[i]; i++)
                if (!name_ok(p->v[P_CONN].strv[i])) {
                        (void) snprintf(why, n, "conn: '%.80s' is not a connection name (letters, digits, '-', '_')",
                                        p->v[P_CONN].strv[i]);
                        return -EINVAL;
                }
        if (!p->v[P_CONN].set && !p->v[P_PEERS].set) {
                (void) snprintf(why, n, "peers or conn: which connections");
                return -EINVAL;
        }
        return 0;
}

static int encap_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(freep) char *path = override_path(p, env);
        encap_conn conns[CONNS_MAX];
        char why[512] = "", names[512] = "";
        size_t k = 0, w = 0;

        if (op == ACTION_APPLY && p->v[P_PEERS].set && strstr(p->v[P_PEERS].str, "${")) { /* before the step starts */
                out->disruptive = true;
                return action_plan_add(out, "  write %s: connections { C { encap = yes } } for each swanctl.conf connection "
                                       "C to %s (found when the step starts); swanctl --load-conns; VICI: their IKE_SAs "
                                       "terminated and set up again, wait up to %llus for the CHILD_SAs INSTALLED and "
                                       "UDP-encapsulated", path ?: "?", p->v[P_PEERS].str,
                                       (unsigned long long) (wait_of(p) / USEC_PER_SEC));
        }
        if (targets(p, env, conns, &k, why, sizeof(why)) < 0)
                return action_plan_add(out, "  %s: nothing to force", why);
        for (size_t i = 0; i < k; i++) {
                int m = snprintf(names + w, sizeof(names) - w, "%s%s", i ? ", " : "", conns[i].name);
                if (m < 0 || (size_t) m >= sizeof(names) - w)
                        break;
                w += (size_t) m;
        }
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  %s in place; VICI list-sas: the CHILD_SAs of %s INSTALLED with encap=yes",
                                       path ?: "?", names);
        if (op == ACTION_REVERT) {
                out->disruptive = true;
                return action_plan_add(out, "  delete %s, then swanctl --load-conns (%s as configured again: charon sets "
                                       "up anew the SAs of a connection that starts by itself)", path ?: "?", names);
        }
        out->disruptive = true;
        (void) action_plan_add(out, "  write %s: connections { %s { encap = yes } } (ESP in UDP 4500)", path ?: "?", names);
        (void) action_plan_add(out, "  swanctl --load-conns (charon replaces only the connections whose settings changed)");
        return action_plan_add(out, "  VICI: terminate the IKE_SAs of %s and bring them back (start action or initiate); "
                               "wait up to %llus for their CHILD_SAs INSTALLED and UDP-encapsulated", names,
                               (unsigned long long) (wait_of(p) / USEC_PER_SEC));
}

static bool encap_supports(const action_params *p, action_op op) {
        return true;
}

/* ---- running ---- */

static void finish(encap_state *s, int r) {
        s->timer = ev_source_disable_unref(s->timer);
        action_call_done(s->call, r);
}

static encap_conn *conn_of(encap_state *s, const char *name) {
        for (size_t i = 0; i < s->n_conns; i++)
                if (strcmp(s->conns[i].name, name) == 0)
                        return &s->conns[i];
        return NULL;
}

static bool is_old(const encap_conn *c, uint64_t id) {
        for (size_t i = 0; i < c->n_old; i++)
                if (c->old_ids[i] == id)
                        return true;
        return false;
}

/* One list-sa item: { <conn> { uniqueid, state, child-sas { … { name, state, encap } } } }. */
static void on_sa(vici_client *vc, const char *event, const vici_node *item, void *userdata) {
        encap_state *s = userdata;

        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                encap_conn *c = ike->type == VICI_NODE_SECTION && ike->name ? conn_of(s, ike->name) : NULL;
                const char *st = vici_node_str(ike, "state");
                const vici_node *children = vici_node_get(ike, "child-sas");
                uint64_t id = 0;
                size_t installed = 0, encap = 0;

                if (!c || vici_node_u64(ike, "uniqueid", &id) < 0)
                        continue;
                if (s->phase == PHASE_BEFORE) {
                        if (c->n_old < IDS_MAX)
                                c->old_ids[c->n_old++] = id;
                        continue;
                }
                if (is_old(c, id)) {
                        c->old_seen = true;
                        continue;
                }
                c->new_seen = true;
                for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next) {
                        const char *cst = vici_node_str(ch, "state"), *e = vici_node_str(ch, "encap");
                        if (ch->type != VICI_NODE_SECTION || !cst || strcmp(cst, "INSTALLED") != 0)
                                continue;
                        installed++;
                        encap += e && strcmp(e, "yes") == 0;
                }
                /* each configured child INSTALLED (or, with none known, at least one), all in UDP */
                size_t want = c->n_children ? c->n_children : 1;
                bool good = st && strcmp(st, "ESTABLISHED") == 0 && installed >= want && encap == installed;
                c->good = c->good || good;
                (void) snprintf(c->state, sizeof(c->state), "IKE_SA #%llu %s, %zu CHILD_SA(s) INSTALLED, %zu in UDP",
                                (unsigned long long) id, st ? st : "?", installed, encap);
        }
}

static int list_start(encap_state *s);

static void on_poll_error(encap_state *s, int error) {
        action_call_set_detail(s->call, "%s%sVICI: cannot list charon's SAs: %s", s->loaded, s->loaded[0] ? "; " : "",
                               strerror(-error));
        finish(s, error);
}

static int on_timer(ev_source *src, uint64_t usec, void *userdata) {
        encap_state *s = userdata;
        int r;

        s->timer = ev_source_disable_unref(s->timer);
        if ((r = list_start(s)) < 0)
                on_poll_error(s, r);
        return 0;
}

static void on_reply_ignored(vici_client *vc, int error, const vici_node *reply, void *userdata) {
}

/* Ask charon for something without waiting for it to be done (timeout -1): the step polls. */
static int command(encap_state *s, const char *cmd, const char *ike, const char *child, uint64_t ike_id) {
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r = vici_builder_new(&b);

        if (r < 0)
                return r;
        if (ike)
                vici_builder_add_str(b, "ike", ike);
        if (child)
                vici_builder_add_str(b, "child", child);
        if (ike_id)
                vici_builder_add_fmt(b, "ike-id", "%llu", (unsigned long long) ike_id);
        vici_builder_add_str(b, "timeout", "-1");
        if ((r = vici_builder_finish(b, &msg, &len)) < 0)
                return r;
        return vici_client_command(s->vici, cmd, msg, len, on_reply_ignored, s);
}

static void judge_poll(encap_state *s) {
        char detail[ACTION_DETAIL_MAX / 2] = "";
        size_t good = 0, w = 0;
        int r;

        for (size_t i = 0; i < s->n_conns; i++) {
                encap_conn *c = &s->conns[i];
                good += c->good && !c->old_seen;
                int m = snprintf(detail + w, sizeof(detail) - w, "%s%s: %s%s", i ? "; " : "", c->name,
                                 c->new_seen ? c->state : "no new IKE_SA", c->old_seen ? " (the old one not gone yet)" : "");
                w += m > 0 && (size_t) m < sizeof(detail) - w ? (size_t) m : 0;
                /* the old SA gone and charon not bringing it back by itself: initiate */
                if (s->op == ACTION_APPLY && !c->old_seen && !c->new_seen && !c->initiated) {
                        c->initiated = true;
                        for (size_t j = 0; j < c->n_children; j++)
                                if ((r = command(s, "initiate", c->name, c->children[j], 0)) < 0) {
                                        finish(s, r);
                                        return;
                                }
                }
        }
        if (good == s->n_conns) {
                action_call_set_detail(s->call, "%s%sUDP-encapsulated: %s", s->loaded, s->loaded[0] ? "; " : "", detail);
                finish(s, 0);
                return;
        }
        if (s->op == ACTION_VERIFY || mono_usec() >= s->deadline) {
                action_call_set_detail(s->call, "%s%snot UDP-encapsulated%s: %s", s->loaded, s->loaded[0] ? "; " : "",
                                       s->op == ACTION_VERIFY ? "" : " in time", detail);
                finish(s, s->op == ACTION_VERIFY ? -EPROTO : -ETIMEDOUT);
                return;
        }
        if (ev_add_time_relative(action_call_env(s->call)->event, &s->timer, CLOCK_MONOTONIC, POLL_USEC,
                                       10 * USEC_PER_MSEC, on_timer, s) < 0)
                finish(s, -ENOMEM);
}

static int load_start(encap_state *s);

static void on_list_done(vici_client *vc, int error, const vici_node *reply, void *userdata) {
        encap_state *s = userdata;
        int r;

        if (error < 0) {
                if (s->phase == PHASE_BEFORE) { /* nothing loaded yet: nothing half-applied */
                        _cleanup_(freep) char *path = override_path(action_call_params(s->call), action_call_env(s->call));
                        if (path)
                                (void) unlink(path);
                }
                on_poll_error(s, error);
                return;
        }
        if (s->phase == PHASE_BEFORE) {
                s->phase = PHASE_LOAD;
                if ((r = load_start(s)) < 0)
                        finish(s, r);
                return;
        }
        judge_poll(s);
}

static int list_start(encap_state *s) {
        for (size_t i = 0; i < s->n_conns; i++)
                s->conns[i].old_seen = s->conns[i].new_seen = s->conns[i].good = false;
        return vici_client_stream(s->vici, "list-sas", "list-sa", NULL, 0, on_sa, on_list_done, s);
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        encap_state *s = userdata;
        const action_params *p = action_call_params(s->call);
        const action_env *env = action_call_env(s->call);
        _cleanup_(freep) char *path = override_path(p, env);
        bool bad = swanctl_failed(code, status, out);
        int r;

        if (s->op == ACTION_REVERT) {
                if (bad && strstr(out, "connecting to")) {
                        /* charon is not running: it loads its connections without the override */
                        action_call_set_detail(s->call, "%s removed; charon cannot be reached (%s)", path ?: "?", out);
                        finish(s, 0);
                        return;
                }
                action_call_set_detail(s->call, "%s removed; swanctl --load-conns: %s%s", path ?: "?", bad ? "FAILED: " : "",
                                       out[0] ? out : "ok");
                finish(s, bad ? -EPROTO : 0);
                return;
        }
        if (bad) {
                /* nothing half-applied: the override goes again (charon keeps what it had) */
                if (path)
                        (void) unlink(path);
                action_call_set_detail(s->call, "swanctl --load-conns FAILED: %s; %s removed again", out, path ?: "?");
                finish(s, -EPROTO);
                return;
        }
        (void) snprintf(s->loaded, sizeof(s->loaded), "%.200s written and loaded", path ?: "?");
        /* encap is settled at IKE_SA set-up: the SAs up before go, new ones come */
        s->phase = PHASE_POLL;
        for (size_t i = 0; i < s->n_conns; i++)
                for (size_t j = 0; j < s->conns[i].n_old; j++)
                        if ((r = command(s, "terminate", NULL, NULL, s->conns[i].old_ids[j])) < 0) {
                                finish(s, r);
                                return;
                        }
        if ((r = list_start(s)) < 0)
                on_poll_error(s, r);
}

static int load_start(encap_state *s) {
        const action_params *p = action_call_params(s->call);
        const action_env *env = action_call_env(s->call);
        _cleanup_(freep) char *dir = swanctl_dir(p, env);

        if (!dir)
                return -ENOMEM;
        return swanctl_load(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT, "--load-conns",
                            dir, check_param(env, "config", "strongswan_conf"), false, on_loaded, s);
}

/* The connections the step is about, and charon there to ask: the detail says why not. */
static int targets_reachable(encap_state *s, const action_params *p, const action_env *env) {
        char why[512] = "";
        int r;

        if ((r = targets(p, env, s->conns, &s->n_conns, why, sizeof(why))) < 0) {
                action_call_set_detail(s->call, "%s", why);
                return r;
        }
        if (!s->vici || !vici_client_is_connected(s->vici)) {
                action_call_set_detail(s->call, "charon is not connected over VICI");
                return -ENOTCONN;
        }
        return 0;
}

static int apply(encap_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *path = override_path(p, env), *text = NULL;
        char *names[CONNS_MAX + 1] = { 0 };
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        if ((r = targets_reachable(s, p, env)) < 0)
                return r;
        /* one override, one owner: another encap measure's file (whose revert would undo this
         * one) or a file ikeheald did not write is not replaced */
        if (override_owned(path) != 0) {
                action_call_set_detail(s->call, "refused: %s exists already (another encap measure in force, or not "
                                       "ikeheald's)", path);
                return -EEXIST;
        }
        for (size_t i = 0; i < s->n_conns; i++)
                names[i] = s->conns[i].name;
        if ((r = encap_override_text(names, s->n_conns, &text, &size)) < 0)
                return r;
        if ((r = atomic_file_write(path, text, size, 0644)) < 0) {
                action_call_set_detail(s->call, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        s->phase = PHASE_BEFORE;
        return list_start(s);
}

static int revert(encap_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *path = override_path(p, env);

        if (!path)
                return -ENOMEM;
        if (override_owned(path) < 0) {
                action_call_set_detail(s->call, "%s is not ikeheald's any more: left in place", path);
                return -EEXIST;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
                action_call_set_detail(s->call, "cannot remove %s: %s", path, strerror(errno));
                return -errno;
        }
        s->phase = PHASE_LOAD;
        return load_start(s);
}

static int verify(encap_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *path = override_path(p, env);
        int r;

        if (!path)
                return -ENOMEM;
        if (override_owned(path) != 1) {
                action_call_set_detail(s->call, "%s is not in place", path);
                return -EPROTO;
        }
        if ((r = targets_reachable(s, p, env)) < 0)
                return r;
        s->phase = PHASE_POLL; /* no old SAs: every IKE_SA counts */
        return list_start(s);
}

static int encap_start(void *state, action_call *call, action_op op) {
        encap_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);

        *s = (encap_state){ .call = call, .op = op, .vici = env->vici, .deadline = mono_usec() + wait_of(p) };
        return op == ACTION_APPLY ? apply(s, p, env) : op == ACTION_REVERT ? revert(s, p, env) : verify(s, p, env);
}

static void encap_cancel(void *state) {
        encap_state *s = state;
        s->timer = ev_source_disable_unref(s->timer);
        s->child = spawn_free(s->child);
        if (s->vici)
                vici_client_forget(s->vici, s);
}

const action_ops action_encap = {
        .kind = "encap",
        .description = "force UDP encapsulation of ESP for the connections to a peer (a measure with an expiry)",
        .params = params,
        .effects = true,
        .measure = true,
        .state_size = sizeof(encap_state),
        .validate = encap_validate,
        .precondition = encap_precondition,
        .plan = encap_plan,
        .start = encap_start,
        .cancel = encap_cancel,
        .done = encap_cancel,
        .supports = encap_supports,
};
