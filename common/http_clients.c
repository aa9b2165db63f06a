/* See http_clients.h. A linear table: its size is the listener's bound on distinct clients
 * remembered (hundreds to a few thousand), small enough to scan per request. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "http_clients.h"

typedef struct client {
        bool used;
        uint8_t key[17]; /* family (4 or 6), then the address */
        unsigned connections;
        double tokens;
        uint64_t refilled_usec, seen_usec;
} client;

struct http_clients {
        client *table;
        size_t capacity;
        unsigned rate, burst;
};

static bool make_key(const struct sockaddr *addr, uint8_t key[static 17]) {
        memset(key, 0, 17);
        if (addr && addr->sa_family == AF_INET) {
                key[0] = 4;
                memcpy(key + 1, &((const struct sockaddr_in *) addr)->sin_addr, 4);
                return true;
        }
        if (addr && addr->sa_family == AF_INET6) {
                key[0] = 6;
                memcpy(key + 1, &((const struct sockaddr_in6 *) addr)->sin6_addr, 16);
                return true;
        }
        return false;
}

int http_clients_new(http_clients **ret, size_t capacity, unsigned rate_per_sec, unsigned burst) {
        http_clients *c;

        if (capacity == 0)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->table = calloc(capacity, sizeof(*c->table));
        if (!c->table) {
                free(c);
                return -ENOMEM;
        }
        c->capacity = capacity;
        c->rate = rate_per_sec;
        c->burst = burst ? burst : 1;
        *ret = c;
        return 0;
}

http_clients *http_clients_free(http_clients *c) {
        if (!c)
                return NULL;
        free(c->table);
        free(c);
        return NULL;
}

static client *find(http_clients *c, const struct sockaddr *addr) {
        uint8_t key[17];

        if (!make_key(addr, key))
                return NULL;
        for (size_t i = 0; i < c->capacity; i++)
                if (c->table[i].used && memcmp(c->table[i].key, key, sizeof(key)) == 0)
                        return &c->table[i];
        return NULL;
}

/* The client's entry, made if needed (possibly in place of an idle one). */
static int find_or_make(http_clients *c, const struct sockaddr *addr, uint64_t now, client **ret) {
        client *k = find(c, addr), *victim = NULL;
        uint8_t key[17];

        if (k) {
                *ret = k;
                return 0;
        }
        if (!make_key(addr, key))
                return -EAFNOSUPPORT;
        for (size_t i = 0; i < c->capacity; i++) {
                client *e = &c->table[i];
                if (!e->used) {
                        victim = e;
                        break;
                }
                if (e->connections == 0 && (!victim || e->seen_usec < victim->seen_usec))
                        victim = e;
        }
        if (!victim)
                return -EUSERS;
        *victim = (client){ .used = true, .tokens = c->burst, .refilled_usec = now, .seen_usec = now };
        memcpy(victim->key, key, sizeof(key));
        *ret = victim;
        return 0;
}

unsigned http_clients_connections(http_clients *c, const struct sockaddr *addr) {
        client *k = find(c, addr);
        return k ? k->connections : 0;
}

int http_clients_open(http_clients *c, const struct sockaddr *addr, uint64_t now_usec) {
        client *k;
        int r = find_or_make(c, addr, now_usec, &k);

        if (r < 0)
                return r;
        k->connections++;
        k->seen_usec = now_usec;
        return 0;
}

void http_clients_close(http_clients *c, const struct sockaddr *addr) {
        client *k = find(c, addr);

        if (k && k->connections > 0)
                k->connections--;
}

bool http_clients_take(http_clients *c, const struct sockaddr *addr, uint64_t now_usec, unsigned *ret_retry_sec) {
        client *k;

        if (c->rate == 0)
                return true;
        if (find_or_make(c, addr, now_usec, &k) < 0)
                return false; /* an address we cannot account for gets no request through */
        if (now_usec > k->refilled_usec) {
                k->tokens += (double) (now_usec - k->refilled_usec) * c->rate / USEC_PER_SEC;
                if (k->tokens > c->burst)
                        k->tokens = c->burst;
        }
        k->refilled_usec = now_usec;
        k->seen_usec = now_usec;
        if (k->tokens >= 1) {
                k->tokens -= 1;
                return true;
        }
        if (ret_retry_sec)
                *ret_retry_sec = (unsigned) ((1 - k->tokens) / c->rate) + 1;
        return false;
}
