/* The HTTP listener (common/http_server.h) on a real sd-event loop in a child process, driven
 * over raw TCP sockets from 127.0.0.x: answers and refusals (404, 405 with Allow, 401 with
 * WWW-Authenticate, 403, 413 by Content-Length and chunked, 429 with Retry-After, 503 at
 * accept, libmicrohttpd's 400), HEAD without a body, the refusal reports, an idle connection
 * closed after the timeout, slow clients that hold connections open (slowloris, and one that
 * reads nothing of a 4 MiB answer) while another client is served at once, 100 clients
 * asking at once, one reply shared by the requests of a dispatch, and the handler budget of a
 * dispatch (the requests past it answered in later dispatches, in order). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "now.h"
#include "tap.h"

#define TOKEN "s3cret-token"

typedef struct server_proc {
        pid_t pid;
        uint16_t port;
        int reports; /* read end: one line per refusal */
        int stop;    /* write end: closing it stops the server */
} server_proc;

static int on_metrics(const http_request *req, http_reply *reply, void *userdata) {
        return http_reply_set(reply, 200, "text/plain; version=0.0.4", "up 1\n", 5);
}

static int on_alerts(const http_request *req, http_reply *reply, void *userdata) {
        char b[64];
        const char *ct = http_request_header(req, "content-type");
        int n = snprintf(b, sizeof(b), "got %zu %s %s\n", req->body_len, req->peer, ct ? ct : "-");
        return http_reply_set(reply, 202, NULL, b, (size_t) n);
}

/* 4 MiB: more than any socket buffer holds, so a client that does not read stalls its send */
#define BIG (4u << 20)
static int on_big(const http_request *req, http_reply *reply, void *userdata) {
        reply->body = malloc(BIG);
        if (!reply->body)
                return -ENOMEM;
        memset(reply->body, 'x', BIG);
        reply->body_len = BIG;
        return 0;
}

static int on_fail(const http_request *req, http_reply *reply, void *userdata) {
        return -EIO;
}

/* The loop's iteration in every answer: requests answered in one dispatch show the same one. */
static ev_loop *loop;
static unsigned calls;
static int on_iteration(const http_request *req, http_reply *reply, void *userdata) {
        uint64_t it = 0;
        char b[64];

        (void) ev_get_iteration(loop, &it);
        int n = snprintf(b, sizeof(b), "iteration %llu call %u\n", (unsigned long long) it, ++calls);
        return http_reply_set(reply, 200, NULL, b, (size_t) n);
}

static int on_exit_loop(const http_request *req, http_reply *reply, void *userdata) {
        (void) ev_exit(loop, 0);
        return http_reply_set(reply, 200, NULL, "bye\n", 4);
}

static void on_refusal(const http_refusal *r, void *userdata) {
        int fd = *(int *) userdata;
        char line[256];
        int n = snprintf(line, sizeof(line), "%u %s %s %s %s\n", r->status, r->peer, r->method ? r->method : "-",
                         r->path ? r->path : "-", r->reason);
        (void) !write(fd, line, (size_t) n);
}

static int on_stop(ev_source *s, int fd, uint32_t revents, void *userdata) {
        return ev_exit(ev_source_get_loop(s), 0);
}

static void serve(const http_server_limits *limits, int port_fd, int report_fd, int stop_fd) {
        ev_loop *e = NULL;
        http_server *s = NULL;
        ev_source *stop = NULL;
        uint16_t port = 0;
        int r;

        r = ev_new(&e);
        loop = e;
        if (r >= 0) r = http_server_new(&s, e, limits);
        if (r >= 0) r = http_server_listen(s, "127.0.0.1:0", &port);
        if (r >= 0) r = http_server_handle(s, "GET", "/metrics", NULL, on_metrics, NULL);
        if (r >= 0) r = http_server_handle(s, "POST", "/alerts", TOKEN, on_alerts, NULL);
        if (r >= 0) r = http_server_handle(s, "GET", "/fail", NULL, on_fail, NULL);
        if (r >= 0) r = http_server_handle(s, "GET", "/big", NULL, on_big, NULL);
        if (r >= 0) r = http_server_handle(s, "GET", "/iteration", NULL, on_iteration, NULL);
        if (r >= 0) r = http_server_handle(s, "GET", "/shared", NULL, on_iteration, NULL);
        if (r >= 0) r = http_server_share(s, "GET", "/shared");
        if (r >= 0) r = http_server_handle(s, "GET", "/exit", NULL, on_exit_loop, NULL);
        if (r >= 0) r = ev_add_io(e, &stop, stop_fd, EPOLLIN, on_stop, NULL);
        if (r >= 0) {
                http_server_on_refusal(s, on_refusal, &report_fd);
                (void) !write(port_fd, &port, sizeof(port));
                r = ev_loop_run(e);
        }
        ev_source_disable_unref(stop);
        http_server_free(s);
        ev_unref(e);
        exit(r < 0 ? 1 : 0);
}

