/* See vici_msg.h. The decoder trusts nothing: every length is checked against what is left of
 * the buffer before a byte of it is read, nesting and element counts are capped, and a failure
 * anywhere frees the partial tree so the caller never sees half a message. The builder writes
 * the same wire format into a growing buffer and latches the first error, so a long chain of
 * adds needs one check at vici_builder_finish(). The builder enforces exactly the limits the
 * decoder does, so whatever it produces decodes again. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vici_msg.h"

#define VICI_NAME_MAX 255u
#define VICI_VALUE_MAX 65535u

/* ---- tree ---- */

vici_node *vici_node_free(vici_node *n) {
        /* siblings iteratively, children recursively: nesting depth is bounded by the decoder
         * (VICI_DEPTH_MAX sections plus one list level), sibling counts are not */
        while (n) {
                vici_node *next = n->next;
                vici_node_free(n->child);
                free(n->name);
                free(n->value);
                free(n);
                n = next;
        }
        return NULL;
}

typedef struct reader {
        const uint8_t *p;
        size_t left;
} reader;

static int reader_u8(reader *r, uint8_t *ret) {
        if (r->left < 1)
                return -EBADMSG;
        *ret = r->p[0];
        r->p++;
        r->left--;
        return 0;
}

static int reader_u16(reader *r, uint16_t *ret) {
        if (r->left < 2)
                return -EBADMSG;
        *ret = (uint16_t) ((r->p[0] << 8) | r->p[1]);
        r->p += 2;
        r->left -= 2;
        return 0;
}

/* A copy of the next `len` bytes with a NUL after them. Names may not contain NUL: they are
 * handled as C strings everywhere, and a name cut short at a NUL would alias another one. */
static int reader_bytes(reader *r, size_t len, bool is_name, char **ret) {
        char *s;

        if (r->left < len)
                return -EBADMSG;
        if (is_name && memchr(r->p, 0, len))
                return -EBADMSG;
        s = malloc(len + 1);
        if (!s)
                return -ENOMEM;
        if (len > 0)
                memcpy(s, r->p, len);
        s[len] = 0;
        r->p += len;
        r->left -= len;
        *ret = s;
        return 0;
}

static int reader_name(reader *r, char **ret) {
        uint8_t len;
        int k = reader_u8(r, &len);
        if (k < 0)
                return k;
        return reader_bytes(r, len, true, ret);
}

static int reader_value(reader *r, char **ret, size_t *ret_len) {
        uint16_t len;
        int k = reader_u16(r, &len);
        if (k < 0)
                return k;
        *ret_len = len;
        return reader_bytes(r, len, false, ret);
}

static int node_new(vici_node_type type, vici_node **ret) {
        vici_node *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->type = type;
        *ret = n;
        return 0;
}

/* One open container while decoding: where the next child goes. */
typedef struct frame {
        vici_node *node;
        vici_node **tail;
} frame;

