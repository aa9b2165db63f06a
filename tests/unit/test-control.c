/* The control server (agent/control/) on a real sd-event loop, with a socket in a temporary
 * directory and a config built in code. Clients are forked children using the shared client
 * code (common/proto.c) while the parent runs the loop: root gets through; a child dropped to
 * uid/gid 65534 may read (group nogroup is a reader group) but is refused a state-changing verb
 * with a clear reason; the same uid with supplementary group "users" (an operator group, seen
 * through SO_PEERGROUPS) may change state. Also: stale socket replaced, live socket and
 * non-socket refused, mode and group of the socket, deferred replies (also to a client that
 * left), unknown/unimplemented verbs, protocol errors close the connection, pipelining, the
 * client limits (per uid; the readers' share; the slots kept for root, who gets in by closing
 * the oldest reader's connection when all are taken), the request deadline (a client trickling
 * bytes is closed all the same), refusals logged once and then summed up per interval,
 * set_config without re-binding, removal on free. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/control/control.h"
#include "atomic_file.h"
#include "ev.h"
#include "log.h"
#include "proto.h"
#include "tap.h"

#define NOBODY 65534
#define TIMEOUT (5 * USEC_PER_SEC)

static ev_loop *loop;

/* ---- server side: handlers ---- */

static int on_status(control_request *req, vici_builder *reply, void *userdata) {
        const control_peer *p = control_request_peer(req);
        const char *echo = vici_node_str(control_request_body(req), "echo");

        vici_builder_add_fmt(reply, "uid", "%u", (unsigned) p->uid);
        vici_builder_add_str(reply, "user", p->user);
        vici_builder_add_fmt(reply, "groups", "%zu", p->n_groups);
        if (echo)
                vici_builder_add_str(reply, "echo", echo);
        return 0;
}

typedef struct deferred {
        control_request *req;
        vici_builder *reply;
        ev_source *timer;
        int last_result; /* of the late control_request_reply() */
        unsigned started;
} deferred;

static int on_deferred_timer(ev_source *s, uint64_t usec, void *userdata) {
        deferred *d = userdata;

        vici_builder_add_str(d->reply, "config", "/etc/ikeheal/test.yaml");
        d->last_result = control_request_reply(d->req, 0, d->reply);
        d->req = NULL;
        d->timer = ev_source_unref(d->timer);
        return 0;
}

/* reload: answered 250 ms later, as a slow VICI round trip would be */
static int on_reload(control_request *req, vici_builder *reply, void *userdata) {
        deferred *d = userdata;

        d->started++;
        control_request_defer(req);
        d->req = req;
        d->reply = reply;
        d->last_result = 1;
        return ev_add_time_relative(loop, &d->timer, CLOCK_MONOTONIC, 250 * USEC_PER_MSEC, 0,
                                          on_deferred_timer, d);
}

static int on_pause(control_request *req, vici_builder *reply, void *userdata) {
        vici_builder_add_str(reply, "ignored", "because of the error");
        control_request_set_error(req, "busy now: %s", "a drill is running");
        return -EBUSY;
}

/* resume: defers, then answers at once with a builder of its own (the handler's is dropped) */
static int on_resume(control_request *req, vici_builder *reply, void *userdata) {
        vici_builder *mine = NULL;
        int r;

        vici_builder_add_str(reply, "dropped", "yes");
        control_request_defer(req);
        if (vici_builder_new(&mine) < 0)
                return -ENOMEM;
        vici_builder_add_str(mine, "resumed", "yes");
        r = control_request_reply(req, 0, mine);
        *(int *) userdata = control_request_reply(req, 0, reply); /* a second answer */
        return r;
}

/* ---- client side (children) ---- */

static const char *sock_path;

static int call(int fd, uint16_t verb, const char *echo, proto_header *h, vici_node **body) {
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t len = 0;

        if (echo) {
                vici_builder *b = NULL;
                if (vici_builder_new(&b) < 0)
                        return -ENOMEM;
                vici_builder_add_str(b, "echo", echo);
                int r = vici_builder_finish(b, &buf, &len);
                if (r < 0)
                        return r;
        }
        return proto_call(fd, verb, buf, len, TIMEOUT, h, body);
}

static bool str_is(const vici_node *n, const char *path, const char *want) {
        const char *v = n ? vici_node_str(n, path) : NULL;
        if (!v || strcmp(v, want) != 0) {
                printf("     %s = '%s', want '%s'\n", path, v ?: "(absent)", want);
                return false;
        }
        return true;
}

static bool error_has(const vici_node *n, const char *want) {
        const char *v = n ? vici_node_str(n, "error") : NULL;
        if (!v || !strstr(v, want)) {
                printf("     error = '%s', want it to contain '%s'\n", v ?: "(absent)", want);
                return false;
        }
        return true;
}

