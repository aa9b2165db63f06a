/* The VICI codec (common/vici_msg.c): builder → parser round trips, hand-written wire bytes as
 * charon sends them, every truncation of a valid message and packet (must fail cleanly, never
 * crash: run under ASan), each malformed shape, each limit at and just over its bound, the
 * lookups, and builder misuse with its latched errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vici_msg.h"

/* A message that uses every element type, nested sections and a binary value. */
static int build_sample(uint8_t **ret, size_t *ret_len) {
        static const uint8_t bin[] = {0x30, 0x00, 0x82, 0xff};
        vici_builder *b = NULL;
        int r = vici_builder_new(&b);
        if (r < 0)
                return r;
        vici_builder_add_str(b, "daemon", "charon-systemd");
        vici_builder_add_fmt(b, "uptime", "%u", 4242u);
        vici_builder_begin_section(b, "ikesas");
        vici_builder_add_str(b, "total", "3");
        vici_builder_add_str(b, "half-open", "1");
        vici_builder_begin_section(b, "inner");
        vici_builder_add(b, "blob", bin, sizeof(bin));
        vici_builder_add(b, "empty", NULL, 0);
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        vici_builder_begin_list(b, "plugins");
        vici_builder_add_list_item(b, "vici");
        vici_builder_add_list_item(b, "openssl");
        vici_builder_add_list_item(b, "");
        vici_builder_end_list(b);
        vici_builder_begin_list(b, "nothing");
        vici_builder_end_list(b);
        vici_builder_begin_section(b, "empty-section");
        vici_builder_end_section(b);
        return vici_builder_finish(b, ret, ret_len);
}

static void check_sample(const vici_node *root, const char *what) {
        const vici_node *n;
        uint64_t u = 0;

        CHECK(root && root->type == VICI_NODE_SECTION && !root->name, "%s: root section", what);
        CHECK(vici_node_str(root, "daemon") &&
                      strcmp(vici_node_str(root, "daemon"), "charon-systemd") == 0,
              "%s: daemon", what);
        CHECK(vici_node_u64(root, "uptime", &u) == 0 && u == 4242, "%s: uptime = 4242", what);
        CHECK(vici_node_u64(root, "ikesas.total", &u) == 0 && u == 3, "%s: ikesas.total", what);
        CHECK(vici_node_u64(root, "ikesas.half-open", &u) == 0 && u == 1, "%s: ikesas.half-open",
              what);
        n = vici_node_get(root, "ikesas.inner.blob");
        CHECK(n && n->type == VICI_NODE_VALUE && n->len == 4 &&
                      memcmp(n->value, "\x30\x00\x82\xff", 4) == 0 && n->value[4] == 0,
              "%s: binary value kept with its NUL and a terminator", what);
        CHECK(vici_node_str(root, "ikesas.inner.blob") == NULL, "%s: binary value is no string",
              what);
        n = vici_node_get(root, "ikesas.inner.empty");
        CHECK(n && n->len == 0 && n->value && n->value[0] == 0, "%s: empty value", what);
        n = vici_node_get(root, "plugins");
        CHECK(n && n->type == VICI_NODE_LIST && n->child && strcmp(n->child->value, "vici") == 0 &&
                      n->child->next && strcmp(n->child->next->value, "openssl") == 0 &&
                      n->child->next->next && n->child->next->next->len == 0 &&
                      !n->child->next->next->next && !n->child->name,
              "%s: list items in order, unnamed", what);
        n = vici_node_get(root, "nothing");
        CHECK(n && n->type == VICI_NODE_LIST && !n->child, "%s: empty list", what);
        n = vici_node_get(root, "empty-section");
        CHECK(n && n->type == VICI_NODE_SECTION && !n->child, "%s: empty section", what);
        CHECK(vici_node_get(root, "plugins.vici") == NULL, "%s: no path through a list", what);
        CHECK(vici_node_get(root, "daemon.x") == NULL, "%s: no path through a value", what);
        CHECK(vici_node_get(root, "ikesas.nope") == NULL, "%s: absent key", what);
        CHECK(vici_node_get(root, "") == root, "%s: empty path is the section", what);
        CHECK(vici_node_str(root, "ikesas") == NULL, "%s: a section is no string", what);
        CHECK(vici_node_u64(root, "daemon", &u) == -EINVAL, "%s: text is not a number", what);
        CHECK(vici_node_u64(root, "absent", &u) == -ENOENT, "%s: absent number", what);
}

