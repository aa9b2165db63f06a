/* libyaml events → ynode tree. libyaml already reports syntax errors with a position; we add
 * the limits and refuse the YAML features a config has no use for (see yaml_tree.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "file_read.h"
#include "yaml_lib.h"
#include "yaml_tree.h"

void ydiag_init(ydiag *d, const char *file) {
        *d = (ydiag){ .file = strdup(file ? file : "<input>") };
}

void ydiag_done(ydiag *d) {
        for (size_t i = 0; i < d->n_msgs; i++)
                free(d->msgs[i]);
        free(d->msgs);
        free(d->file);
        *d = (ydiag){};
}

static void ydiag_vadd(ydiag *d, unsigned line, unsigned col, const char *fmt, va_list ap) {
        char *body = NULL, *msg = NULL, **m;

        if (d->n_msgs >= YDIAG_MAX) {
                d->n_dropped++;
                return;
        }
        if (vasprintf(&body, fmt, ap) < 0)
                return;
        if (asprintf(&msg, "%s:%u:%u: %s", d->file ? d->file : "<input>", line, col, body) < 0) {
                free(body);
                return;
        }
        free(body);
        m = realloc(d->msgs, (d->n_msgs + 1) * sizeof(*m));
        if (!m) {
                free(msg);
                return;
        }
        d->msgs = m;
        d->msgs[d->n_msgs++] = msg;
}

void ydiag_add_at(ydiag *d, unsigned line, unsigned col, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ydiag_vadd(d, line, col, fmt, ap);
        va_end(ap);
}

void ydiag_add(ydiag *d, const ynode *at, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ydiag_vadd(d, at ? at->line : 1, at ? at->col : 1, fmt, ap);
        va_end(ap);
}

char *ydiag_join(const ydiag *d) {
        size_t n = 0;
        char *s, *p;

        if (d->n_msgs == 0)
                return NULL;
        for (size_t i = 0; i < d->n_msgs; i++)
                n += strlen(d->msgs[i]) + 1;
        n += 64;
        s = p = malloc(n);
        if (!s)
                return NULL;
        for (size_t i = 0; i < d->n_msgs; i++)
                p += sprintf(p, "%s%s", i ? "\n" : "", d->msgs[i]);
        if (d->n_dropped)
                (void) sprintf(p, "\n(%zu more errors not shown)", d->n_dropped);
        return s;
}

const char *yquote(const char *s, char *buf, size_t size) {
        size_t n = 0, max = size > 4 ? size - 4 : 0;

        for (; s && *s && n < max; s++)
                buf[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        if (s && *s && size >= 4) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        if (size > 0)
                buf[n < size ? n : size - 1] = 0;
        return buf;
}

ynode *ynode_free(ynode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
        return NULL;
}

const ynode *ynode_get(const ynode *map, const char *key) {
        if (!map || map->type != YNODE_MAP)
                return NULL;
        for (size_t i = 0; i + 1 < map->n_items; i += 2)
                if (strcmp(map->items[i]->value, key) == 0)
                        return map->items[i + 1];
        return NULL;
}

bool ynode_is_null(const ynode *n) {
        if (!n)
                return true;
        if (n->type != YNODE_SCALAR || !n->plain)
                return false;
        return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
               strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

typedef struct builder {
        const yaml_lib *y;
        yaml_parser_t parser;
        ydiag *d;
        size_t n_nodes;
} builder;

static ynode *node_new(ynode_type type, const yaml_mark_t *m) {
        ynode *n = calloc(1, sizeof(*n));
        if (n) {
                n->type = type;
                n->line = (unsigned) m->line + 1;
                n->col = (unsigned) m->column + 1;
        }
        return n;
}

static int node_append(ynode *parent, ynode *child) {
        ynode **items;

        /* grow by doubling from 4, tracking capacity implicitly via powers of two */
        size_t n = parent->n_items;
        if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
                size_t cap = n == 0 ? 4 : n * 2;
                items = realloc(parent->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

static int next_event(builder *b, yaml_event_t *ev) {
        if (!b->y->parser_parse(&b->parser, ev)) {
                const yaml_mark_t *m = &b->parser.problem_mark;
                ydiag_add_at(b->d, (unsigned) m->line + 1, (unsigned) m->column + 1, "%s%s%s",
                             b->parser.problem ? b->parser.problem : "syntax error",
                             b->parser.context ? " " : "",
                             b->parser.context ? b->parser.context : "");
                return -EINVAL;
        }
        return 0;
}

static int parse_node(builder *b, yaml_event_t *ev, unsigned depth, ynode **ret);

static int parse_children(builder *b, ynode *n, yaml_event_type_t end, unsigned depth) {
        for (;;) {
                yaml_event_t ev;
                ynode *child = NULL;
                int r = next_event(b, &ev);
                if (r < 0)
                        return r;
                if (ev.type == end) {
                        b->y->event_delete(&ev);
                        return 0;
                }
                r = parse_node(b, &ev, depth + 1, &child);
                b->y->event_delete(&ev);
                if (r < 0)
                        return r;
                if (n->type == YNODE_MAP && (n->n_items % 2) == 0) {
                        if (child->type != YNODE_SCALAR) {
                                ydiag_add(b->d, child, "mapping keys must be plain scalars");
                                ynode_free(child);
                                return -EINVAL;
                        }
                        for (size_t i = 0; i < n->n_items; i += 2)
                                if (strcmp(n->items[i]->value, child->value) == 0) {
                                        ydiag_add(b->d, child,
                                                  "duplicate key '%s' (first at line %u)",
                                                  YQ(child->value), n->items[i]->line);
                                        ynode_free(child);
                                        return -EINVAL;
                                }
                }
                r = node_append(n, child);
                if (r < 0) {
                        ynode_free(child);
                        return r;
                }
        }
}

static int parse_node(builder *b, yaml_event_t *ev, unsigned depth, ynode **ret) {
        _cleanup_(ynode_freep) ynode *n = NULL;
        const yaml_char_t *anchor = NULL, *tag = NULL;
        int r;

        if (++b->n_nodes > YTREE_NODES_MAX) {
                ydiag_add_at(b->d, (unsigned) ev->start_mark.line + 1,
                             (unsigned) ev->start_mark.column + 1,
                             "document has more than %u nodes", YTREE_NODES_MAX);
                return -E2BIG;
        }
        if (depth > YTREE_DEPTH_MAX) {
                ydiag_add_at(b->d, (unsigned) ev->start_mark.line + 1,
                             (unsigned) ev->start_mark.column + 1,
                             "nesting deeper than %u levels", YTREE_DEPTH_MAX);
                return -E2BIG;
        }

        switch (ev->type) {
        case YAML_ALIAS_EVENT:
                ydiag_add_at(b->d, (unsigned) ev->start_mark.line + 1,
                             (unsigned) ev->start_mark.column + 1,
                             "aliases are not supported");
                return -EINVAL;
        case YAML_SCALAR_EVENT:
                anchor = ev->data.scalar.anchor;
                tag = ev->data.scalar.tag;
                n = node_new(YNODE_SCALAR, &ev->start_mark);
                if (!n)
                        return -ENOMEM;
                n->value = malloc(ev->data.scalar.length + 1);
                if (!n->value)
                        return -ENOMEM;
                memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
                n->value[ev->data.scalar.length] = 0;
                n->len = ev->data.scalar.length;
                n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                if (strlen(n->value) != n->len) {
                        ydiag_add(b->d, n, "NUL byte in scalar");
                        return -EINVAL;
                }
                break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
                anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
                tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
                if (anchor || tag)
                        break;
                n = node_new(seq ? YNODE_SEQ : YNODE_MAP, &ev->start_mark);
                if (!n)
                        return -ENOMEM;
                r = parse_children(b, n, seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT,
                                   depth);
                if (r < 0)
                        return r;
                break;
        }
        default:
                ydiag_add_at(b->d, (unsigned) ev->start_mark.line + 1,
                             (unsigned) ev->start_mark.column + 1, "unexpected YAML event");
                return -EINVAL;
        }
        if (anchor || tag) {
                ydiag_add_at(b->d, (unsigned) ev->start_mark.line + 1,
                             (unsigned) ev->start_mark.column + 1,
                             anchor ? "anchors are not supported" : "tags are not supported");
                return -EINVAL;
        }
        *ret = TAKE_PTR(n);
        return 0;
}