/* Send raw bytes, expect one error response with `status`, then EOF. */
static void expect_close(const uint8_t *bytes, size_t len, int status, const char *what) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        r = proto_connect(sock_path, &fd);
        CHECK(r == 0, "%s: connect", what);
        if (r < 0)
                return;
        r = proto_send_all(fd, bytes, len, proto_now_usec() + TIMEOUT);
        CHECK(r == 0, "%s: send", what);
        r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == 0 && h.status == status && n && vici_node_str(n, "error"),
              "%s: answered %d (%s)", what, r == 0 ? h.status : r,
              n && vici_node_str(n, "error") ? vici_node_str(n, "error") : "-");
        vici_node_free(n);
        n = NULL;
        r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == -ECONNRESET, "%s: then the connection is closed (%d)", what, r);
        vici_node_free(n);
}

static int child_root(void) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        r = proto_connect(sock_path, &fd);
        CHECK(r == 0, "root: connect (%d)", r);
        if (r < 0)
                return TAP_END();

        r = call(fd, PROTO_STATUS, "hello", &h, &n);
        CHECK(r == 0 && h.status == 0 && h.kind == PROTO_KIND_RESPONSE && h.verb == PROTO_STATUS,
              "root: status answered (%d/%d)", r, h.status);
        CHECK(str_is(n, "uid", "0") && str_is(n, "user", "root"), "root: peer is uid 0 'root'");
        CHECK(str_is(n, "echo", "hello"), "root: request body reached the handler");
        n = vici_node_free(n);

        r = call(fd, PROTO_RELOAD, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0 && str_is(n, "config", "/etc/ikeheal/test.yaml"),
              "root: deferred reload answered later (%d/%d)", r, h.status);
        n = vici_node_free(n);

        r = call(fd, PROTO_DIAGNOSE, NULL, &h, &n);
        CHECK(r == 0 && h.status == -EOPNOTSUPP && error_has(n, "'diagnose' is not implemented"),
              "root: unregistered verb is -EOPNOTSUPP with a reason");
        n = vici_node_free(n);

        r = call(fd, 999, NULL, &h, &n);
        CHECK(r == 0 && h.status == -EOPNOTSUPP && h.verb == 999 && error_has(n, "unknown verb 999"),
              "root: unknown verb 999 is -EOPNOTSUPP with a reason");
        n = vici_node_free(n);

        r = call(fd, PROTO_PAUSE, NULL, &h, &n);
        CHECK(r == 0 && h.status == -EBUSY && str_is(n, "error", "busy now: a drill is running") &&
                      !vici_node_str(n, "ignored"),
              "root: handler error carries its reason, not its partial reply");
        n = vici_node_free(n);

        r = call(fd, PROTO_RESUME, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0 && str_is(n, "resumed", "yes") && !vici_node_str(n, "dropped"),
              "root: an answer with the handler's own new builder, from inside the handler");
        n = vici_node_free(n);

        r = call(fd, PROTO_STATUS, "still", &h, &n);
        CHECK(r == 0 && h.status == 0 && str_is(n, "echo", "still"),
              "root: connection still usable after errors");
        n = vici_node_free(n);

        /* pipelining: two requests in one write, two answers in order */
        uint8_t *a = NULL, *b = NULL;
        size_t al, bl;
        if (proto_frame_build(PROTO_KIND_REQUEST, PROTO_RELOAD, 0, NULL, 0, &a, &al) == 0 &&
            proto_frame_build(PROTO_KIND_REQUEST, PROTO_STATUS, 0, NULL, 0, &b, &bl) == 0) {
                uint8_t two[64];
                memcpy(two, a, al);
                memcpy(two + al, b, bl);
                r = proto_send_all(fd, two, al + bl, proto_now_usec() + TIMEOUT);
                proto_header h1 = {}, h2 = {};
                vici_node *n1 = NULL, *n2 = NULL;
                if (r == 0)
                        r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h1, &n1);
                if (r == 0)
                        r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h2, &n2);
                CHECK(r == 0 && h1.verb == PROTO_RELOAD && h1.status == 0 &&
                              h2.verb == PROTO_STATUS && h2.status == 0,
                      "root: pipelined requests answered in order (%d)", r);
                vici_node_free(n1);
                vici_node_free(n2);
        }
        free(a);
        free(b);

        /* protocol errors: answered, then closed */
        uint8_t badver[12] = { 0, 0, 0, 8, 0xA2, 1, 0, 1, 0, 0, 0, 0 };
        expect_close(badver, sizeof(badver), -EPROTONOSUPPORT, "version 2");
        uint8_t badmagic[12] = { 0, 0, 0, 8, 0x51, 1, 0, 1, 0, 0, 0, 0 };
        expect_close(badmagic, sizeof(badmagic), -EBADMSG, "bad magic");
        uint8_t response[12] = { 0, 0, 0, 8, 0xA1, 2, 0, 1, 0, 0, 0, 0 };
        expect_close(response, sizeof(response), -EBADMSG, "a response sent as request");
        uint8_t huge[4] = { 0, 1, 0, 1 }; /* 65537 */
        expect_close(huge, sizeof(huge), -EMSGSIZE, "oversize request");
        uint8_t shortlen[4] = { 0, 0, 0, 3 };
        expect_close(shortlen, sizeof(shortlen), -EBADMSG, "length below the header");
        uint8_t badbody[14] = { 0, 0, 0, 10, 0xA1, 1, 0, 1, 0, 0, 0, 0, 9, 9 };
        expect_close(badbody, sizeof(badbody), -EBADMSG, "malformed body");

        /* a client that leaves while its deferred request is in flight */
        {
                _cleanup_(closep) int fd2 = -1;
                uint8_t *q = NULL;
                size_t ql;
                CHECK(proto_connect(sock_path, &fd2) == 0 &&
                              proto_frame_build(PROTO_KIND_REQUEST, PROTO_RELOAD, 0, NULL, 0, &q,
                                                &ql) == 0 &&
                              proto_send_all(fd2, q, ql, proto_now_usec() + TIMEOUT) == 0,
                      "leaver: reload sent");
                free(q);
                usleep(100 * 1000); /* let the agent start handling it, leave before the answer */
        }
        usleep(400 * 1000); /* the late reply happens meanwhile */
        return TAP_END();
}

