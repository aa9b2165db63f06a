/* An HTTP/1.1 listener on the caller's sd-event loop, for the small endpoints a monitoring
 * stack talks to (metrics, health, alert intake). libmicrohttpd parses the protocol; it runs in
 * its external-epoll mode: its epoll fd and its next timeout are one io and one time source of
 * the loop, so no thread is started and no client, however slow, holds the loop. This module
 * accepts the connections itself, to account for them per client before libmicrohttpd sees
 * them.
 *
 * What it decides, and answers without calling a handler (each reported to the refusal
 * callback, for the caller's audit):
 *   - 404 no handler for the path, 405 a handler for the path but not the method (with Allow);
 *   - 429 the client's request budget is spent (with Retry-After);
 *   - 401 a token-protected path without "Authorization: Bearer …", 403 with a wrong token
 *     (compared in constant time, over SHA-256 digests so the length is not told either);
 *   - 413 a body longer than the limit (at once when Content-Length says so, else once it is
 *     read; a chunked body more than four times the limit has its connection closed instead);
 *   - 503 and close, at accept: too many connections in all or from one client.
 * Malformed HTTP gets libmicrohttpd's own 400 (not reported). HEAD is served by the GET
 * handler, without the body. A handler runs synchronously and fills in a reply. This module
 * does not log; it returns -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "macro.h"

typedef struct http_server http_server;

typedef struct http_server_limits {
        size_t max_body;          /* bytes of request body; 0: 64 KiB */
        unsigned max_connections; /* open at once, all clients; 0: 64 */
        unsigned max_per_client;  /* open at once from one address; 0: 8 */
        unsigned rate_per_sec;    /* requests per client and second; 0: unlimited */
        unsigned rate_burst;      /* requests a client may make at once; 0: rate_per_sec */
        unsigned timeout_sec;     /* an idle connection is closed after; 0: 10 */
        unsigned handlers_per_run; /* handlers called in one dispatch; 0: 8. Requests past it wait
                                    * (suspended, in order of arrival) for the next dispatches, so
                                    * a crowd of requests is served between the loop's other work
                                    * rather than in one long dispatch */
        int64_t priority;         /* of its event sources (sd-event: larger runs later); 0: normal.
                                   * A larger one keeps a flood of requests from delaying what
                                   * else the loop serves */
} http_server_limits;

typedef struct http_request {
        const char *method; /* "GET", "POST", …; "GET" for a HEAD request */
        const char *path;   /* without the query */
        const char *peer;   /* the client's address, "127.0.0.1" or "::1" */
        const char *body;   /* NUL-terminated; "" when there is none */
        size_t body_len;
        void *conn; /* for http_request_header() */
} http_request;

typedef struct http_reply {
        unsigned status;          /* 200 unless set */
        const char *content_type; /* copied; "text/plain; charset=utf-8" unless set */
        char *body;               /* malloc'ed; the server frees it */
        size_t body_len;
} http_reply;

/* Fills reply (status and body at least). A result < 0 is answered with 500 (a body set is
 * still freed). */
typedef int (*http_handler_fn)(const http_request *req, http_reply *reply, void *userdata);

typedef struct http_refusal {
        const char *peer;   /* client address */
        const char *method; /* NULL when refused at accept */
        const char *path;   /* NULL when refused at accept */
        unsigned status;    /* 401, 403, 404, 405, 413, 429, 503 */
        const char *reason; /* for people: "wrong bearer token", "too many connections from client", … */
} http_refusal;

typedef void (*http_refusal_fn)(const http_refusal *r, void *userdata);

/* Loads libmicrohttpd first (common/mhd_lib.h): its -errno when that fails, mhd_lib_error()
 * saying why. */
int http_server_new(http_server **ret, ev_loop *e, const http_server_limits *limits);
/* Closes every connection and listening socket. */
http_server *http_server_free(http_server *s);
DEFINE_FREE_FUNC(http_server, http_server_free);

/* Listens on "127.0.0.1:9469", "[::1]:9469" (numeric only; port 0 picks a free one, returned in
 * *ret_port). -EINVAL for an address that is not one, else bind()'s or listen()'s -errno. */
int http_server_listen(http_server *s, const char *address, uint16_t *ret_port);
/* Serves method on path with fn. token: NULL for none, else the bearer token the request must
 * carry (copied). -EEXIST for a path and method already served, -EINVAL for a path not starting
 * with '/' or an empty token. */
int http_server_handle(http_server *s, const char *method, const char *path, const char *token,
                       http_handler_fn fn, void *userdata);
/* Shares the reply of method on path between the requests of one dispatch of the listener (one
 * MHD_run(): the requests of every connection that was ready): its handler runs for the first,
 * the others get the same status and body. For a handler that answers every request alike from
 * state the loop holds: nothing else of the loop runs within a dispatch, and the shared reply is
 * forgotten before any other handler runs and before a refusal is reported (either may change
 * that state), and at the dispatch's end — so it is never older than the dispatch. -ENOENT for
 * a route not served. */
int http_server_share(http_server *s, const char *method, const char *path);
void http_server_on_refusal(http_server *s, http_refusal_fn fn, void *userdata);

/* A request header (case-insensitive name), NULL if absent. Only during the handler. */
const char *http_request_header(const http_request *req, const char *name);
/* Sets the reply (body copied). 0 or -ENOMEM. */
int http_reply_set(http_reply *reply, unsigned status, const char *content_type, const char *body, size_t len);
