/* The logs check (kind "logs"): what charon says about its peers, classified
 * (common/charon_log.h) and counted per peer and per class over a sliding window. Sources, all
 * pushed: VICI "log" events through the charon hub (preferred: structured, no parsing of
 * timestamps), the journal (params `journal_units`, read with sd-journal on the loop) and log
 * files (params `files`, tailed on inotify, rotation and truncation followed).
 *
 * Every failure line runs the check at once, so one AUTHENTICATION_FAILED becomes a finding in
 * the same loop iteration. A peer that establishes an IKE_SA after failing is no longer counted
 * as failing; failures older than `window` are forgotten.
 *
 * Finding: the dominant failure class of the window (fact class, reason = charon's event),
 * the failing peers (fact peers: addresses, learned per IKE_SA from charon's "X is initiating
 * an IKE_SA" and packet lines), counts per class, and the latest lines verbatim as evidence.
 * FAIL at `fail_threshold` events (default 1: a single AUTHENTICATION_FAILED is an incident)
 * for proposal, authentication, traffic selectors, certificate, revocation and configuration;
 * WARN for resource and NAT signatures. Scope is left to diagnosis (it knows who is up). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "agent/charon_hub.h"
#include "agent/checks/logs.h"
#include "charon_log.h"
#include "yaml_bind.h"

#define EVENTS_MAX 512u        /* failure events remembered */
#define PEERS_MAX 256u         /* IKE_SA → peer address map, and successes */
#define EVIDENCE_LINES 6u
#define FILES_MAX 8u
#define FILE_READ_MAX (256u * 1024u) /* bytes read per file per wake-up */
#define JOURNAL_BURST 256u

typedef struct fail_event {
        uint64_t when; /* CLOCK_MONOTONIC µs */
        fault_class cls;
        charon_log_event event;
        char peer[64];
} fail_event;

typedef struct sa_peer {
        unsigned long uniqueid;
        char peer[64];
} sa_peer;

typedef struct peer_ok {
        char peer[64];
        uint64_t when;
} peer_ok;

typedef struct tail {
        char *path;
        int fd;
        ino_t ino;
        off_t off;
        char partial[CHARON_LOG_LINE_MAX];
        size_t n_partial;
} tail;

typedef struct logs_state {
        /* params */
        uint64_t window_usec;
        uint32_t fail_threshold;
        bool vici;
        char **journal_units;
        char **files;

        check *check;
        const check_env *env;
        charon_listener *listener;
        sd_journal *journal;
        sd_event_source *journal_source;
        tail tails[FILES_MAX];
        size_t n_tails;
        int inotify_fd;
        sd_event_source *inotify_source, *poll_timer;

        fail_event events[EVENTS_MAX];
        size_t n_events, head; /* ring */
        sa_peer sa[PEERS_MAX];
        size_t sa_next;
        peer_ok oks[PEERS_MAX];
        size_t oks_next;
        char evidence[EVIDENCE_LINES][320];
        size_t ev_next, ev_n;
        uint64_t lines, classified;
} logs_state;

#define LOFF(f) offsetof(logs_state, f)

