/* The asynchronous VICI client (common/vici.c) against a scripted fake charon on the same
 * sd-event loop (a UNIX socket in a temporary directory): connect with charon absent and
 * present, subscription (re-)registration, strict serialisation (the fake charon answers one
 * command late and counts packets that arrive while a request is still open), streamed lists
 * with subscription events interleaved, a stream over an already subscribed event, unknown
 * commands and events, the queue bound, and every way a connection ends — EOF, timeout, an
 * oversized packet, garbage, an unexpected packet — each failing pending requests and
 * reconnecting. Also freeing the client from its own callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vici.h"
#include "tap.h"

/* ---- the fake charon ---- */

typedef struct server {
        ev_loop *event;
        char path[108];
        int listen_fd, fd;
        ev_source *listen_src, *conn_src, *late_timer;
        uint8_t buf[1 << 16];
        size_t len;
        char log[4096]; /* "REG log;CMD version;…" */
        bool registered_log, registered_list;
        bool pending;     /* a late answer is still owed */
        unsigned overlap; /* packets that arrived while `pending` */
        unsigned accepts;
} server;

static server srv;

static void srv_send(int type, const char *name, const uint8_t *msg, size_t len) {
        uint8_t *pkt = NULL;
        size_t pkt_len = 0;
        if (vici_packet_build(type, name, msg, len, &pkt, &pkt_len) == 0)
                (void) !write(srv.fd, pkt, pkt_len);
        free(pkt);
}

static void srv_send_kv(int type, const char *name, const char *key, const char *value) {
        vici_builder *b = NULL;
        uint8_t *m = NULL;
        size_t len = 0;
        (void) vici_builder_new(&b);
        vici_builder_add_str(b, key, value);
        if (vici_builder_finish(b, &m, &len) == 0)
                srv_send(type, name, m, len);
        free(m);
}

static void srv_close_conn(void) {
        srv.conn_src = ev_source_disable_unref(srv.conn_src);
        srv.late_timer = ev_source_disable_unref(srv.late_timer);
        if (srv.fd >= 0)
                close(srv.fd);
        srv.fd = -1;
        srv.len = 0;
        srv.pending = false;
        srv.registered_log = srv.registered_list = false;
}

static int srv_on_late(ev_source *s, uint64_t usec, void *userdata) {
        srv.late_timer = ev_source_disable_unref(srv.late_timer);
        srv.pending = false;
        srv_send_kv(VICI_CMD_RESPONSE, NULL, "version", "late");
        return 0;
}

static void srv_log(const char *what, const char *name) {
        size_t l = strlen(srv.log);
        (void) snprintf(srv.log + l, sizeof(srv.log) - l, "%s %s;", what, name ?: "");
}

static void srv_packet(const uint8_t *p, size_t len) {
        vici_packet_type t;
        char *name = NULL;

        if (srv.pending)
                srv.overlap++;
        if (vici_packet_parse(p, len, &t, &name, NULL) < 0) {
                srv_log("BAD", NULL);
                return;
        }
        switch (t) {
        case VICI_EVENT_REGISTER:
        case VICI_EVENT_UNREGISTER: {
                bool reg = t == VICI_EVENT_REGISTER;
                srv_log(reg ? "REG" : "UNREG", name);
                if (strcmp(name, "log") == 0)
                        srv.registered_log = reg;
                else if (strcmp(name, "list-sa") == 0)
                        srv.registered_list = reg;
                else if (strcmp(name, "ike-updown") != 0) {
                        srv_send(VICI_EVENT_UNKNOWN, NULL, NULL, 0);
                        break;
                }
                srv_send(VICI_EVENT_CONFIRM, NULL, NULL, 0);
                break;
        }
        case VICI_CMD_REQUEST:
                srv_log("CMD", name);
                if (strcmp(name, "version") == 0)
                        srv_send_kv(VICI_CMD_RESPONSE, NULL, "version", "5.9.8");
                else if (strcmp(name, "late") == 0) {
                        srv.pending = true;
                        (void) ev_add_time_relative(srv.event, &srv.late_timer,
                                                          CLOCK_MONOTONIC, 30 * USEC_PER_MSEC, 0,
                                                          srv_on_late, NULL);
                } else if (strcmp(name, "list-sas") == 0 || strcmp(name, "list-logs") == 0) {
                        const char *ev = name[5] == 's' ? "list-sa" : "log";
                        for (int i = 0; i < 3; i++) {
                                if (strcmp(ev, "log") == 0 || srv.registered_list)
                                        srv_send_kv(VICI_EVENT, ev, "item", "x");
                                if (i == 1 && srv.registered_log && strcmp(ev, "list-sa") == 0)
                                        srv_send_kv(VICI_EVENT, "log", "msg", "in between");
                        }
                        srv_send_kv(VICI_CMD_RESPONSE, NULL, "done", "yes");
                } else if (strcmp(name, "silent") == 0) {
                        /* never answers */
                } else if (strcmp(name, "huge") == 0) {
                        static const uint8_t big[] = {0x00, 0x08, 0x00, 0x01, 1};
                        (void) !write(srv.fd, big, sizeof(big));
                } else if (strcmp(name, "garbage") == 0) {
                        static const uint8_t g[] = {0, 0, 0, 3, 1, 9, 9};
                        (void) !write(srv.fd, g, sizeof(g));
                } else if (strcmp(name, "confirm") == 0)
                        srv_send(VICI_EVENT_CONFIRM, NULL, NULL, 0);
                else if (strcmp(name, "zero") == 0) {
                        static const uint8_t z[] = {0, 0, 0, 0};
                        (void) !write(srv.fd, z, sizeof(z));
                } else if (strcmp(name, "close") == 0)
                        srv_close_conn();
                else
                        srv_send(VICI_CMD_UNKNOWN, NULL, NULL, 0);
                break;
        default:
                srv_log("UNEXPECTED", name);
        }
        free(name);
}