/* Child: root's connections: the readers' limit and the reserved slots; the one past both, with
 * no reader to make room, is refused with a reason. */
static int child_limit(unsigned limit) {
        int fds[64];
        vici_node *n = NULL;
        proto_header h;
        unsigned ok = 0, want = limit + CONTROL_RESERVED_SLOTS;
        int r, fd = -1;

        for (unsigned i = 0; i < want && i < ELEMENTSOF(fds); i++) {
                fds[i] = -1;
                if (proto_connect(sock_path, &fds[i]) == 0 &&
                    call(fds[i], PROTO_STATUS, NULL, &h, &n) == 0 && h.status == 0)
                        ok++;
                n = vici_node_free(n);
        }
        CHECK(ok == want, "limit: root gets %u connections (%u + %u reserved)", ok, limit, CONTROL_RESERVED_SLOTS);
        r = proto_connect(sock_path, &fd);
        if (r == 0)
                r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == 0 && h.status == -EUSERS && error_has(n, "too many clients (limit 4, and 4 more"),
              "limit: connection %u refused with -EUSERS (%d)", want + 1, r);
        n = vici_node_free(n);
        if (fd >= 0)
                (void) close(fd);
        for (unsigned i = 0; i < ok; i++)
                (void) close(fds[i]);
        return TAP_END();
}

/* ---- many readers: per-uid limit, the reserved slots, making room, the request deadline ---- */

#define READER_A 60001
#define READER_B 60002
#define READER_C 60003

/* Switch the effective ids (SO_PEERCRED reports them): a reader of group nogroup, or root. */
static int as_reader(uid_t uid) {
        return seteuid(0) < 0 || setegid(NOBODY) < 0 || seteuid(uid) < 0 ? -1 : 0;
}
static int as_root(void) {
        return seteuid(0) < 0 || setegid(0) < 0 ? -1 : 0;
}

static bool served(int fd) {
        vici_node *n = NULL;
        proto_header h;
        int r = call(fd, PROTO_STATUS, NULL, &h, &n);
        vici_node_free(n);
        return r == 0 && h.status == 0;
}

/* Connect and expect a refusal naming `want`. */
static bool refused(const char *want) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r = proto_connect(sock_path, &fd);
        if (r == 0)
                r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h, &n);
        bool ok = r == 0 && h.status == -EUSERS && error_has(n, want);
        vici_node_free(n);
        return ok;
}

/* Two readers fill the readers' slots (max_clients 4, 2 per uid); returns 0 with 4 fds. */
static int readers_fill(int a[2], int b[2]) {
        unsigned ok = 0;

        if (as_reader(READER_A) < 0)
                return -1;
        for (int i = 0; i < 2; i++)
                ok += proto_connect(sock_path, &a[i]) == 0 && served(a[i]);
        if (as_reader(READER_B) < 0)
                return -1;
        for (int i = 0; i < 2; i++)
                ok += proto_connect(sock_path, &b[i]) == 0 && served(b[i]);
        return ok == 4 ? 0 : -1;
}