static const yfield logs_fields[] = {
        { "window", YF_DURATION, LOFF(window_usec), .min = USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        { "fail_threshold", YF_U32, LOFF(fail_threshold), .min = 1, .max = 100000 },
        { "vici", YF_BOOL, LOFF(vici) },
        { "journal_units", YF_STRV, LOFF(journal_units), .max = 8 },
        { "files", YF_STRV, LOFF(files), .max = FILES_MAX },
        {}
};

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int logs_parse(void *state, const ynode *params, ydiag *d) {
        logs_state *s = state;
        s->window_usec = 5 * 60 * USEC_PER_SEC;
        s->fail_threshold = 1;
        s->vici = true;
        s->inotify_fd = -1;
        for (size_t i = 0; i < FILES_MAX; i++)
                s->tails[i].fd = -1;
        return ybind(params, logs_fields, s, d);
}

/* ---- what a line teaches ---- */

static const char *sa_peer_of(logs_state *s, unsigned long id) {
        for (size_t i = 0; id && i < PEERS_MAX; i++)
                if (s->sa[i].uniqueid == id && s->sa[i].peer[0])
                        return s->sa[i].peer;
        return NULL;
}

static void sa_peer_learn(logs_state *s, unsigned long id, const char *peer) {
        if (!id || !peer[0])
                return;
        for (size_t i = 0; i < PEERS_MAX; i++)
                if (s->sa[i].uniqueid == id) {
                        snprintf(s->sa[i].peer, sizeof(s->sa[i].peer), "%s", peer);
                        return;
                }
        s->sa[s->sa_next] = (sa_peer){ .uniqueid = id };
        snprintf(s->sa[s->sa_next].peer, sizeof(s->sa[0].peer), "%s", peer);
        s->sa_next = (s->sa_next + 1) % PEERS_MAX;
}

static void peer_ok_note(logs_state *s, const char *peer, uint64_t now) {
        for (size_t i = 0; i < PEERS_MAX; i++)
                if (strcmp(s->oks[i].peer, peer) == 0) {
                        s->oks[i].when = now;
                        return;
                }
        snprintf(s->oks[s->oks_next].peer, sizeof(s->oks[0].peer), "%s", peer);
        s->oks[s->oks_next].when = now;
        s->oks_next = (s->oks_next + 1) % PEERS_MAX;
}

static uint64_t peer_ok_since(const logs_state *s, const char *peer) {
        for (size_t i = 0; i < PEERS_MAX; i++)
                if (s->oks[i].peer[0] && strcmp(s->oks[i].peer, peer) == 0)
                        return s->oks[i].when;
        return 0;
}

static void line_in(logs_state *s, charon_log_line *l) {
        uint64_t now = mono_usec();
        const char *peer;

        s->lines++;
        /* the IKE_SA's peer, learned from any line that names it */
        if (l->peer[0] && l->uniqueid &&
            (l->event == CHARON_EV_INITIATING || l->event == CHARON_EV_ESTABLISHED || l->event == CHARON_EV_NONE))
                sa_peer_learn(s, l->uniqueid, l->peer);
        peer = sa_peer_of(s, l->uniqueid);
        if (!peer && l->peer[0] && l->event != CHARON_EV_AUTH_FAILED)
                peer = l->peer;

        if (l->event == CHARON_EV_ESTABLISHED) {
                if (peer)
                        peer_ok_note(s, peer, now);
                (void) check_trigger(s->check); /* a recovery is news too */
                return;
        }
        if (l->cls == FAULT_NONE)
                return;
        s->classified++;
        fail_event *e = &s->events[s->head];
        *e = (fail_event){ .when = now, .cls = l->cls, .event = l->event };
        if (peer)
                snprintf(e->peer, sizeof(e->peer), "%s", peer);
        else if (l->conn[0])
                snprintf(e->peer, sizeof(e->peer), "%.40s[%lu]", l->conn, l->uniqueid);
        s->head = (s->head + 1) % EVENTS_MAX;
        if (s->n_events < EVENTS_MAX)
                s->n_events++;
        snprintf(s->evidence[s->ev_next], sizeof(s->evidence[0]), "%s%s%s%s%.*s", l->group,
                 l->conn[0] ? " <" : " ", l->conn, l->conn[0] ? "> " : "", (int) (l->msg_len > 250 ? 250 : l->msg_len),
                 l->msg);
        s->ev_next = (s->ev_next + 1) % EVIDENCE_LINES;
        if (s->ev_n < EVIDENCE_LINES)
                s->ev_n++;
        (void) check_trigger(s->check);
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

static void text_in(logs_state *s, const char *line, size_t len) {
        charon_log_line l;
        if (charon_log_parse_text(line, len, &l) >= 0)
                line_in(s, &l);
}

static int on_journal(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        logs_state *s = userdata;
        const void *data;
        size_t len;

        (void) sd_journal_process(s->journal);
        for (unsigned i = 0; i < JOURNAL_BURST && sd_journal_next(s->journal) > 0; i++)
                if (sd_journal_get_data(s->journal, "MESSAGE", &data, &len) >= 0 && len > 8)
                        text_in(s, (const char *) data + 8, len - 8);
        return 0;
}

static int journal_open(logs_state *s) {
        int r, fd;

        r = sd_journal_open(&s->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        for (size_t i = 0; s->journal_units[i]; i++) {
                char m[300];
                snprintf(m, sizeof(m), "_SYSTEMD_UNIT=%s", s->journal_units[i]);
                if (i)
                        (void) sd_journal_add_disjunction(s->journal);
                r = sd_journal_add_match(s->journal, m, 0);
                if (r < 0)
                        return r;
        }
        /* only what is new: history is not today's incident */
        r = sd_journal_seek_tail(s->journal);
        if (r >= 0)
                r = sd_journal_previous(s->journal);
        if (r < 0)
                return r;
        fd = sd_journal_get_fd(s->journal);
        if (fd < 0)
                return fd;
        return sd_event_add_io(s->env->event, &s->journal_source, fd, (uint32_t) sd_journal_get_events(s->journal),
                               on_journal, s);
}

static void tail_read(logs_state *s, tail *t) {
        struct stat st;
        char buf[8192];
        size_t total = 0;

        if (t->fd < 0 || fstat(t->fd, &st) < 0 || (stat(t->path, &st) == 0 && st.st_ino != t->ino)) {
                /* rotated (or not there before): follow the new file from its start */
                if (t->fd >= 0)
                        close(t->fd);
                t->fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                t->off = 0;
                t->n_partial = 0;
                if (t->fd < 0 || fstat(t->fd, &st) < 0)
                        return;
                t->ino = st.st_ino;
        }
        if (st.st_size < t->off) { /* truncated */
                t->off = 0;
                t->n_partial = 0;
        }
        while (total < FILE_READ_MAX) {
                ssize_t n = pread(t->fd, buf, sizeof(buf), t->off);
                if (n <= 0)
                        break;
                t->off += n;
                total += (size_t) n;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                text_in(s, t->partial, t->n_partial);
                                t->n_partial = 0;
                        } else if (t->n_partial < sizeof(t->partial))
                                t->partial[t->n_partial++] = buf[i];
                }
        }
}

static int on_files(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        logs_state *s = userdata;
        char buf[4096];
        while (read(s->inotify_fd, buf, sizeof(buf)) > 0)
                ;
        for (size_t i = 0; i < s->n_tails; i++)
                tail_read(s, &s->tails[i]);
        return 0;
}

static int on_poll(sd_event_source *src, uint64_t usec, void *userdata) {
        logs_state *s = userdata;
        /* rotation creates a new inode inotify on the old one cannot see; look once a second */
        for (size_t i = 0; i < s->n_tails; i++)
                tail_read(s, &s->tails[i]);
        (void) sd_event_source_set_time_relative(src, USEC_PER_SEC);
        return sd_event_source_set_enabled(src, SD_EVENT_ON);
}

static int files_open(logs_state *s) {
        int r;

        s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->inotify_fd < 0)
                return -errno;
        for (size_t i = 0; s->files[i] && s->n_tails < FILES_MAX; i++) {
                tail *t = &s->tails[s->n_tails++];
                struct stat st;
                t->path = strdup(s->files[i]);
                if (!t->path)
                        return -ENOMEM;
                t->fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                if (t->fd >= 0 && fstat(t->fd, &st) == 0) {
                        t->ino = st.st_ino;
                        t->off = st.st_size; /* only what is new */
                }
                (void) inotify_add_watch(s->inotify_fd, t->path, IN_MODIFY);
        }
        r = sd_event_add_io(s->env->event, &s->inotify_source, s->inotify_fd, EPOLLIN, on_files, s);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(s->env->event, &s->poll_timer, CLOCK_MONOTONIC, USEC_PER_SEC,
                                          100 * USEC_PER_MSEC, on_poll, s);
}

