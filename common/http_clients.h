/* Per-client accounting of an HTTP listener: how many connections each client address holds
 * and a token bucket of its requests. A fixed table (no growth under a flood of addresses):
 * when it is full, the entry that has no connection open and was seen longest ago makes room;
 * a forgotten client comes back with a full bucket, which is the state it would have reached
 * anyway after a quiet while. Clients are keyed by address alone (not port): one host, one
 * budget. This module does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "macro.h"

typedef struct http_clients http_clients;

/* rate_per_sec 0: requests are not limited; burst: the bucket's size (at least 1). */
int http_clients_new(http_clients **ret, size_t capacity, unsigned rate_per_sec, unsigned burst);
http_clients *http_clients_free(http_clients *c);
DEFINE_FREE_FUNC(http_clients, http_clients_free);

/* The client's open connections (0 for one not in the table). */
unsigned http_clients_connections(http_clients *c, const struct sockaddr *addr);
/* A connection of addr opened: 0, -EAFNOSUPPORT (not IPv4/IPv6), -EUSERS (the table is full of
 * clients with connections open). */
int http_clients_open(http_clients *c, const struct sockaddr *addr, uint64_t now_usec);
/* One of its connections closed. */
void http_clients_close(http_clients *c, const struct sockaddr *addr);
/* Takes a token for one request at now_usec: true if it had one. When it had none,
 * *ret_retry_sec (if given) is the whole seconds until it will. */
bool http_clients_take(http_clients *c, const struct sockaddr *addr, uint64_t now_usec, unsigned *ret_retry_sec);
