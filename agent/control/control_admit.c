/* Who gets a control connection when many want one. The socket's group lets its members
 * connect; a member who may only read must not be able to keep root, operators or approvers
 * from being served, however many connections it opens. So:
 *
 * - every uid but root holds at most control.max_clients_per_uid connections;
 * - readers (and members allowed nothing) share control.max_clients connections; root,
 *   operators and approvers may use CONTROL_RESERVED_SLOTS more, and when those are taken too,
 *   the oldest connection of a reader is closed to make room (one that is waiting for its
 *   client before one whose request is being handled);
 * - a connection must deliver each request within a fixed time (control_conn.c's request
 *   deadline; bytes trickled in do not extend it);
 * - refusals are said in one line when the first one happens and in one summary line per
 *   CONTROL_REFUSAL_LOG_USEC after that, so a flood of connections cannot flood the journal.
 *
 * Refusing costs a getsockopt() or two, a small frame and a close: no name lookup (the user's
 * name is looked up only for an admitted peer), no log line. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/control/control_internal.h"
#include "duration.h"
#include "log.h"

#define CONTROL_ACCEPT_BATCH 32
/* After accept() ran out of file descriptors, pause listening this long instead of spinning on
 * a level-triggered socket that stays readable. */
#define CONTROL_ACCEPT_BACKOFF_USEC (1 * USEC_PER_SEC)

/* SO_PEERCRED is fixed at connect() time, so it names the process that opened the connection
 * even if it changed credentials since; SO_PEERGROUPS likewise. */
static int peer_identify(int fd, control_peer *ret) {
        struct ucred uc;
        socklen_t sl = sizeof(uc);
        control_peer p = {};
        gid_t *groups = NULL;
        size_t n = 16;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0)
                return -errno;
        p.uid = uc.uid;
        p.gid = uc.gid;
        p.pid = uc.pid;

        for (;;) {
                socklen_t gl = (socklen_t) (n * sizeof(gid_t));
                gid_t *g = realloc(groups, n * sizeof(gid_t));
                if (!g) {
                        free(groups);
                        return -ENOMEM;
                }
                groups = g;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) >= 0) {
                        p.n_groups = gl / sizeof(gid_t);
                        break;
                }
                if (errno != ERANGE || gl / sizeof(gid_t) <= n) {
                        int e = errno;
                        free(groups);
                        return -e;
                }
                n = gl / sizeof(gid_t);
                if (n > CONTROL_PEER_GROUPS_MAX) {
                        free(groups);
                        return -E2BIG;
                }
        }
        p.groups = groups;
        (void) snprintf(p.user, sizeof(p.user), "%u", (unsigned) p.uid);
        *ret = p;
        return 0;
}

/* Name lookups may go through NSS; local users are the norm on a VPN gateway. */
static void peer_name(control_peer *p) {
        struct passwd pw, *pwp = NULL;
        char buf[4096];

        if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
                (void) snprintf(p->user, sizeof(p->user), "%s", pw.pw_name);
}

static bool peer_privileged(const ikeheal_config *cfg, const control_peer *p) {
        return p->uid == 0 || config_groups_match(cfg->operator_groups, p->gid, p->groups, p->n_groups) ||
               config_groups_match(cfg->approver_groups, p->gid, p->groups, p->n_groups);
}

/* ---- refusals, said once per interval ---- */

static void refusals_log(control_refusals *f) {
        char uids[160] = "", a[32];
        size_t off = 0, counted = 0;

        for (unsigned i = 0; i < f->n_uids; i++) {
                int k = snprintf(uids + off, sizeof(uids) - off, "%suid %u ×%u", i ? ", " : "", (unsigned) f->uids[i],
                                 f->uid_n[i]);
                if (k < 0 || (size_t) k >= sizeof(uids) - off)
                        break;
                off += (size_t) k;
                counted += f->uid_n[i];
        }
        log_notice("control: refused %u more connection%s in the last %s (%s%s; last: %s)", f->n, f->n == 1 ? "" : "s",
                   duration_format(f->interval_usec, a, sizeof(a)), uids,
                   counted < f->n ? ", others" : "", f->last_reason ? f->last_reason : "-");
}

static int on_refusals_timer(ev_source *es, uint64_t usec, void *userdata) {
        control_server *s = userdata;
        control_refusals *f = &s->refusals;

        if (f->n == 0) {
                /* a quiet interval: the next refusal is said at once again */
                f->timer = ev_source_disable_unref(f->timer);
                return 0;
        }
        refusals_log(f);
        f->n = f->n_uids = 0;
        if (ev_source_set_time_relative(es, f->interval_usec) < 0 ||
            ev_source_set_enabled(es, EV_ONESHOT) < 0)
                f->timer = ev_source_disable_unref(f->timer);
        return 0;
}

/* `what` is a static description of the reason ("too many clients", …); `msg` the full one. */
static void refusal_note(control_server *s, const control_peer *p, const char *what, const char *msg) {
        control_refusals *f = &s->refusals;
        char a[32];
        unsigned i;

        f->total++;
        if (!f->interval_usec)
                f->interval_usec = CONTROL_REFUSAL_LOG_USEC;
        if (!f->timer) {
                log_notice("control: refused a connection of uid %u pid %d: %s (further refusals are summed "
                           "up every %s)",
                           (unsigned) p->uid, (int) p->pid, msg, duration_format(f->interval_usec, a, sizeof(a)));
                (void) ev_add_time_relative(s->event, &f->timer, CLOCK_MONOTONIC, f->interval_usec, 0,
                                                  on_refusals_timer, s);
                return;
        }
        f->n++;
        f->last_reason = what;
        for (i = 0; i < f->n_uids && f->uids[i] != p->uid; i++)
                ;
        if (i < f->n_uids)
                f->uid_n[i]++;
        else if (f->n_uids < ELEMENTSOF(f->uids)) {
                f->uids[f->n_uids] = p->uid;
                f->uid_n[f->n_uids++] = 1;
        }
}

