/* See http_server.h. libmicrohttpd runs with MHD_USE_EPOLL and MHD_USE_NO_LISTEN_SOCKET: our
 * listening sockets are io sources of the loop; each accepted socket is checked against the
 * connection limits and handed over with MHD_add_connection(). libmicrohttpd's epoll fd is one
 * more io source, and MHD_get_timeout() sets a one-shot timer: after every MHD_run() the timer
 * is moved to what libmicrohttpd asks for next (0 when it has buffered work, the nearest
 * connection timeout otherwise). A request's state (its route and body so far) lives in the
 * per-request pointer libmicrohttpd hands back on every call of the access handler. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_clients.h"
#include "http_server.h"
#include "mhd_lib.h"
#include "now.h"

#define SHA256_LEN 32
#define CLIENTS_MIN 1024

typedef struct route {
        char *method, *path;
        bool has_token;
        unsigned char token_sha[SHA256_LEN];
        http_handler_fn fn;
        void *userdata;
        bool shared;                  /* http_server_share() */
        struct MHD_Response *cached;  /* its reply in this dispatch (NULL: none yet) */
        unsigned cached_status;
} route;

typedef struct request_state request_state;

/* A request whose handler waits for a later dispatch (suspended in libmicrohttpd). */
typedef struct waiter {
        struct MHD_Connection *conn;
        request_state *st;
} waiter;

typedef struct listener {
        int fd;
        ev_source *source;
} listener;

struct http_server {
        ev_loop *event;
        struct MHD_Daemon *mhd;
        ev_source *mhd_io, *mhd_timer;
        http_server_limits limits;
        http_clients *clients;
        unsigned open; /* connections libmicrohttpd holds */
        route *routes;
        size_t n_routes;
        listener *listeners;
        size_t n_listeners;
        http_refusal_fn on_refusal;
        void *refusal_userdata;
        /* the handler budget of a dispatch (limits.handlers_per_run) */
        unsigned handled;          /* handlers run in this dispatch */
        unsigned resumed;          /* requests resumed for their turn, not answered yet */
        waiter *waiting;           /* a ring, oldest first; room for every connection */
        size_t waiting_size, waiting_head, n_waiting;
        ev_source *resume;   /* resumes the next ones, a dispatch of its own */
};

struct request_state {
        route *route;
        char *body;
        size_t len, size, discarded;
        bool too_large;
        enum { TURN_NOW, TURN_WAITING, TURN_RESUMED } turn;
};

static int sha256(const void *data, size_t len, unsigned char out[static SHA256_LEN]) {
        unsigned int n = 0;
        return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SHA256_LEN ? 0 : -EIO;
}

static void peer_string(const struct sockaddr *addr, char *buf, size_t size) {
        const void *a = NULL;

        if (addr && addr->sa_family == AF_INET)
                a = &((const struct sockaddr_in *) addr)->sin_addr;
        else if (addr && addr->sa_family == AF_INET6)
                a = &((const struct sockaddr_in6 *) addr)->sin6_addr;
        if (!a || !inet_ntop(addr->sa_family, a, buf, size))
                (void) snprintf(buf, size, "?");
}

/* Forgets the replies shared in this dispatch: at its end, and before anything runs that may
 * change what they show (a handler, a refusal report). */
static void drop_shared(http_server *s) {
        for (size_t i = 0; i < s->n_routes; i++)
                if (s->routes[i].cached) {
                        MHD_destroy_response(s->routes[i].cached); /* queued ones hold their own reference */
                        s->routes[i].cached = NULL;
                }
}

static void report(http_server *s, const char *peer, const char *method, const char *path, unsigned status,
                   const char *reason) {
        drop_shared(s);
        if (s->on_refusal)
                s->on_refusal(&(http_refusal){ .peer = peer, .method = method, .path = path, .status = status,
                                               .reason = reason },
                              s->refusal_userdata);
}

/* Moves the timer to libmicrohttpd's next deadline. */
static void reschedule(http_server *s) {
        MHD_UNSIGNED_LONG_LONG ms = 0;
        uint64_t now = 0;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
                (void) ev_source_set_enabled(s->mhd_timer, EV_OFF);
                return;
        }
        (void) ev_now(s->event, CLOCK_MONOTONIC, &now);
        if (ms > UINT32_MAX)
                ms = UINT32_MAX;
        (void) ev_source_set_time(s->mhd_timer, now + (uint64_t) ms * USEC_PER_MSEC);
        (void) ev_source_set_enabled(s->mhd_timer, EV_ONESHOT);
}

