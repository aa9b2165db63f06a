/* The tunnels check (kind "tunnels"): are the site-to-site tunnels this gateway must keep up
 * there? Expected are the CHILD_SAs that swanctl.conf starts by itself (start_action start or
 * trap, of the connections charon has loaded) and the ones listed in `tunnels` ("conn/child").
 * Each run streams charon's list-conns (which connections are loaded, and the peer each is
 * for), list-policies of the trap policies and list-sas (the state of each tunnel's IKE_SA and
 * CHILD_SA) over VICI. A trap tunnel whose trap policy is installed is up: its CHILD_SA comes
 * with the first packet.
 *
 *   a CHILD_SA missing while its IKE_SA is up  → FAIL class=tunnel reason=child_missing
 *   the IKE_SA being set up                    → FAIL class=tunnel reason=connecting
 *   no IKE_SA at all                           → FAIL class=tunnel reason=ike_down
 *   a listed tunnel whose connection charon has not loaded
 *                                              → FAIL class=daemon_config reason=tunnel_not_loaded
 *   charon unreachable                         → UNKNOWN (the daemon check owns that failure)
 *
 * A tunnel counts as missing once it has been missing for `grace` (default 5s: a rekey, a
 * start_action still at work), and not within charon.start_grace of charon (re)connecting
 * (UNKNOWN: still coming up). The finding names each missing tunnel, its peer (IKE identity and
 * address, fact peers) and charon's last words about its connection: the last line of charon's
 * log (VICI "log" events, IKE_SA named by the connection) that the logs check's classifier
 * (common/charon_log.h) calls a failure or a retransmission, with its class (fact
 * charon_class) and event (charon_event). Where some expected tunnels are up, scope is local.
 * ike-updown and child-updown events run the check.
 *
 * Installed tunnels' counters are the data plane (tunnel_flow.h): one-way (FAIL reason=one_way)
 * and, for those listed in `traffic`, idle (WARN reason=no_traffic), the counters as evidence.
 * Tunnels given a `probe` are also probed actively (tunnel_probe.h), before the listing so that
 * the counters show whether the echoes entered the CHILD_SA: an echo of full size lost while a
 * small one passes is FAIL reason=mtu_blackhole; the small one lost too, esp_dropped (the
 * echoes left through the CHILD_SA) or not_routed (they did not: selectors or routing). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/check_debounce.h"
#include "tunnel_set.h"
#include "agent/checks/tunnel_flow.h"
#include "agent/checks/tunnel_probe.h"
#include "agent/checks/tunnels.h"
#include "charon_log.h"
#include "icmp_echo.h"
#include "netns.h"
#include "now.h"
#include "swconf.h"
#include "vici.h"
#include "yaml_bind.h"

#define DEBOUNCE_USEC (50 * USEC_PER_MSEC)
#define WORDS_LEN 240u
#define SWANCTL_CONF_DEFAULT "/etc/swanctl/swanctl.conf"

/* charon's last words about one connection */
typedef struct last_words {
        char conn[TUNNEL_NAME_MAX];
        char msg[WORDS_LEN];
        fault_class cls;
        charon_log_event event;
        uint64_t usec; /* CLOCK_MONOTONIC; 0: slot free */
} last_words;

/* since when a tunnel has been missing */
typedef struct missing_since {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        uint64_t usec; /* CLOCK_MONOTONIC; 0: slot free */
} missing_since;

typedef struct tunnels_state {
        /* params */
        char **tunnels;
        char *swanctl_conf;
        bool from_config;
        uint64_t grace_usec;
        uint64_t one_way_usec;  /* outbound grows, inbound still this long: one-way (0: off) */
        char **traffic;         /* tunnels expected to carry traffic */
        uint64_t idle_max_usec; /* … and idle this long: no traffic */
        char **probe;           /* "CONNECTION/CHILD FROM TO" */
        char *probe_netns;      /* where the probes' socket lives (NULL: here) */
        uint32_t probe_size;
        uint64_t probe_timeout_usec;

        check *check;
        const check_env *env;
        charon_listener *log_listener, *ike_listener, *child_listener;
        check_debounce debounce;
        ev_source *recheck; /* a tunnel's grace ends: judge it then, not at the interval */
        check_run *run;
        int list_error;     /* list-conns failed */
        char conf_error[256]; /* swanctl.conf could not be read */

        tunnel_set set;
        last_words words[TUNNELS_MAX];
        missing_since since[TUNNELS_MAX];
        tunnel_flows flows;
        tunnel_probes probes; /* a run's echoes, in flight before its listing */
} tunnels_state;

