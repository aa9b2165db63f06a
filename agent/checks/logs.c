/* The logs check (kind "logs"): what charon says about its peers, classified
 * (common/charon_log.h) and tallied per failure class and peer over a sliding window
 * (logs_tally.h). Sources, all pushed: VICI "log" events through the charon hub (preferred:
 * structured, no parsing of timestamps), the journal (params `journal_units`) and log files
 * (params `files`), both read on the loop within a time budget per wake-up (logs_tail.h).
 *
 * A line costs O(1): it updates the tally and, if it is news (the first failure of a class, a
 * peer not seen failing before while the table is exact, a peer's identity learned), runs the
 * check at once, so one AUTHENTICATION_FAILED becomes a finding in the same loop iteration.
 * Everything else is coalesced into one run per LOGS_COALESCE_USEC: a flood of lines costs a few
 * runs a second, not one per line.
 *
 * Peers are named by IKE identity and address ("client1.example.org@198.51.100.7"), learned per
 * IKE_SA from charon's "is initiating", "looking for peer configs matching" and packet lines. A
 * peer that establishes an IKE_SA (its "established" line, an ike-updown event, or — for the
 * refused peers remembered from before charon (re)connected — charon's list of IKE_SAs) is no
 * longer failing. A peer whose credential the gateway refused stays failing until it establishes or
 * makes no attempt for its own retry window (logs_tally.h), also across an agent restart (the
 * peers are kept in <state_dir>/snapshots/<check>.peers); the OK finding that follows says which
 * ended it (fact "resolution").
 *
 * Finding: the dominant failure class (fact class, reason = charon's event), the failing peers
 * (fact peers: the first LOGS_PEERS_SHOWN, the most failing ones once the table overflowed),
 * counts per class, the number of distinct failing peers (exact or estimated) and the latest
 * lines verbatim as evidence. `flood_peers` distinct peers failing within the window or more
 * is a flood: reason "flood", reported as a possible attack. FAIL at `fail_threshold` events
 * (default 1) for proposal, authentication, traffic selectors, certificate, revocation and
 * configuration; WARN for resource and NAT signatures. Scope is left to diagnosis. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/logs.h"
#include "now.h"
#include "snapshot.h"
#include "vici.h"
#include "agent/checks/logs_store.h"
#include "agent/checks/logs_tail.h"
#include "agent/checks/logs_tally.h"
#include "charon_log.h"
#include "yaml_bind.h"

#define SA_MAX 1024u           /* IKE_SA → peer, direct-mapped by unique id */
#define EVIDENCE_LINES 6u
#define EVIDENCE_LEN 300u
#define LOGS_PEERS_SHOWN 8u
#define LOGS_COALESCE_USEC (250u * USEC_PER_MSEC)
#define LOGS_SAVE_USEC (2 * USEC_PER_SEC)

typedef struct sa_peer {
        unsigned long uniqueid;
        char addr[LOGS_TALLY_KEY_MAX];
        char id[LOGS_TALLY_KEY_MAX];
} sa_peer;

typedef struct logs_state {
        /* params */
        uint64_t window_usec;
        uint32_t fail_threshold;
        uint32_t flood_peers;
        bool vici;
        char **journal_units;
        char **files;

        check *check;
        const check_env *env;
        charon_listener *listener, *updown_listener;
        logs_tail *tail;
        bool tail_failed;
        ev_source *coalesce, *save_timer;
        char *store_path;
        bool dirty;

        logs_tally tally;
        sa_peer sa[SA_MAX];
        char evidence[EVIDENCE_LINES][EVIDENCE_LEN];
        size_t ev_next, ev_n;
        char resolution[256]; /* how the last failure ended, until the next one */
        uint64_t lines, classified;
} logs_state;

#define LOFF(f) offsetof(logs_state, f)