static void test_round_trip(void) {
        uint8_t *buf = NULL, *again = NULL;
        size_t len = 0, again_len = 0;
        vici_node *root = NULL, *root2 = NULL;
        vici_builder *b = NULL;

        CHECK(build_sample(&buf, &len) == 0 && len > 0, "sample message builds (%zu bytes)", len);
        CHECK(vici_msg_parse(buf, len, &root) == 0, "sample message parses");
        check_sample(root, "parsed");

        /* deep copy through add_node gives the same bytes */
        CHECK(vici_builder_new(&b) == 0, "builder for the copy");
        vici_builder_add_node(b, root);
        CHECK(vici_builder_finish(b, &again, &again_len) == 0, "copy finishes");
        CHECK(again_len == len && memcmp(again, buf, len) == 0, "copy is byte-identical");
        CHECK(vici_msg_parse(again, again_len, &root2) == 0, "copy parses");
        check_sample(root2, "copy");

        vici_node_free(root);
        vici_node_free(root2);
        free(buf);
        free(again);

        /* the empty message */
        CHECK(vici_builder_new(&b) == 0, "builder for an empty message");
        CHECK(vici_builder_finish(b, &buf, &len) == 0 && buf && len == 0,
              "empty message, non-NULL buffer");
        CHECK(vici_msg_parse(buf, 0, &root) == 0 && root && !root->child,
              "empty message parses to an empty root");
        vici_node_free(root);
        free(buf);
        CHECK(vici_msg_parse(NULL, 0, &root) == 0, "NULL, 0 parses as empty");
        vici_node_free(root);
}

/* Bytes as charon writes them (vici_message.c): a "version" reply. */
static const uint8_t wire_version[] = {
        3,   6,   'd', 'a', 'e', 'm', 'o', 'n', 0, 6,   'c', 'h', 'a', 'r', 'o', 'n', 3,
        7,   'v', 'e', 'r', 's', 'i', 'o', 'n', 0, 5,   '5', '.', '9', '.', '8', 1,   3,
        's', 'e', 'c', 4,   1,   'l', 5,   0,   1, 'x', 5,   0,   0,   6,   2,
};

static void test_wire(void) {
        vici_node *root = NULL;
        const vici_node *l;

        CHECK(vici_msg_parse(wire_version, sizeof(wire_version), &root) == 0,
              "hand-written wire bytes parse");
        CHECK(vici_node_str(root, "version") &&
                      strcmp(vici_node_str(root, "version"), "5.9.8") == 0,
              "version = 5.9.8");
        l = vici_node_get(root, "sec.l");
        CHECK(l && l->type == VICI_NODE_LIST && l->child && l->child->len == 1 && l->child->next &&
                      l->child->next->len == 0,
              "list inside a section");
        vici_node_free(root);

        /* every truncation fails cleanly; only the full length parses */
        for (size_t k = 0; k < sizeof(wire_version); k++) {
                int r = vici_msg_parse(wire_version, k, &root);
                /* cuts that fall exactly between two top-level elements are valid messages */
                bool boundary = k == 0 || k == 16 || k == 32;
                if (boundary) {
                        CHECK(r == 0, "cut at element boundary %zu parses", k);
                        vici_node_free(root);
                } else
                        CHECK(r == -EBADMSG, "truncated at %zu: -EBADMSG (got %d)", k, r);
        }
}

