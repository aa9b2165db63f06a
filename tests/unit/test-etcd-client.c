/* The etcd client freed with requests in flight (the agent stopping, a reload that moves the
 * fleet): no callback runs, and what a slot acquisition owns is freed with it (LeakSanitizer
 * in the sanitizer build would say otherwise). The server is a listening socket that never
 * answers, on loopback; the same for watch streams, one closed before. Also: bad endpoints
 * refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "etcd_client.h"
#include "tap.h"

static int calls;

static void on_reply(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata);

static void on_watch_msg(etcd_watch *w, const etcd_watch_msg *m, void *userdata) {
        calls++;
}

static void on_watch_end(etcd_watch *w, int error, const char *why, void *userdata) {
        calls++;
}

/* A watch stream served by hand: the created message, then the connection closed. From the
 * message's callback a request is sent (as the fleet reads the key once a watch is created):
 * it must be accepted, not refused as a call from inside libcurl's callbacks. */
static int streamed_msgs, put_from_msg = 1, stream_end = 1;
static etcd_client *stream_client;

static void on_stream_msg(etcd_watch *w, const etcd_watch_msg *m, void *userdata) {
        streamed_msgs += m->created;
        put_from_msg = etcd_put(stream_client, "/t/x", "1", 0, on_reply, NULL);
}

static void on_stream_end(etcd_watch *w, int error, const char *why, void *userdata) {
        stream_end = error;
}

static int on_request(ev_source *s, int fd, uint32_t revents, void *userdata) {
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                                    "{\"result\":{\"header\":{\"revision\":\"5\"},\"created\":true}}\n";
        char buf[4096];
        (void) !read(fd, buf, sizeof(buf)); /* the request (small: one read) */
        (void) !write(fd, reply, sizeof(reply) - 1);
        ev_source_disable_unref(s);
        close(fd);
        return 0;
}

static int on_accept(ev_source *s, int fd, uint32_t revents, void *userdata) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0 && ev_add_io(ev_source_get_loop(s), NULL, c, EPOLLIN, on_request, NULL) < 0)
                close(c);
        return 0;
}

static void on_reply(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        calls++;
}

static void on_slot(etcd_client *c, int error, unsigned slot, const char *why, void *userdata) {
        calls++;
}

int main(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        ev_loop *e = NULL;
        etcd_client *c = NULL;
        char url[64];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(fd, 8) == 0 &&
                      getsockname(fd, (struct sockaddr *) &sa, &len) == 0,
              "a silent server on loopback");
        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned) ntohs(sa.sin_port));
        CHECK(ev_new(&e) >= 0, "event loop");

        char *bad[] = { (char *) "127.0.0.1:2379", NULL }, *none[] = { NULL };
        CHECK(etcd_client_new(&c, e, bad, 0) == -EINVAL && !c, "an endpoint without http:// is refused");
        CHECK(etcd_client_new(&c, e, none, 0) == -EINVAL && !c, "no endpoint is refused");

        char *eps[] = { url, NULL };
        CHECK(etcd_client_new(&c, e, eps, 5 * 1000000ULL) == 0 && c, "client on %s", url);
        CHECK(etcd_slot_acquire(c, "/t/slots/", 2, "gw/run1", 7, on_slot, NULL) == 0, "a slot acquisition in flight");
        CHECK(etcd_slot_acquire(c, "/t/slots/", 0, "gw/run1", 7, on_slot, NULL) == -EINVAL, "K=0 refused");
        CHECK(etcd_put(c, "/t/gateways/gw", "{}", 7, on_reply, NULL) == 0, "a put in flight");
        etcd_watch *w1 = NULL, *w2 = NULL, *w3 = NULL;
        CHECK(etcd_watch_open(c, "/t/pause", 0, on_watch_msg, on_watch_end, NULL, &w1) == 0 && w1, "a watch open");
        CHECK(etcd_watch_open(c, "/t/freeze", 3, on_watch_msg, on_watch_end, NULL, &w2) == 0 && w2 &&
                      strcmp(etcd_watch_endpoint(w2), url) == 0,
              "another (attempt 3 of one endpoint: that one)");
        CHECK(etcd_watch_open(c, "/t/other", 0, on_watch_msg, on_watch_end, NULL, &w3) == 0, "a third");
        etcd_watch_close(w3);
        for (int i = 0; i < 5; i++)
                (void) ev_run(e, 20 * 1000); /* the requests go out; no answer comes */
        CHECK(etcd_client_requests(c) == 5, "five requests sent (%llu)", (unsigned long long) etcd_client_requests(c));
        c = etcd_client_free(c);
        CHECK(calls == 0, "freed with requests and watches in flight: no callback");

        /* a served stream */
        struct sockaddr_in sb = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t lb = sizeof(sb);
        int sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ev_source *src = NULL;
        char surl[64];
        CHECK(sfd >= 0 && bind(sfd, (struct sockaddr *) &sb, sizeof(sb)) == 0 && listen(sfd, 8) == 0 &&
                      getsockname(sfd, (struct sockaddr *) &sb, &lb) == 0 &&
                      ev_add_io(e, &src, sfd, EPOLLIN, on_accept, NULL) >= 0,
              "a server that streams one watch message");
        (void) snprintf(surl, sizeof(surl), "http://127.0.0.1:%u", (unsigned) ntohs(sb.sin_port));
        char *seps[] = { surl, url, NULL };
        etcd_watch *sw = NULL;
        CHECK(etcd_client_new(&stream_client, e, seps, 5 * 1000000ULL) == 0 &&
                      etcd_watch_open(stream_client, "/t/pause", 0, on_stream_msg, on_stream_end, NULL, &sw) == 0,
              "a watch of the streaming server");
        for (int i = 0; i < 100 && stream_end == 1; i++)
                (void) ev_run(e, 20 * 1000);
        CHECK(streamed_msgs == 1, "the created message came");
        CHECK(put_from_msg == 0, "a request sent from the message's callback is accepted (%d)", put_from_msg);
        CHECK(stream_end == -ECONNRESET, "the stream's end: the server closed it (%d)", stream_end);
        stream_client = etcd_client_free(stream_client);
        ev_source_disable_unref(src);
        close(sfd);
        ev_unref(e);
        close(fd);
        return TAP_END();
}
