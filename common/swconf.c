/* strongSwan's settings syntax, read into a flat list of dotted keys (see swconf.h). A small
 * hand-written scanner: the grammar is line-oriented except for quoted values and braces, and
 * every error names FILE:LINE:COL. */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swconf.h"
#include "file_read.h"
#include "macro.h"

typedef struct swconf_entry {
        char *key;   /* dotted path */
        char *value; /* NULL for a section */
} swconf_entry;

struct swconf {
        swconf_entry *e;
        size_t n, cap;
        size_t files;
};

typedef struct scanner {
        const char *name, *p, *end;
        unsigned line, col;
        char *err;
        size_t errlen;
} scanner;

static int fail(scanner *s, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(scanner *s, int r, const char *fmt, ...) {
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (s->err && s->errlen)
                (void) snprintf(s->err, s->errlen, "%s:%u:%u: %s", s->name, s->line, s->col, msg);
        return r;
}

static int peek(const scanner *s) {
        return s->p < s->end ? (unsigned char) *s->p : -1;
}

static void advance(scanner *s) {
        if (s->p >= s->end)
                return;
        if (*s->p == '\n') {
                s->line++;
                s->col = 1;
        } else
                s->col++;
        s->p++;
}

/* Blanks and comments; newlines too when `lines`. */
static void skip(scanner *s, bool lines) {
        for (;;) {
                int c = peek(s);
                if (c == ' ' || c == '\t' || c == '\r' || (lines && c == '\n'))
                        advance(s);
                else if (c == '#')
                        while (peek(s) >= 0 && peek(s) != '\n')
                                advance(s);
                else
                        return;
        }
}

static bool name_char(int c) {
        return c > ' ' && c != '=' && c != '{' && c != '}' && c != '#' && c != ':' && c != '"' && c != 0x7f;
}

static int add(swconf *c, scanner *s, const char *key, char *value) {
        if (c->n >= SWCONF_ENTRIES_MAX)
                return fail(s, -E2BIG, "more than %d settings", SWCONF_ENTRIES_MAX);
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 32;
                swconf_entry *e = realloc(c->e, cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                c->e = e;
                c->cap = cap;
        }
        if (!(c->e[c->n].key = strdup(key)))
                return -ENOMEM;
        c->e[c->n++].value = value;
        return 0;
}

static int load_file(swconf *c, const char *path, const char *prefix, unsigned depth, char *err, size_t errlen);

/* `include PATTERN` inside section `prefix` of the file `s` reads. */
static int include(swconf *c, scanner *s, const char *pattern, const char *prefix, unsigned depth) {
        _cleanup_(freep) char *full = NULL;
        glob_t g = { 0 };
        int r = 0;

        if (depth + 1 > SWCONF_DEPTH_MAX)
                return fail(s, -E2BIG, "includes nested deeper than %d", SWCONF_DEPTH_MAX);
        if (pattern[0] == '/')
                full = strdup(pattern);
        else {
                const char *slash = strrchr(s->name, '/');
                if (asprintf(&full, "%.*s%s", slash ? (int) (slash - s->name + 1) : 0, s->name, pattern) < 0)
                        full = NULL;
        }
        if (!full)
                return -ENOMEM;
        if (glob(full, 0, NULL, &g) != 0) /* no match: strongSwan reads nothing, no error */
                return 0;
        for (size_t i = 0; i < g.gl_pathc && r >= 0; i++) {
                r = load_file(c, g.gl_pathv[i], prefix, depth + 1, s->err, s->errlen);
                if (r == -ENOENT || r == -EISDIR)
                        r = 0;
        }
        globfree(&g);
        return r;
}

/* A value after '=', as strongSwan reads it: parts, each a "quoted" string (escapes, may span
 * lines) or a run of other characters, joined by one space; the value ends at a newline, a '#'
 * (a comment) or a '}' (which closes the section), none of which it takes. */
static int value(scanner *s, char **ret) {
        _cleanup_(freep) char *v = NULL;
        size_t n = 0;
        bool first = true;
        FILE *f;

        if (!(f = open_memstream(&v, &n)))
                return -ENOMEM;
        for (;;) {
                while (peek(s) == ' ' || peek(s) == '\t' || peek(s) == '\r')
                        advance(s);
                int ch = peek(s);
                if (ch < 0 || ch == '\n' || ch == '#' || ch == '}')
                        break;
                if (ch == 0) { /* refused before parsing already; never loop on one */
                        fclose(f);
                        return fail(s, -EBADMSG, "a NUL byte in a value");
                }
                if (!first)
                        fputc(' ', f);
                first = false;
                if (ch != '"') {
                        while ((ch = peek(s)) > 0 && !strchr("#}\"\r\n\t ", ch)) {
                                fputc(ch, f);
                                advance(s);
                        }
                        continue;
                }
                unsigned line = s->line, col = s->col;
                advance(s);
                for (;;) {
                        ch = peek(s);
                        if (ch < 0) {
                                fclose(f);
                                s->line = line;
                                s->col = col;
                                return fail(s, -EBADMSG, "unterminated quoted value");
                        }
                        advance(s);
                        if (ch == '"')
                                break;
                        if (ch == '\\' && peek(s) >= 0) {
                                ch = peek(s);
                                advance(s);
                                ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
                        }
                        fputc(ch, f);
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

static int parse(swconf *c, scanner *s, const char *prefix, unsigned depth) {
        /* The section path, grown and cut as braces open and close. */
        char path[1024];
        size_t plen = strlen(prefix), open = 0, lens[65];

        if (plen >= sizeof(path))
                return fail(s, -E2BIG, "section path too long");
        memcpy(path, prefix, plen + 1);
        for (;;) {
                const char *name;
                size_t nlen;

                skip(s, true);
                if (peek(s) < 0)
                        break;
                if (peek(s) == '}') {
                        if (open == 0)
                                return fail(s, -EBADMSG, "'}' without a section to close");
                        advance(s);
                        /* back to the path's length before the section opened (names may hold dots) */
                        plen = lens[--open];
                        path[plen] = 0;
                        continue;
                }
                if (!name_char(peek(s)))
                        return fail(s, -EBADMSG, "unexpected '%c', expected a name", peek(s));
                name = s->p;
                unsigned nline = s->line, ncol = s->col;
                while (name_char(peek(s)))
                        advance(s);
                nlen = (size_t) (s->p - name);
                skip(s, false);
                if (nlen == 7 && memcmp(name, "include", 7) == 0 && peek(s) != '=' && peek(s) != '{' && peek(s) != ':' &&
                    peek(s) != '\n' && peek(s) >= 0) {
                        _cleanup_(freep) char *pattern = NULL;
                        int r = value(s, &pattern);
                        if (r < 0)
                                return r;
                        if (!*pattern)
                                return fail(s, -EBADMSG, "include without a file");
                        if ((r = include(c, s, pattern, path, depth)) < 0)
                                return r;
                        continue;
                }
                skip(s, true); /* between a name and its '{', ':' or '=' may come line breaks */
                if (plen + 1 + nlen + 1 > sizeof(path))
                        return fail(s, -E2BIG, "section path too long");
                char key[sizeof(path)];
                size_t kl = 0;
                if (plen) {
                        memcpy(key, path, plen);
                        key[plen] = '.';
                        kl = plen + 1;
                }
                memcpy(key + kl, name, nlen);
                key[kl + nlen] = 0;
                if (peek(s) == ':') { /* section : template[, template] — the references are not followed */
                        advance(s);
                        for (skip(s, true); name_char(peek(s)) || peek(s) == ','; skip(s, true))
                                advance(s);
                        if (peek(s) != '{')
                                return fail(s, -EBADMSG, "expected '{' after the section's templates");
                }
                if (peek(s) == '{') {
                        int r;
                        advance(s);
                        if (open + 1 > 64)
                                return fail(s, -E2BIG, "sections nested deeper than 64");
                        if ((r = add(c, s, key, NULL)) < 0)
                                return r;
                        lens[open++] = plen;
                        memcpy(path, key, strlen(key) + 1);
                        plen = strlen(path);
                } else if (peek(s) == '=') {
                        char *v = NULL;
                        int r;
                        advance(s);
                        if ((r = value(s, &v)) < 0)
                                return r;
                        if ((r = add(c, s, key, v)) < 0) {
                                free(v);
                                return r;
                        }
                } else {
                        s->line = nline;
                        s->col = ncol;
                        return fail(s, -EBADMSG, "expected '=' or '{' after '%.*s'", (int) nlen, name);
                }
        }
        if (open > 0)
                return fail(s, -EBADMSG, "%zu section(s) not closed at the end of the file", open);
        return 0;
}

static int parse_text(swconf *c, const char *name, const char *text, size_t len, const char *prefix,
                      unsigned depth, char *err, size_t errlen) {
        scanner s = { .name = name, .p = text, .end = text + len, .line = 1, .col = 1, .err = err, .errlen = errlen };

        if (++c->files > SWCONF_FILES_MAX)
                return fail(&s, -E2BIG, "more than %d files included", SWCONF_FILES_MAX);
        if (memchr(text, 0, len))
                return fail(&s, -EBADMSG, "a NUL byte in the file");
        return parse(c, &s, prefix, depth);
}

static int load_file(swconf *c, const char *path, const char *prefix, unsigned depth, char *err, size_t errlen) {
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        /* strongswan.d/ holds symlinks on some systems (charon.conf → a shared copy): follow */
        int r = file_read_all(path, SWCONF_FILE_MAX, FILE_READ_FOLLOW, &text, &len, NULL);

        if (r == -EFBIG) {
                if (err && errlen)
                        (void) snprintf(err, errlen, "%s: larger than %d bytes", path, SWCONF_FILE_MAX);
                return -E2BIG;
        }
        if (r < 0)
                return r;
        return parse_text(c, path, text, len, prefix, depth, err, errlen);
}

swconf *swconf_free(swconf *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++) {
                free(c->e[i].key);
                free(c->e[i].value);
        }
        free(c->e);
        free(c);
        return NULL;
}

int swconf_load(const char *path, swconf **ret, char *err, size_t errlen) {
        swconf *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        if ((r = load_file(c, path, "", 0, err, errlen)) < 0) {
                swconf_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int swconf_parse(const char *name, const char *text, size_t len, swconf **ret, char *err, size_t errlen) {
        swconf *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        /* depth at the limit: an include is an error here, nothing outside `text` is read */
        if ((r = parse_text(c, name, text, len, "", SWCONF_DEPTH_MAX, err, errlen)) < 0) {
                swconf_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

const char *swconf_get(const swconf *c, const char *key) {
        for (size_t i = c->n; i > 0; i--)
                if (c->e[i - 1].value && strcmp(c->e[i - 1].key, key) == 0)
                        return c->e[i - 1].value;
        return NULL;
}

int swconf_has_section(const swconf *c, const char *section) {
        for (size_t i = 0; i < c->n; i++)
                if (!c->e[i].value && strcmp(c->e[i].key, section) == 0)
                        return 1;
        return 0;
}

size_t swconf_children(const swconf *c, const char *section, const char **ret, size_t max) {
        size_t sl = strlen(section), n = 0;

        for (size_t i = 0; i < c->n; i++) {
                const char *k = c->e[i].key, *child;
                bool seen = false;
                if (c->e[i].value || strncmp(k, section, sl) != 0 || k[sl] != '.' || strchr(k + sl + 1, '.'))
                        continue;
                child = k + sl + 1;
                for (size_t j = 0; j < n && j < max; j++)
                        seen = seen || strcmp(ret[j], child) == 0;
                if (seen)
                        continue;
                if (n < max)
                        ret[n] = child;
                n++;
        }
        return n;
}

size_t swconf_files(const swconf *c) {
        return c->files;
}