int ytree_parse_buffer(const void *buf, size_t len, ydiag *d, ynode **ret) {
        _cleanup_(ynode_freep) ynode *root = NULL;
        builder b = { .d = d };
        yaml_event_t ev;
        int r;

        if (len > YTREE_FILE_MAX) {
                ydiag_add_at(d, 1, 1, "file is larger than %u bytes", YTREE_FILE_MAX);
                return -E2BIG;
        }
        r = yaml_lib_get(&b.y);
        if (r < 0) {
                ydiag_add_at(d, 1, 1, r == -ELIBACC ? "cannot load " YAML_SONAME " to read YAML"
                                                    : YAML_SONAME " lacks a function ikeheal calls");
                return r;
        }
        if (!b.y->parser_initialize(&b.parser)) {
                yaml_lib_put();
                return -ENOMEM;
        }
        b.y->parser_set_input_string(&b.parser, buf, len);

        /* STREAM-START, then either STREAM-END (empty) or one DOCUMENT. */
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        b.y->event_delete(&ev);
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
                b.y->event_delete(&ev);
                *ret = NULL;
                goto out;
        }
        b.y->event_delete(&ev); /* DOCUMENT-START */
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        r = parse_node(&b, &ev, 0, &root);
        b.y->event_delete(&ev);
        if (r < 0)
                goto out;
        r = next_event(&b, &ev); /* DOCUMENT-END */
        if (r < 0)
                goto out;
        b.y->event_delete(&ev);
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        if (ev.type != YAML_STREAM_END_EVENT) {
                ydiag_add_at(d, (unsigned) ev.start_mark.line + 1,
                             (unsigned) ev.start_mark.column + 1,
                             "only one YAML document per file is allowed");
                r = -EINVAL;
        }
        b.y->event_delete(&ev);
        if (r == 0)
                *ret = TAKE_PTR(root);
out:
        b.y->parser_delete(&b.parser);
        yaml_lib_put();
        return r;
}

int ytree_parse_file(const char *path, ydiag *d, ynode **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        int r;

        /* never blocks on a FIFO, never follows a symlink, regular files only */
        r = file_read_all(path, YTREE_FILE_MAX, 0, &buf, &len, NULL);
        if (r == -EFBIG) {
                ydiag_add_at(d, 1, 1, "file is larger than %u bytes", YTREE_FILE_MAX);
                return -E2BIG;
        }
        if (r < 0) {
                ydiag_add_at(d, 1, 1, "cannot open: %s", file_read_strerror(r));
                return r;
        }
        return ytree_parse_buffer(buf, len, d, ret);
}