#define TOFF(f) offsetof(tunnels_state, f)

static const yfield tunnels_fields[] = {
        { "tunnels", YF_STRV, TOFF(tunnels), .max = TUNNELS_MAX },
        { "swanctl_conf", YF_PATH, TOFF(swanctl_conf) },
        { "from_config", YF_BOOL, TOFF(from_config) },
        { "grace", YF_DURATION, TOFF(grace_usec), .max = 3600 * USEC_PER_SEC },
        { "one_way_after", YF_DURATION, TOFF(one_way_usec), .max = 24 * 3600 * USEC_PER_SEC },
        { "traffic", YF_STRV, TOFF(traffic), .max = TUNNELS_MAX },
        { "idle_max", YF_DURATION, TOFF(idle_max_usec), .min = USEC_PER_SEC, .max = 7 * 24 * 3600 * USEC_PER_SEC },
        { "probe", YF_STRV, TOFF(probe), .max = TUNNEL_PROBES_MAX },
        { "probe_netns", YF_STRING, TOFF(probe_netns) },
        { "probe_size", YF_U32, TOFF(probe_size), .min = TUNNEL_PROBE_SMALL + 1, .max = ICMP_ECHO_MAX_TOTAL },
        { "probe_timeout", YF_DURATION, TOFF(probe_timeout_usec), .min = 100 * USEC_PER_MSEC, .max = 10 * USEC_PER_SEC },
        {}
};

static int tunnels_parse(void *state, const ynode *params, ydiag *d) {
        tunnels_state *s = state;
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        int r;

        s->from_config = true;
        s->grace_usec = 5 * USEC_PER_SEC;
        s->one_way_usec = 30 * USEC_PER_SEC;
        s->idle_max_usec = 300 * USEC_PER_SEC;
        s->probe_size = 1400; /* what fits a 1500-byte path after ESP in UDP */
        s->probe_timeout_usec = USEC_PER_SEC;
        r = ybind(params, tunnels_fields, s, d);
        if (tunnel_probes_parse(&s->probes, s->probe, ynode_get(params, "probe"), d) < 0)
                r = -EINVAL;
        if (s->probe_netns && netns_name_valid(s->probe_netns) < 0) {
                ydiag_add(d, ynode_get(params, "probe_netns"), "probe_netns: '%.80s' is not a namespace name",
                          s->probe_netns);
                r = -EINVAL;
        }
        for (size_t i = 0; s->traffic && s->traffic[i]; i++)
                if (tunnel_name_split(s->traffic[i], conn, child) < 0) {
                        ydiag_add(d, ynode_get(params, "traffic"),
                                  "traffic: '%.80s' is not CONNECTION/CHILD (the names of swanctl.conf)", s->traffic[i]);
                        r = -EINVAL;
                }
        for (size_t i = 0; s->tunnels && s->tunnels[i]; i++)
                if (tunnel_name_split(s->tunnels[i], conn, child) < 0) {
                        ydiag_add(d, ynode_get(params, "tunnels"),
                                  "tunnels: '%.80s' is not CONNECTION/CHILD (the names of swanctl.conf)", s->tunnels[i]);
                        r = -EINVAL;
                }
        if (!s->swanctl_conf && !(s->swanctl_conf = strdup(SWANCTL_CONF_DEFAULT)))
                return -ENOMEM;
        return r;
}

/* ---- charon's last words ---- */

static bool words_worth(const charon_log_line *l) {
        if (l->cls != FAULT_NONE)
                return true;
        return l->event == CHARON_EV_GIVING_UP || l->event == CHARON_EV_RETRANSMIT ||
               l->event == CHARON_EV_INVALID_SPI || l->event == CHARON_EV_TEMP_FAILURE;
}

static last_words *words_of(tunnels_state *s, const char *conn, bool make) {
        last_words *oldest = &s->words[0];
        for (size_t i = 0; i < TUNNELS_MAX; i++) {
                if (s->words[i].usec && strcmp(s->words[i].conn, conn) == 0)
                        return &s->words[i];
                if (s->words[i].usec < oldest->usec)
                        oldest = &s->words[i];
        }
        return make ? oldest : NULL;
}

