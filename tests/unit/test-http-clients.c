/* The per-client table of the HTTP listener (common/http_clients.h), with explicit times: the
 * token bucket (burst, refill, Retry-After), connection counts per address, IPv4 and IPv6 keyed
 * apart, an idle client making room when the table is full, and -EUSERS when every entry
 * holds connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "http_clients.h"
#include "tap.h"

static struct sockaddr_storage v4(const char *a, uint16_t port) {
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        (void) inet_pton(AF_INET, a, &in->sin_addr);
        return ss;
}

static struct sockaddr_storage v6(const char *a) {
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in6 *in = (struct sockaddr_in6 *) &ss;
        in->sin6_family = AF_INET6;
        (void) inet_pton(AF_INET6, a, &in->sin6_addr);
        return ss;
}

#define SA(x) ((struct sockaddr *) &(x))

int main(void) {
        _cleanup_(http_clients_freep) http_clients *c = NULL;
        struct sockaddr_storage a = v4("198.18.0.1", 1000), a2 = v4("198.18.0.1", 2000), b = v4("198.18.0.2", 1),
                                d = v4("198.18.0.3", 1), six = v6("::1"), unix_addr = { .ss_family = AF_UNIX };
        unsigned retry = 0;
        uint64_t t = 1000 * USEC_PER_SEC;

        CHECK(http_clients_new(&c, 0, 1, 1) == -EINVAL, "capacity 0 refused");
        CHECK(http_clients_new(&c, 2, 2, 3) == 0, "new: 2 clients, 2 requests/s, burst 3");

        /* burst of 3, then refused with Retry-After; refilled at 2 per second */
        CHECK(http_clients_take(c, SA(a), t, NULL) && http_clients_take(c, SA(a2), t, NULL) &&
              http_clients_take(c, SA(a), t, NULL), "burst of three (the port does not matter)");
        CHECK(!http_clients_take(c, SA(a), t, &retry) && retry == 1, "fourth refused, retry after %u s", retry);
        CHECK(!http_clients_take(c, SA(a), t + 400 * USEC_PER_MSEC, NULL), "0.8 of a token after 400 ms: refused");
        CHECK(http_clients_take(c, SA(a), t + 500 * USEC_PER_MSEC, NULL), "a whole token after 500 ms");
        CHECK(http_clients_take(c, SA(a), t + 10 * USEC_PER_SEC, NULL) && http_clients_take(c, SA(a), t + 10 * USEC_PER_SEC, NULL) &&
              http_clients_take(c, SA(a), t + 10 * USEC_PER_SEC, NULL) && !http_clients_take(c, SA(a), t + 10 * USEC_PER_SEC, NULL),
              "a quiet while refills the burst, never more");

        /* connections: counted per address; IPv6 is another client */
        CHECK(http_clients_open(c, SA(a), t) == 0 && http_clients_open(c, SA(a2), t) == 0, "two connections of a");
        CHECK(http_clients_connections(c, SA(a)) == 2, "a holds 2");
        CHECK(http_clients_connections(c, SA(six)) == 0, "::1 holds none");
        CHECK(http_clients_open(c, SA(unix_addr), t) == -EAFNOSUPPORT, "not IP: -EAFNOSUPPORT");
        CHECK(!http_clients_take(c, SA(unix_addr), t, NULL), "not IP: no request through");

        /* the table (2) is full with a and b; b idle: d takes b's place, with a full bucket */
        CHECK(http_clients_take(c, SA(b), t + 20 * USEC_PER_SEC, NULL), "b seen");
        CHECK(http_clients_open(c, SA(d), t + 21 * USEC_PER_SEC) == 0, "d replaces idle b");
        CHECK(http_clients_connections(c, SA(a)) == 2 && http_clients_connections(c, SA(d)) == 1, "a kept, d counted");
        CHECK(http_clients_open(c, SA(six), t + 22 * USEC_PER_SEC) == -EUSERS, "every entry holds connections: -EUSERS");
        http_clients_close(c, SA(d));
        CHECK(http_clients_open(c, SA(six), t + 23 * USEC_PER_SEC) == 0, "d closed: ::1 fits");
        http_clients_close(c, SA(a));
        http_clients_close(c, SA(a));
        http_clients_close(c, SA(a));
        CHECK(http_clients_connections(c, SA(a)) == 0, "closes never go below 0");

        /* no rate: every request passes */
        c = http_clients_free(c);
        CHECK(http_clients_new(&c, 4, 0, 0) == 0, "new without a rate");
        bool all = true;
        for (int i = 0; i < 1000; i++)
                all = all && http_clients_take(c, SA(a), t, NULL);
        CHECK(all, "1000 requests at once pass");
        return TAP_END();
}
