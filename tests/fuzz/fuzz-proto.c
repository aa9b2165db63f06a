/* Fuzz the control protocol's decoders: the input is a byte stream as the agent reads it from
 * a client (and the CLI from the agent). Frames are cut with proto_frame_peek() under both
 * limits and parsed with proto_frame_parse(); a body that parses is re-encoded with the VICI
 * builder, parsed again, and rendered through the lookups the handlers use.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const vici_node *n, unsigned depth) {
        for (const vici_node *c = n->child; c; c = c->next) {
                if (c->type == VICI_NODE_VALUE && c->value)
                        (void) strnlen(c->value, c->len + 1);
                if (c->child && depth < 64)
                        walk(c, depth + 1);
        }
}

static void one_frame(const uint8_t *buf, size_t len) {
        proto_header h;
        vici_node *body = NULL;

        if (proto_frame_parse(buf, len, &h, &body) < 0)
                return;
        (void) proto_verb_is_write(h.verb);
        (void) proto_verb_to_string(h.verb);
        (void) vici_node_str(body, "error");
        (void) vici_node_get(body, "charon.state");
        walk(body, 0);

        /* re-encode what we decoded: the builder must accept it and round-trip it */
        vici_builder *b = NULL;
        if (vici_builder_new(&b) == 0) {
                uint8_t *out = NULL, *frame = NULL;
                size_t out_len = 0, frame_len = 0;
                vici_builder_add_node(b, body);
                if (vici_builder_finish(b, &out, &out_len) == 0 &&
                    proto_frame_build(PROTO_KIND_RESPONSE, h.verb, h.status, out, out_len, &frame,
                                      &frame_len) == 0) {
                        proto_header h2;
                        vici_node *again = NULL;
                        if (proto_frame_parse(frame + PROTO_LENGTH_SIZE,
                                              frame_len - PROTO_LENGTH_SIZE, &h2, &again) != 0)
                                abort();
                        if (h2.verb != h.verb || h2.status != h.status)
                                abort();
                        vici_node_free(again);
                }
                free(out);
                free(frame);
        }
        vici_node_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const size_t limits[] = { PROTO_REQUEST_MAX, PROTO_RESPONSE_MAX };

        for (size_t l = 0; l < 2; l++) {
                size_t off = 0;
                /* a stream of frames, as a pipelining client would send them */
                for (unsigned i = 0; i < 16 && off < size; i++) {
                        size_t flen;
                        if (proto_frame_peek(data + off, size - off, limits[l], &flen) < 0 ||
                            flen > size - off)
                                break;
                        one_frame(data + off + PROTO_LENGTH_SIZE, flen - PROTO_LENGTH_SIZE);
                        off += flen;
                }
        }
        /* the header parser on its own, at every length up to the header size */
        for (size_t k = 0; k <= PROTO_HEADER_SIZE && k <= size; k++) {
                proto_header h;
                (void) proto_header_parse(data, k, &h);
        }
        return 0;
}