static const yfield logs_fields[] = {
        { "window", YF_DURATION, LOFF(window_usec), .min = USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        { "fail_threshold", YF_U32, LOFF(fail_threshold), .min = 1, .max = 100000 },
        { "flood_peers", YF_U32, LOFF(flood_peers), .min = 2, .max = 1000000 },
        { "vici", YF_BOOL, LOFF(vici) },
        { "journal_units", YF_STRV, LOFF(journal_units), .max = 8 },
        { "files", YF_STRV, LOFF(files), .max = LOGS_TAIL_FILES_MAX },
        {}
};

static int logs_parse(void *state, const ynode *params, ydiag *d) {
        logs_state *s = state;
        int r;

        s->window_usec = 5 * 60 * USEC_PER_SEC;
        s->fail_threshold = 1;
        s->flood_peers = 50;
        s->vici = true;
        r = ybind(params, logs_fields, s, d);
        logs_tally_init(&s->tally, s->window_usec);
        return r;
}

/* ---- coalescing: runs and saves ---- */

static int on_coalesce(ev_source *src, uint64_t usec, void *userdata) {
        logs_state *s = userdata;
        s->coalesce = ev_source_disable_unref(s->coalesce);
        (void) check_trigger(s->check);
        return 0;
}

/* Run now for news, else at most once per LOGS_COALESCE_USEC. */
static void run_soon(logs_state *s, bool now) {
        if (now) {
                s->coalesce = ev_source_disable_unref(s->coalesce);
                (void) check_trigger(s->check);
                return;
        }
        if (!s->coalesce && s->env &&
            ev_add_time_relative(s->env->event, &s->coalesce, CLOCK_MONOTONIC, LOGS_COALESCE_USEC,
                                       10 * USEC_PER_MSEC, on_coalesce, s) < 0)
                (void) check_trigger(s->check);
}

static void save_now(logs_state *s) {
        s->dirty = false;
        if (s->store_path)
                (void) logs_store_save(s->store_path, &s->tally, clock_usec(CLOCK_MONOTONIC),
                                       clock_usec(CLOCK_REALTIME));
}

static int on_save(ev_source *src, uint64_t usec, void *userdata) {
        logs_state *s = userdata;
        s->save_timer = ev_source_disable_unref(s->save_timer);
        save_now(s);
        return 0;
}

/* The refused peers changed: written at most once per LOGS_SAVE_USEC, and at the end. */
static void save_soon(logs_state *s) {
        s->dirty = true;
        if (!s->store_path || s->save_timer || !s->env)
                return;
        if (ev_add_time_relative(s->env->event, &s->save_timer, CLOCK_MONOTONIC, LOGS_SAVE_USEC,
                                       100 * USEC_PER_MSEC, on_save, s) < 0)
                save_now(s);
}

/* ---- what a line teaches ---- */

static sa_peer *sa_of(logs_state *s, unsigned long id) {
        return id ? &s->sa[id % SA_MAX] : NULL;
}

static void sa_learn(logs_state *s, unsigned long id, const char *addr, const char *peer_id) {
        sa_peer *p = sa_of(s, id);
        if (!p)
                return;
        if (p->uniqueid != id)
                *p = (sa_peer){ .uniqueid = id };
        /* both are charon_log_line fields of the same size, NUL-terminated */
        _Static_assert(sizeof(p->addr) == sizeof(((charon_log_line *) 0)->peer), "sizes");
        _Static_assert(sizeof(p->id) == sizeof(((charon_log_line *) 0)->peer_id), "sizes");
        if (addr[0])
                memcpy(p->addr, addr, sizeof(p->addr));
        if (peer_id[0])
                memcpy(p->id, peer_id, sizeof(p->id));
}

static void evidence_add(logs_state *s, const charon_log_line *l) {
        char *e = s->evidence[s->ev_next];
        size_t n = 0, conn = strnlen(l->conn, sizeof(l->conn)), msg = l->msg_len;

        /* "IKE <rw|3> message": copied, not formatted (this runs for every failure line) */
        memcpy(e, l->group, strnlen(l->group, sizeof(l->group)));
        n = strnlen(l->group, sizeof(l->group));
        e[n++] = ' ';
        if (conn) {
                e[n++] = '<';
                memcpy(e + n, l->conn, conn);
                n += conn;
                e[n++] = '>';
                e[n++] = ' ';
        }
        if (msg > EVIDENCE_LEN - 1 - n)
                msg = EVIDENCE_LEN - 1 - n;
        memcpy(e + n, l->msg, msg);
        e[n + msg] = 0;
        s->ev_next = (s->ev_next + 1) % EVIDENCE_LINES;
        if (s->ev_n < EVIDENCE_LINES)
                s->ev_n++;
}

static void peer_succeeded(logs_state *s, const char *addr, const char *id, const char *how) {
        char name[LOGS_TALLY_NAME_MAX];

        if (!logs_tally_success(&s->tally, addr, id, name, sizeof(name)))
                return;
        (void) snprintf(s->resolution, sizeof(s->resolution), "%s %s", name, how);
        save_soon(s);
        run_soon(s, true); /* a recovery is news too */
}

static void line_in(logs_state *s, charon_log_line *l) {
        char addr[LOGS_TALLY_KEY_MAX] = "", id[LOGS_TALLY_KEY_MAX] = "";
        sa_peer *sa;
        unsigned news;

        s->lines++;
        /* the IKE_SA's peer, learned from any line that names it */
        if (l->uniqueid && (l->peer[0] || l->peer_id[0]) &&
            (l->event == CHARON_EV_INITIATING || l->event == CHARON_EV_ESTABLISHED ||
             l->event == CHARON_EV_PEER_CFG || l->event == CHARON_EV_NONE))
                sa_learn(s, l->uniqueid, l->peer, l->peer_id);
        sa = sa_of(s, l->uniqueid);
        if (sa && sa->uniqueid == l->uniqueid) {
                memcpy(addr, sa->addr, sizeof(addr));
                memcpy(id, sa->id, sizeof(id));
        }
        if (!addr[0] && l->peer[0])
                memcpy(addr, l->peer, sizeof(addr));
        if (l->peer_id[0])
                memcpy(id, l->peer_id, sizeof(id));

        if (l->event == CHARON_EV_ESTABLISHED) {
                peer_succeeded(s, addr, id, "established an IKE_SA");
                return;
        }
        if (l->cls == FAULT_NONE)
                return;
        s->classified++;
        s->resolution[0] = 0;
        evidence_add(s, l);
        if (!addr[0] && !id[0] && l->conn[0])
                (void) snprintf(id, sizeof(id), "%.40s[%lu]", l->conn, l->uniqueid);
        bool refused = l->refused && l->cls == FAULT_AUTHENTICATION;
        uint64_t now = clock_usec(CLOCK_MONOTONIC);
        news = logs_tally_add(&s->tally, l->cls, l->event, addr, id, refused, now);
        if (refused) /* its count and retry window changed: kept, written at most every 2 s */
                save_soon(s);
        /* a new peer is news while the table still names every one; past that, a flood */
        run_soon(s, (news & LOGS_TALLY_NEW_CLASS) ||
                            ((news & (LOGS_TALLY_NEW_PEER | LOGS_TALLY_NAMED)) &&
                             logs_tally_exact(&s->tally, l->cls, now)));
}

/* ---- sources ---- */

static void on_vici_log(const char *event, const vici_node *msg, void *userdata) {
        logs_state *s = userdata;
        charon_log_line l;

        charon_log_from_vici(vici_node_str(msg, "group"), vici_node_str(msg, "level"),
                             vici_node_str(msg, "ikesa-name"), vici_node_str(msg, "ikesa-uniqueid"),
                             vici_node_str(msg, "msg"), &l);
        line_in(s, &l);
}

/* The IKE_SA sections of an ike-updown event or a list-sas item: { <conn> { remote-host,
 * remote-id, state … } } — evidence of success even where charon's "established" line is not
 * forwarded, or came while the agent was not running. */
static void sas_established(logs_state *s, const vici_node *msg, bool only_established, const char *how) {
        for (const vici_node *sa = msg ? msg->child : NULL; sa; sa = sa->next) {
                char addr[LOGS_TALLY_KEY_MAX] = "", id[LOGS_TALLY_KEY_MAX] = "";
                const char *st = vici_node_str(sa, "state");
                if (sa->type != VICI_NODE_SECTION || (only_established && (!st || strcmp(st, "ESTABLISHED") != 0)))
                        continue;
                const char *host = vici_node_str(sa, "remote-host"), *rid = vici_node_str(sa, "remote-id");
                (void) snprintf(addr, sizeof(addr), "%s", host ? host : "");
                if (rid)
                        charon_log_identity(id, sizeof(id), rid);
                peer_succeeded(s, addr, id, how);
        }
}

static void on_updown(const char *event, const vici_node *msg, void *userdata) {
        const char *up = vici_node_str(msg, "up");
        if (up && strcmp(up, "yes") == 0)
                sas_established(userdata, msg, false, "established an IKE_SA");
}

static void on_listed_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        sas_established(userdata, item, true, "is established (charon's list of IKE_SAs)");
}

