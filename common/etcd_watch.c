/* See etcd_watch.h. The framer finds where an object ends by its brackets alone (strings and
 * their escapes skipped), so nothing the peer says about sizes is believed; json_doc_parse()
 * then checks the object strictly and the walk takes the fields ikeheal uses. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_watch.h"
#include "json_doc.h"

#define DEPTH 16

struct etcd_watch_parser {
        char *buf;                 /* the object being framed */
        size_t len, cap;
        unsigned depth;            /* brackets open */
        bool in_string, escaped;
        unsigned line, col;        /* of the next byte in the stream, from 1 */
        unsigned obj_line, obj_col; /* where the object in buf began */
        int error;                 /* once failed, always failed */
        char error_text[ETCD_ERROR_MAX];
};

_printf_(3, 4) static int bad(char *error, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(error, ETCD_ERROR_MAX, fmt, ap);
        va_end(ap);
        return r;
}

etcd_watch_msg *etcd_watch_msg_free(etcd_watch_msg *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_events; i++)
                etcd_kv_done(&m->events[i].kv);
        free(m->events);
        free(m);
        return NULL;
}

static json_object *get(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static int int64_field(json_object *o, const char *field, int64_t *ret, char *error) {
        if (!o)
                return 0;
        if (json_object_is_type(o, json_type_int)) {
                *ret = json_object_get_int64(o);
                return 0;
        }
        if (!json_object_is_type(o, json_type_string))
                return bad(error, -EBADMSG, "%s: expected a number", field);
        const char *s = json_object_get_string(o);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
                return bad(error, -EBADMSG, "%s: '%.40s' is not a 64-bit integer", field, s);
        *ret = v;
        return 0;
}

static int bool_field(json_object *o, const char *field, bool *ret, char *error) {
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_boolean))
                return bad(error, -EBADMSG, "%s: expected true or false", field);
        *ret = json_object_get_boolean(o);
        return 0;
}

static int string_field(json_object *o, const char *field, char *ret, size_t n, char *error) {
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_string))
                return bad(error, -EBADMSG, "%s: expected a string", field);
        (void) snprintf(ret, n, "%s", json_object_get_string(o));
        return 0;
}

/* {"error":{"grpc_code":14,"http_code":503,"message":"…"}} ends a stream; a reply that is not a
 * stream at all (a refused request) is {"error":"…","code":N,"message":"…"}. */
static int error_of(json_object *root, json_object *e, etcd_watch_msg *m, char *error) {
        int64_t code = 0;
        int r;

        m->is_error = true;
        if (json_object_is_type(e, json_type_object)) {
                if ((r = int64_field(get(e, "grpc_code"), "error.grpc_code", &code, error)) < 0 ||
                    (r = string_field(get(e, "message"), "error.message", m->message, sizeof(m->message), error)) < 0)
                        return r;
        } else {
                if ((r = int64_field(get(root, "code"), "code", &code, error)) < 0)
                        return r;
                json_object *msg = get(root, "message") ?: e;
                if (msg && (r = string_field(msg, "message", m->message, sizeof(m->message), error)) < 0)
                        return r;
        }
        if (code < 0 || code > 16)
                return bad(error, -EBADMSG, "code: %" PRId64 " is not a gRPC status", code);
        m->code = (int) code;
        return 0;
}