static int child_readers(void) {
        int a[2] = { -1, -1 }, b[2] = { -1, -1 }, roots[CONTROL_RESERVED_SLOTS + 1];
        unsigned ok = 0;
        vici_node *n = NULL;
        proto_header h;
        int r;

        if (setgroups(0, NULL) < 0)
                return 1;
        CHECK(readers_fill(a, b) == 0, "readers: uids %u and %u hold 2 connections each, all served", READER_A,
              READER_B);
        CHECK(as_reader(READER_B) == 0 && refused("too many connections from uid 60002 (limit 2 per user)"),
              "readers: a third connection of one uid is refused (per-uid limit)");
        CHECK(as_reader(READER_C) == 0 && refused("too many clients (limit 4)"),
              "readers: a third reader is refused: the readers' slots are full");

        CHECK(as_root() == 0, "back to root");
        for (unsigned i = 0; i < CONTROL_RESERVED_SLOTS; i++)
                ok += proto_connect(sock_path, &roots[i]) == 0 && served(roots[i]);
        CHECK(ok == CONTROL_RESERVED_SLOTS, "root: served on the %u reserved slots while readers hold the rest (%u)",
              CONTROL_RESERVED_SLOTS, ok);
        r = proto_connect(sock_path, &roots[CONTROL_RESERVED_SLOTS]);
        CHECK(r == 0 && served(roots[CONTROL_RESERVED_SLOTS]),
              "root: one more connection is served too, by closing the oldest reader's (%d)", r);
        r = proto_recv_response(a[0], proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == 0 && h.status == -EUSERS && error_has(n, "to make room for root"),
              "readers: the oldest reader's connection was told why (%d)", r);
        n = vici_node_free(n);
        r = proto_recv_response(a[0], proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == -ECONNRESET, "readers: ... and closed (%d)", r);
        n = vici_node_free(n);
        CHECK(served(a[1]) && served(b[0]) && served(b[1]), "readers: the other readers' connections still work");

        for (unsigned i = 0; i <= CONTROL_RESERVED_SLOTS; i++)
                (void) close(roots[i]);
        for (int i = 0; i < 2; i++) {
                (void) close(a[i]);
                (void) close(b[i]);
        }
        return TAP_END();
}

/* A flood of refused connections: the parent counts the log lines it wrote. */
static int child_flood(unsigned n_flood) {
        int a[2] = { -1, -1 }, b[2] = { -1, -1 };
        unsigned n_refused = 0;

        if (setgroups(0, NULL) < 0)
                return 1;
        CHECK(readers_fill(a, b) == 0, "flood: the readers' slots are full");
        if (as_reader(READER_C) < 0)
                return 1;
        for (unsigned i = 0; i < n_flood; i++)
                n_refused += refused("too many clients");
        CHECK(n_refused == n_flood, "flood: %u connections refused", n_refused);
        usleep(400 * 1000); /* past the summary interval */
        for (int i = 0; i < 2; i++) {
                (void) close(a[i]);
                (void) close(b[i]);
        }
        return TAP_END();
}

/* A reader trickling a valid request one byte at a time: closed at the request deadline (300 ms),
 * long before the request would be complete. */
static int child_trickle(void) {
        _cleanup_(closep) int fd = -1;
        uint8_t *q = NULL;
        size_t ql = 0, sent = 0;
        bool closed = false;
        uint64_t t0;

        if (setgroups(0, NULL) < 0 || as_reader(READER_A) < 0)
                return 1;
        CHECK(proto_connect(sock_path, &fd) == 0 &&
                      proto_frame_build(PROTO_KIND_REQUEST, PROTO_STATUS, 0, NULL, 0, &q, &ql) == 0,
              "trickle: connected");
        t0 = proto_now_usec();
        while (sent < ql && !closed) {
                char c;
                if (send(fd, q + sent, 1, MSG_NOSIGNAL) != 1) {
                        closed = true;
                        break;
                }
                sent++;
                usleep(150 * 1000);
                ssize_t k = recv(fd, &c, 1, MSG_DONTWAIT);
                closed = k == 0 || (k < 0 && errno != EAGAIN);
        }
        free(q);
        CHECK(closed && sent < ql, "trickle: closed by the request deadline after %zu of %zu bytes", sent, ql);
        printf("figure: trickling client closed after %llu ms (deadline 300 ms)\n",
               (unsigned long long) ((proto_now_usec() - t0) / 1000));
        return TAP_END();
}

static int child_idle(void) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        r = proto_connect(sock_path, &fd);
        CHECK(r == 0, "idle: connect");
        usleep(600 * 1000);
        r = proto_recv_response(fd, proto_now_usec() + TIMEOUT, &h, &n);
        CHECK(r == -ECONNRESET, "idle: connection closed by the agent after the idle timeout (%d)",
              r);
        vici_node_free(n);
        return TAP_END();
}