static void test_truncations(void) {
        uint8_t *buf = NULL, *pkt = NULL;
        size_t len = 0, pkt_len = 0, ok = 0, bad = 0;
        vici_node *root = NULL;

        if (build_sample(&buf, &len) < 0) {
                CHECK(0, "sample builds");
                return;
        }
        /* a message: every prefix either fails with -EBADMSG or (at a top-level element
         * boundary) parses; nothing else, never a crash. A copy of exactly k bytes on the heap,
         * so ASan sees any read past the end. */
        for (size_t k = 0; k < len; k++) {
                uint8_t *cut = malloc(k ? k : 1);
                int r;
                memcpy(cut, buf, k);
                r = vici_msg_parse(cut, k, &root);
                if (r == 0) {
                        ok++;
                        vici_node_free(root);
                        root = NULL;
                } else if (r == -EBADMSG)
                        bad++;
                else
                        CHECK(0, "prefix %zu: unexpected %d", k, r);
                free(cut);
        }
        CHECK(ok + bad == len && bad > len / 2,
              "message prefixes: %zu parse at boundaries, %zu rejected", ok, bad);

        /* a packet: every prefix of an EVENT packet fails, there are no boundaries inside the
         * name, and the length prefix is not part of what vici_packet_parse() sees */
        CHECK(vici_packet_build(VICI_EVENT, "list-sa", buf, len, &pkt, &pkt_len) == 0,
              "event packet builds");
        CHECK(pkt_len == 4 + 1 + 1 + 7 + len, "packet length is prefix+type+name+message");
        CHECK(pkt[0] == 0 && ((size_t) pkt[1] << 16 | (size_t) pkt[2] << 8 | pkt[3]) == pkt_len - 4,
              "u32 BE length prefix");
        for (size_t k = 0; k < 1 + 1 + 7; k++) {
                uint8_t *cut = malloc(k ? k : 1);
                memcpy(cut, pkt + 4, k);
                int r = vici_packet_parse(cut, k, NULL, NULL, NULL);
                CHECK(r == -EBADMSG, "packet cut at %zu (type/name): -EBADMSG", k);
                free(cut);
        }
        size_t pbad = 0;
        for (size_t k = 1 + 1 + 7; k < pkt_len - 4; k++) {
                uint8_t *cut = malloc(k);
                memcpy(cut, pkt + 4, k);
                vici_node *m = NULL;
                char *name = NULL;
                int r = vici_packet_parse(cut, k, NULL, &name, &m);
                if (r == -EBADMSG)
                        pbad++;
                else if (r == 0) {
                        vici_node_free(m);
                        free(name);
                } else
                        CHECK(0, "packet cut at %zu: unexpected %d", k, r);
                free(cut);
        }
        CHECK(pbad > 0, "packet cuts inside the message: %zu rejected, the rest at boundaries",
              pbad);

        vici_packet_type t;
        char *name = NULL;
        CHECK(vici_packet_parse(pkt + 4, pkt_len - 4, &t, &name, &root) == 0 && t == VICI_EVENT &&
                      name && strcmp(name, "list-sa") == 0,
              "whole packet parses: EVENT list-sa");
        check_sample(root, "packet");
        vici_node_free(root);
        free(name);
        free(pkt);
        free(buf);
}

static int parse_bytes(const uint8_t *p, size_t len) {
        vici_node *root = NULL;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, p, len);
        int r = vici_msg_parse(copy, len, &root);
        vici_node_free(root);
        free(copy);
        return r;
}

#define PARSE(...)                                                                                 \
        ({                                                                                         \
                static const uint8_t _b[] = {__VA_ARGS__};                                         \
                parse_bytes(_b, sizeof(_b));                                                       \
        })