static void run(http_server *s) {
        (void) MHD_run(s->mhd);
        drop_shared(s);
        s->handled = 0;
        if (s->n_waiting > 0)
                (void) ev_source_set_enabled(s->resume, EV_ONESHOT);
        reschedule(s);
}

/* The oldest waiting requests, up to a dispatch's budget, get their turn. */
static int on_resume(ev_source *src, void *userdata) {
        http_server *s = userdata;

        for (unsigned i = 0; i < s->limits.handlers_per_run && s->n_waiting > 0; i++) {
                waiter *w = &s->waiting[s->waiting_head];
                s->waiting_head = (s->waiting_head + 1) % s->waiting_size;
                s->n_waiting--;
                w->st->turn = TURN_RESUMED;
                s->resumed++;
                MHD_resume_connection(w->conn); /* its handler is called again in the next run */
        }
        run(s);
        return 0;
}

/* Whether the request must wait for a later dispatch: this one's budget is spent, or others
 * wait already (who came first is served first). A resumed request does not wait again. */
static bool must_wait(http_server *s, const request_state *st) {
        return st->turn != TURN_RESUMED &&
               (s->handled >= s->limits.handlers_per_run || s->n_waiting > 0 || s->resumed > 0) &&
               s->n_waiting < s->waiting_size;
}

static enum MHD_Result wait_turn(http_server *s, struct MHD_Connection *conn, request_state *st) {
        MHD_suspend_connection(conn);
        s->waiting[(s->waiting_head + s->n_waiting) % s->waiting_size] = (waiter){ .conn = conn, .st = st };
        s->n_waiting++;
        st->turn = TURN_WAITING;
        return MHD_YES;
}

/* The request's turn has come (or it needed none). */
static void take_turn(http_server *s, request_state *st) {
        if (st->turn == TURN_RESUMED && s->resumed > 0)
                s->resumed--;
        st->turn = TURN_NOW;
}

static int on_mhd_io(ev_source *src, int fd, uint32_t revents, void *userdata) {
        run(userdata);
        return 0;
}

static int on_mhd_timer(ev_source *src, uint64_t usec, void *userdata) {
        run(userdata);
        return 0;
}

static void refuse_at_accept(http_server *s, int fd, const struct sockaddr *addr, const char *reason) {
        static const char answer[] = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\n"
                                     "too many connections\n";
        char peer[INET6_ADDRSTRLEN];

        /* a fresh socket's send buffer is empty: this never blocks, and a failure changes nothing */
        (void) send(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) close(fd);
        peer_string(addr, peer, sizeof(peer));
        report(s, peer, NULL, NULL, 503, reason);
}

static int on_accept(ev_source *src, int lfd, uint32_t revents, void *userdata) {
        http_server *s = userdata;

        /* a bounded batch per wakeup, so a flood of connections cannot starve the loop */
        for (int i = 0; i < 16; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                int fd = accept4(lfd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0)
                        break;
                if (s->open >= s->limits.max_connections)
                        refuse_at_accept(s, fd, (struct sockaddr *) &ss, "too many connections");
                else if (http_clients_connections(s->clients, (struct sockaddr *) &ss) >= s->limits.max_per_client)
                        refuse_at_accept(s, fd, (struct sockaddr *) &ss, "too many connections from client");
                else if (MHD_add_connection(s->mhd, fd, (struct sockaddr *) &ss, len) != MHD_YES) {
                        char peer[INET6_ADDRSTRLEN]; /* libmicrohttpd closed the socket */
                        peer_string((struct sockaddr *) &ss, peer, sizeof(peer));
                        report(s, peer, NULL, NULL, 503, "connection not taken by the HTTP library");
                }
        }
        run(s);
        return 0;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        http_server *s = cls;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *addr = ci ? ci->client_addr : NULL;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                s->open++;
                /* cannot fail: the table holds more clients than there may be connections */
                (void) http_clients_open(s->clients, addr, mono_usec());
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (s->open > 0)
                        s->open--;
                http_clients_close(s->clients, addr);
        }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        http_server *s = cls;
        request_state *st = *con_cls;

        if (st) {
                take_turn(s, st); /* a resumed request whose client went away */
                free(st->body);
                free(st);
                *con_cls = NULL;
        }
}