static int srv_on_conn(ev_source *s, int fd, uint32_t revents, void *userdata) {
        ssize_t n = read(srv.fd, srv.buf + srv.len, sizeof(srv.buf) - srv.len);
        if (n <= 0) {
                srv_close_conn();
                return 0;
        }
        srv.len += (size_t) n;
        while (srv.len >= 4 && srv.fd >= 0) {
                size_t l = (size_t) srv.buf[0] << 24 | (size_t) srv.buf[1] << 16 |
                           (size_t) srv.buf[2] << 8 | srv.buf[3];
                if (srv.len < 4 + l)
                        break;
                srv_packet(srv.buf + 4, l);
                if (srv.fd < 0)
                        break;
                memmove(srv.buf, srv.buf + 4 + l, srv.len - 4 - l);
                srv.len -= 4 + l;
        }
        return 0;
}

static int srv_on_accept(ev_source *s, int fd, uint32_t revents, void *userdata) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        srv_close_conn();
        srv.fd = c;
        srv.accepts++;
        (void) ev_add_io(srv.event, &srv.conn_src, c, EPOLLIN, srv_on_conn, NULL);
        return 0;
}

static int srv_listen(void) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, srv.path, strnlen(srv.path, sizeof(sa.sun_path) - 1));
        (void) unlink(srv.path);
        srv.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (srv.listen_fd < 0 || bind(srv.listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(srv.listen_fd, 4) < 0)
                return -errno;
        return ev_add_io(srv.event, &srv.listen_src, srv.listen_fd, EPOLLIN, srv_on_accept,
                               NULL);
}

static void srv_stop(void) {
        srv_close_conn();
        srv.listen_src = ev_source_disable_unref(srv.listen_src);
        if (srv.listen_fd >= 0)
                close(srv.listen_fd);
        srv.listen_fd = -1;
        (void) unlink(srv.path);
}

/* ---- the client side ---- */

typedef struct obs {
        unsigned connects, disconnects;
        int last_reason;
        unsigned logs;
        unsigned logs_at_reply, logs_at_disconnect; /* o.logs when the last reply / disconnect came */
        unsigned items;
        int errors[128];
        char replies[128][16];
        unsigned n_replies;
} obs;

static obs o;
static vici_client *client;
static ev_loop *loop;

static void on_state(vici_client *c, bool connected, int reason, void *userdata) {
        if (connected)
                o.connects++;
        else {
                o.disconnects++;
                o.last_reason = reason;
                o.logs_at_disconnect = o.logs;
        }
}

static void on_log(vici_client *c, const char *event, const vici_node *msg, void *userdata) {
        o.logs++;
}

static void on_item(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        o.items++;
}

static void on_reply(vici_client *c, int error, const vici_node *reply, void *userdata) {
        if (o.n_replies >= ELEMENTSOF(o.errors))
                return;
        o.errors[o.n_replies] = error;
        (void) snprintf(o.replies[o.n_replies], sizeof(o.replies[0]), "%s",
                        error ? "" : vici_node_str(reply, "version") ?: vici_node_str(reply, "done") ?: "?");
        o.n_replies++;
        o.logs_at_reply = o.logs;
}