static void test_malformed(void) {
        CHECK(PARSE(0) == -EBADMSG, "element type 0");
        CHECK(PARSE(7) == -EBADMSG, "element type 7");
        CHECK(PARSE(255) == -EBADMSG, "element type 255");
        CHECK(PARSE(2) == -EBADMSG, "SECTION_END at top level");
        CHECK(PARSE(6) == -EBADMSG, "LIST_END outside a list");
        CHECK(PARSE(5, 0, 0) == -EBADMSG, "LIST_ITEM outside a list");
        CHECK(PARSE(1, 1, 'a') == -EBADMSG, "section never closed");
        CHECK(PARSE(4, 1, 'a') == -EBADMSG, "list never closed");
        CHECK(PARSE(4, 1, 'a', 3, 1, 'k', 0, 0, 6) == -EBADMSG, "key/value inside a list");
        CHECK(PARSE(4, 1, 'a', 1, 1, 's', 2, 6) == -EBADMSG, "section inside a list");
        CHECK(PARSE(4, 1, 'a', 4, 1, 'b', 6, 6) == -EBADMSG, "list inside a list");
        CHECK(PARSE(4, 1, 'a', 2) == -EBADMSG, "SECTION_END closing a list");
        CHECK(PARSE(1, 1, 'a', 6) == -EBADMSG, "LIST_END closing a section");
        CHECK(PARSE(1, 1, 'a', 2, 2) == -EBADMSG, "one SECTION_END too many");
        CHECK(PARSE(3, 5, 'a', 'b') == -EBADMSG, "name longer than the rest");
        CHECK(PARSE(3, 1, 'k', 0, 9, 'x') == -EBADMSG, "value longer than the rest");
        CHECK(PARSE(3, 1, 'k', 0) == -EBADMSG, "value length cut in half");
        CHECK(PARSE(3, 1, 'k', 0xff, 0xff) == -EBADMSG, "value length 65535 with no data");
        CHECK(PARSE(3, 2, 'k', 0, 0, 0) == -EBADMSG, "NUL inside a name");
        CHECK(PARSE(3) == -EBADMSG, "type byte only");
        CHECK(PARSE(3, 0, 0, 0) == 0, "empty name, empty value: accepted (charon may send it)");
        CHECK(PARSE(3, 1, 'k', 0, 2, 'a', 0) == 0, "NUL inside a value: accepted (binary)");

        vici_node *root = NULL;
        CHECK(vici_msg_parse(NULL, 1, &root) == -EINVAL, "NULL buffer with a length");
        CHECK(vici_msg_parse("", 0, NULL) == -EINVAL, "NULL ret");

        /* packets */
        static const uint8_t p_unknown_type[] = {8};
        static const uint8_t p_confirm_trailing[] = {VICI_EVENT_CONFIRM, 0};
        static const uint8_t p_empty_name[] = {VICI_EVENT, 0};
        static const uint8_t p_nul_name[] = {VICI_EVENT, 2, 'a', 0};
        static const uint8_t p_register_trailing[] = {VICI_EVENT_REGISTER, 1, 'a', 3};
        static const uint8_t p_bad_msg[] = {VICI_CMD_RESPONSE, 2};
        static const uint8_t p_confirm[] = {VICI_EVENT_CONFIRM};
        static const uint8_t p_unknown[] = {VICI_CMD_UNKNOWN};
        static const uint8_t p_response[] = {VICI_CMD_RESPONSE};
        vici_packet_type t = 99;
        char *name = (char *) "untouched";
        vici_node *msg = NULL;

        CHECK(vici_packet_parse(p_unknown_type, 1, &t, NULL, NULL) == -EBADMSG, "packet type 8");
        CHECK(vici_packet_parse(p_unknown_type, 0, &t, NULL, NULL) == -EBADMSG, "empty packet");
        CHECK(vici_packet_parse(p_confirm_trailing, 2, &t, NULL, NULL) == -EBADMSG,
              "EVENT_CONFIRM with trailing bytes");
        CHECK(vici_packet_parse(p_empty_name, 2, &t, NULL, NULL) == -EBADMSG,
              "EVENT with an empty name");
        CHECK(vici_packet_parse(p_nul_name, 4, &t, NULL, NULL) == -EBADMSG,
              "EVENT name with a NUL");
        CHECK(vici_packet_parse(p_register_trailing, 4, &t, NULL, NULL) == -EBADMSG,
              "EVENT_REGISTER with trailing bytes");
        CHECK(vici_packet_parse(p_bad_msg, 2, &t, &name, &msg) == -EBADMSG && t == 99 &&
                      strcmp(name, "untouched") == 0 && !msg,
              "CMD_RESPONSE with a bad message; outputs untouched");
        CHECK(vici_packet_parse(p_confirm, 1, &t, &name, &msg) == 0 && t == VICI_EVENT_CONFIRM &&
                      !name && !msg,
              "EVENT_CONFIRM: no name, no message");
        CHECK(vici_packet_parse(p_unknown, 1, &t, &name, &msg) == 0 && t == VICI_CMD_UNKNOWN &&
                      !name && !msg,
              "CMD_UNKNOWN");
        CHECK(vici_packet_parse(p_response, 1, &t, &name, &msg) == 0 && t == VICI_CMD_RESPONSE &&
                      !name && msg && !msg->child,
              "CMD_RESPONSE with an empty message");
        vici_node_free(msg);
}