int vici_msg_parse(const void *buf, size_t len, vici_node **ret) {
        /* sections nest up to VICI_DEPTH_MAX below the root, plus one open list */
        frame stack[VICI_DEPTH_MAX + 2];
        size_t depth = 0; /* index of the innermost open container */
        bool in_list = false;
        size_t elements = 0;
        reader r = {.p = buf, .left = len};
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        int k;

        if (!ret || (!buf && len > 0))
                return -EINVAL;
        if (len > VICI_PACKET_MAX)
                return -E2BIG;
        k = node_new(VICI_NODE_SECTION, &root);
        if (k < 0)
                return k;
        stack[0] = (frame){root, &root->child};

        while (r.left > 0) {
                _cleanup_(vici_node_freep) vici_node *n = NULL;
                uint8_t type;

                if (++elements > VICI_ELEMENTS_MAX)
                        return -E2BIG;
                (void) reader_u8(&r, &type);

                if (in_list && type != VICI_LIST_ITEM && type != VICI_LIST_END)
                        return -EBADMSG;

                switch (type) {
                case VICI_SECTION_START:
                        if (depth >= VICI_DEPTH_MAX)
                                return -E2BIG;
                        k = node_new(VICI_NODE_SECTION, &n);
                        if (k < 0)
                                return k;
                        k = reader_name(&r, &n->name);
                        if (k < 0)
                                return k;
                        *stack[depth].tail = n;
                        stack[depth].tail = &n->next;
                        depth++;
                        stack[depth] = (frame){n, &n->child};
                        TAKE_PTR(n);
                        break;

                case VICI_SECTION_END:
                        if (depth == 0)
                                return -EBADMSG;
                        depth--;
                        break;

                case VICI_KEY_VALUE:
                        k = node_new(VICI_NODE_VALUE, &n);
                        if (k < 0)
                                return k;
                        k = reader_name(&r, &n->name);
                        if (k < 0)
                                return k;
                        k = reader_value(&r, &n->value, &n->len);
                        if (k < 0)
                                return k;
                        *stack[depth].tail = n;
                        stack[depth].tail = &TAKE_PTR(n)->next;
                        break;

                case VICI_LIST_START:
                        k = node_new(VICI_NODE_LIST, &n);
                        if (k < 0)
                                return k;
                        k = reader_name(&r, &n->name);
                        if (k < 0)
                                return k;
                        *stack[depth].tail = n;
                        stack[depth].tail = &n->next;
                        depth++;
                        stack[depth] = (frame){n, &n->child};
                        in_list = true;
                        TAKE_PTR(n);
                        break;

                case VICI_LIST_ITEM:
                        if (!in_list)
                                return -EBADMSG;
                        k = node_new(VICI_NODE_VALUE, &n);
                        if (k < 0)
                                return k;
                        k = reader_value(&r, &n->value, &n->len);
                        if (k < 0)
                                return k;
                        *stack[depth].tail = n;
                        stack[depth].tail = &TAKE_PTR(n)->next;
                        break;

                case VICI_LIST_END:
                        if (!in_list)
                                return -EBADMSG;
                        in_list = false;
                        depth--;
                        break;

                default:
                        return -EBADMSG;
                }
        }
        if (depth != 0 || in_list)
                return -EBADMSG; /* a section or list left open: truncated */

        *ret = TAKE_PTR(root);
        return 0;
}

static const vici_node *child_named(const vici_node *section, const char *name, size_t len) {
        for (const vici_node *c = section->child; c; c = c->next)
                if (c->name && strlen(c->name) == len && memcmp(c->name, name, len) == 0)
                        return c;
        return NULL;
}

const vici_node *vici_node_get(const vici_node *section, const char *path) {
        const vici_node *n = section;

        if (!section || !path)
                return NULL;
        while (*path) {
                const char *dot = strchr(path, '.');
                size_t len = dot ? (size_t) (dot - path) : strlen(path);

                if (n->type != VICI_NODE_SECTION)
                        return NULL;
                n = child_named(n, path, len);
                if (!n)
                        return NULL;
                path += len;
                if (*path == '.')
                        path++;
        }
        return n;
}

const char *vici_node_str(const vici_node *section, const char *path) {
        const vici_node *n = vici_node_get(section, path);

        if (!n || n->type != VICI_NODE_VALUE || !n->value)
                return NULL;
        /* a value with a NUL inside is binary (a DER certificate, say): as a C string it would
         * silently be something else, so it is no string at all */
        if (memchr(n->value, 0, n->len))
                return NULL;
        return n->value;
}