static void on_log(const char *event, const vici_node *msg, void *userdata) {
        tunnels_state *s = userdata;
        charon_log_line l;
        last_words *w;

        charon_log_from_vici(vici_node_str(msg, "group"), vici_node_str(msg, "level"),
                             vici_node_str(msg, "ikesa-name"), vici_node_str(msg, "ikesa-uniqueid"),
                             vici_node_str(msg, "msg"), &l);
        if (!l.conn[0])
                return;
        if (l.event == CHARON_EV_ESTABLISHED) {
                /* up again: what it said before is history */
                if ((w = words_of(s, l.conn, false)))
                        *w = (last_words){};
                return;
        }
        if (!words_worth(&l) || !(w = words_of(s, l.conn, true)))
                return;
        /* a retransmission says less than what it would replace (a refusal, "giving up") */
        if (l.event == CHARON_EV_RETRANSMIT && w->usec && strcmp(w->conn, l.conn) == 0 &&
            w->event != CHARON_EV_RETRANSMIT)
                return;
        *w = (last_words){ .cls = l.cls, .event = l.event, .usec = clock_usec(CLOCK_MONOTONIC) };
        (void) snprintf(w->conn, sizeof(w->conn), "%s", l.conn);
        (void) snprintf(w->msg, sizeof(w->msg), "%.*s", (int) (l.msg_len < WORDS_LEN ? l.msg_len : WORDS_LEN - 1),
                        l.msg ? l.msg : "");
}

/* ---- how long each tunnel has been missing ---- */

static uint64_t missing_for(tunnels_state *s, const tunnel *t, uint64_t now) {
        missing_since *free_slot = NULL;
        for (size_t i = 0; i < TUNNELS_MAX; i++) {
                missing_since *m = &s->since[i];
                if (m->usec && strcmp(m->conn, t->conn) == 0 && strcmp(m->child, t->child) == 0)
                        return now - m->usec;
                if (!m->usec && !free_slot)
                        free_slot = m;
        }
        if (free_slot) {
                *free_slot = (missing_since){ .usec = now };
                (void) snprintf(free_slot->conn, sizeof(free_slot->conn), "%s", t->conn);
                (void) snprintf(free_slot->child, sizeof(free_slot->child), "%s", t->child);
        }
        return 0;
}

static void present(tunnels_state *s, const tunnel *t) {
        for (size_t i = 0; i < TUNNELS_MAX; i++)
                if (s->since[i].usec && strcmp(s->since[i].conn, t->conn) == 0 &&
                    strcmp(s->since[i].child, t->child) == 0)
                        s->since[i] = (missing_since){};
}

/* ---- the run ---- */

static void on_updown(const char *event, const vici_node *msg, void *userdata) {
        tunnels_state *s = userdata;
        check_debounce_kick(&s->debounce, s->env->event, s->check, DEBOUNCE_USEC);
}

static void on_state(bool connected, int reason, void *userdata) {
        tunnels_state *s = userdata;
        if (connected)
                (void) check_trigger(s->check);
}

static int tunnels_attach(void *state, check *c, const check_env *env) {
        tunnels_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        if (!env->hub)
                return 0;
        if ((r = charon_hub_listen(env->hub, "log", on_log, on_state, s, &s->log_listener)) < 0 ||
            (r = charon_hub_listen(env->hub, "ike-updown", on_updown, NULL, s, &s->ike_listener)) < 0)
                return r;
        return charon_hub_listen(env->hub, "child-updown", on_updown, NULL, s, &s->child_listener);
}

static void on_conn(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnels_state *s = userdata;
        tunnel_set_conn(&s->set, item);
}

static void on_conns_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        tunnels_state *s = userdata;
        if (error < 0)
                s->list_error = error;
}

static void on_policy(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnels_state *s = userdata;
        tunnel_set_policy(&s->set, item);
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        tunnels_state *s = userdata;
        tunnel_set_sa(&s->set, item);
}

static const char *reason_of(const tunnel *t) {
        if (!t->loaded)
                return "tunnel_not_loaded";
        switch (t->ike) {
        case TUNNEL_IKE_ESTABLISHED:
                return "child_missing";
        case TUNNEL_IKE_CONNECTING:
                return "connecting";
        default:
                return "ike_down";
        }
}

