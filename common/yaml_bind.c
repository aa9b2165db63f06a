/* See yaml_bind.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>

#include "duration.h"
#include "log.h"
#include "yaml_bind.h"

#define FIELD(base, f, type) ((type *) ((char *) (base) + (f)->offset))

static const char *type_name(ynode_type t) {
        return t == YNODE_MAP ? "a mapping" : t == YNODE_SEQ ? "a sequence" : "a scalar";
}

void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

bool strv_contains(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

bool ybind_keys_known(const ynode *map, const char *const *known, ydiag *d) {
        bool ok = true;

        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const char *k = map->items[i]->value;
                size_t j;
                for (j = 0; known[j]; j++)
                        if (strcmp(known[j], k) == 0)
                                break;
                if (known[j])
                        continue;
                char list[256] = "";
                size_t n = 0;
                for (j = 0; known[j] && n < sizeof(list) - 1; j++) {
                        int w = snprintf(list + n, sizeof(list) - n, "%s%s", j ? ", " : "", known[j]);
                        if (w < 0)
                                break;
                        n += (size_t) w;
                }
                ydiag_add(d, map->items[i], "unknown key '%s' (expected one of: %s)", YQ(k), list);
                ok = false;
        }
        return ok;
}

bool ybind_need(const ynode *n, ynode_type t, ydiag *d, const char *what) {
        if (n && !ynode_is_null(n) && n->type == t)
                return true;
        ydiag_add(d, n, "%s: expected %s, got %s", what, type_name(t),
                  !n || ynode_is_null(n) ? "nothing" : type_name(n->type));
        return false;
}

const ynode *ybind_field(const ynode *map, const char *key, bool required, ydiag *d) {
        const ynode *v = ynode_get(map, key);
        if (!v && required)
                ydiag_add(d, map, "missing required key '%s'", key);
        return v;
}

int ybind_scalar_dup(const ynode *n, ydiag *d, const char *what, char **ret) {
        if (!ybind_need(n, YNODE_SCALAR, d, what))
                return -EINVAL;
        char *s = strdup(n->value);
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 0;
}

static bool need_scalar(const ynode *n, ydiag *d, const char *what) {
        if (n->type == YNODE_SCALAR)
                return true;
        ydiag_add(d, n, "expected %s, got %s", what, type_name(n->type));
        return false;
}

int ybind_scalar_bool(const ynode *n, ydiag *d, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

        if (!need_scalar(n, d, "a boolean (true/false)"))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcmp(n->value, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(n->value, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        ydiag_add(d, n, "expected a boolean (true/false), got '%s'", YQ(n->value));
        return -EINVAL;
}

int ybind_scalar_u32(const ynode *n, ydiag *d, uint64_t min, uint64_t max, uint32_t *ret) {
        char *end;
        unsigned long long v;

        if (!need_scalar(n, d, "an unsigned integer"))
                return -EINVAL;
        errno = 0;
        v = strtoull(n->value, &end, 10);
        if (n->value[0] < '0' || n->value[0] > '9' || *end || errno || v > UINT32_MAX) {
                ydiag_add(d, n, "expected an unsigned integer, got '%s'", YQ(n->value));
                return -EINVAL;
        }
        if (max != 0 && (v < min || v > max)) {
                ydiag_add(d, n, "value %llu out of range [%llu, %llu]", v,
                          (unsigned long long) min, (unsigned long long) max);
                return -ERANGE;
        }
        *ret = (uint32_t) v;
        return 0;
}

int ybind_scalar_duration(const ynode *n, ydiag *d, uint64_t min, uint64_t max, uint64_t *ret) {
        char a[32], b[32];
        uint64_t v;
        int r;

        if (!need_scalar(n, d, "a duration like 30s, 5m, 2h"))
                return -EINVAL;
        r = duration_parse(n->value, &v);
        if (r < 0) {
                ydiag_add(d, n, "expected a duration with a unit (ms, s, m, h, d), got '%s'",
                          YQ(n->value));
                return r;
        }
        if (max != 0 && (v < min || v > max)) {
                ydiag_add(d, n, "duration '%s' out of range [%s, %s]", YQ(n->value),
                          duration_format(min, a, sizeof(a)), duration_format(max, b, sizeof(b)));
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

static int bind_one(const ynode *n, const yfield *f, void *base, ydiag *d) {
        switch (f->type) {
        case YF_STRING:
        case YF_PATH: {
                char *s;
                if (!need_scalar(n, d, f->type == YF_PATH ? "an absolute path" : "a string"))
                        return -EINVAL;
                if (f->type == YF_PATH && n->value[0] != '/') {
                        ydiag_add(d, n, "expected an absolute path, got '%s'", YQ(n->value));
                        return -EINVAL;
                }
                if (f->max != 0 && n->len > f->max) {
                        ydiag_add(d, n, "longer than %llu bytes", (unsigned long long) f->max);
                        return -E2BIG;
                }
                s = strdup(n->value);
                if (!s)
                        return -ENOMEM;
                free(*FIELD(base, f, char *));
                *FIELD(base, f, char *) = s;
                return 0;
        }
        case YF_BOOL:
                return ybind_scalar_bool(n, d, FIELD(base, f, bool));
        case YF_U32:
                return ybind_scalar_u32(n, d, f->min, f->max, FIELD(base, f, uint32_t));
        case YF_DURATION:
                return ybind_scalar_duration(n, d, f->min, f->max, FIELD(base, f, uint64_t));
        case YF_MODE: {
                char *end;
                unsigned long v;
                if (!need_scalar(n, d, "an octal file mode like 0660"))
                        return -EINVAL;
                v = strtoul(n->value, &end, 8);
                if (n->value[0] != '0' || *end || v > 07777) {
                        ydiag_add(d, n, "expected an octal file mode like 0660, got '%s'",
                                  YQ(n->value));
                        return -EINVAL;
                }
                *FIELD(base, f, mode_t) = (mode_t) v;
                return 0;
        }
        case YF_LOGLEVEL: {
                int l;
                if (!need_scalar(n, d, "a log level"))
                        return -EINVAL;
                l = log_level_from_string(n->value);
                if (l < 0 || l < LOG_ERR) {
                        ydiag_add(d, n,
                                  "expected a log level (debug, info, notice, warning, error), "
                                  "got '%s'", YQ(n->value));
                        return -EINVAL;
                }
                *FIELD(base, f, int) = l;
                return 0;
        }
        case YF_STRV: {
                char **v;
                if (n->type != YNODE_SEQ) {
                        ydiag_add(d, n, "expected a sequence of strings, got %s",
                                  type_name(n->type));
                        return -EINVAL;
                }
                if (f->max != 0 && n->n_items > f->max) {
                        ydiag_add(d, n, "more than %llu items", (unsigned long long) f->max);
                        return -E2BIG;
                }
                for (size_t i = 0; i < n->n_items; i++)
                        if (!need_scalar(n->items[i], d, "a string"))
                                return -EINVAL;
                v = calloc(n->n_items + 1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < n->n_items; i++)
                        if (!(v[i] = strdup(n->items[i]->value))) {
                                strv_free(v);
                                return -ENOMEM;
                        }
                strv_free(*FIELD(base, f, char **));
                *FIELD(base, f, char **) = v;
                return 0;
        }
        case YF_NODE:
                *FIELD(base, f, const ynode *) = n;
                return 0;
        case YF_SECTION:
                return ybind(n, f->fields, base, d);
        }
        return -EINVAL;
}

int ybind(const ynode *map, const yfield *fields, void *base, ydiag *d) {
        size_t before = d->n_msgs + d->n_dropped;

        if (ynode_is_null(map))
                return 0;
        if (map->type != YNODE_MAP) {
                ydiag_add(d, map, "expected a mapping, got %s", type_name(map->type));
                return -EINVAL;
        }
        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const ynode *k = map->items[i], *v = map->items[i + 1];
                const yfield *f;

                for (f = fields; f->key; f++)
                        if (strcmp(f->key, k->value) == 0)
                                break;
                if (!f->key) {
                        char known[512] = "";
                        size_t n = 0;
                        for (const yfield *g = fields; g->key && n < sizeof(known) - 1; g++) {
                                int w = snprintf(known + n, sizeof(known) - n, "%s%s",
                                                 n ? ", " : "", g->key);
                                if (w < 0)
                                        break;
                                n += (size_t) w;
                        }
                        ydiag_add(d, k, "unknown key '%s' (expected one of: %s)", YQ(k->value), known);
                        continue;
                }
                if (ynode_is_null(v) && f->type != YF_STRING && f->type != YF_PATH && f->type != YF_SECTION) {
                        ydiag_add(d, v, "key '%s' has no value", f->key);
                        continue;
                }
                if (ynode_is_null(v))
                        continue;
                int r = bind_one(v, f, base, d);
                if (r == -ENOMEM)
                        return r;
        }
        return d->n_msgs + d->n_dropped > before ? -EINVAL : 0;
}

void ybind_free(const yfield *fields, void *base) {
        for (const yfield *f = fields; f->key; f++)
                switch (f->type) {
                case YF_STRING:
                case YF_PATH:
                        free(*FIELD(base, f, char *));
                        *FIELD(base, f, char *) = NULL;
                        break;
                case YF_STRV:
                        strv_free(*FIELD(base, f, char **));
                        *FIELD(base, f, char **) = NULL;
                        break;
                case YF_SECTION:
                        ybind_free(f->fields, base);
                        break;
                default:
                        break;
                }
}