static void on_reply_free(vici_client *c, int error, const vici_node *reply, void *userdata) {
        on_reply(c, error, reply, userdata);
        client = vici_client_free(c);
}

/* a reply handler that keeps the loop busy longer than the client's timeout (300 ms) */
static void on_reply_slow(vici_client *c, int error, const vici_node *reply, void *userdata) {
        on_reply(c, error, reply, userdata);
        (void) usleep(400 * 1000);
}

static uint64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

#define RUN_UNTIL(cond, ms)                                                                        \
        ({                                                                                         \
                uint64_t _end = now() + (ms) *USEC_PER_MSEC;                                       \
                while (!(cond) && now() < _end)                                                    \
                        (void) ev_run(loop, 10 * USEC_PER_MSEC);                             \
                (cond);                                                                            \
        })

static void reset_obs(void) {
        unsigned c = o.connects, d = o.disconnects;
        memset(&o, 0, sizeof(o));
        o.connects = c;
        o.disconnects = d;
        srv.log[0] = 0;
}

/* one failing command: the reply error, the disconnect reason, then a reconnect */
static void check_reset(const char *cmd, int want_reply, int want_reason) {
        unsigned d = o.disconnects, cn = o.connects;
        reset_obs();
        CHECK(vici_client_command(client, cmd, NULL, 0, on_reply, NULL) == 0 &&
                      vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0,
              "%s: queued with a request behind it", cmd);
        CHECK(RUN_UNTIL(o.n_replies == 2 && o.disconnects > d, 2000) && o.errors[0] == want_reply &&
                      o.errors[1] == -ECONNRESET && o.last_reason == want_reason,
              "%s: reply %d (%s), the request behind it -ECONNRESET, disconnect reason %s", cmd,
              o.errors[0], strerror(-want_reply), strerror(-o.last_reason));
        CHECK(RUN_UNTIL(o.connects > cn && strstr(srv.log, "REG log"), 2000),
              "%s: reconnected and the log subscription registered again", cmd);
}