static const char *what_of(const tunnel *t) {
        if (!t->loaded)
                return "connection not loaded in charon";
        switch (t->ike) {
        case TUNNEL_IKE_ESTABLISHED:
                return "IKE_SA up, CHILD_SA missing";
        case TUNNEL_IKE_CONNECTING:
                return "IKE_SA connecting, no CHILD_SA";
        default:
                return "no IKE_SA, no CHILD_SA";
        }
}

static void list_add(char *buf, size_t size, const char *item) {
        size_t used = strlen(buf);
        if (strstr(buf, item))
                return;
        (void) snprintf(buf + used, size - used, "%s%s", used ? "," : "", item);
}

/* Is `t` to be watched? Listed ones always; those of swanctl.conf only while charon has their
 * connection (one not loaded is the conns check's finding, not a tunnel down). */
static bool watched(const tunnel *t) {
        return (t->origin & TUNNEL_FROM_LIST) || t->loaded;
}

static int on_recheck(ev_source *src, uint64_t usec, void *userdata) {
        tunnels_state *s = userdata;
        s->recheck = ev_source_disable_unref(s->recheck);
        (void) check_trigger(s->check);
        return 0;
}

static void recheck_in(tunnels_state *s, uint64_t usec) {
        if (!s->recheck)
                (void) ev_add_time_relative(s->env->event, &s->recheck, CLOCK_MONOTONIC, usec,
                                                  10 * USEC_PER_MSEC, on_recheck, s);
}