static int drop_to(uid_t uid, gid_t gid, const gid_t *groups, size_t n) {
        if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
                printf("FAIL cannot drop privileges: %m\n");
                return -1;
        }
        return 0;
}

static int child_nobody(void) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        if (drop_to(NOBODY, NOBODY, NULL, 0) < 0)
                return 1;
        r = proto_connect(sock_path, &fd);
        CHECK(r == 0, "nobody: connect through mode 0660 + group nogroup (%d)", r);
        if (r < 0)
                return TAP_END();
        r = call(fd, PROTO_STATUS, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0 && str_is(n, "uid", "65534") && str_is(n, "user", "nobody"),
              "nobody: read verb allowed (reader group nogroup) (%d/%d)", r, h.status);
        n = vici_node_free(n);
        r = call(fd, PROTO_RELOAD, NULL, &h, &n);
        CHECK(r == 0 && h.status == -EPERM &&
                      str_is(n, "error",
                             "permission denied: uid 65534 may not 'reload' (needs root or group users)"),
              "nobody: write verb refused with a clear reason (%d/%d)", r, h.status);
        n = vici_node_free(n);
        r = call(fd, PROTO_STATUS, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0, "nobody: connection still usable after the refusal");
        vici_node_free(n);
        return TAP_END();
}

static int child_operator(gid_t users) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        if (drop_to(NOBODY, NOBODY, &users, 1) < 0)
                return 1;
        r = proto_connect(sock_path, &fd);
        CHECK(r == 0, "operator: connect");
        if (r < 0)
                return TAP_END();
        r = call(fd, PROTO_STATUS, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0 && str_is(n, "groups", "1"),
              "operator: SO_PEERGROUPS shows one supplementary group");
        n = vici_node_free(n);
        r = call(fd, PROTO_RELOAD, NULL, &h, &n);
        CHECK(r == 0 && h.status == 0, "operator: write verb allowed via supplementary group users "
                                       "(%d/%d)", r, h.status);
        vici_node_free(n);
        return TAP_END();
}

/* uid 65534 with primary group daemon: not in the socket's group. */
static int child_outsider(bool expect_connect) {
        _cleanup_(closep) int fd = -1;
        vici_node *n = NULL;
        proto_header h;
        int r;

        if (drop_to(NOBODY, 1, NULL, 0) < 0)
                return 1;
        r = proto_connect(sock_path, &fd);
        if (!expect_connect) {
                CHECK(r == -EACCES, "outsider: socket mode keeps it out (%d)", r);
                return TAP_END();
        }
        CHECK(r == 0, "outsider: connect through mode 0666");
        if (r < 0)
                return TAP_END();
        r = call(fd, PROTO_STATUS, NULL, &h, &n);
        CHECK(r == 0 && h.status == -EPERM &&
                      str_is(n, "error",
                             "permission denied: uid 65534 may not 'status' (needs root or group nogroup)"),
              "outsider: read verb refused under the new config (%d/%d)", r, h.status);
        vici_node_free(n);
        return TAP_END();
}


/* ---- the real ikehealctl, when it was built next to this test ($(BUILD)/ikehealctl) ---- */

static char ctl_path[600];

static void find_ctl(void) {
        char self[512];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n <= 0)
                return;
        self[n] = 0;
        /* $(BUILD)/tests/test-control → $(BUILD)/ikehealctl */
        for (int i = 0; i < 2; i++) {
                slash = strrchr(self, '/');
                if (!slash)
                        return;
                *slash = 0;
        }
        (void) snprintf(ctl_path, sizeof(ctl_path), "%s/ikehealctl", self);
        if (access(ctl_path, X_OK) < 0)
                ctl_path[0] = 0;
}