/* A response owning body (freed with it, also on failure). */
static struct MHD_Response *response_new(const char *content_type, char *body, size_t len, const char *header,
                                         const char *value) {
        struct MHD_Response *resp;

        resp = body ? MHD_create_response_from_buffer_with_free_callback(len, body, free)
                    : MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(body);
                return NULL;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                       content_type ? content_type : "text/plain; charset=utf-8");
        if (header)
                (void) MHD_add_response_header(resp, header, value);
        return resp;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *content_type, char *body,
                             size_t len, const char *header, const char *value) {
        struct MHD_Response *resp = response_new(content_type, body, len, header, value);
        enum MHD_Result r;

        if (!resp)
                return MHD_NO;
        r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result refuse(http_server *s, struct MHD_Connection *conn, const char *peer, const char *method,
                              const char *path, unsigned status, const char *reason, const char *header,
                              const char *value) {
        char *body = NULL;

        report(s, peer, method, path, status, reason);
        if (asprintf(&body, "%u %s\n", status, reason) < 0)
                return MHD_NO;
        return queue(conn, status, NULL, body, strlen(body), header, value);
}

/* The route for method and path; *ret_allow lists the methods of the path when only the
 * method did not match. */
static route *find_route(http_server *s, const char *method, const char *path, char *allow, size_t size) {
        size_t used = 0;

        allow[0] = '\0';
        for (size_t i = 0; i < s->n_routes; i++) {
                if (strcmp(s->routes[i].path, path) != 0)
                        continue;
                if (strcmp(s->routes[i].method, method) == 0)
                        return &s->routes[i];
                int n = snprintf(allow + used, size - used, "%s%s", used ? ", " : "", s->routes[i].method);
                if (n > 0 && (size_t) n < size - used)
                        used += (size_t) n;
        }
        return NULL;
}

static bool token_ok(const route *rt, const char *authorization) {
        unsigned char got[SHA256_LEN];
        const char *t = authorization + strlen("Bearer ");

        while (*t == ' ')
                t++;
        if (sha256(t, strlen(t), got) < 0)
                return false;
        return CRYPTO_memcmp(got, rt->token_sha, SHA256_LEN) == 0;
}

/* The first call of a request: everything decided from the request line and headers. */
static enum MHD_Result admit(http_server *s, struct MHD_Connection *conn, request_state *st, const char *url,
                             const char *method, const char *peer, const struct sockaddr *addr) {
        const char *m = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ? MHD_HTTP_METHOD_GET : method;
        const char *auth, *cl;
        char allow[128], retry[16];
        unsigned retry_sec = 1;
        route *rt;

        if (!http_clients_take(s->clients, addr, mono_usec(), &retry_sec)) {
                (void) snprintf(retry, sizeof(retry), "%u", retry_sec);
                return refuse(s, conn, peer, method, url, 429, "too many requests", MHD_HTTP_HEADER_RETRY_AFTER, retry);
        }
        rt = find_route(s, m, url, allow, sizeof(allow));
        if (!rt && allow[0])
                return refuse(s, conn, peer, method, url, 405, "method not allowed", MHD_HTTP_HEADER_ALLOW, allow);
        if (!rt)
                return refuse(s, conn, peer, method, url, 404, "not found", NULL, NULL);
        if (rt->has_token) {
                auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
                if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
                        return refuse(s, conn, peer, method, url, 401, "bearer token required",
                                      MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
                if (!token_ok(rt, auth))
                        return refuse(s, conn, peer, method, url, 403, "wrong bearer token", NULL, NULL);
        }
        st->route = rt;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->limits.max_body) {
                const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
                /* A client waiting for "100 Continue" has sent no body yet: answer now. One that
                 * sends its body at once would see its connection reset if we closed on unread
                 * data, so a body up to four times the limit is read and dropped first. */
                if ((expect && strcasestr(expect, "100-continue")) || strtoull(cl, NULL, 10) > 4 * s->limits.max_body)
                        return refuse(s, conn, peer, method, url, 413, "request body too large", NULL, NULL);
                st->too_large = true;
        }
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        http_server *s = cls;
        request_state *st = *con_cls;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *addr = ci ? ci->client_addr : NULL;
        char peer[INET6_ADDRSTRLEN];
        http_reply reply = { .status = 200 };
        route *rt;
        int r;

        peer_string(addr, peer, sizeof(peer));
        if (!st) {
                st = calloc(1, sizeof(*st));
                if (!st)
                        return MHD_NO;
                *con_cls = st;
                return admit(s, conn, st, url, method, peer, addr);
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (st->too_large || n > s->limits.max_body - st->len) {
                        st->too_large = true;
                        st->discarded += n;
                        /* past this, reading on only feeds the client: close instead */
                        return st->discarded > 4 * s->limits.max_body ? MHD_NO : MHD_YES;
                }
                if (st->len + n + 1 > st->size) {
                        size_t size = st->len + n + 1 > 2 * st->size ? st->len + n + 1 : 2 * st->size;
                        char *b = realloc(st->body, size);
                        if (!b)
                                return MHD_NO;
                        st->body = b;
                        st->size = size;
                }
                memcpy(st->body + st->len, upload_data, n);
                st->len += n;
                st->body[st->len] = '\0';
                return MHD_YES;
        }
        if (st->too_large)
                return refuse(s, conn, peer, method, url, 413, "request body too large", NULL, NULL);

        rt = st->route;
        if (rt->cached) { /* a shared reply, made earlier in this dispatch */
                take_turn(s, st);
                return MHD_queue_response(conn, rt->cached_status, rt->cached);
        }
        if (must_wait(s, st))
                return wait_turn(s, conn, st);
        take_turn(s, st);
        s->handled++;
        drop_shared(s); /* the handler may change what they show */
        r = rt->fn(&(http_request){ .method = rt->method, .path = url, .peer = peer,
                                    .body = st->body ? st->body : "", .body_len = st->len, .conn = conn },
                   &reply, rt->userdata);
        if (r < 0) {
                free(reply.body);
                return queue(conn, 500, NULL, strdup("500 internal error\n"), strlen("500 internal error\n"), NULL, NULL);
        }
        if (!rt->shared)
                return queue(conn, reply.status ? reply.status : 200, reply.content_type, reply.body,
                             reply.body ? reply.body_len : 0, NULL, NULL);
        rt->cached = response_new(reply.content_type, reply.body, reply.body ? reply.body_len : 0, NULL, NULL);
        if (!rt->cached)
                return MHD_NO;
        rt->cached_status = reply.status ? reply.status : 200;
        return MHD_queue_response(conn, rt->cached_status, rt->cached);
}

int http_server_new(http_server **ret, ev_loop *e, const http_server_limits *limits) {
        _cleanup_(http_server_freep) http_server *s = NULL;
        const union MHD_DaemonInfo *info;
        int r;

        r = mhd_lib_load();
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = ev_ref(e);
        if (limits)
                s->limits = *limits;
        if (!s->limits.max_body)
                s->limits.max_body = 64 * 1024;
        if (!s->limits.max_connections)
                s->limits.max_connections = 64;
        if (!s->limits.max_per_client)
                s->limits.max_per_client = 8;
        if (!s->limits.rate_burst)
                s->limits.rate_burst = s->limits.rate_per_sec;
        if (!s->limits.timeout_sec)
                s->limits.timeout_sec = 10;
        if (!s->limits.handlers_per_run)
                s->limits.handlers_per_run = 8;
        s->waiting_size = (size_t) s->limits.max_connections + 1; /* libmicrohttpd's own limit */
        s->waiting = calloc(s->waiting_size, sizeof(*s->waiting));
        if (!s->waiting)
                return -ENOMEM;
        r = http_clients_new(&s->clients,
                             s->limits.max_connections * 4 > CLIENTS_MIN ? s->limits.max_connections * 4 : CLIENTS_MIN,
                             s->limits.rate_per_sec, s->limits.rate_burst);
        if (r < 0)
                return r;
        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
                                  on_access, s,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) s->limits.timeout_sec,
                                  /* ours is checked at accept; this one only backs it up */
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) s->limits.max_connections + 1,
                                  /* HTTP/1.1 by the letter: Host required, no folded or
                                   * malformed header lines */
                                  MHD_OPTION_STRICT_FOR_CLIENT, (int) 1,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
        if (!s->mhd)
                return errno > 0 ? -errno : -EIO;
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        r = ev_add_io(e, &s->mhd_io, info->epoll_fd, EPOLLIN, on_mhd_io, s);
        if (r < 0)
                return r;
        r = ev_add_time(e, &s->mhd_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_mhd_timer, s);
        if (r < 0)
                return r;
        (void) ev_source_set_enabled(s->mhd_timer, EV_OFF);
        r = ev_add_defer(e, &s->resume, on_resume, s);
        if (r < 0)
                return r;
        (void) ev_source_set_enabled(s->resume, EV_OFF);
        (void) ev_source_set_priority(s->mhd_io, s->limits.priority);
        (void) ev_source_set_priority(s->mhd_timer, s->limits.priority);
        (void) ev_source_set_priority(s->resume, s->limits.priority);
        *ret = TAKE_PTR(s);
        return 0;
}