static void on_listed(vici_client *c, int error, const vici_node *reply, void *userdata) {
}

static bool any_refused(const logs_state *s) {
        for (size_t k = 1; k < _FAULT_CLASS_MAX; k++)
                for (size_t i = 0; i < s->tally.cls[k].n_top; i++)
                        if (s->tally.cls[k].top[i].sticky)
                                return true;
        return false;
}

/* charon (re)connected: a refused peer remembered from before may have established meanwhile,
 * while nobody listened — ask charon which IKE_SAs are up. */
static void on_charon_state(bool connected, int reason, void *userdata) {
        logs_state *s = userdata;
        if (connected && s->env->vici && vici_client_is_connected(s->env->vici) && any_refused(s))
                (void) vici_client_stream(s->env->vici, "list-sas", "list-sa", NULL, 0, on_listed_sa, on_listed, s);
}

static void on_text(const char *line, size_t len, void *userdata) {
        logs_state *s = userdata;
        charon_log_line l;
        if (charon_log_parse_text(line, len, &l) >= 0)
                line_in(s, &l);
}

static int logs_attach(void *state, check *c, const check_env *env) {
        logs_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        if (env->state_dir) {
                r = snapshot_path(env->state_dir, check_name(c), "peers", &s->store_path);
                if (r < 0)
                        return r;
                /* the refused peers of before a restart are still failing until they show otherwise */
                if (logs_store_load(s->store_path, &s->tally, clock_usec(CLOCK_MONOTONIC), clock_usec(CLOCK_REALTIME),
                                    NULL) > 0)
                        s->resolution[0] = 0;
        }
        if (s->vici && env->hub) {
                r = charon_hub_listen(env->hub, "log", on_vici_log, NULL, s, &s->listener);
                if (r >= 0)
                        r = charon_hub_listen(env->hub, "ike-updown", on_updown, on_charon_state, s,
                                              &s->updown_listener);
                if (r < 0)
                        return r;
        }
        if (env->vici && vici_client_is_connected(env->vici))
                on_charon_state(true, 0, s); /* attached to a running agent (a reload) */
        /* a source that cannot open is reported by each run, not fatal to the agent */
        if ((s->journal_units && s->journal_units[0]) || (s->files && s->files[0]))
                s->tail_failed = logs_tail_new(&s->tail, env->event, s->files, s->journal_units, on_text, s) < 0;
        return 0;
}

