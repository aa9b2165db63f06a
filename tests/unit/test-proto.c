/* Control protocol framing (common/proto.c): the verb table, frame round trips, every
 * truncation of a response on a real socket, oversize frames, bad magic/version/kind, error
 * frames, and the blocking client's timeout. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "now.h"
#include "proto.h"
#include "tap.h"

static void test_verbs(void) {
        for (int v = 1; v < _PROTO_VERB_MAX; v++) {
                const char *n = proto_verb_to_string(v);
                CHECK(n && proto_verb_from_string(n) == v, "verb %d '%s' round-trips", v, n ?: "?");
                CHECK(proto_verb_summary(v) != NULL, "verb %d has a summary", v);
        }
        CHECK(!proto_verb_is_write(PROTO_STATUS), "status is read-only");
        CHECK(proto_verb_is_write(PROTO_RELOAD), "reload is state-changing");
        CHECK(proto_verb_is_write(PROTO_APPROVE) && proto_verb_is_write(PROTO_DRILL) &&
                      proto_verb_is_write(PROTO_REVERT),
              "approve, drill, revert are state-changing");
        CHECK(!proto_verb_is_write(PROTO_AUDIT) && !proto_verb_is_write(PROTO_PENDING),
              "audit, pending are read-only");
        CHECK(!proto_verb_is_valid(0) && !proto_verb_is_valid(_PROTO_VERB_MAX) &&
                      !proto_verb_is_valid(-1) && !proto_verb_is_valid(65535),
              "0, MAX, -1, 65535 are not verbs");
        CHECK(proto_verb_is_write(999), "an unknown verb counts as state-changing");
        CHECK(proto_verb_to_string(999) == NULL, "unknown verb has no name");
        CHECK(proto_verb_from_string("frobnicate") == -EINVAL, "unknown name is -EINVAL");
        CHECK(proto_verb_from_string(NULL) == -EINVAL, "NULL name is -EINVAL");
        CHECK(proto_verb_from_string("Status") == -EINVAL, "names are case-sensitive");
}

static int build_body(uint8_t **ret, size_t *ret_len) {
        vici_builder *b = NULL;
        int r = vici_builder_new(&b);
        if (r < 0)
                return r;
        vici_builder_add_str(b, "version", "0.1.0");
        vici_builder_begin_section(b, "ikesas");
        vici_builder_add_str(b, "total", "3");
        vici_builder_end_section(b);
        vici_builder_begin_list(b, "groups");
        vici_builder_add_list_item(b, "a");
        vici_builder_add_list_item(b, "b");
        vici_builder_end_list(b);
        return vici_builder_finish(b, ret, ret_len);
}

static void test_round_trip(void) {
        _cleanup_(freep) uint8_t *body = NULL, *frame = NULL;
        _cleanup_(vici_node_freep) vici_node *n = NULL;
        size_t body_len = 0, len = 0, flen = 0;
        proto_header h = {};
        int r;

        r = build_body(&body, &body_len);
        CHECK(r == 0, "body builds (%d)", r);
        if (r < 0)
                return;
        r = proto_frame_build(PROTO_KIND_RESPONSE, PROTO_STATUS, -13, body, body_len, &frame, &len);
        CHECK(r == 0 && len == PROTO_LENGTH_SIZE + PROTO_HEADER_SIZE + body_len, "frame builds");
        CHECK(frame[4] == 0xA1 && frame[5] == PROTO_KIND_RESPONSE && frame[6] == 0 && frame[7] == 1,
              "header bytes: magic/version 0xA1, kind, verb BE");
        CHECK(frame[8] == 0xff && frame[11] == 0xf3, "status -13 as i32 BE");
        r = proto_frame_peek(frame, len, PROTO_RESPONSE_MAX, &flen);
        CHECK(r == 0 && flen == len, "peek gives the whole frame length");
        r = proto_frame_parse(frame + 4, len - 4, &h, &n);
        CHECK(r == 0, "frame parses (%d)", r);
        CHECK(h.version == PROTO_VERSION && h.kind == PROTO_KIND_RESPONSE &&
                      h.verb == PROTO_STATUS && h.status == -13,
              "header round-trips");
        CHECK(n && vici_node_str(n, "version") && strcmp(vici_node_str(n, "version"), "0.1.0") == 0,
              "body key round-trips");
        CHECK(n && vici_node_str(n, "ikesas.total") &&
                      strcmp(vici_node_str(n, "ikesas.total"), "3") == 0,
              "body section round-trips");
        const vici_node *l = n ? vici_node_get(n, "groups") : NULL;
        CHECK(l && l->type == VICI_NODE_LIST && l->child && l->child->next &&
                      strcmp(l->child->next->value, "b") == 0,
              "body list round-trips");

        /* every truncation of the frame: the stream reader never delivers a partial frame, and
         * the header parser refuses a short header */
        bool ok = true;
        for (size_t k = 0; k < len; k++) {
                r = proto_frame_peek(frame, k, PROTO_RESPONSE_MAX, &flen);
                if (!(r == -EAGAIN || (r == 0 && flen > k)))
                        ok = false;
                if (k >= 4 && k < 4 + PROTO_HEADER_SIZE) {
                        proto_header hh;
                        if (proto_header_parse(frame + 4, k - 4, &hh) != -EBADMSG)
                                ok = false;
                }
        }
        CHECK(ok, "every prefix of %zu bytes is 'incomplete'", len);

        /* the same on a real socket: the client sees EOF mid-frame as -ECONNRESET */
        ok = true;
        for (size_t k = 0; k < len; k++) {
                int sv[2];
                vici_node *got = NULL;
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                        ok = false;
                        break;
                }
                if (k > 0 && write(sv[1], frame, k) != (ssize_t) k)
                        ok = false;
                (void) close(sv[1]);
                r = proto_recv_response(sv[0], mono_usec() + 2 * USEC_PER_SEC, &h, &got);
                if (r != -ECONNRESET) {
                        printf("     truncated at %zu: %d\n", k, r);
                        ok = false;
                }
                vici_node_free(got);
                (void) close(sv[0]);
        }
        CHECK(ok, "every truncation on a socket is -ECONNRESET, never a message");

        /* and the whole frame on a socket arrives */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
                vici_node *got = NULL;
                CHECK(write(sv[1], frame, len) == (ssize_t) len, "write whole frame");
                r = proto_recv_response(sv[0], mono_usec() + 2 * USEC_PER_SEC, &h, &got);
                CHECK(r == 0 && got && h.status == -13, "whole frame on a socket is received");
                vici_node_free(got);
                /* nothing more: the client times out */
                uint64_t t0 = mono_usec();
                r = proto_recv_response(sv[0], t0 + 100 * USEC_PER_MSEC, &h, &got);
                CHECK(r == -ETIMEDOUT && mono_usec() - t0 >= 100 * USEC_PER_MSEC,
                      "no answer: -ETIMEDOUT after the deadline (%d)", r);
                (void) close(sv[0]);
                (void) close(sv[1]);
        }

        /* a request where a response is expected */
        _cleanup_(freep) uint8_t *req = NULL;
        size_t req_len;
        r = proto_frame_build(PROTO_KIND_REQUEST, PROTO_STATUS, 0, NULL, 0, &req, &req_len);
        CHECK(r == 0 && req_len == 12, "empty request is 12 bytes");
        if (r == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
                vici_node *got = NULL;
                CHECK(write(sv[1], req, req_len) == (ssize_t) req_len, "write request");
                r = proto_recv_response(sv[0], mono_usec() + USEC_PER_SEC, &h, &got);
                CHECK(r == -EBADMSG, "a request is not a response: -EBADMSG (%d)", r);
                vici_node_free(got);
                (void) close(sv[0]);
                (void) close(sv[1]);
        }
        vici_node *e = NULL;
        r = proto_frame_parse(req + 4, req_len - 4, &h, &e);
        CHECK(r == 0 && e && e->type == VICI_NODE_SECTION && !e->child,
              "empty body parses as an empty section");
        vici_node_free(e);
}