static void test_limits(void) {
        size_t len;
        uint8_t *buf;
        int r;

        /* depth: VICI_DEPTH_MAX nested sections parse, one more is -E2BIG */
        for (unsigned d = VICI_DEPTH_MAX; d <= VICI_DEPTH_MAX + 1; d++) {
                len = 0;
                buf = malloc(d * 4 + 8);
                for (unsigned i = 0; i < d; i++) {
                        buf[len++] = VICI_SECTION_START;
                        buf[len++] = 1;
                        buf[len++] = 's';
                }
                buf[len++] = VICI_LIST_START; /* a list at the deepest level is fine */
                buf[len++] = 1;
                buf[len++] = 'l';
                buf[len++] = VICI_LIST_END;
                for (unsigned i = 0; i < d; i++)
                        buf[len++] = VICI_SECTION_END;
                r = parse_bytes(buf, len);
                if (d == VICI_DEPTH_MAX)
                        CHECK(r == 0, "depth %u (the maximum) parses", d);
                else
                        CHECK(r == -E2BIG, "depth %u: -E2BIG (got %d)", d, r);
                free(buf);
        }

        /* elements: VICI_ELEMENTS_MAX list items... the list start/end count too */
        for (size_t n = VICI_ELEMENTS_MAX; n <= VICI_ELEMENTS_MAX + 1; n++) {
                len = 0;
                buf = malloc(n * 3 + 8);
                buf[len++] = VICI_LIST_START;
                buf[len++] = 1;
                buf[len++] = 'l';
                for (size_t i = 0; i < n - 2; i++) {
                        buf[len++] = VICI_LIST_ITEM;
                        buf[len++] = 0;
                        buf[len++] = 0;
                }
                buf[len++] = VICI_LIST_END;
                r = parse_bytes(buf, len);
                if (n == VICI_ELEMENTS_MAX)
                        CHECK(r == 0, "%zu elements (the maximum) parse", n);
                else
                        CHECK(r == -E2BIG, "%zu elements: -E2BIG (got %d)", n, r);
                free(buf);
        }

        /* size */
        buf = calloc(1, VICI_PACKET_MAX + 1);
        vici_node *root = NULL;
        CHECK(vici_msg_parse(buf, VICI_PACKET_MAX + 1, &root) == -E2BIG,
              "message over VICI_PACKET_MAX: -E2BIG");
        CHECK(vici_packet_parse(buf, VICI_PACKET_MAX + 1, NULL, NULL, NULL) == -E2BIG,
              "packet over VICI_PACKET_MAX: -E2BIG");
        uint8_t *pkt = NULL;
        size_t pkt_len = 0;
        CHECK(vici_packet_build(VICI_CMD_RESPONSE, NULL, buf, VICI_PACKET_MAX, &pkt, &pkt_len) ==
                      -E2BIG,
              "building a packet over VICI_PACKET_MAX: -E2BIG");
        CHECK(vici_packet_build(VICI_CMD_RESPONSE, NULL, buf, VICI_PACKET_MAX - 1, &pkt,
                                &pkt_len) == 0 &&
                      pkt_len == 4 + VICI_PACKET_MAX,
              "a packet of exactly VICI_PACKET_MAX builds");
        free(pkt);
        free(buf);

        /* a value of 65535 bytes parses, its length field is all that limits it */
        vici_builder *b = NULL;
        char *big = malloc(65536);
        memset(big, 'v', 65536);
        CHECK(vici_builder_new(&b) == 0, "builder");
        vici_builder_add(b, "k", big, 65535);
        CHECK(vici_builder_finish(b, &buf, &len) == 0 && len == 5 + 65535,
              "65535-byte value builds");
        CHECK(parse_bytes(buf, len) == 0, "… and parses");
        free(buf);
        vici_builder_new(&b);
        vici_builder_add(b, "k", big, 65536);
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG, "65536-byte value: -E2BIG");
        big[65535] = 0;
        vici_builder_new(&b);
        vici_builder_add_str(b, "k", big);
        CHECK(vici_builder_finish(b, &buf, &len) == 0, "65535-byte string value builds");
        free(buf);
        vici_builder_new(&b);
        vici_builder_add_fmt(b, "k", "%s%s", big, "x");
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG, "65536-byte formatted value: -E2BIG");
        vici_builder_new(&b);
        vici_builder_add_fmt(b, "k", "%.300s", big);
        CHECK(vici_builder_finish(b, &buf, &len) == 0 && len == 4 + 1 + 300,
              "300-byte formatted value (heap path)");
        free(buf);
        big[256] = 0;
        vici_builder_new(&b);
        vici_builder_add_str(b, big, "v");
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG, "256-byte name: -E2BIG");
        big[255] = 0;
        vici_builder_new(&b);
        vici_builder_begin_section(b, big);
        vici_builder_end_section(b);
        CHECK(vici_builder_finish(b, &buf, &len) == 0, "255-byte name builds");
        CHECK(parse_bytes(buf, len) == 0, "… and parses");
        free(buf);

        /* the builder stops at the decoder's limits: depth, elements, total size */
        vici_builder_new(&b);
        for (unsigned i = 0; i <= VICI_DEPTH_MAX; i++)
                vici_builder_begin_section(b, "s");
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG, "builder: depth %u: -E2BIG",
              VICI_DEPTH_MAX + 1);
        vici_builder_new(&b);
        for (size_t i = 0; i <= VICI_ELEMENTS_MAX; i++)
                vici_builder_add(b, "k", NULL, 0);
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG, "builder: %u elements: -E2BIG",
              VICI_ELEMENTS_MAX + 1);
        vici_builder_new(&b);
        for (size_t i = 0; i < VICI_PACKET_MAX / 65535 + 1; i++)
                vici_builder_add(b, "k", big, 65535);
        CHECK(vici_builder_finish(b, &buf, &len) == -E2BIG,
              "builder: over VICI_PACKET_MAX: -E2BIG");
        free(big);

        uint64_t u;
        vici_builder_new(&b);
        vici_builder_add_str(b, "max", "18446744073709551615");
        vici_builder_add_str(b, "over", "18446744073709551616");
        vici_builder_add_str(b, "neg", "-1");
        vici_builder_add_str(b, "sp", " 1");
        vici_builder_add_str(b, "empty", "");
        if (vici_builder_finish(b, &buf, &len) == 0 && vici_msg_parse(buf, len, &root) == 0) {
                CHECK(vici_node_u64(root, "max", &u) == 0 && u == UINT64_MAX, "u64: UINT64_MAX");
                CHECK(vici_node_u64(root, "over", &u) == -ERANGE, "u64: UINT64_MAX+1 is -ERANGE");
                CHECK(vici_node_u64(root, "neg", &u) == -EINVAL, "u64: -1 is -EINVAL");
                CHECK(vici_node_u64(root, "sp", &u) == -EINVAL, "u64: leading blank is -EINVAL");
                CHECK(vici_node_u64(root, "empty", &u) == -EINVAL, "u64: empty is -EINVAL");
                vici_node_free(root);
        } else
                CHECK(0, "numbers message");
        free(buf);
}

