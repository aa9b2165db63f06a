/* The notifier: strict binding of `notify:` (errors at line:col, all of them), JSON and Slack
 * bodies with escaping, and delivery on a real sd-event loop to a tiny HTTP server that lives on
 * the same loop (so a hanging endpoint really hangs, and the loop must keep turning): success,
 * a retried 500, a timeout, a refused connection, the queue bound, a reload mid-queue. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/notify/notifier.h"
#include "tap.h"

#define MSEC USEC_PER_MSEC

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- the HTTP server: one request per connection, answered with the scripted status ---- */

typedef struct server server;
typedef struct conn {
        server *srv;
        int fd;
        ev_source *src;
        char buf[16384];
        size_t len;
        bool hung;
} conn;

struct server {
        int fd;
        uint16_t port;
        ev_source *src;
        int statuses[4]; /* per request, the last repeats; 0: never answer */
        size_t n_statuses;
        unsigned requests;
        uint64_t at[8];  /* when each request was complete */
        char head[2048]; /* the last request's head and body */
        char *bodies[8];
        conn *conns[16];
};

static void conn_close(conn *c) {
        for (size_t i = 0; i < ELEMENTSOF(c->srv->conns); i++)
                if (c->srv->conns[i] == c)
                        c->srv->conns[i] = NULL;
        ev_source_disable_unref(c->src);
        close(c->fd);
        free(c);
}

static int on_conn(ev_source *s, int fd, uint32_t revents, void *userdata) {
        conn *c = userdata;
        server *srv = c->srv;
        ssize_t k = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        const char *end, *cl;

        if (k <= 0) { /* the client gave up (timeout) or is done */
                if (k == 0 || (errno != EAGAIN && errno != EINTR))
                        conn_close(c);
                return 0;
        }
        c->len += (size_t) k;
        c->buf[c->len] = 0;
        if (c->hung || !(end = strstr(c->buf, "\r\n\r\n")))
                return 0;
        end += 4;
        cl = strcasestr(c->buf, "\r\nContent-Length:");
        if (cl && cl < end && c->len < (size_t) (end - c->buf) + strtoul(cl + 17, NULL, 10))
                return 0; /* the body is not complete yet */

        unsigned i = srv->requests++;
        int status = srv->statuses[i < srv->n_statuses ? i : srv->n_statuses - 1];
        if (i < ELEMENTSOF(srv->at)) {
                srv->at[i] = now_usec();
                srv->bodies[i] = strdup(end);
        }
        snprintf(srv->head, sizeof(srv->head), "%.*s", (int) (end - c->buf), c->buf);
        if (status == 0) {
                c->hung = true; /* keep the connection open and silent */
                return 0;
        }
        char resp[128];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                         status);
        (void) !write(fd, resp, (size_t) n);
        conn_close(c);
        return 0;
}

static int on_accept(ev_source *s, int fd, uint32_t revents, void *userdata) {
        server *srv = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        conn *c;
        size_t i;

        if (cfd < 0)
                return 0;
        for (i = 0; i < ELEMENTSOF(srv->conns) && srv->conns[i]; i++)
                ;
        if (i == ELEMENTSOF(srv->conns) || !(c = calloc(1, sizeof(*c)))) {
                close(cfd);
                return 0;
        }
        *c = (conn){.srv = srv, .fd = cfd};
        srv->conns[i] = c;
        if (ev_add_io(ev_source_get_loop(s), &c->src, cfd, EPOLLIN, on_conn, c) < 0)
                conn_close(c);
        return 0;
}

