/* See prom_text.h. Each line is built in a scratch buffer and appended only once complete, so
 * a failed call leaves the exposition as it was. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_text.h"

typedef struct buf {
        char *data;
        size_t len, size;
} buf;

struct prom_text {
        buf out, line;
        int error;
        char **families; /* names written, to refuse a second family of the same name */
        size_t n_families;
        const char *family; /* the open one (an entry of families) */
        prom_type type;
};

static int buf_put(buf *b, const char *s, size_t n) {
        if (n > PROM_TEXT_MAX || b->len + n > PROM_TEXT_MAX)
                return -E2BIG;
        if (b->len + n + 1 > b->size) {
                size_t size = b->size ? b->size : 256;
                while (size < b->len + n + 1)
                        size *= 2;
                char *d = realloc(b->data, size);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->size = size;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

static int buf_puts(buf *b, const char *s) {
        return buf_put(b, s, strlen(s));
}

bool prom_text_metric_name_valid(const char *s) {
        if (!s || !*s || (*s >= '0' && *s <= '9'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == ':'))
                        return false;
        return true;
}

bool prom_text_label_name_valid(const char *s) {
        if (!s || !*s || (*s >= '0' && *s <= '9') || strncmp(s, "__", 2) == 0)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

void prom_text_format_value(double v, char *b, size_t size) {
        if (isnan(v)) {
                (void) snprintf(b, size, "NaN");
                return;
        }
        if (isinf(v)) {
                (void) snprintf(b, size, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (v == 0) {
                (void) snprintf(b, size, "0"); /* never "-0" */
                return;
        }
        if (v == floor(v) && fabs(v) < 1e15) {
                (void) snprintf(b, size, "%.0f", v);
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                (void) snprintf(b, size, "%.*g", prec, v);
                if (strtod(b, NULL) == v)
                        return;
        }
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len;
        unsigned cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* Escapes for HELP (backslash, newline) or, with quote, label values (also '"'). */
static int put_escaped(buf *b, const char *s, bool quote) {
        const unsigned char *u = (const unsigned char *) s;
        size_t n = strlen(s), plain = 0;
        int r = 0;

        /* most values need no escaping: ASCII without backslash, quote or newline */
        while (plain < n && u[plain] < 0x80 && u[plain] != '\\' && u[plain] != '"' && u[plain] != '\n')
                plain++;
        if (plain == n)
                return buf_put(b, s, n);
        for (size_t i = 0; i < n && r >= 0;) {
                size_t l = utf8_len(u + i, n - i);
                if (l == 0) {
                        r = buf_put(b, "?", 1);
                        i++;
                        continue;
                }
                if (u[i] == '\\')
                        r = buf_put(b, "\\\\", 2);
                else if (u[i] == '\n')
                        r = buf_put(b, "\\n", 2);
                else if (quote && u[i] == '"')
                        r = buf_put(b, "\\\"", 2);
                else
                        r = buf_put(b, s + i, l);
                i += l;
        }
        return r;
}

int prom_text_new(prom_text **ret) {
        prom_text *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static void reset(prom_text *p) {
        for (size_t i = 0; i < p->n_families; i++)
                free(p->families[i]);
        free(p->families);
        p->families = NULL;
        p->n_families = 0;
        p->family = NULL;
        free(p->out.data);
        p->out = (buf){0};
        p->error = 0;
}

prom_text *prom_text_free(prom_text *p) {
        if (!p)
                return NULL;
        reset(p);
        free(p->line.data);
        free(p);
        return NULL;
}

static int fail(prom_text *p, int r) {
        if (p->error == 0)
                p->error = r;
        return r;
}

/* Appends the scratch line to the output. */
static int commit_line(prom_text *p) {
        int r = buf_put(&p->out, p->line.data, p->line.len);
        return r < 0 ? fail(p, r) : 0;
}

int prom_text_family(prom_text *p, const char *name, prom_type type, const char *help) {
        static const char *const type_names[] = {
                [PROM_COUNTER] = "counter", [PROM_GAUGE] = "gauge", [PROM_HISTOGRAM] = "histogram",
        };
        char **f, *copy;
        int r;

        if (p->error)
                return p->error;
        if (!prom_text_metric_name_valid(name) || (unsigned) type >= ELEMENTSOF(type_names) || !help)
                return fail(p, -EINVAL);
        if (type == PROM_COUNTER && !ends_with(name, "_total"))
                return fail(p, -EINVAL);
        if (type == PROM_HISTOGRAM &&
            (ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count")))
                return fail(p, -EINVAL);
        for (size_t i = 0; i < p->n_families; i++)
                if (strcmp(p->families[i], name) == 0)
                        return fail(p, -EEXIST);

        p->line.len = 0;
        r = buf_puts(&p->line, "# HELP ");
        if (r >= 0) r = buf_puts(&p->line, name);
        if (r >= 0) r = buf_puts(&p->line, " ");
        if (r >= 0) r = put_escaped(&p->line, help, false);
        if (r >= 0) r = buf_puts(&p->line, "\n# TYPE ");
        if (r >= 0) r = buf_puts(&p->line, name);
        if (r >= 0) r = buf_puts(&p->line, " ");
        if (r >= 0) r = buf_puts(&p->line, type_names[type]);
        if (r >= 0) r = buf_puts(&p->line, "\n");
        if (r < 0)
                return fail(p, r);

        copy = strdup(name);
        f = realloc(p->families, (p->n_families + 1) * sizeof(*f));
        if (!copy || !f) {
                free(copy);
                if (f)
                        p->families = f;
                return fail(p, -ENOMEM);
        }
        p->families = f;
        r = commit_line(p);
        if (r < 0) {
                free(copy);
                return r;
        }
        p->families[p->n_families++] = copy;
        p->family = copy;
        p->type = type;
        return 0;
}

static int check_labels(const prom_label *labels, size_t n, bool histogram) {
        for (size_t i = 0; i < n; i++) {
                if (!prom_text_label_name_valid(labels[i].name) || !labels[i].value)
                        return -EINVAL;
                if (histogram && strcmp(labels[i].name, "le") == 0)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(labels[i].name, labels[j].name) == 0)
                                return -EINVAL;
        }
        return 0;
}

/* name{labels[,le="le"]} value\n into the scratch line (appended to what it holds). */
static int put_series(buf *b, const char *name, const char *suffix, const prom_label *labels, size_t n,
                      const char *le, double value) {
        char v[64];
        int r;

        r = buf_puts(b, name);
        if (r >= 0) r = buf_puts(b, suffix);
        if (r >= 0 && (n > 0 || le))
                r = buf_puts(b, "{");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (i > 0) r = buf_puts(b, ",");
                if (r >= 0) r = buf_puts(b, labels[i].name);
                if (r >= 0) r = buf_puts(b, "=\"");
                if (r >= 0) r = put_escaped(b, labels[i].value, true);
                if (r >= 0) r = buf_puts(b, "\"");
        }
        if (r >= 0 && le) {
                if (n > 0) r = buf_puts(b, ",");
                if (r >= 0) r = buf_puts(b, "le=\"");
                if (r >= 0) r = buf_puts(b, le);
                if (r >= 0) r = buf_puts(b, "\"");
        }
        if (r >= 0 && (n > 0 || le))
                r = buf_puts(b, "}");
        prom_text_format_value(value, v, sizeof(v));
        if (r >= 0) r = buf_puts(b, " ");
        if (r >= 0) r = buf_puts(b, v);
        if (r >= 0) r = buf_puts(b, "\n");
        return r;
}

int prom_text_sample(prom_text *p, const prom_label *labels, size_t n_labels, double value) {
        int r;

        if (p->error)
                return p->error;
        if (!p->family || p->type == PROM_HISTOGRAM || check_labels(labels, n_labels, false) < 0)
                return fail(p, -EINVAL);
        p->line.len = 0;
        r = put_series(&p->line, p->family, "", labels, n_labels, NULL, value);
        if (r < 0)
                return fail(p, r);
        return commit_line(p);
}

int prom_text_histogram(prom_text *p, const prom_label *labels, size_t n_labels, const prom_hist *h) {
        uint64_t cumulative = 0;
        char le[64];
        int r = 0;

        if (p->error)
                return p->error;
        if (!p->family || p->type != PROM_HISTOGRAM || !h || h->n_bounds > PROM_HIST_MAX_BOUNDS ||
            check_labels(labels, n_labels, true) < 0)
                return fail(p, -EINVAL);
        p->line.len = 0;
        for (size_t i = 0; r >= 0 && i <= h->n_bounds; i++) {
                cumulative += h->counts[i];
                if (i < h->n_bounds)
                        prom_text_format_value(h->bounds[i], le, sizeof(le));
                else
                        (void) snprintf(le, sizeof(le), "+Inf");
                r = put_series(&p->line, p->family, "_bucket", labels, n_labels, le, (double) cumulative);
        }
        if (r >= 0)
                r = put_series(&p->line, p->family, "_sum", labels, n_labels, NULL, h->sum);
        if (r >= 0)
                r = put_series(&p->line, p->family, "_count", labels, n_labels, NULL, (double) h->count);
        if (r < 0)
                return fail(p, r);
        return commit_line(p);
}

int prom_text_finish(prom_text *p, char **ret_text, size_t *ret_len) {
        int r = p->error;

        if (r < 0) {
                reset(p);
                return r;
        }
        if (!p->out.data && buf_put(&p->out, "", 0) < 0)
                return -ENOMEM;
        *ret_text = TAKE_PTR(p->out.data);
        if (ret_len)
                *ret_len = p->out.len;
        p->out = (buf){0};
        reset(p);
        return 0;
}