int vici_node_u64(const vici_node *section, const char *path, uint64_t *ret) {
        const vici_node *n = vici_node_get(section, path);
        uint64_t v = 0;

        if (!n)
                return -ENOENT;
        if (n->type != VICI_NODE_VALUE || n->len == 0 || n->len > 20)
                return -EINVAL;
        for (size_t i = 0; i < n->len; i++) {
                unsigned d;
                if (n->value[i] < '0' || n->value[i] > '9')
                        return -EINVAL;
                d = (unsigned) (n->value[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int vici_node_u64_max(const vici_node *section, const char *path, uint64_t max, uint64_t *ret) {
        uint64_t v;

        if (vici_node_u64(section, path, &v) < 0 || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int vici_node_str_copy(const vici_node *section, const char *path, char *buf, size_t size) {
        const char *v = vici_node_str(section, path);
        size_t len = v ? strlen(v) : 0;

        if (!v || len >= size)
                return -EBADMSG;
        memcpy(buf, v, len + 1);
        return 0;
}

/* ---- builder ---- */

struct vici_builder {
        uint8_t *buf;
        size_t len, allocated;
        int error;         /* latched: first failure */
        unsigned sections; /* open sections */
        bool in_list;
        size_t elements;
};

int vici_builder_new(vici_builder **ret) {
        vici_builder *b;

        if (!ret)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

vici_builder *vici_builder_free(vici_builder *b) {
        if (!b)
                return NULL;
        free(b->buf);
        free(b);
        return NULL;
}

static void builder_fail(vici_builder *b, int error) {
        if (b->error == 0)
                b->error = error;
}

/* Room for `n` more bytes, within VICI_PACKET_MAX; false (and the error latched) otherwise. */
static bool builder_reserve(vici_builder *b, size_t n) {
        size_t want;

        if (b->error)
                return false;
        if (n > VICI_PACKET_MAX || b->len > VICI_PACKET_MAX - n) {
                builder_fail(b, -E2BIG);
                return false;
        }
        want = b->len + n;
        if (want > b->allocated) {
                size_t a = b->allocated ? b->allocated : 256;
                uint8_t *p;
                while (a < want)
                        a *= 2;
                if (a > VICI_PACKET_MAX)
                        a = VICI_PACKET_MAX;
                p = realloc(b->buf, a);
                if (!p) {
                        builder_fail(b, -ENOMEM);
                        return false;
                }
                b->buf = p;
                b->allocated = a;
        }
        return true;
}

/* Count one element against the decoder's limit. */
static bool builder_element(vici_builder *b) {
        if (b->error)
                return false;
        if (b->elements >= VICI_ELEMENTS_MAX) {
                builder_fail(b, -E2BIG);
                return false;
        }
        b->elements++;
        return true;
}

static void put_u8(vici_builder *b, uint8_t v) {
        b->buf[b->len++] = v;
}

static void put_bytes(vici_builder *b, const void *p, size_t n) {
        if (n > 0)
                memcpy(b->buf + b->len, p, n);
        b->len += n;
}

static bool name_ok(vici_builder *b, const char *name, size_t *ret_len) {
        size_t len;

        if (!name) {
                builder_fail(b, -EINVAL);
                return false;
        }
        len = strnlen(name, VICI_NAME_MAX + 1);
        if (len > VICI_NAME_MAX) {
                builder_fail(b, -E2BIG);
                return false;
        }
        *ret_len = len;
        return true;
}

/* type, u8 name length, name */
static void builder_named(vici_builder *b, vici_element type, const char *name) {
        size_t nlen;

        if (!b || b->error)
                return;
        if (!name_ok(b, name, &nlen) || !builder_element(b) || !builder_reserve(b, 2 + nlen))
                return;
        put_u8(b, type);
        put_u8(b, (uint8_t) nlen);
        put_bytes(b, name, nlen);
}

static bool value_ok(vici_builder *b, const void *value, size_t len) {
        if (!value && len > 0) {
                builder_fail(b, -EINVAL);
                return false;
        }
        if (len > VICI_VALUE_MAX) {
                builder_fail(b, -E2BIG);
                return false;
        }
        return true;
}

static void put_value(vici_builder *b, const void *value, size_t len) {
        put_u8(b, (uint8_t) (len >> 8));
        put_u8(b, (uint8_t) len);
        put_bytes(b, value, len);
}

void vici_builder_add(vici_builder *b, const char *key, const void *value, size_t len) {
        size_t nlen;

        if (!b || b->error)
                return;
        if (b->in_list) {
                builder_fail(b, -EINVAL); /* a list holds items only */
                return;
        }
        if (!name_ok(b, key, &nlen) || !value_ok(b, value, len) || !builder_element(b) ||
            !builder_reserve(b, 4 + nlen + len))
                return;
        put_u8(b, VICI_KEY_VALUE);
        put_u8(b, (uint8_t) nlen);
        put_bytes(b, key, nlen);
        put_value(b, value, len);
}

void vici_builder_add_str(vici_builder *b, const char *key, const char *value) {
        if (!b || b->error)
                return;
        if (!value) {
                builder_fail(b, -EINVAL);
                return;
        }
        vici_builder_add(b, key, value, strnlen(value, VICI_VALUE_MAX + 1));
}

void vici_builder_add_fmt(vici_builder *b, const char *key, const char *fmt, ...) {
        char small[256], *big = NULL;
        va_list ap;
        int n;

        if (!b || b->error)
                return;
        if (!fmt) {
                builder_fail(b, -EINVAL);
                return;
        }
        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0) {
                builder_fail(b, -EINVAL);
                return;
        }
        if ((size_t) n > VICI_VALUE_MAX) {
                builder_fail(b, -E2BIG);
                return;
        }
        if ((size_t) n < sizeof(small)) {
                vici_builder_add(b, key, small, (size_t) n);
                return;
        }
        big = malloc((size_t) n + 1);
        if (!big) {
                builder_fail(b, -ENOMEM);
                return;
        }
        va_start(ap, fmt);
        (void) vsnprintf(big, (size_t) n + 1, fmt, ap);
        va_end(ap);
        vici_builder_add(b, key, big, (size_t) n);
        free(big);
}

void vici_builder_begin_section(vici_builder *b, const char *name) {
        if (!b || b->error)
                return;
        if (b->in_list) {
                builder_fail(b, -EINVAL);
                return;
        }
        if (b->sections >= VICI_DEPTH_MAX) {
                builder_fail(b, -E2BIG);
                return;
        }
        builder_named(b, VICI_SECTION_START, name);
        if (!b->error)
                b->sections++;
}

void vici_builder_end_section(vici_builder *b) {
        if (!b || b->error)
                return;
        if (b->in_list || b->sections == 0) {
                builder_fail(b, -EINVAL);
                return;
        }
        if (!builder_element(b) || !builder_reserve(b, 1))
                return;
        put_u8(b, VICI_SECTION_END);
        b->sections--;
}

void vici_builder_begin_list(vici_builder *b, const char *name) {
        if (!b || b->error)
                return;
        if (b->in_list) {
                builder_fail(b, -EINVAL); /* lists do not nest */
                return;
        }
        builder_named(b, VICI_LIST_START, name);
        if (!b->error)
                b->in_list = true;
}

static void builder_list_item(vici_builder *b, const void *value, size_t len) {
        if (!b || b->error)
                return;
        if (!b->in_list) {
                builder_fail(b, -EINVAL);
                return;
        }
        if (!value_ok(b, value, len) || !builder_element(b) || !builder_reserve(b, 3 + len))
                return;
        put_u8(b, VICI_LIST_ITEM);
        put_value(b, value, len);
}

void vici_builder_add_list_item(vici_builder *b, const char *value) {
        if (!b || b->error)
                return;
        if (!value) {
                builder_fail(b, -EINVAL);
                return;
        }
        builder_list_item(b, value, strnlen(value, VICI_VALUE_MAX + 1));
}

void vici_builder_end_list(vici_builder *b) {
        if (!b || b->error)
                return;
        if (!b->in_list) {
                builder_fail(b, -EINVAL);
                return;
        }
        if (!builder_element(b) || !builder_reserve(b, 1))
                return;
        put_u8(b, VICI_LIST_END);
        b->in_list = false;
}

static void builder_add_one(vici_builder *b, const vici_node *n) {
        switch (n->type) {
        case VICI_NODE_SECTION:
                vici_builder_begin_section(b, n->name);
                for (const vici_node *c = n->child; c && !b->error; c = c->next)
                        builder_add_one(b, c);
                vici_builder_end_section(b);
                break;
        case VICI_NODE_VALUE:
                vici_builder_add(b, n->name, n->value, n->len);
                break;
        case VICI_NODE_LIST:
                vici_builder_begin_list(b, n->name);
                for (const vici_node *c = n->child; c && !b->error; c = c->next) {
                        if (c->type != VICI_NODE_VALUE) {
                                builder_fail(b, -EINVAL);
                                return;
                        }
                        builder_list_item(b, c->value, c->len);
                }
                vici_builder_end_list(b);
                break;
        default:
                builder_fail(b, -EINVAL);
        }
}

void vici_builder_add_node(vici_builder *b, const vici_node *node) {
        if (!b || b->error)
                return;
        if (!node) {
                builder_fail(b, -EINVAL);
                return;
        }
        if (node->type != VICI_NODE_SECTION) {
                builder_add_one(b, node);
                return;
        }
        /* a section contributes its children, so a decoded root copies over as a whole */
        for (const vici_node *c = node->child; c && !b->error; c = c->next)
                builder_add_one(b, c);
}

int vici_builder_finish(vici_builder *b, uint8_t **ret_buf, size_t *ret_len) {
        _cleanup_(vici_builder_freep) vici_builder *owned = b;
        uint8_t *out;

        if (!b || !ret_buf || !ret_len)
                return -EINVAL;
        if (b->error)
                return b->error;
        if (b->sections > 0 || b->in_list)
                return -EINVAL;
        if (b->len == 0) {
                /* an empty message is valid; hand out a real buffer all the same */
                out = malloc(1);
                if (!out)
                        return -ENOMEM;
        } else
                out = TAKE_PTR(b->buf);
        *ret_buf = out;
        *ret_len = b->len;
        return 0;
}

/* ---- packets ---- */

static bool packet_has_name(vici_packet_type t) {
        return t == VICI_CMD_REQUEST || t == VICI_EVENT_REGISTER || t == VICI_EVENT_UNREGISTER ||
               t == VICI_EVENT;
}

static bool packet_has_msg(vici_packet_type t) {
        return t == VICI_CMD_REQUEST || t == VICI_CMD_RESPONSE || t == VICI_EVENT;
}

int vici_packet_parse(const void *buf, size_t len, vici_packet_type *ret_type, char **ret_name,
                      vici_node **ret_msg) {
        _cleanup_(freep) char *name = NULL;
        _cleanup_(vici_node_freep) vici_node *msg = NULL;
        reader r = {.p = buf, .left = len};
        uint8_t type;
        int k;

        if (!buf && len > 0)
                return -EINVAL;
        if (len > VICI_PACKET_MAX)
                return -E2BIG;
        if (reader_u8(&r, &type) < 0 || type >= _VICI_PACKET_TYPE_MAX)
                return -EBADMSG;

        if (packet_has_name(type)) {
                k = reader_name(&r, &name);
                if (k < 0)
                        return k;
                if (!name[0])
                        return -EBADMSG; /* a command or event always has a name */
        }
        if (packet_has_msg(type)) {
                k = vici_msg_parse(r.p, r.left, &msg);
                if (k < 0)
                        return k;
        } else if (r.left > 0)
                return -EBADMSG; /* trailing bytes after a packet without a message */

        if (ret_type)
                *ret_type = type;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        if (ret_msg)
                *ret_msg = TAKE_PTR(msg);
        return 0;
}

int vici_packet_build(vici_packet_type type, const char *name, const uint8_t *msg, size_t msg_len,
                      uint8_t **ret_buf, size_t *ret_len) {
        size_t nlen = 0, body;
        uint8_t *out, *p;

        if (!ret_buf || !ret_len || (unsigned) type >= _VICI_PACKET_TYPE_MAX)
                return -EINVAL;
        if (!msg && msg_len > 0)
                return -EINVAL;
        if (packet_has_name(type)) {
                if (!name)
                        return -EINVAL;
                nlen = strnlen(name, VICI_NAME_MAX + 1);
                if (nlen == 0)
                        return -EINVAL;
                if (nlen > VICI_NAME_MAX)
                        return -E2BIG;
        } else if (name)
                return -EINVAL;
        if (!packet_has_msg(type) && msg_len > 0)
                return -EINVAL;
        if (msg_len > VICI_PACKET_MAX)
                return -E2BIG;

        body = 1 + (packet_has_name(type) ? 1 + nlen : 0) + msg_len;
        if (body > VICI_PACKET_MAX)
                return -E2BIG;
        out = malloc(4 + body);
        if (!out)
                return -ENOMEM;
        p = out;
        *p++ = (uint8_t) (body >> 24);
        *p++ = (uint8_t) (body >> 16);
        *p++ = (uint8_t) (body >> 8);
        *p++ = (uint8_t) body;
        *p++ = (uint8_t) type;
        if (packet_has_name(type)) {
                *p++ = (uint8_t) nlen;
                memcpy(p, name, nlen);
                p += nlen;
        }
        if (msg_len > 0)
                memcpy(p, msg, msg_len);
        *ret_buf = out;
        *ret_len = 4 + body;
        return 0;
}