/* Run ikehealctl with `args`; returns its exit status and its stdout+stderr in out. */
static int ctl(const char *args, char *out, size_t size) {
        char cmd[1024];
        size_t len = 0;
        FILE *p;
        int st;

        (void) snprintf(cmd, sizeof(cmd), "%s --socket %s %s 2>&1", ctl_path, sock_path, args);
        p = popen(cmd, "r");
        if (!p)
                return -1;
        len = fread(out, 1, size - 1, p);
        out[len] = 0;
        st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int child_cli(bool as_nobody) {
        char out[8192];
        int r;

        if (as_nobody) {
                if (drop_to(NOBODY, NOBODY, NULL, 0) < 0)
                        return 1;
                r = ctl("reload", out, sizeof(out));
                CHECK(r == 1 && strstr(out, "permission denied: uid 65534 may not 'reload'"),
                      "cli nobody: reload refused, exit 1 (%d): %s", r, out);
                r = ctl("status", out, sizeof(out));
                CHECK(r == 0 && strstr(out, "User:       nobody"), "cli nobody: status exit 0 (%d)", r);
                return TAP_END();
        }
        r = ctl("status", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "Agent:") && strstr(out, "User:       root"),
              "cli: status exit 0, text rendered (%d):\n%s", r, out);
        r = ctl("--json status", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "\"user\": \"root\"") && strstr(out, "\"uid\": \"0\"") &&
                      out[0] == '{',
              "cli: --json status (%d):\n%s", r, out);
        r = ctl("status --json", out, sizeof(out));
        CHECK(r == 0 && out[0] == '{', "cli: option after the command (%d)", r);
        r = ctl("reload", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "configuration reloaded from /etc/ikeheal/test.yaml"),
              "cli: reload exit 0 (%d): %s", r, out);
        r = ctl("--timeout 2.5 status", out, sizeof(out));
        CHECK(r == 0, "cli: --timeout 2.5 (%d)", r);
        r = ctl("--timeout 0 status", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "invalid timeout"), "cli: --timeout 0 is a usage error (%d)", r);
        r = ctl("frobnicate", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "unknown command 'frobnicate'"), "cli: unknown command exit 2");
        r = ctl("drill", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "drill: expected 'run NAME"), "cli: drill without a subcommand exit 2: %s", out);
        r = ctl("incidents bogus", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "expected 'active' or an incident number"),
              "cli: bad incidents argument exit 2: %s", out);
        r = ctl("status extra", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "takes no arguments"), "cli: extra argument exit 2");
        r = ctl("", out, sizeof(out));
        CHECK(r == 2 && strstr(out, "missing command"), "cli: no command exit 2");
        r = ctl("help status", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "Usage: ikehealctl [OPTIONS] status"), "cli: help status");
        r = ctl("--help", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "reload") && strstr(out, "Exit status"), "cli: --help");
        r = ctl("--version", out, sizeof(out));
        CHECK(r == 0 && strstr(out, "ikehealctl "), "cli: --version");
        char cmd[600];
        (void) snprintf(cmd, sizeof(cmd), "--socket %s.nope status", sock_path);
        r = ctl(cmd, out, sizeof(out));
        CHECK(r == 1 && strstr(out, "cannot connect to ikeheald") && strstr(out, "is ikeheald running"),
              "cli: unreachable agent exit 1: %s", out);
        return TAP_END();
}

static int run_cli(void *arg) {
        return child_cli(*(bool *) arg);
}

/* ---- parent: run a child while the loop serves it ---- */

/* The loop is run step by step rather than with ev_loop_run(): a loop that exited once is
 * finished for good, and the test runs it many times. */
static void run_until(const bool *done) {
        while (!*done)
                if (ev_run(loop, UINT64_MAX) < 0)
                        break;
}

typedef struct child_wait {
        int status;
        bool done;
} child_wait;

typedef struct child_exit {
        child_wait *w;
        pid_t pid;
} child_exit;

/* The child's pidfd turns readable when it exits: reap it then. */
static int on_child(ev_source *s, int fd, uint32_t revents, void *userdata) {
        child_exit *c = userdata;
        siginfo_t si = {};

        if (waitid(P_PID, (id_t) c->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0;
        c->w->status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        c->w->done = true;
        return ev_source_set_enabled(s, EV_OFF);
}

static int spawn(const char *what, int (*fn)(void *), void *arg) {
        ev_source *src = NULL;
        child_wait w = { .status = -1 };
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                tap_checks = tap_failures = 0; /* the child counts its own */
                int r = fn(arg);
                fflush(stdout);
                _exit(r);
        }
        child_exit c = { .w = &w, .pid = pid };
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0 || ev_add_io(loop, &src, pidfd, EPOLLIN, on_child, &c) < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -1;
        }
        (void) ev_source_set_io_fd_own(src, true);
        run_until(&w.done);
        ev_source_unref(src);
        CHECK(w.status == 0, "child '%s' passed (exit %d)", what, w.status);
        return w.status;
}

static int run_root(void *arg) {
        return child_root();
}
static int run_limit(void *arg) {
        return child_limit(*(unsigned *) arg);
}
static int run_idle(void *arg) {
        return child_idle();
}
static int run_readers(void *arg) {
        return child_readers();
}
static int run_flood(void *arg) {
        return child_flood(*(unsigned *) arg);
}
static int run_trickle(void *arg) {
        return child_trickle();
}
static int run_nobody(void *arg) {
        return child_nobody();
}
static int run_operator(void *arg) {
        return child_operator(*(gid_t *) arg);
}
static int run_outsider(void *arg) {
        return child_outsider(*(bool *) arg);
}