static void judge(tunnels_state *s, finding *f) {
        uint64_t now = clock_usec(CLOCK_MONOTONIC);
        const check_env *env = s->env;
        bool starting = env->hub && env->charon.start_grace_usec &&
                        now < charon_hub_state_since(env->hub) + env->charon.start_grace_usec;
        size_t n = 0, up = 0, missing = 0, pending = 0, one_way = 0, quiet = 0;
        const tunnel *first = NULL;
        char names[1024] = "", peers[1024] = "", upnames[1024] = "", encaps[1024] = "", flows[1024] = "", flow_peers[1024] = "";
        char probe_names[1024] = "", probe_peers[1024] = "";
        const tunnel_probe_params pp = { s->probe_netns, s->probe_size, s->probe_timeout_usec };
        const char *probe_reason = NULL;
        size_t probed = 0;

        for (size_t i = 0; i < s->set.n; i++) {
                const tunnel *t = &s->set.t[i];
                char name[2 * TUNNEL_NAME_MAX], peer[2 * TUNNEL_PEER_MAX + 1];
                if (!watched(t))
                        continue;
                n++;
                (void) snprintf(name, sizeof(name), "%s/%s", t->conn, t->child);
                if (t->installed || t->trapped) {
                        up++;
                        present(s, t);
                        list_add(upnames, sizeof(upnames), name);
                        if (t->encap)
                                list_add(encaps, sizeof(encaps), name);
                        const tunnel_flow_params fp = { s->one_way_usec, s->idle_max_usec,
                                                        tunnel_listed(s->traffic, t) };
                        probe_verdict pv = PROBE_NONE;
                        if (t->installed && t->ike == TUNNEL_IKE_ESTABLISHED)
                                pv = tunnel_probes_judge(&s->probes, t, &pp, tunnel_flow_out_grew(&s->flows, t), f);
                        flow_verdict v = t->installed ? tunnel_flow_judge(&s->flows, t, &fp, now, f) : FLOW_OK;
                        if (probe_verdict_reason(pv)) {
                                probed++;
                                if (!probe_reason)
                                        probe_reason = probe_verdict_reason(pv);
                                tunnel_peer(t, peer, sizeof(peer));
                                list_add(probe_names, sizeof(probe_names), name);
                                list_add(probe_peers, sizeof(probe_peers), peer);
                        }
                        if (v != FLOW_OK) {
                                one_way += v == FLOW_ONE_WAY;
                                quiet += v == FLOW_NO_TRAFFIC;
                                tunnel_peer(t, peer, sizeof(peer));
                                list_add(flows, sizeof(flows), name);
                                list_add(flow_peers, sizeof(flow_peers), peer);
                        }
                        continue;
                }
                uint64_t gone = missing_for(s, t, now);
                if (gone < s->grace_usec || starting) {
                        pending++;
                        if (!starting)
                                recheck_in(s, s->grace_usec - gone);
                        continue;
                }
                missing++;
                tunnel_peer(t, peer, sizeof(peer));
                list_add(names, sizeof(names), name);
                list_add(peers, sizeof(peers), peer);
                const last_words *w = words_of(s, t->conn, false);
                (void) finding_fact_set(f, name, "%s ike=%s peer=%s%s%s", reason_of(t), tunnel_ike_to_string(t->ike), peer,
                                        w ? " charon=" : "", w ? fault_class_to_string(w->cls) : "");
                (void) finding_evidence(f, "%s to %s: %s%s%s%s%s", name, peer, what_of(t), w ? "; charon said: " : "",
                                        w ? w->msg : "", w ? " " : "",
                                        w ? charon_log_event_to_string(w->event) : "");
                if (!first) {
                        first = t;
                        if (w) {
                                (void) finding_fact_set(f, "charon_class", "%s", fault_class_to_string(w->cls));
                                (void) finding_fact_set(f, "charon_event", "%s", charon_log_event_to_string(w->event));
                                (void) finding_fact_set(f, "charon_said", "%s", w->msg);
                        }
                }
        }
        (void) finding_fact_set(f, "tunnels", "%zu", n);
        (void) finding_fact_set(f, "tunnels_up", "%zu", up);
        (void) finding_fact_set(f, "up", "%s", upnames);
        /* what a runbook forcing UDP encapsulation needs to know: it gains nothing on these */
        (void) finding_fact_set(f, "udp_encap", "%s", encaps);
        if (s->set.dropped)
                (void) finding_fact_set(f, "tunnels_unwatched", "%zu", s->set.dropped);
        if (s->conf_error[0])
                (void) finding_evidence(f, "expected tunnels from swanctl.conf not known: %s", s->conf_error);
        if (missing) {
                (void) finding_set(f, CHECK_FAIL, "%zu of %zu tunnel(s) down: %s (%s)", missing, n, names, what_of(first));
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "%s", first->loaded ? "tunnel" : "daemon_config");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", reason_of(first));
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", peers);
                (void) finding_fact_set(f, "missing", "%s", names);
                if (up)
                        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "local");
        } else if (probed) {
                (void) finding_set(f, CHECK_FAIL, "%s: %s", probe_names,
                                   strcmp(probe_reason, "mtu_blackhole") == 0
                                           ? "MTU black hole: small echoes pass the tunnel, full-size ones with DF do not"
                                   : strcmp(probe_reason, "esp_dropped") == 0
                                           ? "ESP lost on the path: echoes leave through the CHILD_SA, none come back, IKE works"
                                           : "echoes do not enter the tunnel: traffic selectors or routing");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "tunnel");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", probe_reason);
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", probe_peers);
                (void) finding_fact_set(f, "data_plane", "%s", probe_names);
                if (up > probed)
                        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "local");
        } else if (one_way || quiet) {
                (void) finding_set(f, one_way ? CHECK_FAIL : CHECK_WARN, "%s: %s", flows,
                                   one_way ? "one-way: packets go out, none come back while IKE works (ESP lost on the path?)"
                                           : "no traffic on a tunnel expected to carry some");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "tunnel");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", one_way ? "one_way" : "no_traffic");
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", flow_peers);
                (void) finding_fact_set(f, "data_plane", "%s", flows);
                if (up > one_way + quiet)
                        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "local");
        } else if (pending && starting)
                (void) finding_set(f, CHECK_UNKNOWN, "charon just (re)started: %zu of %zu tunnel(s) up so far", up, n);
        else if (pending)
                (void) finding_set(f, CHECK_OK, "%zu of %zu tunnel(s) up, %zu coming up (missing for less than the grace)",
                                   up, n, pending);
        else
                (void) finding_set(f, CHECK_OK, "%zu tunnel(s) up", up);
}

static void on_sas_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        tunnels_state *s = userdata;
        check_run *run = TAKE_PTR(s->run);
        finding *f = NULL;

        if (!run || finding_new(&f) < 0)
                return;
        if (error < 0 || s->list_error < 0)
                (void) finding_set(f, CHECK_UNKNOWN, "cannot list charon's %s: %s", error < 0 ? "SAs" : "connections",
                                   strerror(-(error < 0 ? error : s->list_error)));
        else
                judge(s, f);
        check_run_done(run, f);
}