static void test_bad_frames(void) {
        uint8_t f[12] = { 0, 0, 0, 8, 0xA1, 1, 0, 1, 0, 0, 0, 0 };
        proto_header h = {};
        size_t flen;
        int r;

        r = proto_header_parse(f + 4, 8, &h);
        CHECK(r == 0 && h.kind == PROTO_KIND_REQUEST && h.verb == 1, "good request header");

        f[4] = 0xB1;
        CHECK(proto_header_parse(f + 4, 8, &h) == -EBADMSG, "bad magic is -EBADMSG");
        f[4] = 0x00;
        CHECK(proto_header_parse(f + 4, 8, &h) == -EBADMSG, "zero magic is -EBADMSG");
        f[4] = 0xA2;
        h = (proto_header){};
        r = proto_header_parse(f + 4, 8, &h);
        CHECK(r == -EPROTONOSUPPORT && h.version == 2 && h.verb == 1,
              "version 2 is -EPROTONOSUPPORT and says which");
        f[4] = 0xA0;
        CHECK(proto_header_parse(f + 4, 8, &h) == -EPROTONOSUPPORT, "version 0 too");
        f[4] = 0xA1;
        f[5] = 0;
        CHECK(proto_header_parse(f + 4, 8, &h) == -EBADMSG, "kind 0 is -EBADMSG");
        f[5] = 3;
        CHECK(proto_header_parse(f + 4, 8, &h) == -EBADMSG, "kind 3 is -EBADMSG");
        f[5] = 1;
        f[6] = 0x03;
        f[7] = 0xe7;
        r = proto_header_parse(f + 4, 8, &h);
        CHECK(r == 0 && h.verb == 999 && !proto_verb_is_valid(h.verb),
              "unknown verb 999 parses (the server answers it)");

        f[3] = 7;
        CHECK(proto_frame_peek(f, 12, PROTO_REQUEST_MAX, &flen) == -EBADMSG,
              "length below the header is -EBADMSG");
        f[3] = 0;
        CHECK(proto_frame_peek(f, 12, PROTO_REQUEST_MAX, &flen) == -EBADMSG, "length 0 is -EBADMSG");
        uint32_t big = PROTO_REQUEST_MAX + 1;
        f[0] = big >> 24, f[1] = big >> 16, f[2] = big >> 8, f[3] = big;
        CHECK(proto_frame_peek(f, 4, PROTO_REQUEST_MAX, &flen) == -EMSGSIZE,
              "request length over 64 KiB is -EMSGSIZE");
        CHECK(proto_frame_peek(f, 4, PROTO_RESPONSE_MAX, &flen) == 0 && flen == 4 + big,
              "the same length is fine for a response");
        f[0] = f[1] = f[2] = f[3] = 0xff;
        CHECK(proto_frame_peek(f, 4, PROTO_RESPONSE_MAX, &flen) == -EMSGSIZE,
              "length 4 GiB is -EMSGSIZE");

        /* body garbage */
        uint8_t g[4 + 8 + 3] = { 0, 0, 0, 11, 0xA1, 1, 0, 1, 0, 0, 0, 0, 9, 9, 9 };
        vici_node *n = NULL;
        r = proto_frame_parse(g + 4, 11, &h, &n);
        CHECK(r == -EBADMSG && n == NULL, "garbage body is -EBADMSG, nothing returned (%d)", r);
        g[12] = VICI_SECTION_END; /* unbalanced */
        r = proto_frame_parse(g + 4, 9, &h, &n);
        CHECK(r == -EBADMSG && n == NULL, "unbalanced body is -EBADMSG (%d)", r);

        /* building over the limit */
        uint8_t *buf = NULL, *out = NULL;
        size_t len;
        buf = calloc(1, PROTO_REQUEST_MAX);
        if (buf) {
                r = proto_frame_build(PROTO_KIND_REQUEST, PROTO_STATUS, 0, buf,
                                      PROTO_REQUEST_MAX - PROTO_HEADER_SIZE + 1, &out, &len);
                CHECK(r == -EMSGSIZE && !out, "request body over the limit is -EMSGSIZE");
                r = proto_frame_build(PROTO_KIND_REQUEST, PROTO_STATUS, 0, buf,
                                      PROTO_REQUEST_MAX - PROTO_HEADER_SIZE, &out, &len);
                CHECK(r == 0 && len == 4 + PROTO_REQUEST_MAX, "request at exactly the limit builds");
                free(out);
                free(buf);
        }
        CHECK(proto_frame_build(7, PROTO_STATUS, 0, NULL, 0, &out, &len) == -EINVAL,
              "bad kind is -EINVAL");
}

static void test_error_frame(void) {
        _cleanup_(freep) uint8_t *frame = NULL;
        _cleanup_(vici_node_freep) vici_node *n = NULL;
        proto_header h;
        size_t len;
        int r;

        r = proto_frame_build_error(PROTO_RELOAD, -1, "permission denied: because", &frame, &len);
        CHECK(r == 0, "error frame builds");
        r = proto_frame_parse(frame + 4, len - 4, &h, &n);
        CHECK(r == 0 && h.status == -1 && h.verb == PROTO_RELOAD, "error frame parses");
        CHECK(n && vici_node_str(n, "error") &&
                      strcmp(vici_node_str(n, "error"), "permission denied: because") == 0,
              "error reason carried in 'error'");
}

int main(void) {
        test_verbs();
        test_round_trip();
        test_bad_frames();
        test_error_frame();
        return TAP_END();
}
