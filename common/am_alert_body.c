/* See am_alert_body.h. json-c builds the array (it escapes; insertion order is kept, so the
 * output is deterministic); UTF-8 is checked here first, as json-c writes bytes as given. */
#include <errno.h>
#include <json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "am_alert_body.h"
#include "jsonc_lib.h"
#include "macro.h"
#include "rfc3339.h"

static bool utf8_valid(const char *s) {
        const unsigned char *u = (const unsigned char *) s;

        while (*u) {
                size_t len;
                unsigned cp;

                if (u[0] < 0x80) {
                        u++;
                        continue;
                }
                if (u[0] >= 0xc2 && u[0] <= 0xdf)
                        len = 2, cp = u[0] & 0x1f;
                else if (u[0] >= 0xe0 && u[0] <= 0xef)
                        len = 3, cp = u[0] & 0x0f;
                else if (u[0] >= 0xf0 && u[0] <= 0xf4)
                        len = 4, cp = u[0] & 0x07;
                else
                        return false;
                for (size_t i = 1; i < len; i++) {
                        if ((u[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (u[i] & 0x3f);
                }
                if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                u += len;
        }
        return true;
}

/* Adds key: s (if s is not NULL; required: it must be). */
static int add(json_object *o, const char *key, const char *s, bool required, size_t max) {
        json_object *v;

        if (!s)
                return required ? -EINVAL : 0;
        if ((required && !*s) || strlen(s) > max || !utf8_valid(s))
                return -EINVAL;
        v = json_object_new_string(s);
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_time(json_object *o, const char *key, uint64_t usec) {
        char b[64];

        /* whole seconds, as rfc3339_format writes them: Alertmanager needs no more */
        if (strcmp(rfc3339_format(usec, b, sizeof(b)), "?") == 0)
                return -EINVAL;
        return add(o, key, b, true, sizeof(b));
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The peers label: sorted, distinct, joined by ','. NULL (and 0) when there are none. */
static int join_peers(const am_incident *inc, char **ret) {
        _cleanup_(freep) const char **sorted = NULL;
        size_t len = 0;
        char *s, *p;

        *ret = NULL;
        if (inc->n_peers == 0)
                return 0;
        sorted = malloc(inc->n_peers * sizeof(*sorted));
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < inc->n_peers; i++) {
                if (!inc->peers[i] || !*inc->peers[i] || strchr(inc->peers[i], ','))
                        return -EINVAL;
                sorted[i] = inc->peers[i];
                len += strlen(sorted[i]) + 1;
        }
        qsort(sorted, inc->n_peers, sizeof(*sorted), cmp_str);
        s = p = malloc(len + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < inc->n_peers; i++) {
                if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
                        continue;
                if (p > s)
                        *p++ = ',';
                p = stpcpy(p, sorted[i]);
        }
        *p = '\0';
        *ret = s;
        return 0;
}

static int build_one(const am_incident *inc, json_object *alert) {
        json_object *labels = json_object_new_object(), *ann = json_object_new_object();
        _cleanup_(freep) char *peers = NULL;
        int r;

        if (!labels || !ann) {
                json_object_put(labels);
                json_object_put(ann);
                return -ENOMEM;
        }
        if (json_object_object_add(alert, "labels", labels) < 0) {
                json_object_put(labels);
                json_object_put(ann);
                return -ENOMEM;
        }
        if (json_object_object_add(alert, "annotations", ann) < 0) {
                json_object_put(ann);
                return -ENOMEM;
        }
        r = join_peers(inc, &peers);
        if (r >= 0) r = add(labels, "alertname", AM_INCIDENT_ALERTNAME, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "incident", inc->id, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "class", inc->class_name, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "scope", inc->scope, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "severity", inc->severity, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "reason", inc->reason, true, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "instance", inc->instance, false, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(labels, "peers", peers, false, AM_LABEL_VALUE_MAX);
        if (r >= 0) r = add(ann, "summary", inc->summary, false, AM_ANNOTATION_MAX);
        if (r >= 0) r = add(ann, "evidence", inc->evidence, false, AM_ANNOTATION_MAX);
        if (r >= 0) r = add(ann, "runbook", inc->runbook, false, AM_ANNOTATION_MAX);
        if (r >= 0) r = inc->starts_usec ? add_time(alert, "startsAt", inc->starts_usec) : -EINVAL;
        if (r >= 0 && inc->ends_usec) r = add_time(alert, "endsAt", inc->ends_usec);
        if (r >= 0) r = add(alert, "generatorURL", inc->generator_url, false, 4096);
        return r;
}

int am_alert_body(const am_incident *incidents, size_t n, char **ret_body, size_t *ret_len) {
        json_object *array;
        const char *text;
        size_t len;
        char *copy;
        int r = jsonc_lib_load(); /* its reason: jsonc_lib_error() */

        if (r < 0)
                return r;
        array = json_object_new_array();
        if (!array)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_object *alert = json_object_new_object();
                if (!alert) {
                        r = -ENOMEM;
                        break;
                }
                if (json_object_array_add(array, alert) < 0) {
                        json_object_put(alert);
                        r = -ENOMEM;
                        break;
                }
                r = build_one(&incidents[i], alert);
        }
        if (r < 0) {
                json_object_put(array);
                return r;
        }
        text = json_object_to_json_string_length(array, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        copy = text ? strndup(text, len) : NULL;
        json_object_put(array);
        if (!copy)
                return -ENOMEM;
        *ret_body = copy;
        if (ret_len)
                *ret_len = len;
        return 0;
}