/* ---- the verdict ---- */

static bool class_fails(fault_class c) {
        return c != FAULT_RESOURCE && c != FAULT_NAT_MTU;
}

/* The peers to name: all of them while few, else the most failing ones. */
static size_t peers_shown(const logs_state *s, fault_class c, const logs_tally_peer **out) {
        const logs_tally_peer *all[LOGS_TALLY_TOP];
        size_t n = logs_tally_peers(&s->tally, c, all, LOGS_TALLY_TOP);

        if (n <= LOGS_PEERS_SHOWN) {
                memcpy(out, all, n * sizeof(*all));
                return n;
        }
        for (size_t k = 0; k < LOGS_PEERS_SHOWN; k++) {
                size_t best = k;
                for (size_t i = k + 1; i < n; i++)
                        if (all[i]->count > all[best]->count)
                                best = i;
                const logs_tally_peer *t = all[k];
                all[k] = all[best];
                all[best] = t;
                out[k] = all[k];
        }
        return LOGS_PEERS_SHOWN;
}

static int logs_start(void *state, const check_env *env, check_run *run) {
        logs_state *s = state;
        uint64_t now = clock_usec(CLOCK_MONOTONIC), count[_FAULT_CLASS_MAX] = {}, quiet = 0;
        const logs_tally_peer *shown[LOGS_PEERS_SHOWN];
        char name[LOGS_TALLY_NAME_MAX], peers[LOGS_PEERS_SHOWN * (LOGS_TALLY_NAME_MAX + 1)] = "";
        finding *f = NULL;
        fault_class top = FAULT_NONE;
        int r;

        r = finding_new(&f);
        if (r < 0)
                return r;
        if (logs_tally_expire(&s->tally, now, name, sizeof(name), &quiet) > 0) {
                (void) snprintf(s->resolution, sizeof(s->resolution),
                                "%s made no attempt for %llus (its retry window)", name,
                                (unsigned long long) (quiet / USEC_PER_SEC));
                save_soon(s);
        }
        for (int c = 1; c < _FAULT_CLASS_MAX; c++) {
                const logs_tally_peer *all[LOGS_TALLY_TOP];
                count[c] = logs_tally_count(&s->tally, (fault_class) c, now);
                if (count[c] == 0) /* only peers held past the window: their own failures */
                        for (size_t i = 0, n = logs_tally_peers(&s->tally, (fault_class) c, all, LOGS_TALLY_TOP); i < n; i++)
                                count[c] += all[i]->count - all[i]->err;
                if (count[c])
                        (void) finding_fact_set(f, fault_class_to_string((fault_class) c), "%llu",
                                                (unsigned long long) count[c]);
                /* the dominant class: most events, failing classes before warning ones */
                if (count[c] && (top == FAULT_NONE || (class_fails((fault_class) c) && !class_fails(top)) ||
                                 (class_fails((fault_class) c) == class_fails(top) && count[c] > count[top])))
                        top = (fault_class) c;
        }
        (void) finding_fact_set(f, "lines", "%llu", (unsigned long long) s->lines);
        (void) finding_fact_set(f, "window_s", "%llu", (unsigned long long) (s->window_usec / USEC_PER_SEC));
        if (s->tail_failed || (s->tail && logs_tail_journal_unavailable(s->tail))) {
                (void) finding_fact_set(f, "journal", "unavailable");
                if (s->tail && logs_tail_journal_reason(s->tail))
                        (void) finding_fact_set(f, "journal_error", "%s", logs_tail_journal_reason(s->tail));
        }
        if (top == FAULT_NONE) {
                if (s->resolution[0])
                        (void) finding_fact_set(f, "resolution", "%s", s->resolution);
                (void) finding_set(f, CHECK_OK, "no failure in charon's log in the last %llus%s%s",
                                   (unsigned long long) (s->window_usec / USEC_PER_SEC),
                                   s->resolution[0] ? "; " : "", s->resolution);
                check_run_done(run, f);
                return 0;
        }

        bool exact, in_window = logs_tally_count(&s->tally, top, now) > 0;
        uint64_t distinct = logs_tally_distinct(&s->tally, top, now, &exact);
        bool flood = distinct >= s->flood_peers;
        size_t n_shown = peers_shown(s, top, shown);
        const logs_tally_peer *all[LOGS_TALLY_TOP];
        size_t n_all = logs_tally_peers(&s->tally, top, all, LOGS_TALLY_TOP);
        unsigned event = s->tally.cls[top].last_event;
        uint64_t last = 0;

        for (size_t i = 0; i < n_shown; i++) {
                size_t used = strlen(peers);
                logs_tally_name(shown[i], name, sizeof(name));
                (void) snprintf(peers + used, sizeof(peers) - used, "%s%s", used ? "," : "", name);
        }
        for (size_t i = 0; i < n_all; i++)
                if (all[i]->last > last) {
                        last = all[i]->last;
                        event = all[i]->event;
                }
        bool fails = class_fails(top) && count[top] >= s->fail_threshold;
        if (flood)
                (void) finding_set(f, fails ? CHECK_FAIL : CHECK_WARN,
                                   "possible attack: a flood of %s failures, %llu × %s from %s%llu distinct peers in "
                                   "%llus (most: %s)",
                                   fault_class_to_string(top), (unsigned long long) count[top],
                                   charon_log_event_to_string((charon_log_event) event), exact ? "" : "~",
                                   (unsigned long long) distinct, (unsigned long long) (s->window_usec / USEC_PER_SEC),
                                   peers);
        else if (!in_window)
                (void) finding_set(f, fails ? CHECK_FAIL : CHECK_WARN,
                                   "charon refused the credential of %s (%llu attempts, the last %llus ago); failing "
                                   "until it establishes or stops trying",
                                   peers, (unsigned long long) count[top],
                                   (unsigned long long) ((now - last) / USEC_PER_SEC));
        else
                (void) finding_set(f, fails ? CHECK_FAIL : CHECK_WARN, "charon reports %s failures: %llu × %s%s%s",
                                   fault_class_to_string(top), (unsigned long long) count[top],
                                   charon_log_event_to_string((charon_log_event) event), peers[0] ? " from " : "",
                                   peers);
        (void) finding_fact_set(f, CHECK_FACT_CLASS, "%s", fault_class_to_string(top));
        (void) finding_fact_set(f, CHECK_FACT_REASON, "%s",
                                flood ? "flood" : charon_log_event_to_string((charon_log_event) event));
        if (peers[0])
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", peers);
        (void) finding_fact_set(f, "n_peers_failing", "%llu", (unsigned long long) distinct);
        (void) finding_fact_set(f, "distinct_peers", "%s%llu", exact ? "" : "~", (unsigned long long) distinct);
        if (flood)
                (void) finding_fact_set(f, "flood", "yes");
        for (size_t i = 0; i < n_shown; i++) {
                logs_tally_name(shown[i], name, sizeof(name));
                (void) finding_evidence(f, "peer %s: %llu × %s, last %llus ago%s", name,
                                        (unsigned long long) (shown[i]->count - shown[i]->err),
                                        charon_log_event_to_string((charon_log_event) shown[i]->event),
                                        (unsigned long long) ((now - shown[i]->last) / USEC_PER_SEC),
                                        shown[i]->sticky ? ", credential refused" : "");
        }
        for (size_t i = 0; i < s->ev_n; i++)
                (void) finding_evidence(f, "%s", s->evidence[(s->ev_next + EVIDENCE_LINES - s->ev_n + i) % EVIDENCE_LINES]);
        check_run_done(run, f);
        return 0;
}

static void logs_forget(void *state) {
        logs_state *s = state;
        logs_tally_forget(&s->tally);
        s->ev_n = s->ev_next = 0;
        save_soon(s);
}

static void logs_done(void *state) {
        logs_state *s = state;

        if (s->dirty)
                save_now(s);
        if (s->env)
                vici_client_forget(s->env->vici, s);
        charon_listener_free(s->listener);
        charon_listener_free(s->updown_listener);
        s->tail = logs_tail_free(s->tail);
        s->coalesce = ev_source_disable_unref(s->coalesce);
        s->save_timer = ev_source_disable_unref(s->save_timer);
        free(s->store_path);
        strv_free(s->journal_units);
        strv_free(s->files);
}

const check_ops logs_check_ops = {
        .kind = "logs",
        .description = "charon's log (VICI, journal, files) classified per peer and failure class",
        .state_size = sizeof(logs_state),
        .parse = logs_parse,
        .attach = logs_attach,
        .start = logs_start,
        .forget = logs_forget,
        .done = logs_done,
};
