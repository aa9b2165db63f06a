/* See am_payload.h. json-c's tokener parses (strict JSON, UTF-8 checked, depth bounded: the
 * payload is five levels deep); the DOM is then walked into plain structs. Nothing of json-c
 * reaches the caller. */
#include <errno.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_payload.h"
#include "json_doc.h"
#include "rfc3339.h"

/* Root, alerts array, an alert, its labels, a value: 5. A little headroom for fields the
 * payload may grow; anything deeper is not Alertmanager's. */
#define AM_DEPTH 8

typedef struct ctx {
        am_limits lim;
        char *error;
} ctx;

static int _printf_(3, 4) bad(ctx *c, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(c->error, AM_ERROR_MAX, fmt, ap);
        va_end(ap);
        return r;
}

static bool label_name_ok(const char *s) {
        if (!*s || (*s >= '0' && *s <= '9'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

/* A string field: *ret points into obj (NULL when absent and not required). */
static int get_string(ctx *c, json_object *obj, const char *where, const char *key, bool required, size_t max,
                      const char **ret) {
        json_object *v;
        size_t len;

        *ret = NULL;
        if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return bad(c, -EBADMSG, "%s%s: missing", where, key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return bad(c, -EBADMSG, "%s%s: not a string", where, key);
        len = (size_t) json_object_get_string_len(v);
        if (strlen(json_object_get_string(v)) != len)
                return bad(c, -EBADMSG, "%s%s: contains NUL", where, key);
        if (len > max)
                return bad(c, -EBADMSG, "%s%s: longer than %zu bytes", where, key, max);
        *ret = json_object_get_string(v);
        return 0;
}

static int dup_string(ctx *c, json_object *obj, const char *where, const char *key, bool required, size_t max,
                      char **ret) {
        const char *s;
        int r = get_string(c, obj, where, key, required, max, &s);

        if (r < 0)
                return r;
        *ret = strdup(s ? s : "");
        return *ret ? 0 : -ENOMEM;
}

static int cmp_pair(const void *a, const void *b) {
        return strcmp(((const am_pair *) a)->name, ((const am_pair *) b)->name);
}

static void pairs_free(am_pair *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(p[i].name);
                free(p[i].value);
        }
        free(p);
}

/* An object of string values into sorted pairs. */
static int get_pairs(ctx *c, json_object *obj, const char *where, const char *key, bool required, size_t max_value,
                     am_pair **ret, size_t *ret_n) {
        json_object *m;
        am_pair *p;
        size_t n = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!json_object_object_get_ex(obj, key, &m) || json_object_is_type(m, json_type_null)) {
                if (required)
                        return bad(c, -EBADMSG, "%s%s: missing", where, key);
                return 0;
        }
        if (!json_object_is_type(m, json_type_object))
                return bad(c, -EBADMSG, "%s%s: not an object", where, key);
        if ((size_t) json_object_object_length(m) > c->lim.max_pairs)
                return bad(c, -EBADMSG, "%s%s: more than %zu entries", where, key, c->lim.max_pairs);
        p = calloc((size_t) json_object_object_length(m) + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        json_object_object_foreach(m, name, value) {
                char w[96];
                const char *s;
                int r;

                if (strlen(name) > c->lim.max_name || !label_name_ok(name)) {
                        pairs_free(p, n);
                        return bad(c, -EBADMSG, "%s%s: \"%.64s\" is not a label name (or longer than %zu bytes)",
                                   where, key, name, c->lim.max_name);
                }
                (void) snprintf(w, sizeof(w), "%s%s.", where, key);
                r = get_string(c, m, w, name, true, max_value, &s);
                if (r >= 0) {
                        p[n].name = strdup(name);
                        p[n].value = strdup(s);
                        n++;
                        if (!p[n - 1].name || !p[n - 1].value)
                                r = -ENOMEM;
                }
                if (r < 0) {
                        pairs_free(p, n);
                        return r;
                }
        }
        qsort(p, n, sizeof(*p), cmp_pair);
        *ret = p;
        *ret_n = n;
        return 0;
}

static int get_time(ctx *c, json_object *obj, const char *where, const char *key, bool required, uint64_t *ret) {
        const char *s;
        int r = get_string(c, obj, where, key, required, 64, &s);

        *ret = 0;
        if (r < 0 || !s)
                return r;
        /* Go's zero time: what Alertmanager sends for "no end" */
        if (strncmp(s, "0001-01-01T00:00:00", 19) == 0)
                return 0;
        if (rfc3339_parse(s, ret) < 0)
                return bad(c, -EBADMSG, "%s%s: \"%s\" is not an RFC 3339 time", where, key, s);
        return 0;
}

static int get_status(ctx *c, json_object *obj, const char *where, bool *ret) {
        const char *s;
        int r = get_string(c, obj, where, "status", true, 16, &s);

        if (r < 0)
                return r;
        if (strcmp(s, "firing") == 0)
                *ret = true;
        else if (strcmp(s, "resolved") == 0)
                *ret = false;
        else
                return bad(c, -EBADMSG, "%sstatus: \"%s\" is neither \"firing\" nor \"resolved\"", where, s);
        return 0;
}

static void alert_done(am_alert *a) {
        pairs_free(a->labels, a->n_labels);
        pairs_free(a->annotations, a->n_annotations);
        free(a->fingerprint);
        free(a->generator_url);
}

static int parse_alert(ctx *c, json_object *o, size_t i, am_alert *a) {
        char where[32];
        const char *fp;
        int r;

        (void) snprintf(where, sizeof(where), "alerts[%zu].", i);
        if (!json_object_is_type(o, json_type_object))
                return bad(c, -EBADMSG, "alerts[%zu]: not an object", i);
        r = get_status(c, o, where, &a->firing);
        if (r >= 0) r = get_pairs(c, o, where, "labels", true, c->lim.max_value, &a->labels, &a->n_labels);
        if (r >= 0) r = get_pairs(c, o, where, "annotations", false, 8 * c->lim.max_value, &a->annotations, &a->n_annotations);
        if (r >= 0) r = get_time(c, o, where, "startsAt", true, &a->starts_usec);
        if (r >= 0) r = get_time(c, o, where, "endsAt", false, &a->ends_usec);
        if (r >= 0) r = dup_string(c, o, where, "generatorURL", false, 4096, &a->generator_url);
        if (r >= 0) r = get_string(c, o, where, "fingerprint", false, 64, &fp);
        if (r < 0)
                return r;
        if (fp && strspn(fp, "0123456789abcdef") != strlen(fp))
                return bad(c, -EBADMSG, "%sfingerprint: \"%s\" is not lowercase hex", where, fp);
        a->fingerprint = strdup(fp ? fp : "");
        return a->fingerprint ? 0 : -ENOMEM;
}

static int parse_root(ctx *c, json_object *root, am_webhook *w) {
        const char *version;
        json_object *alerts, *t;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return bad(c, -EBADMSG, "the payload is not a JSON object");
        r = get_string(c, root, "", "version", true, 16, &version);
        if (r < 0)
                return r;
        if (strcmp(version, "4") != 0)
                return bad(c, -EBADMSG, "version: \"%s\", only \"4\" is understood", version);
        r = get_status(c, root, "", &w->firing);
        if (r >= 0) r = dup_string(c, root, "", "receiver", false, c->lim.max_value, &w->receiver);
        if (r >= 0) r = dup_string(c, root, "", "groupKey", false, 8 * c->lim.max_value, &w->group_key);
        if (r >= 0) r = dup_string(c, root, "", "externalURL", false, 4096, &w->external_url);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(root, "truncatedAlerts", &t)) {
                if (!json_object_is_type(t, json_type_int) || json_object_get_int64(t) < 0)
                        return bad(c, -EBADMSG, "truncatedAlerts: not a count");
                w->truncated = (uint64_t) json_object_get_int64(t);
        }
        if (!json_object_object_get_ex(root, "alerts", &alerts))
                return bad(c, -EBADMSG, "alerts: missing");
        if (!json_object_is_type(alerts, json_type_array))
                return bad(c, -EBADMSG, "alerts: not an array");
        if (json_object_array_length(alerts) > c->lim.max_alerts)
                return bad(c, -EBADMSG, "alerts: more than %zu", c->lim.max_alerts);
        w->alerts = calloc(json_object_array_length(alerts) + 1, sizeof(*w->alerts));
        if (!w->alerts)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(alerts); i++) {
                r = parse_alert(c, json_object_array_get_idx(alerts, i), i, &w->alerts[i]);
                w->n_alerts = i + 1; /* freed with the rest, also when it failed half-way */
                if (r < 0)
                        return r;
        }
        return 0;
}

int am_webhook_parse(const char *data, size_t len, const am_limits *limits, am_webhook **ret, char *error) {
        _cleanup_(am_webhook_freep) am_webhook *w = NULL;
        char scratch[AM_ERROR_MAX];
        ctx c = { .error = error ? error : scratch };
        json_object *root;
        int r;

        if (limits)
                c.lim = *limits;
        if (!c.lim.max_bytes) c.lim.max_bytes = 1024 * 1024;
        if (!c.lim.max_alerts) c.lim.max_alerts = 1000;
        if (!c.lim.max_pairs) c.lim.max_pairs = 64;
        if (!c.lim.max_name) c.lim.max_name = 128;
        if (!c.lim.max_value) c.lim.max_value = 1024;
        if (len > c.lim.max_bytes || len > INT32_MAX)
                return bad(&c, -EMSGSIZE, "payload of %zu bytes, more than %zu", len, c.lim.max_bytes);

        char where[160];
        r = json_doc_parse(data, len, AM_DEPTH, &root, where, sizeof(where));
        if (r == -EBADMSG)
                return bad(&c, r, "%s", where);
        if (r < 0)
                return r;

        w = calloc(1, sizeof(*w));
        if (!w) {
                json_object_put(root);
                return -ENOMEM;
        }
        r = parse_root(&c, root, w);
        json_object_put(root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

am_webhook *am_webhook_free(am_webhook *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n_alerts; i++)
                alert_done(&w->alerts[i]);
        free(w->alerts);
        free(w->receiver);
        free(w->group_key);
        free(w->external_url);
        free(w);
        return NULL;
}

static const char *find_pair(const am_pair *p, size_t n, const char *name) {
        am_pair key = { .name = (char *) name };
        const am_pair *f = n ? bsearch(&key, p, n, sizeof(*p), cmp_pair) : NULL;
        return f ? f->value : NULL;
}

const char *am_alert_label(const am_alert *a, const char *name) {
        return find_pair(a->labels, a->n_labels, name);
}

const char *am_alert_annotation(const am_alert *a, const char *name) {
        return find_pair(a->annotations, a->n_annotations, name);
}