/* Best effort: a fresh socket's buffer takes a small frame without blocking. */
static void send_refusal(int fd, int status, const char *msg) {
        uint8_t *frame = NULL;
        size_t len;

        if (proto_frame_build_error(0, status, msg, &frame, &len) >= 0)
                (void) send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        free(frame);
}

/* ---- the decision ---- */

static unsigned conns_of_uid(const control_server *s, uid_t uid) {
        unsigned n = 0;

        for (const control_conn *c = s->conns; c; c = c->next)
                n += c->peer.uid == uid;
        return n;
}

/* The oldest reader's connection, preferring one that waits for its client over one whose
 * request is being handled. */
static control_conn *oldest_unprivileged(control_server *s) {
        control_conn *idle = NULL, *busy = NULL;

        for (control_conn *c = s->conns; c; c = c->next)
                if (!c->privileged) {
                        if (c->current)
                                busy = c;
                        else
                                idle = c;
                }
        return idle ?: busy;
}

/* 0: admit (after closing *ret_victim if set); <0: refuse with the reason in `why`, and `what`
 * a static summary of it. */
static int admit(control_server *s, const control_peer *p, bool privileged, control_conn **ret_victim, char *why,
                 size_t n, const char **what) {
        const ikeheal_config *cfg = s->cfg;
        unsigned limit = cfg->control_max_clients ?: CONTROL_MAX_CLIENTS_DEFAULT;
        unsigned per_uid = cfg->control_max_clients_per_uid ?: CONTROL_MAX_CLIENTS_PER_UID_DEFAULT;

        *ret_victim = NULL;
        if (p->uid != 0 && conns_of_uid(s, p->uid) >= per_uid) {
                *what = "too many connections from one user";
                (void) snprintf(why, n, "too many connections from uid %u (limit %u per user), try again",
                                (unsigned) p->uid, per_uid);
                return -EUSERS;
        }
        if (s->n_conns < limit)
                return 0;
        if (!privileged) {
                *what = "too many clients";
                (void) snprintf(why, n, "too many clients (limit %u), try again", limit);
                return -EUSERS;
        }
        if (s->n_conns < limit + CONTROL_RESERVED_SLOTS)
                return 0;
        *ret_victim = oldest_unprivileged(s);
        if (*ret_victim)
                return 0;
        *what = "too many privileged clients";
        (void) snprintf(why, n, "too many clients (limit %u, and %u more for root, operators and approvers), try again",
                        limit, CONTROL_RESERVED_SLOTS);
        return -EUSERS;
}

static void accept_one(control_server *s, int cfd) {
        control_peer p = {};
        control_conn *victim = NULL;
        const char *what = "unidentified peer";
        char why[256];
        bool privileged;
        int r;

        r = peer_identify(cfd, &p);
        if (r < 0) {
                (void) snprintf(why, sizeof(why), "cannot identify the peer: %s", strerror(-r));
                send_refusal(cfd, r, why);
                (void) close(cfd);
                refusal_note(s, &p, what, why);
                return;
        }
        privileged = peer_privileged(s->cfg, &p);
        r = admit(s, &p, privileged, &victim, why, sizeof(why), &what);
        if (r < 0) {
                send_refusal(cfd, r, why);
                (void) close(cfd);
                refusal_note(s, &p, what, why);
                free(p.groups);
                return;
        }
        if (victim) {
                s->evicted++;
                log_info("control: closing the oldest reader connection (uid %u pid %d) to make room for uid %u pid %d",
                         (unsigned) victim->peer.uid, (int) victim->peer.pid, (unsigned) p.uid, (int) p.pid);
                if (victim->wlen == 0)
                        send_refusal(victim->fd, -EUSERS,
                                     "connection closed to make room for root, an operator or an approver; try again");
                control_conn_free(victim);
        }
        peer_name(&p);
        r = control_conn_new(s, cfd, &p, privileged); /* takes cfd and p.groups */
        if (r < 0)
                log_warning_errno(r, "control: cannot set up a connection, ignoring");
}

static int on_backoff(ev_source *es, uint64_t usec, void *userdata) {
        control_server *s = userdata;

        s->backoff_timer = ev_source_disable_unref(s->backoff_timer);
        (void) ev_source_set_enabled(s->listen_source, EV_ON);
        return 0;
}

int control_admit_on_listen(ev_source *es, int fd, uint32_t revents, void *userdata) {
        control_server *s = userdata;

        for (int i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
                int cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        log_warning_errno(errno, "control: accept() failed, pausing for 1s");
                        (void) ev_source_set_enabled(s->listen_source, EV_OFF);
                        if (!s->backoff_timer)
                                (void) ev_add_time_relative(s->event, &s->backoff_timer, CLOCK_MONOTONIC,
                                                                  CONTROL_ACCEPT_BACKOFF_USEC, 0, on_backoff, s);
                        return 0;
                }
                accept_one(s, cfd);
        }
        return 0;
}

void control_admit_done_refusals(control_server *s) {
        control_refusals *f = &s->refusals;

        if (f->n > 0)
                refusals_log(f);
        f->n = f->n_uids = 0;
        f->timer = ev_source_disable_unref(f->timer);
}

void control_admit_done(control_server *s) {
        control_admit_done_refusals(s);
        s->backoff_timer = ev_source_disable_unref(s->backoff_timer);
}