/* The expected set, again each run: swanctl.conf may have changed since. */
static void expect(tunnels_state *s) {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        _cleanup_(swconf_freep) swconf *c = NULL;

        s->set = (tunnel_set){};
        s->conf_error[0] = 0;
        for (size_t i = 0; s->tunnels && s->tunnels[i]; i++)
                if (tunnel_name_split(s->tunnels[i], conn, child) >= 0)
                        (void) tunnel_set_add(&s->set, conn, child, TUNNEL_FROM_LIST);
        if (!s->from_config)
                return;
        int r = swconf_load(s->swanctl_conf, &c, s->conf_error, sizeof(s->conf_error));
        if (r >= 0)
                tunnel_set_from_swanctl(&s->set, c);
        else if (r != -EBADMSG && r != -E2BIG) /* those said where, in conf_error */
                (void) snprintf(s->conf_error, sizeof(s->conf_error), "%s: %s", s->swanctl_conf, strerror(-r));
}

static int list_start(tunnels_state *s) {
        const check_env *env = s->env;
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r;

        s->list_error = 0;
        /* three streams queued at once: the queue keeps them in order, the last one judges */
        r = vici_client_stream(env->vici, "list-conns", "list-conn", NULL, 0, on_conn, on_conns_done, s);
        if (r >= 0)
                r = vici_builder_new(&b);
        if (r >= 0) {
                vici_builder_add_str(b, "trap", "yes");
                r = vici_builder_finish(b, &msg, &len);
        }
        if (r >= 0)
                r = vici_client_stream(env->vici, "list-policies", "list-policy", msg, len, on_policy, on_conns_done, s);
        if (r >= 0)
                r = vici_client_stream(env->vici, "list-sas", "list-sa", NULL, 0, on_sa, on_sas_done, s);
        if (r < 0)
                vici_client_forget(env->vici, s);
        return r;
}

/* The echoes are back: now the listing, whose counters tell whether they entered the tunnel. */
static void on_probed(void *userdata) {
        tunnels_state *s = userdata;
        int r;

        if (!s->run)
                return;
        if (!vici_client_is_connected(s->env->vici))
                r = -ENOTCONN;
        else
                r = list_start(s);
        if (r < 0) {
                finding *f = NULL;
                check_run *run = TAKE_PTR(s->run);
                if (finding_new(&f) < 0)
                        return;
                (void) finding_set(f, CHECK_UNKNOWN, "cannot list charon's SAs: %s", strerror(-r));
                check_run_done(run, f);
        }
}

static int tunnels_start(void *state, const check_env *env, check_run *run) {
        tunnels_state *s = state;
        int r;

        if (!env->vici || !vici_client_is_connected(env->vici))
                return check_run_unknown(run, "charon is not connected (the daemon check says why)");
        expect(s);
        if (s->probes.n) {
                const tunnel_probe_params pp = { s->probe_netns, s->probe_size, s->probe_timeout_usec };
                r = tunnel_probes_start(&s->probes, env->event, &pp, on_probed, s);
                if (r > 0) {
                        s->run = run;
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        if ((r = list_start(s)) < 0)
                return r;
        s->run = run;
        return 0;
}

static void tunnels_cancel(void *state) {
        tunnels_state *s = state;
        s->run = NULL;
        tunnel_probes_stop(&s->probes);
        vici_client_forget(s->env->vici, s);
}

static void tunnels_done(void *state) {
        tunnels_state *s = state;
        if (s->env)
                vici_client_forget(s->env->vici, s);
        tunnel_probes_stop(&s->probes);
        check_debounce_done(&s->debounce);
        s->recheck = ev_source_disable_unref(s->recheck);
        charon_listener_free(s->log_listener);
        charon_listener_free(s->ike_listener);
        charon_listener_free(s->child_listener);
        ybind_free(tunnels_fields, s);
}

const check_ops tunnels_check_ops = {
        .kind = "tunnels",
        .description = "the site-to-site CHILD_SAs this gateway must keep up, per peer, and charon's last words",
        .state_size = sizeof(tunnels_state),
        .parse = tunnels_parse,
        .attach = tunnels_attach,
        .start = tunnels_start,
        .cancel = tunnels_cancel,
        .done = tunnels_done,
};