static int events_of(json_object *arr, etcd_watch_msg *m, char *error) {
        char where[48];
        int r;

        if (!json_object_is_type(arr, json_type_array))
                return bad(error, -EBADMSG, "events: expected an array");
        size_t n = json_object_array_length(arr);
        if (n > ETCD_WATCH_EVENTS_MAX)
                return bad(error, -EMSGSIZE, "events: %zu, more than %u", n, ETCD_WATCH_EVENTS_MAX);
        if (!(m->events = calloc(n ? n : 1, sizeof(*m->events))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *ev = json_object_array_get_idx(arr, i), *t, *kv;
                etcd_watch_event *e = &m->events[i];
                if (!json_object_is_type(ev, json_type_object))
                        return bad(error, -EBADMSG, "events[%zu]: expected an object", i);
                if ((t = get(ev, "type"))) {
                        const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : "";
                        if (strcmp(s, "DELETE") == 0)
                                e->is_delete = true;
                        else if (strcmp(s, "PUT") != 0)
                                return bad(error, -EBADMSG, "events[%zu].type: expected \"PUT\" or \"DELETE\"", i);
                }
                if (!(kv = get(ev, "kv")))
                        return bad(error, -EBADMSG, "events[%zu].kv: missing", i);
                (void) snprintf(where, sizeof(where), "events[%zu].kv", i);
                if ((r = etcd_kv_parse(kv, where, &e->kv, error)) < 0)
                        return r;
                m->n_events++;
        }
        return 0;
}

static int walk(json_object *root, etcd_watch_msg *m, char *error) {
        json_object *v, *h;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return bad(error, -EBADMSG, "expected an object");
        if ((v = get(root, "error")) || get(root, "code"))
                return error_of(root, v, m, error);
        if (!(root = get(root, "result")))
                return bad(error, -EBADMSG, "result: missing");
        if (!json_object_is_type(root, json_type_object))
                return bad(error, -EBADMSG, "result: expected an object");
        if ((h = get(root, "header"))) {
                if (!json_object_is_type(h, json_type_object))
                        return bad(error, -EBADMSG, "result.header: expected an object");
                if ((r = int64_field(get(h, "revision"), "result.header.revision", &m->revision, error)) < 0)
                        return r;
        }
        if ((r = bool_field(get(root, "created"), "result.created", &m->created, error)) < 0 ||
            (r = bool_field(get(root, "canceled"), "result.canceled", &m->canceled, error)) < 0 ||
            (r = int64_field(get(root, "compact_revision"), "result.compact_revision", &m->compact_revision, error)) < 0 ||
            (r = string_field(get(root, "cancel_reason"), "result.cancel_reason", m->cancel_reason, sizeof(m->cancel_reason),
                              error)) < 0)
                return r;
        if ((v = get(root, "events")) && (r = events_of(v, m, error)) < 0)
                return r;
        return 0;
}

int etcd_watch_msg_parse(const char *data, size_t len, etcd_watch_msg **ret, char *error) {
        _cleanup_(etcd_watch_msg_freep) etcd_watch_msg *m = NULL;
        char scratch[ETCD_ERROR_MAX], where[160];
        json_object *root;
        int r;

        if (!error)
                error = scratch;
        error[0] = 0;
        if (len > ETCD_WATCH_MSG_MAX)
                return bad(error, -EMSGSIZE, "object of %zu bytes, more than %u", len, ETCD_WATCH_MSG_MAX);
        r = json_doc_parse(data, len, DEPTH, &root, where, sizeof(where));
        if (r == -EBADMSG)
                return bad(error, r, "%s", where);
        if (r < 0)
                return r;
        if (!(m = calloc(1, sizeof(*m)))) {
                json_object_put(root);
                return -ENOMEM;
        }
        r = walk(root, m, error);
        json_object_put(root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int etcd_watch_parser_new(etcd_watch_parser **ret) {
        etcd_watch_parser *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->line = p->col = 1;
        *ret = p;
        return 0;
}

etcd_watch_parser *etcd_watch_parser_free(etcd_watch_parser *p) {
        if (!p)
                return NULL;
        free(p->buf);
        free(p);
        return NULL;
}

size_t etcd_watch_parser_pending(const etcd_watch_parser *p) {
        return p->len;
}

static int fail(etcd_watch_parser *p, int r, unsigned line, unsigned col, const char *what, char *error) {
        p->error = r;
        (void) snprintf(p->error_text, sizeof(p->error_text), "%u:%u: %.200s", line, col, what);
        (void) snprintf(error, ETCD_ERROR_MAX, "%s", p->error_text);
        return r;
}

static int append(etcd_watch_parser *p, char ch) {
        if (p->len + 1 > p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 1024;
                if (cap > ETCD_WATCH_MSG_MAX)
                        cap = ETCD_WATCH_MSG_MAX;
                char *b = realloc(p->buf, cap);
                if (!b)
                        return -ENOMEM;
                p->buf = b;
                p->cap = cap;
        }
        p->buf[p->len++] = ch;
        return 0;
}

/* The object framed in buf: decoded, its errors placed in the stream. */
static int complete(etcd_watch_parser *p, etcd_watch_msg_cb cb, void *userdata, char *error) {
        _cleanup_(etcd_watch_msg_freep) etcd_watch_msg *m = NULL;
        char err[ETCD_ERROR_MAX];
        unsigned l, c;
        int r, k;

        r = etcd_watch_msg_parse(p->buf, p->len, &m, err);
        p->len = 0;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* json_doc's "L:C: what" counts from the object's first byte */
                if (sscanf(err, "%u:%u: %n", &l, &c, &k) == 2 && k > 0) {
                        c = l == 1 ? p->obj_col + c - 1 : c;
                        l = p->obj_line + l - 1;
                        return fail(p, r, l, c, err + k, error);
                }
                return fail(p, r, p->obj_line, p->obj_col, err, error);
        }
        return cb(m, userdata);
}

int etcd_watch_parser_feed(etcd_watch_parser *p, const char *data, size_t len, etcd_watch_msg_cb cb, void *userdata,
                           char *error) {
        char scratch[ETCD_ERROR_MAX];
        int r;

        if (!error)
                error = scratch;
        if (p->error) {
                (void) snprintf(error, ETCD_ERROR_MAX, "%s", p->error_text);
                return p->error;
        }
        for (size_t i = 0; i < len; i++) {
                char ch = data[i];
                unsigned line = p->line, col = p->col;
                if (ch == '\n') {
                        p->line++;
                        p->col = 1;
                } else if (((unsigned char) ch & 0xc0) != 0x80)
                        p->col++; /* columns count characters, as json_doc does */
                if (p->depth == 0) {
                        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
                                continue;
                        if (ch != '{')
                                return fail(p, -EBADMSG, line, col, "expected '{' (a JSON object)", error);
                        p->obj_line = line;
                        p->obj_col = col;
                }
                if (p->len >= ETCD_WATCH_MSG_MAX)
                        return fail(p, -EMSGSIZE, p->obj_line, p->obj_col, "object longer than the limit", error);
                if ((r = append(p, ch)) < 0)
                        return r;
                if (p->in_string) {
                        if (p->escaped)
                                p->escaped = false;
                        else if (ch == '\\')
                                p->escaped = true;
                        else if (ch == '"')
                                p->in_string = false;
                        continue;
                }
                if (ch == '"')
                        p->in_string = true;
                else if (ch == '{' || ch == '[') {
                        if (++p->depth > DEPTH)
                                return fail(p, -EBADMSG, line, col, "nested too deeply", error);
                } else if (ch == '}' || ch == ']') {
                        if (--p->depth == 0 && (r = complete(p, cb, userdata, error)) < 0)
                                return r;
                }
        }
        return 0;
}
