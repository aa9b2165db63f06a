/* See etcd_reply.h. json-c's tokener parses (strict JSON, UTF-8 checked, depth bounded); the
 * walk below takes only the fields ikeheal uses, each checked for its type and bounds. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "etcd_reply.h"
#include "json_doc.h"

#define DEPTH 16

typedef struct ctx {
        char *error;
} ctx;

_printf_(3, 4) static int bad(ctx *c, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(c->error, ETCD_ERROR_MAX, fmt, ap);
        va_end(ap);
        return r;
}

etcd_reply *etcd_reply_free(etcd_reply *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_kvs; i++) {
                free(r->kvs[i].key);
                free(r->kvs[i].value);
        }
        free(r->kvs);
        free(r);
        return NULL;
}

/* An int64 as proto3's JSON writes it: a decimal string (a plain number is accepted too). */
static int int64_of(ctx *c, json_object *o, const char *field, int64_t *ret) {
        if (!o)
                return 0;
        if (json_object_is_type(o, json_type_int)) {
                *ret = json_object_get_int64(o);
                return 0;
        }
        if (!json_object_is_type(o, json_type_string))
                return bad(c, -EBADMSG, "%s: expected a number", field);
        const char *s = json_object_get_string(o);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
                return bad(c, -EBADMSG, "%s: '%.40s' is not a 64-bit integer", field, s);
        *ret = v;
        return 0;
}

