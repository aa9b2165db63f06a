/* See json.h. The agent answers in VICI, which has only strings, sections and lists of strings;
 * the shape of each command (json.h) says which values are numbers and timestamps and which
 * sections are collections. The document is built with json-c and printed by it; every string
 * is made valid UTF-8 first (json-c passes bytes through as they are). */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/json.h"
#include "jsonc_lib.h"
#include "rfc3339.h"

#define JSON_PATH_MAX 512

size_t json_utf8_char_len(const void *p, size_t n) {
        const unsigned char *s = p;
        uint32_t cp;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* A JSON string of `len` raw bytes: invalid UTF-8 becomes U+FFFD (json-c escapes the rest). */
static json_object *str_new(const char *s, size_t len) {
        char *buf;
        size_t o = 0;
        json_object *j;

        if (!s)
                return json_object_new_string("");
        buf = malloc(len * 3 + 1);
        if (!buf)
                return NULL;
        for (size_t i = 0; i < len;) {
                size_t n = (unsigned char) s[i] < 0x80 ? 1 : json_utf8_char_len(s + i, len - i);
                if (n == 0) {
                        memcpy(buf + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(buf + o, s + i, n);
                o += n;
                i += n;
        }
        j = json_object_new_string_len(buf, (int) o);
        free(buf);
        return j;
}

/* Does the dotted path match the pattern, where a "*" segment matches any one segment
 * (section names chosen by the agent: check names, incident ids)? */
static bool path_match(const char *path, const char *pat) {
        while (*pat) {
                if (pat[0] == '*' && (pat[1] == '.' || pat[1] == 0)) {
                        const char *dot = strchr(path, '.');
                        if (!*path)
                                return false;
                        path = dot ? dot : path + strlen(path);
                        pat++;
                } else {
                        if (*path != *pat)
                                return false;
                        path++;
                        pat++;
                }
        }
        return *path == 0;
}

static bool path_listed(const char *path, const char *const *list) {
        for (size_t i = 0; path && list && list[i]; i++)
                if (path_match(path, list[i]))
                        return true;
        return false;
}

static const json_collection *collection_of(const char *path, const json_shape *shape) {
        for (const json_collection *c = shape ? shape->collections : NULL; path && c && c->path; c++)
                if (path_match(path, c->path))
                        return c;
        return NULL;
}

/* A plain decimal integer (no sign but '-', no leading zero, fits 64 bits)? */
static bool decimal(const char *s, size_t len, bool *ret_negative, uint64_t *ret) {
        size_t i = 0;
        uint64_t v = 0;

        if (len > 0 && s[0] == '-')
                i++;
        if (i == len || len - i > 19 || (s[i] == '0' && len - i > 1))
                return false;
        for (; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret_negative = s[0] == '-';
        *ret = v;
        return true;
}

static json_object *number_new(const char *s, size_t len) {
        bool neg;
        uint64_t v;

        if (!decimal(s, len, &neg, &v))
                return NULL;
        if (neg)
                return v > (uint64_t) INT64_MAX ? NULL : json_object_new_int64(-(int64_t) v);
        return json_object_new_uint64(v);
}

/* seconds or µs since the epoch → "2026-12-06T13:00:00Z"; 0 (never) → null, which json-c
 * writes for a NULL object: *ret_ok says whether the value was a time at all. */
static json_object *time_new(const char *s, size_t len, uint64_t unit_usec, bool *ret_ok) {
        char buf[64];
        bool neg;
        uint64_t v;

        *ret_ok = false;
        if (!decimal(s, len, &neg, &v) || neg || v > UINT64_MAX / unit_usec)
                return NULL;
        *ret_ok = true;
        if (v == 0)
                return NULL;
        rfc3339_format(v * unit_usec, buf, sizeof(buf));
        /* a time the agent keeps in µs keeps them: "…T13:00:00.500000Z" */
        if (unit_usec == 1 && strlen(buf) > 1 && buf[strlen(buf) - 1] == 'Z')
                (void) snprintf(buf + strlen(buf) - 1, sizeof(buf) - (strlen(buf) - 1), ".%06uZ",
                                (unsigned) (v % 1000000u));
        return json_object_new_string(buf);
}

/* charon's own format ("Dec 06 13:00:00 2026", its local time) → RFC 3339 */
static json_object *charon_time_new(const char *s) {
        struct tm tm = { .tm_isdst = -1 };
        const char *end = s ? strptime(s, "%b %d %H:%M:%S %Y", &tm) : NULL;
        time_t t;
        char buf[64];

        if (!end || *end)
                return NULL;
        t = mktime(&tm);
        if (t < 0)
                return NULL;
        rfc3339_format((uint64_t) t * 1000000u, buf, sizeof(buf));
        return json_object_new_string(buf);
}

/* An audit record "SEQ\tTIME_USEC\tKIND\tPREV\tMAC\tTEXT" as an object; a line that is not one
 * stays a string. */
static json_object *audit_line_new(const char *s, size_t len) {
        const char *f[6], *p = s, *end = s + len;
        size_t flen[6];
        json_object *o, *v;

        for (size_t k = 0; k < 6; k++) {
                const char *tab = k < 5 ? memchr(p, '\t', (size_t) (end - p)) : NULL;
                if (k < 5 && !tab)
                        return str_new(s, len);
                f[k] = p;
                flen[k] = (size_t) ((tab ? tab : end) - p);
                p = tab ? tab + 1 : end;
        }
        o = json_object_new_object();
        if (!o)
                return NULL;
        v = number_new(f[0], flen[0]);
        json_object_object_add(o, "seq", v ?: str_new(f[0], flen[0]));
        bool is_time;
        v = time_new(f[1], flen[1], 1, &is_time);
        json_object_object_add(o, "time", is_time ? v : str_new(f[1], flen[1]));
        json_object_object_add(o, "kind", str_new(f[2], flen[2]));
        json_object_object_add(o, "text", str_new(f[5], flen[5]));
        json_object_object_add(o, "prev", str_new(f[3], flen[3]));
        json_object_object_add(o, "mac", str_new(f[4], flen[4]));
        return o;
}

static json_object *value_new(const vici_node *n, const char *path, const json_shape *shape) {
        const char *v = n->value ? n->value : "";
        json_object *j = NULL;
        bool is_time = false;

        if (!shape)
                return str_new(v, n->len);
        if (path_listed(path, shape->times_usec))
                j = time_new(v, n->len, 1, &is_time);
        else if (path_listed(path, shape->times_sec))
                j = time_new(v, n->len, 1000000, &is_time);
        else if (path_listed(path, shape->times_charon))
                is_time = (j = charon_time_new(v)) != NULL;
        else if (path_listed(path, shape->numbers))
                j = number_new(v, n->len);
        else if (n->len == 3 && memcmp(v, "yes", 3) == 0)
                j = json_object_new_boolean(1);
        else if (n->len == 2 && memcmp(v, "no", 2) == 0)
                j = json_object_new_boolean(0);
        if (is_time)
                return j; /* NULL: null */
        return j ?: str_new(v, n->len);
}

/* The JSON key of a field: a timestamp loses its unit suffix ("opened_usec" → "opened"). */
static void key_of(const char *name, const char *path, const json_shape *shape, char *buf, size_t size) {
        size_t l = strlen(name);

        (void) snprintf(buf, size, "%s", name);
        if (l > 5 && strcmp(name + l - 5, "_usec") == 0 && shape && path_listed(path, shape->times_usec))
                buf[l - 5 < size ? l - 5 : size - 1] = 0;
}

static json_object *node_new(const vici_node *sec, char *path, size_t plen, const json_shape *shape);

static json_object *child_new(const vici_node *n, char *path, size_t plen, const json_shape *shape) {
        switch (n->type) {
        case VICI_NODE_SECTION:
                return node_new(n, path, plen, shape);
        case VICI_NODE_LIST: {
                json_object *a = json_object_new_array();
                bool records = shape && path_listed(path, shape->audit_lines);
                for (const vici_node *it = n->child; a && it; it = it->next)
                        json_object_array_add(a, records ? audit_line_new(it->value ? it->value : "", it->len)
                                                         : str_new(it->value, it->len));
                return a;
        }
        case VICI_NODE_VALUE:
        default:
                return value_new(n, path, shape);
        }
}

/* A section: an object, or, when the shape names it a collection, an array of its members
 * with each one's name inside (as `key`, a number when it is one). */
static json_object *node_new(const vici_node *sec, char *path, size_t plen, const json_shape *shape) {
        const json_collection *coll = collection_of(plen ? path : NULL, shape);
        json_object *out = coll ? json_object_new_array() : json_object_new_object();

        if (!out)
                return NULL;
        for (const vici_node *n = sec->child; n; n = n->next) {
                const char *name = n->name ? n->name : "";
                size_t nlen = plen;
                char key[128];
                json_object *j;

                /* extend the dotted path in place; a path too long to track just has no shape */
                bool tracked = path && plen + 1 + strlen(name) < JSON_PATH_MAX;
                if (tracked) {
                        if (plen)
                                path[nlen++] = '.';
                        strcpy(path + nlen, name);
                        nlen += strlen(name);
                }
                j = child_new(n, tracked ? path : NULL, tracked ? nlen : 0, tracked ? shape : NULL);
                if (coll) {
                        if (json_object_is_type(j, json_type_object) && coll->key &&
                            !json_object_object_get_ex(j, coll->key, NULL)) {
                                json_object *id = number_new(name, strlen(name)) ?: str_new(name, strlen(name));
                                /* the member's name first, where a reader looks for it */
                                json_object *o = json_object_new_object();
                                json_object_object_add(o, coll->key, id);
                                json_object_object_foreach(j, k, v) json_object_object_add(o, k, json_object_get(v));
                                json_object_put(j);
                                j = o;
                        }
                        json_object_array_add(out, j);
                } else {
                        key_of(name, tracked ? path : NULL, shape, key, sizeof(key));
                        json_object_object_add(out, key, j);
                }
                if (tracked)
                        path[plen] = 0;
        }
        return out;
}

const char *json_render_error(int r) {
        return (r == -ELIBACC || r == -ELIBBAD) && jsonc_lib_error() ? jsonc_lib_error() : strerror(-r);
}

int json_render(FILE *f, const vici_node *root, const json_shape *shape) {
        char path[JSON_PATH_MAX] = "";
        json_object *doc, *body;
        const char *text;
        int r = jsonc_lib_load();

        if (r < 0)
                return r;
        doc = json_object_new_object();
        if (!doc)
                return -ENOMEM;
        json_object_object_add(doc, "schema", json_object_new_int(JSON_SCHEMA_VERSION));
        if (root) {
                body = node_new(root, path, 0, shape);
                if (!body) {
                        json_object_put(doc);
                        return -ENOMEM;
                }
                json_object_object_foreach(body, k, v) json_object_object_add(doc, k, json_object_get(v));
                json_object_put(body);
        }
        text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                r = -ENOMEM;
        else if (fputs(text, f) < 0 || fputc('\n', f) < 0)
                r = -EIO;
        json_object_put(doc);
        return r;
}
