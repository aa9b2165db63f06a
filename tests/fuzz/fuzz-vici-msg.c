/* Fuzz the VICI decoder as the agent meets it: the input is a byte stream as read from charon's
 * socket, cut into u32-length-prefixed packets under VICI_PACKET_MAX (as common/vici.c does) and
 * decoded with vici_packet_parse(); the whole input is also decoded as one bare message with
 * vici_msg_parse(). Whatever decodes is re-encoded with the builder (vici_builder_add_node)
 * and must decode again to the same bytes, and every lookup the agent uses must be safe on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vici_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const vici_node *n, unsigned depth) {
        for (const vici_node *c = n->child; c; c = c->next) {
                if (c->type == VICI_NODE_VALUE) {
                        if (!c->value || c->value[c->len] != 0)
                                abort(); /* values always carry a terminator */
                } else if (c->value)
                        abort();
                if (c->name)
                        (void) vici_node_get(n, c->name);
                if (c->child && depth < 64)
                        walk(c, depth + 1);
        }
}

static void check_msg(const vici_node *msg) {
        uint64_t u;

        walk(msg, 0);
        (void) vici_node_str(msg, "version");
        (void) vici_node_u64(msg, "ikesas.total", &u);
        (void) vici_node_get(msg, "a.b.c");
        (void) vici_node_get(msg, "..");

        /* re-encode, re-parse, re-encode: the two encodings must be identical */
        vici_builder *b = NULL;
        uint8_t *out = NULL, *out2 = NULL;
        size_t out_len = 0, out2_len = 0;
        vici_node *again = NULL;
        if (vici_builder_new(&b) < 0)
                return;
        vici_builder_add_node(b, msg);
        if (vici_builder_finish(b, &out, &out_len) != 0)
                abort(); /* anything the decoder accepts, the builder must accept */
        if (vici_msg_parse(out, out_len, &again) != 0)
                abort();
        if (vici_builder_new(&b) == 0) {
                vici_builder_add_node(b, again);
                if (vici_builder_finish(b, &out2, &out2_len) != 0 || out2_len != out_len ||
                    memcmp(out, out2, out_len) != 0)
                        abort();
        }
        vici_node_free(again);
        free(out);
        free(out2);
}

static void one_packet(const uint8_t *buf, size_t len) {
        vici_packet_type type;
        char *name = NULL;
        vici_node *msg = NULL;

        if (vici_packet_parse(buf, len, &type, &name, &msg) < 0)
                return;
        if (msg)
                check_msg(msg);

        /* the packet itself round-trips */
        uint8_t *m = NULL, *pkt = NULL;
        size_t m_len = 0, pkt_len = 0;
        vici_builder *b = NULL;
        if (msg && vici_builder_new(&b) == 0) {
                vici_builder_add_node(b, msg);
                if (vici_builder_finish(b, &m, &m_len) != 0)
                        abort();
        }
        if (vici_packet_build(type, name, m, m_len, &pkt, &pkt_len) == 0) {
                vici_packet_type t2;
                if (vici_packet_parse(pkt + 4, pkt_len - 4, &t2, NULL, NULL) != 0 || t2 != type)
                        abort();
        } else if (m_len + 1 + 256 < VICI_PACKET_MAX)
                abort(); /* only the size limit may refuse what was just decoded */
        free(pkt);
        free(m);
        free(name);
        vici_node_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t off = 0;
        vici_node *msg = NULL;

        for (unsigned i = 0; i < 32 && size - off >= 4; i++) {
                uint32_t len = (uint32_t) data[off] << 24 | (uint32_t) data[off + 1] << 16 |
                               (uint32_t) data[off + 2] << 8 | data[off + 3];
                if (len == 0 || len > VICI_PACKET_MAX || len > size - off - 4)
                        break;
                one_packet(data + off + 4, len);
                off += 4 + len;
        }
        if (vici_msg_parse(data, size, &msg) == 0) {
                check_msg(msg);
                vici_node_free(msg);
        }
        return 0;
}
