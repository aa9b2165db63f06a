/* libmicrohttpd loaded on first use (common/mhd_lib.h): this binary is linked the way ikeheald
 * is (without libmicrohttpd), so the library and GnuTLS must be absent from the process until
 * an HTTP listener is set up, and present after. Then one request goes through the forwarders
 * on a real sd-event loop: the variadic daemon start with its options, the connection and
 * daemon info queries, header lookup and the response calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server.h"
#include "mhd_lib.h"
#include "lib_test.h"
#include "tap.h"

static int on_hello(const http_request *req, http_reply *reply, void *userdata) {
        const char *agent = http_request_header(req, "X-Test");
        char body[64];

        (void) snprintf(body, sizeof(body), "hello %s from %s", agent ? agent : "?", req->peer);
        return http_reply_set(reply, 200, NULL, body, strlen(body));
}

int main(void) {
        static const char request[] = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Test: tap\r\nConnection: close\r\n\r\n";
        char buf[1024];
        size_t got = 0;
        ev_loop *e = NULL;
        http_server *s = NULL;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        uint16_t port = 0;
        int fd;

        CHECK(!mhd_lib_loaded() && !mhd_lib_error() && !lib_mapped("/libmicrohttpd") && !lib_mapped("/libgnutls"),
              "libmicrohttpd and GnuTLS are not in the process at start");
        CHECK(ev_new(&e) >= 0, "ev_new");
        CHECK(http_server_new(&s, e, NULL) == 0, "http_server_new");
        CHECK(mhd_lib_loaded() && !mhd_lib_error() && lib_mapped("/libmicrohttpd"),
              "libmicrohttpd loaded once a listener is set up");
        CHECK(mhd_lib_load() == 0, "loading again is a no-op");
        CHECK(http_server_handle(s, "GET", "/hello", NULL, on_hello, NULL) == 0, "a handler");
        CHECK(http_server_listen(s, "127.0.0.1:0", &port) == 0 && port > 0, "listening on port %u", port);

        sa.sin_port = htons(port);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHECK(fd >= 0, "socket");
        (void) connect(fd, (struct sockaddr *) &sa, sizeof(sa)); /* EINPROGRESS */
        for (int i = 0; i < 200 && send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) < 0; i++)
                (void) ev_run(e, 10 * USEC_PER_MSEC);
        for (int i = 0; i < 300; i++) {
                ssize_t n;

                (void) ev_run(e, 10 * USEC_PER_MSEC);
                n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                if (n == 0)
                        break;
                if (n > 0)
                        got += (size_t) n;
        }
        buf[got] = '\0';
        close(fd);
        CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0, "200 through the forwarders: %.12s", buf);
        CHECK(strstr(buf, "\r\n\r\nhello tap from 127.0.0.1") != NULL,
              "the header looked up and the client's address read through them");
        s = http_server_free(s);
        ev_unref(e);
        return TAP_END();
}