http_server *http_server_free(http_server *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_listeners; i++) {
                ev_source_disable_unref(s->listeners[i].source);
                (void) close(s->listeners[i].fd);
        }
        free(s->listeners);
        drop_shared(s);
        /* libmicrohttpd closes no suspended connection: resumed, they are closed with the rest */
        for (; s->n_waiting > 0; s->n_waiting--, s->waiting_head = (s->waiting_head + 1) % s->waiting_size)
                MHD_resume_connection(s->waiting[s->waiting_head].conn);
        if (s->mhd)
                MHD_stop_daemon(s->mhd); /* closes the connections: its callbacks still see s */
        ev_source_disable_unref(s->mhd_io);
        ev_source_disable_unref(s->mhd_timer);
        ev_source_disable_unref(s->resume);
        free(s->waiting);
        for (size_t i = 0; i < s->n_routes; i++) {
                free(s->routes[i].method);
                free(s->routes[i].path);
        }
        if (s->routes) /* the token digests: a weak token could be found from its digest */
                OPENSSL_cleanse(s->routes, s->n_routes * sizeof(*s->routes));
        free(s->routes);
        http_clients_free(s->clients);
        ev_unref(s->event);
        free(s);
        return NULL;
}

static int parse_address(const char *address, struct sockaddr_storage *ss, socklen_t *len) {
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon, *h = address;
        size_t hlen;
        char *end;
        unsigned long port;

        if (!address)
                return -EINVAL;
        if (address[0] == '[') {
                const char *close_b = strchr(address, ']');
                if (!close_b || close_b[1] != ':')
                        return -EINVAL;
                h = address + 1;
                hlen = (size_t) (close_b - h);
                colon = close_b + 1;
        } else {
                colon = strrchr(address, ':');
                if (!colon)
                        return -EINVAL;
                hlen = (size_t) (colon - address);
        }
        if (hlen == 0 || hlen >= sizeof(host) || !colon[1])
                return -EINVAL;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || port > 65535 || colon[1] < '0' || colon[1] > '9')
                return -EINVAL;
        memset(ss, 0, sizeof(*ss));
        if (address[0] == '[') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) ss;
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        return -EINVAL;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t) port);
                *len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *) ss;
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        return -EINVAL;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t) port);
                *len = sizeof(*a);
        }
        return 0;
}

