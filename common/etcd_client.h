/* A client of etcd's v3 JSON gateway on the agent's loop: each request is one HTTP POST through
 * libcurl's multi interface (common/curl_glue.h), never blocking; its reply is parsed by
 * common/etcd_reply.h. Endpoints are tried in order: a request that cannot reach one (refused,
 * timed out) goes to the next, each at most once. A fleet slot is one key of K under a prefix,
 * created in a transaction only if it does not exist, under the caller's lease: at most K
 * holders at once, and a holder whose lease lapses (its agent dead) frees its slot by itself.
 * A watch is a long response read as it arrives (common/etcd_watch.h). This module does not
 * log. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "etcd_reply.h"
#include "etcd_watch.h"
#include "ev.h"
#include "macro.h"

#define ETCD_ENDPOINTS_MAX 8u

typedef struct etcd_client etcd_client;

/* error: 0 with reply (which may be etcd's own error: reply->is_error), or -errno with `why`
 * (no endpoint reachable, timeout, a reply that does not parse). reply is valid during the call. */
typedef void (*etcd_cb)(etcd_client *c, int error, const etcd_reply *reply, const char *why, void *userdata);

/* endpoints: "http://HOST:PORT", NULL-terminated, at most ETCD_ENDPOINTS_MAX. */
int etcd_client_new(etcd_client **ret, ev_loop *e, char *const *endpoints, uint64_t timeout_usec);
/* Abandons every request in flight (no callbacks). */
etcd_client *etcd_client_free(etcd_client *c);
DEFINE_FREE_FUNC(etcd_client, etcd_client_free);
/* Requests sent since the client was made (a figure for the fleet simulation). */
uint64_t etcd_client_requests(const etcd_client *c);

int etcd_lease_grant(etcd_client *c, int64_t ttl_sec, etcd_cb cb, void *userdata);
int etcd_lease_keepalive(etcd_client *c, int64_t id, etcd_cb cb, void *userdata);
int etcd_lease_revoke(etcd_client *c, int64_t id, etcd_cb cb, void *userdata);
/* lease 0: none. */
int etcd_put(etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb, void *userdata);
int etcd_get_prefix(etcd_client *c, const char *prefix, etcd_cb cb, void *userdata);
/* How many keys under `prefix` (reply->count), their values not sent. */
int etcd_count_prefix(etcd_client *c, const char *prefix, etcd_cb cb, void *userdata);
int etcd_delete(etcd_client *c, const char *key, etcd_cb cb, void *userdata);
/* Create `key` with `value` under `lease` only if it does not exist: reply->succeeded, else
 * reply->kvs[0] is who has it. */
int etcd_create(etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb, void *userdata);

/* Put `value` at `key` (NULL: delete the key) only if the key is still as the caller read it:
 * `mod_revision` its mod_revision then, 0 when it was absent. reply->succeeded says whether the
 * compare held, reply->revision is then the change's revision (the key's new mod_revision);
 * otherwise reply->kvs holds the key as it is now (none: absent). */
int etcd_put_if(etcd_client *c, const char *key, const char *value, int64_t mod_revision, etcd_cb cb, void *userdata);

/* Take one of K (at most 64) slots <prefix>0 … <prefix>K-1 for `holder` under `lease`: the slot
 * keys are read, then a free one is created (one the holder has already counts). The callback's error: 0 (the slot taken, its index in `slot`),
 * -EBUSY (all K held by others: `why` names them), or a request's error. */
typedef void (*etcd_slot_cb)(etcd_client *c, int error, unsigned slot, const char *why, void *userdata);
int etcd_slot_acquire(etcd_client *c, const char *prefix, unsigned k, const char *holder, int64_t lease,
                      etcd_slot_cb cb, void *userdata);

/* A watch of one key (POST /v3/watch): a long-lived HTTP response through the client's loop,
 * read by common/etcd_watch.h as it arrives. Only one endpoint is asked, endpoints[attempt % N]:
 * the caller reopens a stream that ended, on the next one, when it sees fit. Connecting is
 * bounded by the client's timeout; the open stream is not (it is quiet while the key does not
 * change), TCP keepalives find a peer that is gone. on_msg: each message of the stream (created,
 * events) — it must not free the watch; on_end: the stream ended (error: -ECONNRESET the server
 * closed it, -EHOSTUNREACH not reached, -EIO etcd ended it with an error, -ECANCELED etcd
 * cancelled the watch, -EBADMSG the stream does not parse; `why` says more), called once; the
 * watch is freed when it returns (it must neither close the watch nor free the client). etcd_watch_close() ends one without a callback; the client's end
 * ends them all. */
typedef struct etcd_watch etcd_watch;
typedef void (*etcd_watch_msg_fn)(etcd_watch *w, const etcd_watch_msg *msg, void *userdata);
typedef void (*etcd_watch_end_fn)(etcd_watch *w, int error, const char *why, void *userdata);
int etcd_watch_open(etcd_client *c, const char *key, unsigned attempt, etcd_watch_msg_fn on_msg, etcd_watch_end_fn on_end,
                    void *userdata, etcd_watch **ret);
void etcd_watch_close(etcd_watch *w);
/* The endpoint the watch was opened on. */
const char *etcd_watch_endpoint(const etcd_watch *w);
