/* strongSwan's VICI message format: encoder, strict bounded decoder, and a read-only tree.
 *
 * Wire format (strongSwan src/libcharon/plugins/vici/vici_message.h): a message is a sequence of
 * elements, each one type byte followed by its data:
 *   SECTION_START u8 namelen, name      SECTION_END
 *   KEY_VALUE     u8 namelen, name, u16 BE valuelen, value
 *   LIST_START    u8 namelen, name      LIST_ITEM u16 BE valuelen, value      LIST_END
 * A packet (vici_packet_*) is a u32 BE length, then a type byte, a name for named packet types,
 * then a message.
 *
 * The same message format is reused by ikeheal's own control socket (common/proto.h), so one
 * fuzzed decoder guards both.  This module does not log and does no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Hard limits on anything a peer controls. */
#define VICI_PACKET_MAX (512u * 1024u) /* bytes of one packet after the length field */
#define VICI_DEPTH_MAX 32u             /* nested sections */
#define VICI_ELEMENTS_MAX 65536u       /* elements in one message */

typedef enum vici_element {
        VICI_SECTION_START = 1,
        VICI_SECTION_END = 2,
        VICI_KEY_VALUE = 3,
        VICI_LIST_START = 4,
        VICI_LIST_ITEM = 5,
        VICI_LIST_END = 6,
} vici_element;

typedef enum vici_packet_type {
        VICI_CMD_REQUEST = 0,
        VICI_CMD_RESPONSE = 1,
        VICI_CMD_UNKNOWN = 2,
        VICI_EVENT_REGISTER = 3,
        VICI_EVENT_UNREGISTER = 4,
        VICI_EVENT_CONFIRM = 5,
        VICI_EVENT_UNKNOWN = 6,
        VICI_EVENT = 7,
        _VICI_PACKET_TYPE_MAX,
} vici_packet_type;

typedef enum vici_node_type {
        VICI_NODE_SECTION,
        VICI_NODE_VALUE,
        VICI_NODE_LIST,
} vici_node_type;

/* A decoded message is a tree of nodes. The root is a SECTION with name == NULL.
 * VALUE nodes keep the raw bytes and, for convenience, a NUL after them (value[len] == 0);
 * a value may itself contain NUL bytes, so use `len` where that matters.
 * Children of a LIST are VALUE nodes with name == NULL. Order is preserved. */
typedef struct vici_node vici_node;
struct vici_node {
        vici_node_type type;
        char *name;
        char *value;
        size_t len;
        vici_node *child; /* first child (SECTION, LIST) */
        vici_node *next;  /* next sibling */
};

/* Decode a message. Returns 0 and a root node, or -EBADMSG (malformed: truncated element,
 * unknown element type, unbalanced sections/lists, list item outside a list, …), -E2BIG (over a
 * limit above) or -ENOMEM. Nothing is returned on error. */
int vici_msg_parse(const void *buf, size_t len, vici_node **ret);
vici_node *vici_node_free(vici_node *n);
DEFINE_FREE_FUNC(vici_node, vici_node_free);

/* Look up by dotted path of section/key names ("ikesas.total"); NULL if absent. */
const vici_node *vici_node_get(const vici_node *section, const char *path);
/* The value of a VALUE node at path as a string, or NULL if absent, not a VALUE, or binary (a
 * NUL inside: use vici_node_get() and ->value/->len for those). A path of "" is `section`. */
const char *vici_node_str(const vici_node *section, const char *path);
/* Parse an unsigned decimal value at path (digits only, no sign or blanks); -ENOENT if absent,
 * -EINVAL if not a number, -ERANGE if it does not fit. */
int vici_node_u64(const vici_node *section, const char *path, uint64_t *ret);
/* For decoding our own records: the number at path, at most max; the string at path copied
 * into buf (shorter than size). Anything else (absent, malformed, too large) is -EBADMSG. */
int vici_node_u64_max(const vici_node *section, const char *path, uint64_t max, uint64_t *ret);
int vici_node_str_copy(const vici_node *section, const char *path, char *buf, size_t size);

/* Builder. Errors latch: the first failure is remembered and returned by vici_builder_finish(),
 * so callers can chain adds without checking each one. Names longer than 255 bytes, values
 * longer than 65535 bytes, depth over VICI_DEPTH_MAX or a total over VICI_PACKET_MAX are -E2BIG;
 * misuse (item outside a list, unbalanced end, key or section inside a list, NULL key/value) is
 * -EINVAL. More than VICI_ELEMENTS_MAX elements is -E2BIG, so whatever finishes also decodes.
 * Every function accepts b == NULL and does nothing. */
typedef struct vici_builder vici_builder;
int vici_builder_new(vici_builder **ret);
vici_builder *vici_builder_free(vici_builder *b);
DEFINE_FREE_FUNC(vici_builder, vici_builder_free);
void vici_builder_add(vici_builder *b, const char *key, const void *value, size_t len);
void vici_builder_add_str(vici_builder *b, const char *key, const char *value);
void vici_builder_add_fmt(vici_builder *b, const char *key, const char *fmt, ...) _printf_(3, 4);
void vici_builder_begin_section(vici_builder *b, const char *name);
void vici_builder_end_section(vici_builder *b);
void vici_builder_begin_list(vici_builder *b, const char *name);
void vici_builder_add_list_item(vici_builder *b, const char *value);
void vici_builder_end_list(vici_builder *b);
/* Append every element of an already decoded section's children (deep copy). */
void vici_builder_add_node(vici_builder *b, const vici_node *node);
/* Hand out the encoded message (malloc'ed; caller frees). Returns the latched error if any, or
 * -EINVAL if sections/lists are still open. The builder is consumed either way. */
int vici_builder_finish(vici_builder *b, uint8_t **ret_buf, size_t *ret_len);

/* Packets (after the u32 length prefix has been read and checked against VICI_PACKET_MAX).
 * `ret_name` is set for types that carry a name (CMD_REQUEST, EVENT_REGISTER,
 * EVENT_UNREGISTER, EVENT), NULL otherwise; `ret_msg` for types that carry a message
 * (CMD_REQUEST, CMD_RESPONSE, EVENT), NULL otherwise. Each ret_ pointer may be NULL when the
 * caller does not want it. -EBADMSG: unknown type, empty or truncated name, trailing bytes after
 * a type without a message, or a malformed message; -E2BIG over a limit. */
int vici_packet_parse(const void *buf, size_t len, vici_packet_type *ret_type, char **ret_name,
                      vici_node **ret_msg);
/* Encode a whole packet including the u32 length prefix. `name` for named types, `msg`/`msg_len`
 * an encoded message (may be empty) for types that carry one. */
int vici_packet_build(vici_packet_type type, const char *name, const uint8_t *msg, size_t msg_len,
                      uint8_t **ret_buf, size_t *ret_len);