/* A bound, unlistened port: connections are refused. With listen: the scripted server. */
static int server_start(server *srv, ev_loop *e, bool listening) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);

        srv->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (srv->fd < 0 || bind(srv->fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(srv->fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        srv->port = ntohs(a.sin_port);
        if (!listening)
                return 0;
        if (listen(srv->fd, 16) < 0)
                return -errno;
        return ev_add_io(e, &srv->src, srv->fd, EPOLLIN, on_accept, srv);
}

static void server_stop(server *srv) {
        for (size_t i = 0; i < ELEMENTSOF(srv->conns); i++)
                if (srv->conns[i])
                        conn_close(srv->conns[i]);
        for (size_t i = 0; i < ELEMENTSOF(srv->bodies); i++)
                free(srv->bodies[i]);
        ev_source_disable_unref(srv->src);
        if (srv->fd >= 0)
                close(srv->fd);
}

/* ---- helpers ---- */

static notify_config hook(const char *name, uint16_t port, uint64_t timeout, uint32_t retries,
                          uint64_t backoff, uint32_t queue_max) {
        static notify_webhook w;
        static char url[64];

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", port);
        w = (notify_webhook){.name = (char *) name,
                             .url = url,
                             .format = NOTIFY_JSON,
                             .timeout_usec = timeout,
                             .retries = retries,
                             .backoff_usec = backoff};
        return (notify_config){.webhooks = &w, .n_webhooks = 1, .queue_max = queue_max};
}

/* Turn the loop until nothing is pending (or `limit` passes); returns the time it took. */
static uint64_t settle(ev_loop *e, notifier *n, uint64_t limit) {
        uint64_t t0 = now_usec();
        notifier_stats s;

        for (;;) {
                notifier_get_stats(n, &s);
                if (s.queued == s.delivered + s.failed + s.dropped || now_usec() - t0 > limit)
                        return now_usec() - t0;
                (void) ev_run(e, 20 * MSEC);
        }
}

static void run_for(ev_loop *e, uint64_t usec) {
        uint64_t t0 = now_usec();
        while (now_usec() - t0 < usec)
                (void) ev_run(e, 10 * MSEC);
}

static int on_tick(ev_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        (void) ev_source_set_time_relative(s, 20 * MSEC);
        (void) ev_source_set_enabled(s, EV_ONESHOT);
        return 0;
}

static const notify_message msg = {.event = "run_failed",
                                   .incident = 12,
                                   .runbook = "firewall-restore",
                                   .grade = "auto",
                                   .text = "rule restored",
                                   .time_usec = 1795372307 * USEC_PER_SEC};

/* ---- configuration ---- */

static int bind_text(const char *text, notify_config *c, char **err) {
        ydiag d;
        ynode *root = NULL;
        int r;

        ydiag_init(&d, "t.yaml");
        r = ytree_parse_buffer(text, strlen(text), &d, &root);
        if (r >= 0)
                r = notify_config_bind(ynode_get(root, "notify"), c, &d);
        *err = ydiag_join(&d);
        ydiag_done(&d);
        ynode_free(root);
        return r;
}

static void test_config(void) {
        notify_config c;
        char *err = NULL;
        int r;

        notify_config_init(&c);
        r = bind_text("notify:\n"
                      "  webhooks:\n"
                      "    - name: ops\n"
                      "      url: http://127.0.0.1:9000/hook\n"
                      "      format: slack\n"
                      "      timeout: 2s\n"
                      "      retries: 1\n"
                      "      backoff: 100ms\n"
                      "    - name: chat-2\n"
                      "      url: https://example.org/x\n"
                      "  queue_max: 8\n",
                      &c, &err);
        CHECK(r == 0 && c.n_webhooks == 2 && c.queue_max == 8, "good config binds (%s)",
              err ? err : "ok");
        if (r == 0) {
                const notify_webhook *a = &c.webhooks[0], *b = &c.webhooks[1];
                CHECK(strcmp(a->name, "ops") == 0 && a->format == NOTIFY_SLACK &&
                              a->timeout_usec == 2 * USEC_PER_SEC && a->retries == 1 &&
                              a->backoff_usec == 100 * MSEC,
                      "explicit values");
                CHECK(b->format == NOTIFY_JSON && b->timeout_usec == 5 * USEC_PER_SEC &&
                              b->retries == 3 && b->backoff_usec == USEC_PER_SEC,
                      "defaults: json, 5s, 3 retries, 1s backoff");
                CHECK(notify_config_has(&c, "chat-2") && !notify_config_has(&c, "nope"),
                      "notify_config_has");
        }
        free(err);

        notify_config_done(&c);
        CHECK(bind_text("other: 1\n", &c, &err) == 0 && c.n_webhooks == 0 && c.queue_max == 64,
              "no notify: section means defaults");
        free(err);

        /* every error at once, each at its position; c is left alone */
        r = bind_text("notify:\n"
                      "  webhooks:\n"
                      "    - name: ops\n"
                      "      url: ftp://x/y\n"
                      "      colour: red\n"
                      "    - name: ops\n"
                      "      url: http://a/\n"
                      "      format: xml\n"
                      "      timeout: 61s\n"
                      "    - name: Bad!\n"
                      "      url: http://b/\n"
                      "    - name: nourl\n"
                      "  queue_max: 2000\n"
                      "  extra: 1\n",
                      &c, &err);
        CHECK(r == -EINVAL && c.n_webhooks == 0, "bad config rejected, output untouched");
        static const char *const want[] = {
                "t.yaml:4:12: url: expected an http:// or https:// URL",
                "t.yaml:5:7: unknown key 'colour'",
                "t.yaml:6:13: name: webhook 'ops' already defined at line 3",
                "t.yaml:8:15: format: expected json or slack",
                "t.yaml:9:16: duration '61s' out of range",
                "t.yaml:10:13: name: 'Bad!' is not a valid",
                "t.yaml:12:7: webhook: missing key 'url'",
                "t.yaml:13:14: value 2000 out of range",
                "t.yaml:14:3: unknown key 'extra'",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                CHECK(err && strstr(err, want[i]), "reports '%s'", want[i]);
        free(err);
        notify_config_done(&c);
}

/* Values quoted in errors are cut and made printable: a value with a newline or a terminal
 * escape cannot forge a log line of its own. */
static void test_config_hostile(void) {
        notify_config c;
        char *err = NULL;
        int r;

        notify_config_init(&c);
        r = bind_text("notify:\n"
                      "  webhooks:\n"
                      "    - name: \"ops\\nikeheald: forged name\"\n"
                      "      url: \"ftp://x\\nikeheald: forged url\\e[31m\"\n"
                      "      format: \"xml\\nikeheald: forged format\"\n"
                      "      \"k\\nikeheald: forged key\": 1\n"
                      "  \"t\\nikeheald: forged top key\": 1\n",
                      &c, &err);
        CHECK(r == -EINVAL && err, "hostile values rejected");
        size_t lines = 1;
        for (const char *p = err; p && *p; p++)
                lines += *p == '\n';
        CHECK(lines == 5, "one line per error (%zu lines)", lines);
        CHECK(err && !strstr(err, "\nikeheald:") && !strchr(err, '\033'), "no forged line, no escape: %s",
              err ? err : "");
        CHECK(err && strstr(err, "url: expected an http:// or https:// URL, got 'ftp://x?ikeheald: forged url?[31m'"),
              "the url quoted with '?' for the newline and the escape");
        free(err);
        notify_config_done(&c);
}

/* ---- rendering ---- */

static void test_render(void) {
        notify_message m = msg;
        char *s, big[3000];

        m.text = "say \"hi\"\\ back\nnow\x01!\t";
        s = notify_render(NOTIFY_JSON, "gw1", &m);
        CHECK(s && strcmp(s, "{\"source\":\"ikeheal\",\"host\":\"gw1\","
                             "\"time\":\"2026-11-22T18:31:47Z\",\"event\":\"run_failed\","
                             "\"incident\":12,\"runbook\":\"firewall-restore\",\"grade\":\"auto\","
                             "\"text\":\"say \\\"hi\\\"\\\\ back\\nnow\\u0001!\\t\"}") == 0,
              "json body, escaped: %s", s);
        free(s);
        s = notify_render(NOTIFY_SLACK, "gw1", &m);
        CHECK(s && strcmp(s,
                          "{\"text\":\"[ikeheal gw1] run_failed: firewall-restore (incident 12): "
                          "say \\\"hi\\\"\\\\ back\\nnow\\u0001!\\t\"}") == 0,
              "slack body: %s", s);
        free(s);

        m = (notify_message){
                .event = "measure_expired", .text = "caf\xc3\xa9 \xff\x7f", .time_usec = 1};
        s = notify_render(NOTIFY_JSON, "gw1", &m);
        CHECK(s && strcmp(s, "{\"source\":\"ikeheal\",\"host\":\"gw1\","
                             "\"time\":\"1970-01-01T00:00:00Z\",\"event\":\"measure_expired\","
                             "\"text\":\"caf\xc3\xa9 \xef\xbf\xbd\x7f\"}") == 0,
              "incident/runbook/grade omitted; UTF-8 kept, invalid bytes replaced: %s", s);
        free(s);
        s = notify_render(NOTIFY_SLACK, "gw1", &m);
        CHECK(s && strcmp(s, "{\"text\":\"[ikeheal gw1] measure_expired: caf\xc3\xa9 "
                             "\xef\xbf\xbd\x7f\"}") == 0,
              "slack without runbook and incident: %s", s);
        free(s);

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        m.text = big;
        s = notify_render(NOTIFY_JSON, "gw1", &m);
        CHECK(s && strlen(strstr(s, "\"text\":\"")) == 8 + NOTIFY_TEXT_MAX + 2,
              "text capped at %u bytes", NOTIFY_TEXT_MAX);
        free(s);
}

/* A message about an incident says what it is, and its run when it has one. */
static void test_render_incident(void) {
        const char *peers[] = { "C=CH, O=strongSwan, CN=client1", "moon\"x" };
        notify_message m = { .event = "incident_opened", .incident = 3, .text = "UDP 4500 dropped",
                             .time_usec = 1, .class_name = "firewall", .scope = "local", .severity = "fail",
                             .reason = "udp4500_drop", .peers = peers, .n_peers = 2 };
        char *s = notify_render(NOTIFY_JSON, "gw1", &m);

        CHECK(s && strcmp(s, "{\"source\":\"ikeheal\",\"host\":\"gw1\",\"time\":\"1970-01-01T00:00:00Z\","
                             "\"event\":\"incident_opened\",\"incident\":3,\"class\":\"firewall\",\"scope\":\"local\","
                             "\"severity\":\"fail\",\"reason\":\"udp4500_drop\",\"peers\":[\"C=CH, O=strongSwan, "
                             "CN=client1\",\"moon\\\"x\"],\"text\":\"UDP 4500 dropped\"}") == 0,
              "json: class, scope, severity, reason, peers; no run: %s", s);
        free(s);
        m.run = 7;
        m.run_runbook = "firewall-restore";
        m.run_state = "running";
        m.n_peers = 0;
        s = notify_render(NOTIFY_JSON, "gw1", &m);
        CHECK(s && strstr(s, "\"peers\":[],\"run\":{\"id\":7,\"runbook\":\"firewall-restore\",\"state\":\"running\"}"),
              "json: empty peers, the run: %s", s);
        free(s);
        m.n_peers = 1;
        s = notify_render(NOTIFY_SLACK, "gw1", &m);
        CHECK(s && strcmp(s, "{\"text\":\"[ikeheal gw1] incident_opened (incident 3) [firewall/local fail "
                             "(udp4500_drop), peers C=CH, O=strongSwan, CN=client1; run 7 of firewall-restore: "
                             "running]: UDP 4500 dropped\"}") == 0,
              "slack: the same in words: %s", s);
        free(s);
}

static void test_config_alertmanager(void) {
        notify_config c;
        char *err = NULL;
        int r;

        notify_config_init(&c);
        r = bind_text("notify:\n"
                      "  alertmanager: {url: \"http://127.0.0.1:9093/\", resend: 30s, instance: gw1, retries: 1}\n",
                      &c, &err);
        CHECK(r == 0 && c.alertmanager.url && strcmp(c.alertmanager.url, "http://127.0.0.1:9093/") == 0 &&
                      c.alertmanager.resend_usec == 30 * USEC_PER_SEC && c.alertmanager.retries == 1 &&
                      strcmp(c.alertmanager.instance, "gw1") == 0 && !c.alertmanager.token &&
                      c.alertmanager.timeout_usec == 5 * USEC_PER_SEC,
              "alertmanager binds (%s)", err ? err : "ok");
        free(err);
        notify_config_done(&c);
        CHECK(!c.alertmanager.url && c.alertmanager.resend_usec == 60 * USEC_PER_SEC, "default: off, resend 1m");

        r = bind_text("notify:\n"
                      "  alertmanager:\n"
                      "    resend: 0s\n"
                      "    instance: \"a b\"\n"
                      "    bearer_token_file: rel/path\n"
                      "    colour: red\n",
                      &c, &err);
        CHECK(r == -EINVAL && !c.alertmanager.url, "bad alertmanager rejected, output untouched");
        static const char *const want[] = {
                "t.yaml:3:13: duration '0s' out of range",
                "t.yaml:4:15: instance: 'a b' is not a label value",
                "t.yaml:5:24: bearer_token_file: expected an absolute path",
                "t.yaml:6:5: unknown key 'colour'",
                "t.yaml:3:5: alertmanager: missing key 'url'",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                CHECK(err && strstr(err, want[i]), "reports '%s' (%s)", want[i], err);
        free(err);
        notify_config_done(&c);
}

/* ---- delivery ---- */

int main(void) {
        char host[HOST_NAME_MAX + 1] = "";
        ev_loop *e = NULL;
        notifier *n = NULL;
        notifier_stats st;
        notify_config cfg;
        uint64_t t;

        test_config();
        test_config_hostile();
        test_render();
        test_render_incident();
        test_config_alertmanager();
        if (ev_new(&e) < 0)
                return 1;
        (void) gethostname(host, sizeof(host) - 1);

        { /* success: one POST, JSON content type, the rendered body; other targets ignored */
                server srv = {.statuses = {200}, .n_statuses = 1};
                CHECK(server_start(&srv, e, true) == 0, "server on 127.0.0.1:%u", srv.port);
                cfg = hook("ops", srv.port, 2 * USEC_PER_SEC, 2, 50 * MSEC, 8);
                CHECK(notifier_new(&n, e, &cfg) == 0, "notifier_new");
                CHECK(notifier_send(n, (const char *const[]){"other", NULL}, &msg) == 0,
                      "unknown target ignored");
                CHECK(notifier_send(n, (const char *const[]){"ops", NULL}, &msg) == 1,
                      "queued for ops");
                settle(e, n, 3 * USEC_PER_SEC);
                notifier_get_stats(n, &st);
                char *want = notify_render(NOTIFY_JSON, host, &msg);
                CHECK(st.delivered == 1 && st.retried == 0 && srv.requests == 1,
                      "delivered in one request");
                CHECK(strncmp(srv.head, "POST /hook HTTP/1.1\r\n", 21) == 0 &&
                              strcasestr(srv.head, "\r\nContent-Type: application/json\r\n"),
                      "POST with application/json");
                CHECK(want && srv.bodies[0] && strcmp(srv.bodies[0], want) == 0,
                      "body as rendered: %s", srv.bodies[0] ? srv.bodies[0] : "(none)");
                free(want);

                /* in order, one at a time per webhook */
                notify_message m2 = msg, m3 = msg;
                m2.event = "second";
                m3.event = "third";
                (void) notifier_send(n, NULL, &m2);
                (void) notifier_send(n, NULL, &m3);
                settle(e, n, 3 * USEC_PER_SEC);
                CHECK(srv.requests == 3 && strstr(srv.bodies[1], "\"second\"") &&
                              strstr(srv.bodies[2], "\"third\""),
                      "messages arrive in order");
                n = notifier_free(n);
                server_stop(&srv);
        }
        { /* signed: the header is HMAC-SHA256 of the exact body under the key */
                char sig[72], want_hdr[128];
                CHECK(notify_sign((const unsigned char *) "Jefe", 4, "what do ya want for nothing?", 28, sig) == 0 &&
                              strcmp(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0,
                      "HMAC-SHA256 as RFC 4231 test case 2: %s", sig);
                server srv = {.statuses = {200}, .n_statuses = 1};
                (void) server_start(&srv, e, true);
                cfg = hook("ops", srv.port, 2 * USEC_PER_SEC, 2, 50 * MSEC, 8);
                cfg.webhooks[0].key = (unsigned char *) "k3y-bytes";
                cfg.webhooks[0].key_len = 9;
                CHECK(notifier_new(&n, e, &cfg) == 0, "notifier_new with a signing key");
                cfg.webhooks[0].key = NULL;
                cfg.webhooks[0].key_len = 0;
                (void) notifier_send(n, NULL, &msg);
                settle(e, n, 3 * USEC_PER_SEC);
                CHECK(srv.requests == 1 && srv.bodies[0] &&
                              notify_sign((const unsigned char *) "k3y-bytes", 9, srv.bodies[0], strlen(srv.bodies[0]), sig) == 0,
                      "delivered");
                snprintf(want_hdr, sizeof(want_hdr), "\r\n" NOTIFY_SIGNATURE_HEADER ": %s\r\n", sig);
                CHECK(strcasestr(srv.head, want_hdr) && strcasestr(srv.head, "\r\nContent-Type: application/json\r\n"),
                      "signed over the body it carries, with the usual headers");
                n = notifier_free(n);
                server_stop(&srv);
        }
        { /* Alertmanager: the body as given to <url>/api/v2/alerts, with the bearer token, unsigned */
                server srv = {.statuses = {200}, .n_statuses = 1};
                char url[64];
                (void) server_start(&srv, e, true);
                snprintf(url, sizeof(url), "http://127.0.0.1:%u", srv.port);
                cfg = (notify_config){ .queue_max = 8,
                                       .alertmanager = { .url = url, .token = (char *) "t0k", .timeout_usec = USEC_PER_SEC,
                                                         .resend_usec = USEC_PER_SEC } };
                CHECK(notifier_new(&n, e, &cfg) == 0 && notifier_alertmanager(n) &&
                              notifier_alertmanager_post(n, "incident 1 firing", "[{\"labels\":{}}]") == 0,
                      "alertmanager post queued");
                settle(e, n, 3 * USEC_PER_SEC);
                CHECK(srv.requests == 1 && srv.bodies[0] && strcmp(srv.bodies[0], "[{\"labels\":{}}]") == 0 &&
                              strncmp(srv.head, "POST /api/v2/alerts HTTP/1.1\r\n", 30) == 0 &&
                              strcasestr(srv.head, "\r\nAuthorization: Bearer t0k\r\n") &&
                              !strcasestr(srv.head, NOTIFY_SIGNATURE_HEADER),
                      "delivered to /api/v2/alerts with the bearer token: %s", srv.head);
                n = notifier_free(n);
                server_stop(&srv);
                CHECK(notifier_alertmanager_post(NULL, "x", "[]") == -ENOENT, "no alertmanager: -ENOENT");
        }
        { /* 500 then 200: retried once after the backoff, delivered */
                server srv = {.statuses = {500, 200}, .n_statuses = 2};
                (void) server_start(&srv, e, true);
                cfg = hook("ops", srv.port, 2 * USEC_PER_SEC, 2, 50 * MSEC, 8);
                (void) notifier_new(&n, e, &cfg);
                (void) notifier_send(n, NULL, &msg);
                settle(e, n, 3 * USEC_PER_SEC);
                notifier_get_stats(n, &st);
                CHECK(st.delivered == 1 && st.retried == 1 && st.failed == 0 && srv.requests == 2,
                      "500 → retried once → delivered (requests %u)", srv.requests);
                CHECK(srv.at[1] - srv.at[0] >= 50 * MSEC, "retry waited the backoff (%llums)",
                      (unsigned long long) ((srv.at[1] - srv.at[0]) / MSEC));
                n = notifier_free(n);
                server_stop(&srv);
        }
        { /* a server that never answers: each attempt times out, the loop keeps turning */
                server srv = {.statuses = {0}, .n_statuses = 1};
                ev_source *tick = NULL;
                unsigned ticks = 0;
                (void) server_start(&srv, e, true);
                (void) ev_add_time_relative(e, &tick, CLOCK_MONOTONIC, 20 * MSEC, MSEC,
                                                  on_tick, &ticks);
                cfg = hook("ops", srv.port, 200 * MSEC, 1, 50 * MSEC, 8);
                (void) notifier_new(&n, e, &cfg);
                t = now_usec();
                (void) notifier_send(n, NULL, &msg);
                CHECK(now_usec() - t < 50 * MSEC, "send returns at once");
                t = settle(e, n, 5 * USEC_PER_SEC);
                notifier_get_stats(n, &st);
                CHECK(st.failed == 1 && st.retried == 1 && st.delivered == 0 && srv.requests == 2,
                      "hanging endpoint: 2 attempts, failed (requests %u)", srv.requests);
                CHECK(t >= 450 * MSEC && t < 2 * USEC_PER_SEC,
                      "timeouts honoured: %llums for 2×200ms + 50ms",
                      (unsigned long long) (t / MSEC));
                CHECK(ticks >= 10, "a timer on the same loop kept firing meanwhile (%u ticks)",
                      ticks);
                ev_source_disable_unref(tick);
                n = notifier_free(n);
                server_stop(&srv);
        }
        { /* connection refused: failed after the retries, with growing backoff */
                server srv = {};
                (void) server_start(&srv, e, false);
                cfg = hook("ops", srv.port, 1 * USEC_PER_SEC, 2, 50 * MSEC, 8);
                (void) notifier_new(&n, e, &cfg);
                (void) notifier_send(n, NULL, &msg);
                t = settle(e, n, 3 * USEC_PER_SEC);
                notifier_get_stats(n, &st);
                CHECK(st.failed == 1 && st.retried == 2 && st.delivered == 0,
                      "refused: 2 retries, then failed");
                CHECK(t >= 150 * MSEC, "backoff 50ms then 100ms (%llums)",
                      (unsigned long long) (t / MSEC));
                n = notifier_free(n);
                server_stop(&srv);
        }
        { /* the queue bound: the oldest go; freeing abandons the transfer in flight */
                server srv = {.statuses = {0}, .n_statuses = 1};
                (void) server_start(&srv, e, true);
                cfg = hook("ops", srv.port, 5 * USEC_PER_SEC, 0, 50 * MSEC, 2);
                (void) notifier_new(&n, e, &cfg);
                for (int i = 0; i < 5; i++)
                        (void) notifier_send(n, NULL, &msg);
                notifier_get_stats(n, &st);
                CHECK(st.queued == 5 && st.dropped == 3, "queue_max 2: 5 queued, 3 dropped");
                run_for(e, 100 * MSEC);
                CHECK(srv.requests == 1, "one in flight to the hanging endpoint");
                n = notifier_free(n);
                run_for(e, 50 * MSEC); /* the server sees the connection go */
                CHECK(srv.conns[0] == NULL,
                      "freed with a transfer in flight: connection closed, no callback");
                server_stop(&srv);
        }
        { /* a reload while a message waits its turn: it keeps its copied target */
                server srv = {.statuses = {200}, .n_statuses = 1}, dead = {};
                (void) server_start(&srv, e, true);
                (void) server_start(&dead, e, false);
                cfg = hook("ops", srv.port, 2 * USEC_PER_SEC, 0, 50 * MSEC, 8);
                (void) notifier_new(&n, e, &cfg);
                (void) notifier_send(n, NULL, &msg); /* in flight */
                (void) notifier_send(n, NULL, &msg); /* queued behind it */
                cfg = hook("ops", dead.port, 2 * USEC_PER_SEC, 0, 50 * MSEC, 8);
                CHECK(notifier_set_config(n, &cfg) == 0, "set_config");
                settle(e, n, 3 * USEC_PER_SEC);
                notifier_get_stats(n, &st);
                CHECK(st.delivered == 2 && srv.requests == 2,
                      "queued messages went to their original target");
                n = notifier_free(n);
                server_stop(&srv);
                server_stop(&dead);
        }
        ev_unref(e);
        return TAP_END();
}