int http_server_listen(http_server *s, const char *address, uint16_t *ret_port) {
        struct sockaddr_storage ss;
        socklen_t len;
        listener *l;
        int fd, one = 1, r;

        r = parse_address(address, &ss, &len);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
                r = -errno;
                (void) close(fd);
                return r;
        }
        l = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*l));
        if (!l) {
                (void) close(fd);
                return -ENOMEM;
        }
        s->listeners = l;
        l = &s->listeners[s->n_listeners];
        *l = (listener){ .fd = fd };
        r = ev_add_io(s->event, &l->source, fd, EPOLLIN, on_accept, s);
        if (r < 0) {
                (void) close(fd);
                return r;
        }
        (void) ev_source_set_priority(l->source, s->limits.priority);
        s->n_listeners++;
        if (ret_port)
                *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                           : ((struct sockaddr_in *) &ss)->sin_port);
        return 0;
}

int http_server_handle(http_server *s, const char *method, const char *path, const char *token,
                       http_handler_fn fn, void *userdata) {
        route *rt;

        if (!method || !*method || !path || path[0] != '/' || (token && !*token) || !fn)
                return -EINVAL;
        for (size_t i = 0; i < s->n_routes; i++)
                if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0)
                        return -EEXIST;
        rt = realloc(s->routes, (s->n_routes + 1) * sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        s->routes = rt;
        rt = &s->routes[s->n_routes];
        *rt = (route){ .method = strdup(method), .path = strdup(path), .fn = fn, .userdata = userdata };
        if (!rt->method || !rt->path) {
                free(rt->method);
                free(rt->path);
                return -ENOMEM;
        }
        if (token) {
                rt->has_token = true;
                if (sha256(token, strlen(token), rt->token_sha) < 0) {
                        free(rt->method);
                        free(rt->path);
                        return -EIO;
                }
        }
        s->n_routes++;
        return 0;
}

int http_server_share(http_server *s, const char *method, const char *path) {
        for (size_t i = 0; i < s->n_routes; i++)
                if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0) {
                        s->routes[i].shared = true;
                        return 0;
                }
        return -ENOENT;
}

void http_server_on_refusal(http_server *s, http_refusal_fn fn, void *userdata) {
        s->on_refusal = fn;
        s->refusal_userdata = userdata;
}

const char *http_request_header(const http_request *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int http_reply_set(http_reply *reply, unsigned status, const char *content_type, const char *body, size_t len) {
        char *copy = malloc(len + 1);

        if (!copy)
                return -ENOMEM;
        memcpy(copy, body, len);
        copy[len] = '\0';
        free(reply->body);
        reply->status = status;
        reply->content_type = content_type;
        reply->body = copy;
        reply->body_len = len;
        return 0;
}