int main(void) {
        char dir[] = "/tmp/test-vici.XXXXXX";
        int r;

        if (!mkdtemp(dir)) {
                printf("cannot make a temporary directory\n");
                return 77;
        }
        (void) snprintf(srv.path, sizeof(srv.path), "%s/charon.vici", dir);
        srv.fd = srv.listen_fd = -1;
        if (ev_new(&loop) < 0)
                return 1;
        srv.event = loop;

        r = vici_client_new(&client, loop, srv.path, 300 * USEC_PER_MSEC, 10 * USEC_PER_MSEC,
                            80 * USEC_PER_MSEC, on_state, NULL);
        CHECK(r == 0, "client created");
        CHECK(vici_client_new(&client, loop, srv.path, 0, 1, 1, NULL, NULL) == -EINVAL,
              "timeout 0 refused");
        CHECK(vici_client_new(&client, loop, srv.path, 1, 2, 1, NULL, NULL) == -EINVAL,
              "backoff max < min refused");
        CHECK(vici_client_subscribe(client, "log", on_log, NULL) == 0,
              "subscribed to log before start");
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply, NULL) == -ENOTCONN,
              "command before connecting: -ENOTCONN");

        /* charon absent */
        CHECK(vici_client_start(client) == 0 && vici_client_start(client) == -EALREADY,
              "started (once)");
        CHECK(o.disconnects == 0, "no callback inside vici_client_start()");
        CHECK(RUN_UNTIL(o.disconnects == 1, 1000) && o.last_reason == -ENOENT,
              "charon absent: reported disconnected once, -ENOENT");
        (void) RUN_UNTIL(false, 200);
        CHECK(o.disconnects == 1 && !vici_client_is_connected(client),
              "further failed attempts are not re-reported");
        CHECK(vici_client_last_error(client) == -ENOENT, "last error -ENOENT");

        /* charon appears */
        CHECK(srv_listen() >= 0, "fake charon listening");
        CHECK(RUN_UNTIL(o.connects == 1, 1000) && vici_client_is_connected(client),
              "connected after backoff");
        CHECK(RUN_UNTIL(srv.registered_log, 1000) && strncmp(srv.log, "REG log;", 8) == 0,
              "log subscription registered first");

        /* serialisation: a late answer, with requests behind it */
        reset_obs();
        CHECK(vici_client_command(client, "late", NULL, 0, on_reply, NULL) == 0 &&
                      vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0 &&
                      vici_client_stream(client, "list-sas", "list-sa", NULL, 0, on_item, on_reply,
                                         NULL) == 0 &&
                      vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0,
              "late, version, stream list-sas, version queued");
        CHECK(vici_client_pending(client) == 4, "4 pending");
        CHECK(RUN_UNTIL(o.n_replies == 4, 2000), "all 4 answered");
        CHECK(strcmp(o.replies[0], "late") == 0 && strcmp(o.replies[1], "5.9.8") == 0 &&
                      strcmp(o.replies[2], "yes") == 0 && strcmp(o.replies[3], "5.9.8") == 0,
              "answers in order: %s, %s, %s, %s", o.replies[0], o.replies[1], o.replies[2],
              o.replies[3]);
        CHECK(srv.overlap == 0, "nothing was sent while a request was open (serialised)");
        CHECK(o.items == 3, "stream delivered 3 items (got %u)", o.items);
        CHECK(o.logs == 1, "a log event inside the stream went to the subscriber, not the stream");
        (void) RUN_UNTIL(strstr(srv.log, "UNREG list-sa"), 1000);
        CHECK(strcmp(srv.log,
                     "CMD late;CMD version;REG list-sa;CMD list-sas;UNREG list-sa;CMD version;") ==
                      0,
              "wire order: %s", srv.log);

        /* the request sent after a busy callback still gets its whole timeout */
        reset_obs();
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply_slow, NULL) == 0 &&
                      vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0,
              "a request whose reply handler is slow, one behind it");
        CHECK(RUN_UNTIL(o.n_replies == 2, 2000) && o.errors[0] == 0 && o.errors[1] == 0,
              "after a 400 ms handler the next request is answered, not timed out (%d, %d)", o.errors[0],
              o.errors[1]);

        /* a stream over an event a subscription holds: no REG/UNREG of it */
        reset_obs();
        CHECK(vici_client_stream(client, "list-logs", "log", NULL, 0, on_item, on_reply, NULL) == 0,
              "stream over the subscribed event 'log'");
        CHECK(RUN_UNTIL(o.n_replies == 1, 1000) && o.errors[0] == 0 && o.items == 3 && o.logs == 3,
              "items to the stream and to the subscriber (items %u, logs %u)", o.items, o.logs);
        (void) RUN_UNTIL(false, 50);
        CHECK(strcmp(srv.log, "CMD list-logs;") == 0, "no registration traffic: %s", srv.log);

        /* unknown command, unknown stream event */
        reset_obs();
        CHECK(vici_client_command(client, "frobnicate", NULL, 0, on_reply, NULL) == 0 &&
                      vici_client_stream(client, "list-x", "no-such-event", NULL, 0, on_item,
                                         on_reply, NULL) == 0,
              "unknown command and unknown stream event queued");
        CHECK(RUN_UNTIL(o.n_replies == 2, 1000) && o.errors[0] == -EOPNOTSUPP &&
                      o.errors[1] == -EOPNOTSUPP,
              "both -EOPNOTSUPP");
        CHECK(strstr(srv.log, "CMD list-x") == NULL,
              "the command of an unknown stream event was never sent");
        CHECK(vici_client_is_connected(client), "still connected");

        /* a subscription added while connected is registered at once */
        reset_obs();
        CHECK(vici_client_subscribe(client, "ike-updown", on_log, NULL) == 0,
              "subscribe ike-updown while connected");
        CHECK(RUN_UNTIL(strstr(srv.log, "REG ike-updown"), 1000), "registered on the wire");

        /* argument checks */
        CHECK(vici_client_command(client, "", NULL, 0, on_reply, NULL) == -EINVAL,
              "empty command: -EINVAL");
        CHECK(vici_client_command(client, "version", NULL, 3, on_reply, NULL) == -EINVAL,
              "NULL message with a length");
        CHECK(vici_client_stream(client, "list-sas", NULL, NULL, 0, on_item, on_reply, NULL) ==
                      -EINVAL,
              "stream without an event: -EINVAL");

        /* queue bound */
        reset_obs();
        unsigned queued = 0;
        while (vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0 &&
               queued < 1000)
                queued++;
        CHECK(queued == VICI_CLIENT_QUEUE_MAX, "queue holds %u requests, then -ENOBUFS", queued);
        CHECK(RUN_UNTIL(o.n_replies == queued, 3000), "all %u answered", queued);

        /* deferred events: pushed events wait in the socket until the next request's answer,
         * which comes after them; a close is seen at once, after the events before it */
        reset_obs();
        CHECK(vici_client_defer_events(client, true) == 0, "events deferred");
        srv_send_kv(VICI_EVENT, "log", "msg", "one");
        srv_send_kv(VICI_EVENT, "log", "msg", "two");
        (void) RUN_UNTIL(false, 100);
        CHECK(o.logs == 0, "idle: 2 pushed events left unread (%u delivered)", o.logs);
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0, "a request");
        CHECK(RUN_UNTIL(o.n_replies == 1, 1000) && o.errors[0] == 0 && o.logs_at_reply == 2,
              "both events delivered before its answer (%u)", o.logs_at_reply);
        srv_send_kv(VICI_EVENT, "log", "msg", "three");
        (void) RUN_UNTIL(false, 50);
        CHECK(o.logs == 2, "idle again: the next event waits (%u delivered)", o.logs);
        {
                unsigned d = o.disconnects, cn = o.connects;
                uint64_t t0 = now();
                srv_close_conn();
                CHECK(RUN_UNTIL(o.disconnects > d, 1000) && o.last_reason == -ECONNRESET &&
                              o.logs_at_disconnect == 3,
                      "the close seen after %llu ms, the waiting event delivered before it (%u)",
                      (unsigned long long) ((now() - t0) / USEC_PER_MSEC), o.logs_at_disconnect);
                CHECK(RUN_UNTIL(o.connects > cn && strstr(srv.log, "REG ike-updown"), 2000),
                      "reconnected with events deferred, subscriptions registered again");
        }
        reset_obs();
        /* answered after the registrations: nothing is in flight any more */
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0 &&
                      RUN_UNTIL(o.n_replies == 1, 1000),
              "a request answered");
        srv_send_kv(VICI_EVENT, "log", "msg", "four");
        (void) RUN_UNTIL(false, 50);
        CHECK(o.logs == 0, "after the reconnect the events still wait (%u delivered)", o.logs);
        CHECK(vici_client_defer_events(client, false) == 0 && RUN_UNTIL(o.logs == 1, 1000),
              "deferral off: the waiting event is read at once (%u)", o.logs);

        /* every way a connection ends */
        check_reset("silent", -ETIMEDOUT, -ETIMEDOUT);
        check_reset("huge", -ECONNRESET, -EMSGSIZE);
        check_reset("garbage", -ECONNRESET, -EBADMSG);
        check_reset("zero", -ECONNRESET, -EBADMSG);
        check_reset("confirm", -ECONNRESET, -EPROTO);
        check_reset("close", -ECONNRESET, -ECONNRESET);

        /* charon goes away for a while: refused/absent, then back */
        unsigned cn = o.connects, acc = srv.accepts;
        srv_stop();
        CHECK(RUN_UNTIL(!vici_client_is_connected(client), 1000), "server stopped: disconnected");
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply, NULL) == -ENOTCONN,
              "-ENOTCONN while away");
        (void) RUN_UNTIL(false, 300);
        uint64_t t0 = now();
        CHECK(srv_listen() >= 0, "fake charon back");
        CHECK(RUN_UNTIL(o.connects > cn, 1000),
              "reconnected %.0f ms after it came back (backoff max 80 ms)",
              (double) (now() - t0) / 1000.0);
        (void) RUN_UNTIL(false, 100);
        CHECK(srv.accepts == acc + 1, "exactly one new connection (%u)", srv.accepts - acc);

        /* freeing the client from its own callback */
        reset_obs();
        CHECK(vici_client_command(client, "version", NULL, 0, on_reply_free, NULL) == 0 &&
                      vici_client_command(client, "version", NULL, 0, on_reply, NULL) == 0,
              "two requests, the first frees the client in its callback");
        CHECK(RUN_UNTIL(client == NULL, 1000) && o.n_replies == 1,
              "freed inside the callback; the second dropped silently");
        (void) RUN_UNTIL(false, 50);
        CHECK(o.n_replies == 1, "no callback after free");

        /* free with requests in flight, from outside */
        CHECK(vici_client_new(&client, loop, srv.path, 300 * USEC_PER_MSEC, 10 * USEC_PER_MSEC,
                              80 * USEC_PER_MSEC, on_state, NULL) == 0 &&
                      vici_client_start(client) == 0,
              "a second client");
        CHECK(RUN_UNTIL(vici_client_is_connected(client), 1000), "connected");
        CHECK(vici_client_command(client, "late", NULL, 0, on_reply, NULL) == 0,
              "a late request in flight");
        (void) ev_run(loop, 0);
        client = vici_client_free(client);
        (void) RUN_UNTIL(false, 60);
        CHECK(o.n_replies == 1, "freed with a request in flight: no callback");

        srv_stop();
        (void) rmdir(dir);
        ev_unref(loop);
        return TAP_END();
}