/* Run the loop for a while (to let deferred work finish). */
static int on_stop(ev_source *s, uint64_t usec, void *userdata) {
        *(bool *) userdata = true;
        return 0;
}
static void run_for(uint64_t usec) {
        ev_source *t = NULL;
        bool done = false;
        if (ev_add_time_relative(loop, &t, CLOCK_MONOTONIC, usec, 0, on_stop, &done) >= 0)
                run_until(&done);
        ev_source_unref(t);
}

static int make_stale_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        strcpy(sa.sun_path, path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        (void) close(fd); /* bound, never listened, closed: what a crashed agent leaves */
        return 0;
}

int main(void) {
        char dir[] = "/tmp/ikeheal-test-control-XXXXXX";
        char path[256], runDir[256], notsock[256];
        char *readers[] = { "nogroup", NULL }, *operators[] = { "users", NULL };
        ikeheal_config cfg = {}, cfg2 = {};
        control_server *s = NULL, *s2 = NULL;
        deferred d = {};
        int second_reply = 0;
        struct group *g_nogroup, *g_users;
        struct stat st;
        sigset_t mask;
        int r;

        log_setup("test-control", LOG_TARGET_STDERR);
        if (geteuid() != 0) {
                printf("skip: needs root (chown to a group, setuid in children)\n");
                return 77;
        }
        /* getgrnam() returns a static buffer: take each gid before the next call */
        g_nogroup = getgrnam("nogroup");
        gid_t nogroup_gid = g_nogroup ? g_nogroup->gr_gid : (gid_t) -1;
        g_users = getgrnam("users");
        gid_t users_gid = g_users ? g_users->gr_gid : (gid_t) -1;
        if (nogroup_gid != NOBODY || users_gid == (gid_t) -1) {
                printf("skip: needs groups nogroup (65534) and users\n");
                return 77;
        }

        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
                printf("FAIL mkdtemp: %m\n");
                return 1;
        }
        (void) snprintf(runDir, sizeof(runDir), "%s/run", dir);
        (void) snprintf(path, sizeof(path), "%s/run/ikeheal.sock", dir);
        (void) snprintf(notsock, sizeof(notsock), "%s/not-a-socket", dir);
        sock_path = path;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = ev_new(&loop);
        CHECK(r >= 0, "event loop");
        if (r < 0)
                return 1;

        cfg.control_socket = path;
        cfg.control_mode = 0660;
        cfg.control_group = "nogroup";
        cfg.reader_groups = readers;
        cfg.operator_groups = operators;
        cfg.control_max_clients = 4;

        /* a non-socket at the path is never removed */
        FILE *fp = fopen(notsock, "w");
        if (fp)
                fclose(fp);
        cfg.control_socket = notsock;
        r = control_server_new(&s, loop, &cfg);
        CHECK(r == -EEXIST && stat(notsock, &st) == 0, "a regular file at the path: -EEXIST, kept");
        cfg.control_socket = path;

        /* a stale socket left by a dead agent is replaced; the parent dir gets created */
        CHECK(mkdir(runDir, 0755) == 0 && make_stale_socket(path) == 0, "stale socket prepared");
        r = control_server_new(&s, loop, &cfg);
        CHECK(r == 0, "server replaces a stale socket (%d)", r);
        if (r < 0)
                return 1;
        CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660 &&
                      st.st_uid == 0 && st.st_gid == NOBODY,
              "socket is root:nogroup 0660 (mode %o gid %u)", st.st_mode & 0777, (unsigned) st.st_gid);
        r = control_server_new(&s2, loop, &cfg);
        CHECK(r == -EADDRINUSE, "a second server on a live socket: -EADDRINUSE (%d)", r);
        CHECK(stat(path, &st) == 0, "... and the live socket is still there");

        control_server_set_request_timeout(s, 0);
        CHECK(control_server_register(s, PROTO_STATUS, on_status, NULL) == 0 &&
                      control_server_register(s, PROTO_RELOAD, on_reload, &d) == 0 &&
                      control_server_register(s, PROTO_PAUSE, on_pause, NULL) == 0 &&
                      control_server_register(s, PROTO_RESUME, on_resume, &second_reply) == 0,
              "handlers registered");
        CHECK(control_server_register(s, 0, on_status, NULL) == -EINVAL &&
                      control_server_register(s, (proto_verb) 999, on_status, NULL) == -EINVAL,
              "registering an unknown verb is -EINVAL");

        spawn("root", run_root, NULL);
        run_for(300 * USEC_PER_MSEC);
        CHECK(second_reply == -EALREADY, "a second answer is -EALREADY (%d)", second_reply);
        CHECK(d.started == 3, "reload handler ran 3 times (%u)", d.started);
        CHECK(d.last_result == -ENOTCONN, "late reply to a client that left: -ENOTCONN (%d)",
              d.last_result);
        CHECK(control_server_n_clients(s) == 0, "no connections left (%u)", control_server_n_clients(s));

        unsigned limit = cfg.control_max_clients;
        spawn("limit", run_limit, &limit);

        control_server_set_request_timeout(s, 300 * USEC_PER_MSEC);
        spawn("idle", run_idle, NULL);
        spawn("trickle", run_trickle, NULL);
        control_server_set_request_timeout(s, 0);

        /* readers against root: per-uid limit, reserved slots, making room */
        cfg.control_max_clients_per_uid = 2;
        spawn("readers", run_readers, NULL);
        run_for(100 * USEC_PER_MSEC);
        CHECK(control_server_n_evicted(s) == 1, "one reader's connection closed to make room (%llu)",
              (unsigned long long) control_server_n_evicted(s));

        /* a flood of refusals: one line at once, then one summary line per interval */
        {
                char logpath[300], *text = NULL;
                unsigned n_flood = 200, lines = 0, summed = 0, immediate = 0;
                uint64_t before = control_server_n_refused(s), t0 = proto_now_usec();
                size_t len = 0;
                int saved = dup(2), lf;

                (void) snprintf(logpath, sizeof(logpath), "%s/flood.log", dir);
                lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                control_server_set_refusal_interval(s, 250 * USEC_PER_MSEC);
                run_for(300 * USEC_PER_MSEC); /* a quiet interval: the next refusal is said at once */
                fflush(stderr);
                (void) dup2(lf, 2);
                spawn("flood", run_flood, &n_flood);
                run_for(600 * USEC_PER_MSEC);
                fflush(stderr);
                (void) dup2(saved, 2);
                (void) close(saved);
                (void) close(lf);
                uint64_t ms = (proto_now_usec() - t0) / 1000;
                if (atomic_file_read(logpath, 1 << 20, &text, &len) == 0)
                        for (char *l = text; l && *l;) {
                                char *nl = strchr(l, '\n');
                                unsigned k;
                                if (nl)
                                        *nl = 0;
                                if (strstr(l, "control: refused a connection")) {
                                        lines++;
                                        immediate++;
                                } else if (strstr(l, "control: refused ") &&
                                           sscanf(strstr(l, "control: refused ") + 17, "%u more", &k) == 1) {
                                        lines++;
                                        summed += k;
                                }
                                l = nl ? nl + 1 : NULL;
                        }
                free(text);
                (void) unlink(logpath);
                CHECK(control_server_n_refused(s) - before == n_flood, "flood: %llu refusals counted",
                      (unsigned long long) (control_server_n_refused(s) - before));
                CHECK(immediate + summed == n_flood, "flood: the log accounts for every refusal (%u said at once, "
                      "%u summed up)", immediate, summed);
                CHECK(lines >= 2 && lines <= 2 + ms / 250, "flood: %u refusals in %u log lines over %llu ms "
                      "(one at once, then one per 250 ms interval)", n_flood, lines, (unsigned long long) ms);
                control_server_set_refusal_interval(s, 0);
        }
        cfg.control_max_clients_per_uid = 0;

        find_ctl();
        if (ctl_path[0]) {
                bool as_nobody = false;
                spawn("ikehealctl as root", run_cli, &as_nobody);
                as_nobody = true;
                spawn("ikehealctl as nobody", run_cli, &as_nobody);
        } else
                printf("skip: no ikehealctl next to this test, CLI checks left out\n");

        spawn("nobody", run_nobody, NULL);
        spawn("operator", run_operator, &users_gid);
        bool expect_connect = false;
        spawn("outsider (mode 0660)", run_outsider, &expect_connect);

        /* reload without re-binding: readers only, nobody operates, socket opened up */
        cfg2 = cfg;
        cfg2.operator_groups = NULL;
        cfg2.control_mode = 0666;
        r = control_server_set_config(s, &cfg2);
        CHECK(r == 0, "set_config on the same path (%d)", r);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0666, "new mode applied (%o)",
              st.st_mode & 0777);
        expect_connect = true;
        spawn("outsider (mode 0666)", run_outsider, &expect_connect);

        s = control_server_free(s);
        CHECK(lstat(path, &st) < 0 && errno == ENOENT, "socket removed on free");
        CHECK(control_server_new(&s, loop, &cfg) == 0, "server comes back on the same path");
        s = control_server_free(s);

        (void) unlink(notsock);
        (void) rmdir(runDir);
        (void) rmdir(dir);
        ev_unref(loop);
        return TAP_END();
}