static int bytes_of(ctx *c, json_object *o, const char *field, size_t max, char **ret) {
        size_t n;
        if (!o) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        if (!json_object_is_type(o, json_type_string))
                return bad(c, -EBADMSG, "%s: expected a base64 string", field);
        const char *s = json_object_get_string(o);
        size_t len = (size_t) json_object_get_string_len(o);
        if (len > (max + 2) / 3 * 4)
                return bad(c, -EMSGSIZE, "%s: more than %zu bytes", field, max);
        int r = base64_decode(s, len, ret, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(c, -EBADMSG, "%s: not base64", field);
        if (n > max || memchr(*ret, 0, n)) {
                free(*ret);
                *ret = NULL;
                return bad(c, -EBADMSG, "%s: %s", field, n > max ? "too long" : "holds a NUL byte");
        }
        return 0;
}

static int kv_of(ctx *c, json_object *kv, const char *where, etcd_kv *e) {
        json_object *v;
        char f[96];
        int r;

        (void) snprintf(f, sizeof(f), "%s.key", where);
        if ((r = bytes_of(c, json_object_object_get_ex(kv, "key", &v) ? v : NULL, f, ETCD_KEY_MAX, &e->key)) < 0)
                return r;
        (void) snprintf(f, sizeof(f), "%s.value", where);
        if ((r = bytes_of(c, json_object_object_get_ex(kv, "value", &v) ? v : NULL, f, ETCD_VALUE_MAX, &e->value)) < 0)
                return r;
        (void) snprintf(f, sizeof(f), "%s.create_revision", where);
        if ((r = int64_of(c, json_object_object_get_ex(kv, "create_revision", &v) ? v : NULL, f, &e->create_revision)) < 0)
                return r;
        (void) snprintf(f, sizeof(f), "%s.mod_revision", where);
        if ((r = int64_of(c, json_object_object_get_ex(kv, "mod_revision", &v) ? v : NULL, f, &e->mod_revision)) < 0)
                return r;
        (void) snprintf(f, sizeof(f), "%s.lease", where);
        return int64_of(c, json_object_object_get_ex(kv, "lease", &v) ? v : NULL, f, &e->lease);
}

int etcd_kv_parse(struct json_object *kv, const char *where, etcd_kv *ret, char *error) {
        char scratch[ETCD_ERROR_MAX];
        ctx c = { .error = error ? error : scratch };
        etcd_kv e = {};
        int r;

        if (!json_object_is_type(kv, json_type_object))
                return bad(&c, -EBADMSG, "%s: expected an object", where);
        if ((r = kv_of(&c, kv, where, &e)) < 0) {
                etcd_kv_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

void etcd_kv_done(etcd_kv *kv) {
        free(kv->key);
        free(kv->value);
        *kv = (etcd_kv){};
}

static int kvs_of(ctx *c, json_object *arr, const char *where, etcd_reply *out) {
        size_t n;
        char f[64];
        int r;

        if (!arr)
                return 0;
        if (!json_object_is_type(arr, json_type_array))
                return bad(c, -EBADMSG, "%s: expected an array", where);
        n = json_object_array_length(arr);
        if (n > ETCD_KVS_MAX)
                return bad(c, -EMSGSIZE, "%s: %zu keys, more than %u", where, n, ETCD_KVS_MAX);
        if (out->kvs)
                return 0; /* only the first range of a txn is kept */
        out->kvs = calloc(n ? n : 1, sizeof(*out->kvs));
        if (!out->kvs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *kv = json_object_array_get_idx(arr, i);
                etcd_kv *e = &out->kvs[out->n_kvs];
                if (!json_object_is_type(kv, json_type_object))
                        return bad(c, -EBADMSG, "%s[%zu]: expected an object", where, i);
                out->n_kvs++;
                (void) snprintf(f, sizeof(f), "%s[%zu]", where, i);
                if ((r = kv_of(c, kv, f, e)) < 0)
                        return r;
        }
        return 0;
}

static json_object *get(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static int walk(ctx *c, json_object *root, etcd_reply *out) {
        json_object *v, *h;
        int64_t code = 0;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return bad(c, -EBADMSG, "expected an object");
        if ((v = get(root, "result")) ) { /* a keepalive's stream message */
                if (!json_object_is_type(v, json_type_object))
                        return bad(c, -EBADMSG, "result: expected an object");
                root = v;
        }
        if ((v = get(root, "error")) || get(root, "code")) {
                out->is_error = true;
                if ((r = int64_of(c, get(root, "code"), "code", &code)) < 0)
                        return r;
                if (code < 0 || code > 16)
                        return bad(c, -EBADMSG, "code: %" PRId64 " is not a gRPC status", code);
                out->code = (int) code;
                v = get(root, "message") ?: v;
                if (v && !json_object_is_type(v, json_type_string))
                        return bad(c, -EBADMSG, "message: expected a string");
                (void) snprintf(out->message, sizeof(out->message), "%s", v ? json_object_get_string(v) : "");
                return 0;
        }
        if ((h = get(root, "header"))) {
                if (!json_object_is_type(h, json_type_object))
                        return bad(c, -EBADMSG, "header: expected an object");
                if ((r = int64_of(c, get(h, "revision"), "header.revision", &out->revision)) < 0)
                        return r;
        }
        if ((v = get(root, "succeeded"))) {
                if (!json_object_is_type(v, json_type_boolean))
                        return bad(c, -EBADMSG, "succeeded: expected true or false");
                out->succeeded = json_object_get_boolean(v);
        }
        if ((r = int64_of(c, get(root, "ID"), "ID", &out->id)) < 0 || (r = int64_of(c, get(root, "TTL"), "TTL", &out->ttl)) < 0 ||
            (r = int64_of(c, get(root, "count"), "count", &out->count)) < 0)
                return r;
        if ((r = kvs_of(c, get(root, "kvs"), "kvs", out)) < 0)
                return r;
        if ((v = get(root, "responses"))) {
                if (!json_object_is_type(v, json_type_array))
                        return bad(c, -EBADMSG, "responses: expected an array");
                size_t n = json_object_array_length(v);
                for (size_t i = 0; i < n && i < 64; i++) {
                        json_object *resp = json_object_array_get_idx(v, i), *range;
                        char f[48];
                        if (!json_object_is_type(resp, json_type_object))
                                return bad(c, -EBADMSG, "responses[%zu]: expected an object", i);
                        if (!(range = get(resp, "response_range")))
                                continue;
                        if (!json_object_is_type(range, json_type_object))
                                return bad(c, -EBADMSG, "responses[%zu].response_range: expected an object", i);
                        (void) snprintf(f, sizeof(f), "responses[%zu].response_range.kvs", i);
                        if ((r = kvs_of(c, get(range, "kvs"), f, out)) < 0)
                                return r;
                }
        }
        return 0;
}

int etcd_reply_parse(const char *data, size_t len, etcd_reply **ret, char *error) {
        _cleanup_(etcd_reply_freep) etcd_reply *out = NULL;
        char scratch[ETCD_ERROR_MAX];
        ctx c = { .error = error ? error : scratch };
        json_object *root;
        int r;

        c.error[0] = 0;
        if (len > ETCD_REPLY_MAX)
                return bad(&c, -EMSGSIZE, "reply of %zu bytes, more than %u", len, ETCD_REPLY_MAX);
        char where[160];
        r = json_doc_parse(data, len, DEPTH, &root, where, sizeof(where)); /* grpc-gateway ends a message with a newline */
        if (r == -EBADMSG)
                return bad(&c, r, "%s", where);
        if (r < 0)
                return r;
        out = calloc(1, sizeof(*out));
        if (!out) {
                json_object_put(root);
                return -ENOMEM;
        }
        r = walk(&c, root, out);
        json_object_put(root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}
