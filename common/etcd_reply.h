/* A reply of etcd's v3 JSON gateway (grpc-gateway over HTTP: POST /v3/kv/range, /v3/kv/put,
 * /v3/kv/txn, /v3/kv/deleterange, /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke),
 * parsed into plain data with hard limits on everything the server controls: body size, JSON
 * depth, number of keys, key and value lengths. 64-bit numbers arrive as decimal strings
 * (proto3's JSON mapping), keys and values as base64. A keepalive's reply is wrapped in
 * {"result": …}; an error is {"error": "…", "code": N, "message": "…"}. Fields etcd may add are
 * ignored; a known field of the wrong type is an error. An error names where: "1:14: …" (line:col
 * of the body) for JSON that does not parse, the field ("kvs[2].key: not base64") otherwise.
 * This module does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define ETCD_REPLY_MAX (4u * 1024u * 1024u) /* bytes of a body */
#define ETCD_KVS_MAX 65536u
#define ETCD_KEY_MAX 1024u
#define ETCD_VALUE_MAX (64u * 1024u)
#define ETCD_ERROR_MAX 256u

typedef struct etcd_kv {
        char *key, *value; /* decoded, NUL-terminated (a NUL inside is refused) */
        int64_t create_revision, mod_revision, lease;
} etcd_kv;

typedef struct etcd_reply {
        int64_t revision;     /* header.revision: the store's revision when it answered */
        bool is_error;        /* etcd said no: code and message below */
        int code;             /* gRPC status code (14 unavailable, 4 deadline exceeded …) */
        char message[ETCD_ERROR_MAX];
        bool succeeded;       /* txn: the compare held */
        int64_t id, ttl;      /* lease grant and keepalive (ttl 0 or less: the lease is gone) */
        etcd_kv *kvs;         /* range, and a txn's first range response */
        size_t n_kvs;
        int64_t count;        /* range: keys in the range (may exceed n_kvs with a limit) */
} etcd_reply;

/* 0 and *ret, or -EBADMSG / -EMSGSIZE / -ENOMEM with `error` (ETCD_ERROR_MAX bytes, may be
 * NULL) saying where. An error reply of etcd is a success here (is_error set). */
int etcd_reply_parse(const char *data, size_t len, etcd_reply **ret, char *error);
etcd_reply *etcd_reply_free(etcd_reply *r);

/* One key-value object of a reply or of a watch event (common/etcd_watch.h), checked as above;
 * `where` names it in errors ("events[0].kv"). etcd_kv_done() frees what it holds. */
struct json_object;
int etcd_kv_parse(struct json_object *kv, const char *where, etcd_kv *ret, char *error);
void etcd_kv_done(etcd_kv *kv);
DEFINE_FREE_FUNC(etcd_reply, etcd_reply_free);
