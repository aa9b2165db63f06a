/* Fuzz the HTTP listener (common/http_server.c) with raw bytes from a client: one loopback TCP
 * connection per input to a server on this process's own sd-event loop, the input written and
 * the client's side shut for writing, the loop run until the server has answered and closed.
 * This covers what the module decides itself (routes, methods, bearer tokens, Content-Length
 * and body limits, the handler's reply, a reply shared by the requests of a dispatch and the
 * handler budget of one) on top of libmicrohttpd's parsing; the answer must be an HTTP status
 * line or nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ev_loop *event;
static http_server *server;
static uint16_t port;

static int on_echo(const http_request *req, http_reply *reply, void *userdata) {
        if (req->body_len > 0 && req->body[0] == '!')
                return -EIO;
        return http_reply_set(reply, req->body_len ? 202 : 200, NULL, req->body, req->body_len);
}

static void setup(void) {
        if (server)
                return;
        if (ev_new(&event) < 0 ||
            http_server_new(&server, event, &(http_server_limits){ .max_body = 512, .max_per_client = 64, .timeout_sec = 1,
                                                                    .handlers_per_run = 1 }) < 0 ||
            http_server_listen(server, "127.0.0.1:0", &port) < 0 ||
            http_server_handle(server, "GET", "/metrics", NULL, on_echo, NULL) < 0 ||
            /* pipelined requests of one input share a reply or wait for their turn */
            http_server_share(server, "GET", "/metrics") < 0 ||
            http_server_handle(server, "GET", "/other", NULL, on_echo, NULL) < 0 ||
            http_server_handle(server, "POST", "/alerts", "tok", on_echo, NULL) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
        char answer[4096], head[12];
        size_t got = 0;
        int fd;

        setup();
        if (size > 64 * 1024)
                return 0;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                abort();
        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0 && errno != EINPROGRESS)
                abort();
        /* loopback: the connection is made at once, and 64 KiB fit the socket buffer */
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                if (n > 0)
                        off += (size_t) n;
                else if (n < 0 && errno != EAGAIN)
                        break;
                (void) ev_run(event, 1000);
        }
        (void) shutdown(fd, SHUT_WR);
        for (int i = 0; i < 2000; i++) {
                ssize_t n = read(fd, answer, sizeof(answer));
                if (n == 0 || (n < 0 && errno != EAGAIN))
                        break;
                if (n > 0) {
                        /* only the start of the answer is checked; the rest is read to EOF */
                        if (got < sizeof(head)) {
                                size_t k = (size_t) n < sizeof(head) - got ? (size_t) n : sizeof(head) - got;
                                memcpy(head + got, answer, k);
                        }
                        got += (size_t) n;
                        continue;
                }
                (void) ev_run(event, 1000);
        }
        if (got > 0 && (got < sizeof(head) || memcmp(head, "HTTP/1.", 7) != 0))
                abort();
        close(fd);
        /* let the server see the close, so its connection count goes back down */
        for (int i = 0; i < 5; i++)
                (void) ev_run(event, 0);
        return 0;
}