static int logs_attach(void *state, check *c, const check_env *env) {
        logs_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        if (s->vici && env->hub) {
                r = charon_hub_listen(env->hub, "log", on_vici_log, NULL, s, &s->listener);
                if (r < 0)
                        return r;
        }
        /* a source that cannot open is reported by each run, not fatal to the agent */
        if (s->journal_units && s->journal_units[0] && journal_open(s) < 0) {
                s->journal_source = sd_event_source_disable_unref(s->journal_source);
                sd_journal_close(s->journal);
                s->journal = NULL;
        }
        if (s->files && s->files[0])
                (void) files_open(s);
        return 0;
}

/* ---- the verdict ---- */

static bool class_fails(fault_class c) {
        return c != FAULT_RESOURCE && c != FAULT_NAT_MTU;
}

static int logs_start(void *state, const check_env *env, check_run *run) {
        logs_state *s = state;
        uint64_t now = mono_usec();
        unsigned count[_FAULT_CLASS_MAX] = {};
        charon_log_event last_event[_FAULT_CLASS_MAX] = {};
        char peers[_FAULT_CLASS_MAX][512];
        finding *f = NULL;
        fault_class top = FAULT_NONE;
        int r;

        r = finding_new(&f);
        if (r < 0)
                return r;
        memset(peers, 0, sizeof(peers));
        for (size_t i = 0; i < s->n_events; i++) {
                /* oldest to newest */
                const fail_event *e = &s->events[(s->head + EVENTS_MAX - s->n_events + i) % EVENTS_MAX];
                if (now - e->when > s->window_usec)
                        continue;
                /* a peer that got through since is not failing any more */
                if (e->peer[0] && peer_ok_since(s, e->peer) > e->when)
                        continue;
                count[e->cls]++;
                last_event[e->cls] = e->event;
                if (e->peer[0] && !strstr(peers[e->cls], e->peer)) {
                        size_t used = strlen(peers[e->cls]);
                        snprintf(peers[e->cls] + used, sizeof(peers[0]) - used, "%s%s", used ? "," : "", e->peer);
                }
        }
        for (int c = 1; c < _FAULT_CLASS_MAX; c++) {
                if (count[c])
                        (void) finding_fact_set(f, fault_class_to_string((fault_class) c), "%u", count[c]);
                /* the dominant class: most events, failing classes before warning ones */
                if (count[c] && (top == FAULT_NONE || (class_fails((fault_class) c) && !class_fails(top)) ||
                                 (class_fails((fault_class) c) == class_fails(top) && count[c] > count[top])))
                        top = (fault_class) c;
        }
        (void) finding_fact_set(f, "lines", "%llu", (unsigned long long) s->lines);
        (void) finding_fact_set(f, "window_s", "%llu", (unsigned long long) (s->window_usec / USEC_PER_SEC));
        if (s->journal_units && s->journal_units[0] && !s->journal)
                (void) finding_fact_set(f, "journal", "unavailable");
        if (top == FAULT_NONE) {
                (void) finding_set(f, CHECK_OK, "no failure in charon's log in the last %llus",
                                   (unsigned long long) (s->window_usec / USEC_PER_SEC));
                check_run_done(run, f);
                return 0;
        }
        bool fails = class_fails(top) && count[top] >= s->fail_threshold;
        size_t n_peers = 0;
        for (const char *p = peers[top]; *p; p++)
                n_peers += p == peers[top] || p[-1] == ',';
        (void) finding_set(f, fails ? CHECK_FAIL : CHECK_WARN, "charon reports %s failures: %u × %s%s%s",
                           fault_class_to_string(top), count[top], charon_log_event_to_string(last_event[top]),
                           peers[top][0] ? " from " : "", peers[top]);
        (void) finding_fact_set(f, CHECK_FACT_CLASS, "%s", fault_class_to_string(top));
        (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", charon_log_event_to_string(last_event[top]));
        if (peers[top][0])
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", peers[top]);
        (void) finding_fact_set(f, "n_peers_failing", "%zu", n_peers);
        for (size_t i = 0; i < s->ev_n; i++)
                (void) finding_evidence(f, "%s", s->evidence[(s->ev_next + EVIDENCE_LINES - s->ev_n + i) % EVIDENCE_LINES]);
        check_run_done(run, f);
        return 0;
}

static void logs_forget(void *state) {
        logs_state *s = state;
        s->n_events = s->head = 0;
        s->ev_n = s->ev_next = 0;
}

static void logs_done(void *state) {
        logs_state *s = state;

        charon_listener_free(s->listener);
        s->journal_source = sd_event_source_disable_unref(s->journal_source);
        sd_journal_close(s->journal);
        s->inotify_source = sd_event_source_disable_unref(s->inotify_source);
        s->poll_timer = sd_event_source_disable_unref(s->poll_timer);
        if (s->inotify_fd >= 0)
                close(s->inotify_fd);
        for (size_t i = 0; i < s->n_tails; i++) {
                if (s->tails[i].fd >= 0)
                        close(s->tails[i].fd);
                free(s->tails[i].path);
        }
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