static int finish_err(vici_builder *b) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = vici_builder_finish(b, &buf, &len);
        free(buf);
        return r;
}

static void test_misuse(void) {
        vici_builder *b = NULL;

        vici_builder_new(&b);
        vici_builder_add_list_item(b, "x");
        CHECK(finish_err(b) == -EINVAL, "list item outside a list");
        vici_builder_new(&b);
        vici_builder_end_section(b);
        CHECK(finish_err(b) == -EINVAL, "end_section with none open");
        vici_builder_new(&b);
        vici_builder_end_list(b);
        CHECK(finish_err(b) == -EINVAL, "end_list with none open");
        vici_builder_new(&b);
        vici_builder_begin_list(b, "l");
        vici_builder_add_str(b, "k", "v");
        CHECK(finish_err(b) == -EINVAL, "key/value inside a list");
        vici_builder_new(&b);
        vici_builder_begin_list(b, "l");
        vici_builder_begin_section(b, "s");
        CHECK(finish_err(b) == -EINVAL, "section inside a list");
        vici_builder_new(&b);
        vici_builder_begin_list(b, "l");
        vici_builder_begin_list(b, "m");
        CHECK(finish_err(b) == -EINVAL, "list inside a list");
        vici_builder_new(&b);
        vici_builder_begin_list(b, "l");
        vici_builder_end_section(b);
        CHECK(finish_err(b) == -EINVAL, "end_section closing a list");
        vici_builder_new(&b);
        vici_builder_begin_section(b, "s");
        vici_builder_end_list(b);
        CHECK(finish_err(b) == -EINVAL, "end_list closing a section");
        vici_builder_new(&b);
        vici_builder_begin_section(b, "s");
        CHECK(finish_err(b) == -EINVAL, "section left open at finish");
        vici_builder_new(&b);
        vici_builder_begin_list(b, "l");
        CHECK(finish_err(b) == -EINVAL, "list left open at finish");
        vici_builder_new(&b);
        vici_builder_add_str(b, NULL, "v");
        CHECK(finish_err(b) == -EINVAL, "NULL key");
        vici_builder_new(&b);
        vici_builder_add_str(b, "k", NULL);
        CHECK(finish_err(b) == -EINVAL, "NULL string value");
        vici_builder_new(&b);
        vici_builder_add(b, "k", NULL, 3);
        CHECK(finish_err(b) == -EINVAL, "NULL value with a length");
        vici_builder_new(&b);
        vici_builder_add_node(b, NULL);
        CHECK(finish_err(b) == -EINVAL, "add_node(NULL)");

        /* the first error latches; later correct calls do not clear it, later errors do not
         * replace it */
        vici_builder_new(&b);
        vici_builder_end_section(b);
        vici_builder_add_str(b, "k", "v");
        vici_builder_add(b, "k", "v", 70000);
        CHECK(finish_err(b) == -EINVAL, "first error (-EINVAL) latched over a later -E2BIG");
        vici_builder_new(&b);
        vici_builder_add(b, "k", "v", 70000);
        vici_builder_end_section(b);
        CHECK(finish_err(b) == -E2BIG, "first error (-E2BIG) latched over a later -EINVAL");

        /* NULL builder everywhere */
        vici_builder_add_str(NULL, "k", "v");
        vici_builder_add_fmt(NULL, "k", "%d", 1);
        vici_builder_begin_section(NULL, "s");
        vici_builder_end_section(NULL);
        vici_builder_begin_list(NULL, "l");
        vici_builder_add_list_item(NULL, "x");
        vici_builder_end_list(NULL);
        vici_builder_add_node(NULL, NULL);
        CHECK(vici_builder_free(NULL) == NULL && vici_node_free(NULL) == NULL,
              "NULL builder/node: no-ops");
        uint8_t *buf;
        size_t len;
        CHECK(vici_builder_finish(NULL, &buf, &len) == -EINVAL, "finish(NULL) is -EINVAL");
        CHECK(vici_builder_new(NULL) == -EINVAL, "builder_new(NULL) is -EINVAL");
        CHECK(vici_node_get(NULL, "a") == NULL && vici_node_str(NULL, "a") == NULL,
              "lookups on NULL");

        /* packet builder misuse */
        uint8_t *pkt = NULL;
        size_t pkt_len;
        CHECK(vici_packet_build(VICI_CMD_REQUEST, NULL, NULL, 0, &pkt, &pkt_len) == -EINVAL,
              "CMD_REQUEST without a name");
        CHECK(vici_packet_build(VICI_CMD_REQUEST, "", NULL, 0, &pkt, &pkt_len) == -EINVAL,
              "CMD_REQUEST with an empty name");
        CHECK(vici_packet_build(VICI_EVENT_CONFIRM, "x", NULL, 0, &pkt, &pkt_len) == -EINVAL,
              "EVENT_CONFIRM with a name");
        CHECK(vici_packet_build(VICI_EVENT_REGISTER, "x", (const uint8_t *) "a", 1, &pkt,
                                &pkt_len) == -EINVAL,
              "EVENT_REGISTER with a message");
        CHECK(vici_packet_build(_VICI_PACKET_TYPE_MAX, NULL, NULL, 0, &pkt, &pkt_len) == -EINVAL,
              "unknown packet type");
        char longname[300];
        memset(longname, 'n', sizeof(longname) - 1);
        longname[299] = 0;
        CHECK(vici_packet_build(VICI_CMD_REQUEST, longname, NULL, 0, &pkt, &pkt_len) == -E2BIG,
              "299-byte command name");

        /* every packet type round-trips */
        for (int t = 0; t < _VICI_PACKET_TYPE_MAX; t++) {
                bool named = t == VICI_CMD_REQUEST || t == VICI_EVENT_REGISTER ||
                             t == VICI_EVENT_UNREGISTER || t == VICI_EVENT;
                bool has_msg = t == VICI_CMD_REQUEST || t == VICI_CMD_RESPONSE || t == VICI_EVENT;
                static const uint8_t m[] = {3, 1, 'k', 0, 1, 'v'};
                vici_packet_type got;
                char *name = NULL;
                vici_node *msg = NULL;
                int r = vici_packet_build(t, named ? "list-sas" : NULL, has_msg ? m : NULL,
                                          has_msg ? sizeof(m) : 0, &pkt, &pkt_len);
                CHECK(r == 0 && vici_packet_parse(pkt + 4, pkt_len - 4, &got, &name, &msg) == 0 &&
                              (int) got == t &&
                              (named ? name && strcmp(name, "list-sas") == 0 : !name) &&
                              (has_msg ? vici_node_str(msg, "k") &&
                                                 strcmp(vici_node_str(msg, "k"), "v") == 0
                                       : !msg),
                      "packet type %d round-trips", t);
                free(name);
                vici_node_free(msg);
                free(pkt);
                pkt = NULL;
        }
}

int main(void) {
        test_round_trip();
        test_wire();
        test_truncations();
        test_malformed();
        test_limits();
        test_misuse();
        return TAP_END();
}