static server_proc start(const http_server_limits *limits) {
        int port_pipe[2], report_pipe[2], stop_pipe[2];
        server_proc p = { .pid = -1 };

        if (pipe2(port_pipe, O_CLOEXEC) < 0 || pipe2(report_pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
            pipe2(stop_pipe, O_CLOEXEC) < 0)
                return p;
        fflush(stdout);
        p.pid = fork();
        if (p.pid == 0) {
                close(port_pipe[0]);
                close(report_pipe[0]);
                close(stop_pipe[1]);
                serve(limits, port_pipe[1], report_pipe[1], stop_pipe[0]);
        }
        close(port_pipe[1]);
        close(report_pipe[1]);
        close(stop_pipe[0]);
        if (read(port_pipe[0], &p.port, sizeof(p.port)) != sizeof(p.port))
                p.port = 0;
        close(port_pipe[0]);
        p.reports = report_pipe[0];
        p.stop = stop_pipe[1];
        return p;
}

static int stop_server(server_proc *p) {
        int status = -1;

        close(p->stop);
        if (p->pid > 0 && waitpid(p->pid, &status, 0) != p->pid)
                status = -1;
        close(p->reports);
        return status;
}

/* A connected socket from src (a 127.0.0.x address) to the server, with a 10 s receive timeout. */
static int connect_from(const char *src, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = 10 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void) inet_pton(AF_INET, src, &a.sin_addr);
        (void) inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            connect(fd, (struct sockaddr *) &b, sizeof(b)) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static size_t read_all(int fd, char *resp, size_t size) {
        size_t len = 0;
        ssize_t n;

        while (len < size - 1 && (n = read(fd, resp + len, size - 1 - len)) > 0)
                len += (size_t) n;
        resp[len] = '\0';
        return len;
}

/* Sends raw on a fresh connection, reads the answer to EOF; the status, or -1. */
static int exchange(uint16_t port, const char *src, const char *raw, size_t raw_len, char *resp, size_t size) {
        int fd = connect_from(src, port), status = -1;

        resp[0] = '\0';
        if (fd < 0)
                return -1;
        if (write(fd, raw, raw_len) == (ssize_t) raw_len) {
                (void) shutdown(fd, SHUT_WR);
                read_all(fd, resp, size);
                if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
                        status = -1;
        }
        close(fd);
        return status;
}

static int get(uint16_t port, const char *src, const char *raw, char *resp, size_t size) {
        return exchange(port, src, raw, strlen(raw), resp, size);
}

static bool report_seen(server_proc *p, const char *want) {
        static char seen[8192];
        static size_t len;

        for (int i = 0; i < 100; i++) {
                ssize_t n = read(p->reports, seen + len, sizeof(seen) - 1 - len);
                if (n > 0) {
                        len += (size_t) n;
                        seen[len] = '\0';
                }
                if (strstr(seen, want))
                        return true;
                (void) poll(NULL, 0, 20);
        }
        printf("# reports so far:\n%s", seen);
        return false;
}

static void test_answers(void) {
        server_proc p = start(&(http_server_limits){ .max_body = 1024, .timeout_sec = 1 });
        char resp[8192], big[4096];
        int st;

        CHECK(p.pid > 0 && p.port > 0, "server started on port %u", p.port);

        st = get(p.port, "127.0.0.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 200 && strstr(resp, "\r\n\r\nup 1\n") && strstr(resp, "version=0.0.4"), "GET /metrics: %d", st);
        st = get(p.port, "127.0.0.1", "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 200, "query string ignored: %d", st);
        st = get(p.port, "127.0.0.1", "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 200 && !strstr(resp, "up 1"), "HEAD: %d without body", st);
        st = get(p.port, "127.0.0.1", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 404 && report_seen(&p, "404 127.0.0.1 GET /nope not found"), "404 reported: %d", st);
        st = get(p.port, "127.0.0.1", "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 405 && strstr(resp, "Allow: GET"), "405 with Allow: %d", st);
        st = get(p.port, "127.0.0.1", "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 500, "handler error is 500: %d", st);
        st = get(p.port, "127.0.0.1", "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 400, "HTTP/1.1 without Host is 400: %d", st);
        st = get(p.port, "127.0.0.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\nConnection: close\r\n\r\n",
                 resp, sizeof(resp));
        CHECK(st == 400, "a header line without a colon is 400: %d", st);

        st = get(p.port, "127.0.0.1", "POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                 resp, sizeof(resp));
        CHECK(st == 401 && strstr(resp, "WWW-Authenticate: Bearer") && report_seen(&p, "401 127.0.0.1 POST /alerts"),
              "no token: %d", st);
        st = get(p.port, "127.0.0.1", "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-tokem\r\n"
                 "Content-Length: 2\r\nConnection: close\r\n\r\n{}", resp, sizeof(resp));
        CHECK(st == 403 && report_seen(&p, "403 127.0.0.1 POST /alerts wrong bearer token"), "wrong token: %d", st);
        st = get(p.port, "127.0.0.1", "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                 "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", resp, sizeof(resp));
        CHECK(st == 202 && strstr(resp, "got 2 127.0.0.1 application/json"), "right token: %d", st);
        st = get(p.port, "127.0.0.1", "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                 "Content-Length: 1025\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 413 && !strstr(resp, "100 Continue") && report_seen(&p, "413 127.0.0.1 POST /alerts"),
              "Content-Length over the limit, client waiting for 100 Continue: 413 at once: %d", st);
        st = get(p.port, "127.0.0.1", "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                 "Content-Length: 4097\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st == 413, "Content-Length over four times the limit: 413 at once: %d", st);
        memset(big, 'x', sizeof(big));
        int m = snprintf(resp, sizeof(resp), "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                         "Content-Length: 1500\r\nConnection: close\r\n\r\n%.*s", 1500, big);
        char sent[8192];
        memcpy(sent, resp, (size_t) m);
        st = exchange(p.port, "127.0.0.1", sent, (size_t) m, resp, sizeof(resp));
        CHECK(st == 413, "a 1500-byte body sent at once: read, dropped, then 413: %d", st);
        int n = snprintf(resp, sizeof(resp), "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%.*s\r\n0\r\n\r\n",
                         1500, 1500, big);
        char req[8192];
        memcpy(req, resp, (size_t) n);
        st = exchange(p.port, "127.0.0.1", req, (size_t) n, resp, sizeof(resp));
        CHECK(st == 413, "chunked body over the limit: %d", st);
        n = snprintf(req, sizeof(req), "POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%.*s\r\n0\r\n\r\n", 1000, 1000, big);
        st = exchange(p.port, "127.0.0.1", req, (size_t) n, resp, sizeof(resp));
        CHECK(st == 202 && strstr(resp, "got 1000 "), "chunked body within the limit: %d", st);

        /* an idle connection is closed by the server after its timeout (1 s) */
        int fd = connect_from("127.0.0.9", p.port);
        uint64_t t0 = mono_usec();
        char c;
        ssize_t got = fd >= 0 ? read(fd, &c, 1) : -1;
        uint64_t waited = mono_usec() - t0;
        CHECK(got == 0 && waited < 8 * USEC_PER_SEC, "idle connection closed (after %llu ms)",
              (unsigned long long) (waited / USEC_PER_MSEC));
        printf("figure: idle connection closed after %llu ms (timeout 1 s)\n", (unsigned long long) (waited / USEC_PER_MSEC));
        if (fd >= 0)
                close(fd);
        CHECK(stop_server(&p) == 0, "server exited cleanly");
}

static void test_slow_clients(void) {
        server_proc p = start(&(http_server_limits){ .timeout_sec = 30, .max_connections = 32, .max_per_client = 4 });
        int slow[12];
        char resp[4096], src[32];

        CHECK(p.pid > 0, "server started");
        /* twelve clients from three addresses each send part of a request line and stop */
        for (size_t i = 0; i < ELEMENTSOF(slow); i++) {
                (void) snprintf(src, sizeof(src), "127.0.1.%zu", 1 + i % 3);
                slow[i] = connect_from(src, p.port);
                if (slow[i] >= 0)
                        (void) !write(slow[i], "GET /metr", 9);
        }
        /* one trickles a header line a byte at a time while another client asks */
        /* and one asks for 4 MiB and reads none of it */
        int reader = connect_from("127.0.2.2", p.port);
        (void) !write(reader, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 30);
        (void) poll(NULL, 0, 100);
        int trickle = connect_from("127.0.2.1", p.port);
        (void) !write(trickle, "GET /metrics HTTP/1.1\r\nX", 24);
        uint64_t t0 = mono_usec();
        int st = get(p.port, "127.0.0.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        uint64_t took = mono_usec() - t0;
        (void) !write(trickle, "-", 1);
        CHECK(st == 200, "served while 13 slow senders and a reader of 4 MiB that reads nothing hold connections: %d", st);
        CHECK(took < 5 * USEC_PER_SEC, "answered promptly");
        printf("figure: request answered in %llu us beside 14 stalled connections\n", (unsigned long long) took);
        if (reader >= 0)
                close(reader);

        /* a fifth connection from an address holding four is refused at accept */
        int fifth = connect_from("127.0.1.1", p.port);
        size_t len = fifth >= 0 ? read_all(fifth, resp, sizeof(resp)) : 0;
        CHECK(len > 0 && strncmp(resp, "HTTP/1.1 503", 12) == 0 &&
              report_seen(&p, "503 127.0.1.1 - - too many connections from client"), "fifth from one client: 503");
        if (fifth >= 0)
                close(fifth);
        for (size_t i = 0; i < ELEMENTSOF(slow); i++)
                if (slow[i] >= 0)
                        close(slow[i]);
        if (trickle >= 0)
                close(trickle);
        /* the closed connections are given back: the same address is served again */
        for (int i = 0; i < 50; i++) {
                st = get(p.port, "127.0.1.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
                if (st == 200)
                        break;
                (void) poll(NULL, 0, 20);
        }
        CHECK(st == 200, "client served again once its connections closed: %d", st);
        CHECK(stop_server(&p) == 0, "server exited cleanly");
}

/* 100 clients (100 addresses) ask at once; every one is answered. Figure: the time until the
 * last answer. */
static void test_many_clients(void) {
        enum { N = 100 };
        server_proc p = start(&(http_server_limits){ .max_connections = 128, .timeout_sec = 30 });
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        struct pollfd pfd[N];
        char bufs[N][512];
        size_t lens[N] = { 0 };
        int open_n = 0, ok_n = 0;
        uint64_t t0;

        CHECK(p.pid > 0, "server started");
        for (int i = 0; i < N; i++) {
                char src[32];
                (void) snprintf(src, sizeof(src), "127.0.5.%d", i + 1);
                pfd[i] = (struct pollfd){ .fd = connect_from(src, p.port), .events = POLLIN };
        }
        t0 = mono_usec();
        for (int i = 0; i < N; i++)
                if (pfd[i].fd >= 0 && write(pfd[i].fd, req, sizeof(req) - 1) == (ssize_t) sizeof(req) - 1)
                        open_n++;
        while (open_n > 0 && mono_usec() - t0 < 20 * USEC_PER_SEC) {
                if (poll(pfd, N, 1000) <= 0)
                        continue;
                for (int i = 0; i < N; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
                                continue;
                        ssize_t n = read(pfd[i].fd, bufs[i] + lens[i], sizeof(bufs[i]) - 1 - lens[i]);
                        if (n > 0 && lens[i] + (size_t) n < sizeof(bufs[i]) - 1) {
                                lens[i] += (size_t) n;
                                continue;
                        }
                        bufs[i][lens[i]] = '\0';
                        ok_n += strncmp(bufs[i], "HTTP/1.1 200", 12) == 0;
                        close(pfd[i].fd);
                        pfd[i].fd = -1;
                        open_n--;
                }
        }
        uint64_t took = mono_usec() - t0;
        CHECK(ok_n == N, "%d of %d clients asking at once answered 200", ok_n, N);
        printf("figure: %d clients at once, all answered in %llu ms\n", N, (unsigned long long) (took / USEC_PER_MSEC));
        for (int i = 0; i < N; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);
        CHECK(stop_server(&p) == 0, "server exited cleanly");
}

/* N requests for path sent while the server is stopped (SIGSTOP), so that they are all ready in
 * its first dispatches; the answers' bodies in bodies[], their count returned. */
enum { BATCH = 16 }; /* the listener's accept batch: all of them reach one dispatch */
static int batch(server_proc *p, const char *const paths[BATCH], char bodies[BATCH][128]) {
        int fds[BATCH], ok = 0;

        (void) kill(p->pid, SIGSTOP);
        for (int i = 0; i < BATCH; i++) {
                char req[128], src[32];
                (void) snprintf(src, sizeof(src), "127.0.6.%d", i + 1);
                int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", paths[i]);
                fds[i] = connect_from(src, p->port); /* the kernel completes the handshake */
                if (fds[i] >= 0)
                        (void) !write(fds[i], req, (size_t) n);
        }
        (void) kill(p->pid, SIGCONT);
        for (int i = 0; i < BATCH; i++) {
                char resp[1024];
                bodies[i][0] = '\0';
                if (fds[i] < 0)
                        continue;
                read_all(fds[i], resp, sizeof(resp));
                close(fds[i]);
                const char *b = strstr(resp, "\r\n\r\n");
                if (strncmp(resp, "HTTP/1.1 200", 12) == 0 && b) {
                        (void) snprintf(bodies[i], 128, "%s", b + 4);
                        ok++;
                }
        }
        return ok;
}

/* How many answers came from one handler call, at most; and how many calls there were. */
static unsigned calls_in(char bodies[BATCH][128], unsigned *ret_per_iteration_max, unsigned *ret_distinct) {
        unsigned max_same = 0, distinct = 0, per_it_max = 0;

        for (int i = 0; i < BATCH; i++) {
                unsigned same = 0, same_it = 0, first = 1;
                unsigned long long it = 0, c = 0, it2 = 0, c2 = 0;
                if (sscanf(bodies[i], "iteration %llu call %llu", &it, &c) != 2)
                        continue;
                for (int k = 0; k < BATCH; k++)
                        if (sscanf(bodies[k], "iteration %llu call %llu", &it2, &c2) == 2) {
                                same += c2 == c;
                                if (it2 == it && c2 != c)
                                        same_it++; /* another call in the same iteration */
                                if (k < i && c2 == c)
                                        first = 0;
                        }
                distinct += first;
                if (same > max_same)
                        max_same = same;
                if (first && same_it + 1 > per_it_max)
                        per_it_max = same_it + 1;
        }
        *ret_per_iteration_max = per_it_max;
        *ret_distinct = distinct;
        return max_same;
}

static void test_shared_and_budget(void) {
        server_proc p = start(&(http_server_limits){ .max_connections = 64, .max_per_client = 4, .timeout_sec = 30,
                                                     .handlers_per_run = 2 });
        const char *paths[BATCH];
        char bodies[BATCH][128];
        unsigned per_it, distinct, most;
        int ok;

        CHECK(p.pid > 0, "server started");
        for (int i = 0; i < BATCH; i++)
                paths[i] = "/shared";
        ok = batch(&p, paths, bodies);
        most = calls_in(bodies, &per_it, &distinct);
        CHECK(ok == BATCH && most > 1, "shared route, %d requests in one dispatch: %d answered, %u handler call(s), "
              "up to %u answers from one", BATCH, ok, distinct, most);
        printf("figure: %d requests ready at once for a shared reply: %u handler call(s)\n", BATCH, distinct);

        for (int i = 0; i < BATCH; i++)
                paths[i] = "/iteration";
        ok = batch(&p, paths, bodies);
        most = calls_in(bodies, &per_it, &distinct);
        CHECK(ok == BATCH && distinct == BATCH && most == 1, "unshared route: %d answered, %u handler calls", ok, distinct);
        CHECK(per_it <= 2, "at most 2 handler calls (the budget) in one dispatch: %u", per_it);

        /* the loop stops in a handler while requests wait for their turn: the server is freed
         * with suspended connections, which libmicrohttpd must get back first */
        for (int i = 0; i < BATCH; i++)
                paths[i] = i == 1 ? "/exit" : "/iteration";
        ok = batch(&p, paths, bodies);
        printf("# %d of %d answered before the loop stopped\n", ok, BATCH);
        CHECK(stop_server(&p) == 0, "server exited cleanly with requests waiting for their turn");
}

static void test_limits(void) {
        server_proc p = start(&(http_server_limits){ .rate_per_sec = 1, .rate_burst = 3, .max_connections = 2,
                                                     .max_per_client = 2, .timeout_sec = 30 });
        char resp[4096];
        int st[4];

        CHECK(p.pid > 0, "server started");
        for (int i = 0; i < 4; i++)
                st[i] = get(p.port, "127.0.3.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st[0] == 200 && st[1] == 200 && st[2] == 200 && st[3] == 429 && strstr(resp, "Retry-After: 1"),
              "burst of 3, then 429 with Retry-After (%d %d %d %d)", st[0], st[1], st[2], st[3]);
        CHECK(report_seen(&p, "429 127.0.3.1 GET /metrics too many requests"), "429 reported");
        st[0] = get(p.port, "127.0.3.2", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
        CHECK(st[0] == 200, "another client has its own budget: %d", st[0]);

        /* two connections in all: the third, from a third address, is refused */
        int a = connect_from("127.0.4.1", p.port), b = connect_from("127.0.4.2", p.port);
        (void) poll(NULL, 0, 200); /* let the server accept both */
        int c = connect_from("127.0.4.3", p.port);
        size_t len = c >= 0 ? read_all(c, resp, sizeof(resp)) : 0;
        CHECK(len > 0 && strncmp(resp, "HTTP/1.1 503", 12) == 0 &&
              report_seen(&p, "503 127.0.4.3 - - too many connections"), "connection over the total: 503");
        if (a >= 0) close(a);
        if (b >= 0) close(b);
        if (c >= 0) close(c);
        CHECK(stop_server(&p) == 0, "server exited cleanly");
}

static void test_api(void) {
        ev_loop *e = NULL;
        http_server *s = NULL;
        uint16_t port;

        CHECK(ev_new(&e) >= 0 && http_server_new(&s, e, NULL) == 0, "new with default limits");
        CHECK(http_server_listen(s, "localhost:80", &port) == -EINVAL, "names are refused");
        CHECK(http_server_listen(s, "127.0.0.1", &port) == -EINVAL, "port required");
        CHECK(http_server_listen(s, "127.0.0.1:65536", &port) == -EINVAL, "port range");
        CHECK(http_server_listen(s, "::1:80", &port) == -EINVAL, "IPv6 needs brackets");
        int r6 = http_server_listen(s, "[::1]:0", &port);
        CHECK(r6 == 0 || r6 == -EADDRNOTAVAIL || r6 == -EAFNOSUPPORT, "IPv6 loopback: %d (refused only where the host has none)", r6);
        CHECK(http_server_listen(s, "127.0.0.1:0", &port) == 0 && port > 0, "port 0 picks one");
        char addr[32];
        (void) snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
        CHECK(http_server_listen(s, addr, NULL) == -EADDRINUSE, "address in use: -EADDRINUSE");
        CHECK(http_server_handle(s, "GET", "/m", NULL, on_metrics, NULL) == 0, "route");
        CHECK(http_server_handle(s, "GET", "/m", NULL, on_metrics, NULL) == -EEXIST, "route twice");
        CHECK(http_server_handle(s, "GET", "m", NULL, on_metrics, NULL) == -EINVAL, "relative path");
        CHECK(http_server_handle(s, "POST", "/m", "", on_metrics, NULL) == -EINVAL, "empty token");
        http_server_free(s);
        ev_unref(e);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        test_api();
        test_answers();
        test_slow_clients();
        test_many_clients();
        test_shared_and_budget();
        test_limits();
        return TAP_END();
}
