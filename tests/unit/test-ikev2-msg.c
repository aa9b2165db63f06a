/* IKE_SA_INIT request building and strict response parsing (common/ikev2_msg.c): the request is
 * walked field by field; responses are assembled here, one defect at a time, and each defect
 * must be refused with a reason while the well-formed answers are accepted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "ikev2_msg.h"
#include "tap.h"

static uint16_t u16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t u32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* ---- a small response assembler ---- */

typedef struct msg {
        uint8_t b[IKEV2_MSG_MAX_SIZE + 64];
        size_t n;
        size_t last_next; /* where the previous payload's next-payload byte is */
} msg;

static const uint8_t SPI_I[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t SPI_R[8] = {9, 9, 9, 9, 9, 9, 9, 9};

static void put(msg *m, const void *d, size_t n) {
        if (n)
                memcpy(m->b + m->n, d, n);
        m->n += n;
}

static void put8(msg *m, uint8_t v) {
        put(m, &v, 1);
}

static void put16(msg *m, uint16_t v) {
        uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
        put(m, b, 2);
}

static void header(msg *m, const uint8_t *spi_r) {
        memset(m, 0, sizeof(*m));
        put(m, SPI_I, 8);
        put(m, spi_r, 8);
        put8(m, 0);    /* next payload */
        put8(m, 0x20); /* version */
        put8(m, IKEV2_EXCHANGE_IKE_SA_INIT);
        put8(m, IKEV2_FLAG_RESPONSE);
        put(m, "\0\0\0\0", 4); /* message id */
        put(m, "\0\0\0\0", 4); /* length: fix() */
        m->last_next = 16;
}

static size_t payload(msg *m, uint8_t type, bool critical) {
        size_t at = m->n;
        m->b[m->last_next] = type;
        m->last_next = at;
        put8(m, 0);
        put8(m, critical ? 0x80 : 0);
        put16(m, 0);
        return at;
}

static void end(msg *m, size_t at) {
        m->b[at + 2] = (uint8_t) ((m->n - at) >> 8);
        m->b[at + 3] = (uint8_t) (m->n - at);
}

static void fix(msg *m) {
        m->b[24] = (uint8_t) (m->n >> 24);
        m->b[25] = (uint8_t) (m->n >> 16);
        m->b[26] = (uint8_t) (m->n >> 8);
        m->b[27] = (uint8_t) m->n;
}

static void transform(msg *m, bool last, uint8_t type, uint16_t id, uint16_t keylen) {
        put8(m, last ? 0 : 3);
        put8(m, 0);
        put16(m, keylen ? 12 : 8);
        put8(m, type);
        put8(m, 0);
        put16(m, id);
        if (keylen) {
                put16(m, 0x800e);
                put16(m, keylen);
        }
}

static void sa(msg *m, unsigned n_proposals) {
        size_t at = payload(m, IKEV2_PAYLOAD_SA, false);
        for (unsigned i = 0; i < n_proposals; i++) {
                size_t p = m->n;
                put8(m, i + 1 == n_proposals ? 0 : 2);
                put8(m, 0);
                put16(m, 0);
                put8(m, (uint8_t) (i + 1));
                put8(m, 1);
                put8(m, 0);
                put8(m, 4);
                transform(m, false, 1, 12, 256);
                transform(m, false, 2, 5, 0);
                transform(m, false, 3, 12, 0);
                transform(m, true, 4, 19, 0);
                m->b[p + 2] = (uint8_t) ((m->n - p) >> 8);
                m->b[p + 3] = (uint8_t) (m->n - p);
        }
        end(m, at);
}

static void ke(msg *m, uint16_t group, size_t len) {
        size_t at = payload(m, IKEV2_PAYLOAD_KE, false);
        put16(m, group);
        put16(m, 0);
        for (size_t i = 0; i < len; i++)
                put8(m, (uint8_t) i);
        end(m, at);
}

static void nonce(msg *m, size_t len) {
        size_t at = payload(m, IKEV2_PAYLOAD_NONCE, false);
        for (size_t i = 0; i < len; i++)
                put8(m, 0xa5);
        end(m, at);
}

static void notify(msg *m, uint16_t type, const void *data, size_t len) {
        size_t at = payload(m, IKEV2_PAYLOAD_NOTIFY, false);
        put8(m, 0);
        put8(m, 0);
        put16(m, type);
        put(m, data, len);
        end(m, at);
}

static void full_answer(msg *m) {
        header(m, SPI_R);
        sa(m, 1);
        ke(m, 19, 64);
        nonce(m, 32);
        notify(m, IKEV2_N_NAT_DETECTION_SOURCE_IP, "01234567890123456789", 20);
        notify(m, IKEV2_N_NAT_DETECTION_DESTINATION_IP, "01234567890123456789", 20);
        fix(m);
}

static void invalid_ke(msg *m) {
        header(m, (uint8_t[8]){0});
        notify(m, IKEV2_N_INVALID_KE_PAYLOAD, "\x00\x13", 2);
        fix(m);
}

static int parse(const msg *m, ikev2_msg_response *r, const char **why) {
        return ikev2_msg_parse_init_response(m->b, m->n, SPI_I, r, why);
}

#define REFUSED(m, what)                                                                           \
        do {                                                                                       \
                ikev2_msg_response _r;                                                             \
                const char *_why = NULL;                                                           \
                int _x = parse(m, &_r, &_why);                                                     \
                CHECK(_x == -EBADMSG && _why, "refused: %s (%s)", what, _why ? _why : "-");        \
        } while (0)

/* ---- request ---- */

static void test_request(uint16_t group, ikev2_msg_offer offer) {
        struct sockaddr_in l = {.sin_family = AF_INET, .sin_port = htons(40000)};
        struct sockaddr_in r = {.sin_family = AF_INET, .sin_port = htons(500)};
        ikev2_msg_request *req = NULL;
        const uint8_t *d;
        size_t off, n_payloads = 0;
        bool ke_ok = false, nonce_ok = false, sa_ok = false, group_offered = false;
        unsigned natd = 0;
        uint8_t next;
        int x;

        inet_pton(AF_INET, "198.19.7.1", &l.sin_addr);
        inet_pton(AF_INET, "198.19.7.2", &r.sin_addr);
        x = ikev2_msg_build_init(&(ikev2_msg_init_options){.ke_group = group,
                                                           .offer = offer,
                                                           .local = (struct sockaddr *) &l,
                                                           .remote = (struct sockaddr *) &r},
                                 &req);
        CHECK(x == 0 && req, "build request group %u offer %s", group,
              offer == IKEV2_MSG_OFFER_FULL ? "full" : "stateless");
        if (x < 0)
                return;
        d = req->data;
        CHECK(!memcmp(d, req->spi_i, 8) && memcmp(d, "\0\0\0\0\0\0\0\0", 8),
              "SPIi random, non-zero");
        CHECK(!memcmp(d + 8, "\0\0\0\0\0\0\0\0", 8), "SPIr zero");
        CHECK(d[17] == 0x20 && d[18] == 34 && d[19] == 0x08,
              "version 2.0, IKE_SA_INIT, initiator flag");
        CHECK(u32(d + 20) == 0 && u32(d + 24) == req->size, "message ID 0, length %zu", req->size);
        next = d[16];
        for (off = 28; next; n_payloads++) {
                uint8_t type = next;
                size_t len = u16(d + off + 2);
                if (len < 4 || off + len > req->size)
                        break;
                next = d[off];
                if (type == IKEV2_PAYLOAD_SA) {
                        /* walk proposals and transforms, looking for the KE group */
                        size_t p = off + 4;
                        sa_ok = true;
                        while (p < off + len) {
                                size_t plen = u16(d + p + 2), t = p + 8, nt = 0;
                                if (d[p + 5] != 1 || d[p + 6] != 0)
                                        sa_ok = false;
                                while (t < p + plen) {
                                        if (d[t + 4] == 4 && u16(d + t + 6) == req->ke_group)
                                                group_offered = true;
                                        t += u16(d + t + 2);
                                        nt++;
                                }
                                if (t != p + plen || nt != d[p + 7])
                                        sa_ok = false;
                                p += plen;
                        }
                        if (p != off + len)
                                sa_ok = false;
                } else if (type == IKEV2_PAYLOAD_KE)
                        ke_ok = u16(d + off + 4) == group &&
                                len == 8 + (group == IKEV2_GROUP_ECP256 ? 64u : 32u);
                else if (type == IKEV2_PAYLOAD_NONCE)
                        nonce_ok = len == 4 + IKEV2_NONCE_SIZE;
                else if (type == IKEV2_PAYLOAD_NOTIFY &&
                         (u16(d + off + 6) == IKEV2_N_NAT_DETECTION_SOURCE_IP ||
                          u16(d + off + 6) == IKEV2_N_NAT_DETECTION_DESTINATION_IP) &&
                         len == 8 + 20)
                        natd++;
                off += len;
        }
        CHECK(off == req->size && n_payloads == 5,
              "payload chain ends exactly at the length (%zu payloads)", n_payloads);
        CHECK(sa_ok, "SA payload: proposals for IKE, no SPI, transform counts consistent");
        CHECK(ke_ok, "KE payload: group %u with a %u-byte public value", group,
              group == IKEV2_GROUP_ECP256 ? 64u : 32u);
        CHECK(nonce_ok, "Nonce payload of %d bytes", IKEV2_NONCE_SIZE);
        CHECK(natd == 2, "both NAT-D notifies present");
        CHECK(group_offered == (offer == IKEV2_MSG_OFFER_FULL), "KE group %s in the SA offer",
              offer == IKEV2_MSG_OFFER_FULL ? "listed" : "left out");

        /* our own request is not a response */
        {
                ikev2_msg_response resp;
                const char *why = NULL;
                CHECK(ikev2_msg_parse_init_response(d, req->size, req->spi_i, &resp, &why) ==
                              -EBADMSG,
                      "our own request is refused as a response (%s)", why ? why : "-");
        }
        req = ikev2_msg_request_free(req);
}

/* OpenSSL's X25519 with a fresh private key and u as the peer's value: false when the shared
 * secret is all zero (a small-order u), which OpenSSL refuses. */
static bool x25519_derives(const uint8_t u[32]) {
        EVP_PKEY *mine = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, u, 32);
        EVP_PKEY_CTX *ctx = mine ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
        uint8_t secret[32];
        size_t len = sizeof(secret);
        bool ok = ctx && peer && EVP_PKEY_derive_init(ctx) == 1 &&
                  EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
                  EVP_PKEY_derive(ctx, secret, &len) == 1 && len == 32;

        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(peer);
        EVP_PKEY_free(mine);
        return ok;
}

/* The probe's X25519 value is drawn at random, not generated as a key: the values refused are
 * exactly those a peer could not use, and the values drawn are ones it can. */
static void test_x25519_value(void) {
        static const uint8_t refused[][32] = {
                {0x00},
                {0x01},
                {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
                 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
                 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
                {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
                 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
                 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
        };
        uint8_t u[32];
        unsigned bad = 0;

        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                CHECK(!ikev2_msg_x25519_usable(refused[i]) && !x25519_derives(refused[i]),
                      "small-order u #%zu refused here and by OpenSSL's X25519", i);
        /* p − 1 (order 2), p, p + 1: not canonical or small order */
        for (uint8_t low = 0xec; low <= 0xee; low++) {
                memset(u, 0xff, sizeof(u));
                u[0] = low;
                u[31] = 0x7f;
                CHECK(!ikev2_msg_x25519_usable(u) && !x25519_derives(u),
                      "u = p %+d refused here and by OpenSSL's X25519", (int) low - 0xed);
        }
        memset(u, 0xff, sizeof(u));
        u[0] = 0xeb;
        u[31] = 0x7f;
        CHECK(ikev2_msg_x25519_usable(u) && x25519_derives(u), "u = p - 2 is usable");
        memset(u, 0, sizeof(u));
        u[0] = 9;
        CHECK(ikev2_msg_x25519_usable(u) && x25519_derives(u), "the base point u = 9 is usable");
        u[31] = 0x80;
        CHECK(!ikev2_msg_x25519_usable(u), "the top bit set is refused (not canonical)");

        /* the value a probe sends (offset 28 + SA's length + 8 of the request is KE data;
         * found here by building requests and reading the KE payload) */
        for (unsigned i = 0; i < 200; i++) {
                ikev2_msg_keys *k = NULL;
                ikev2_msg_request *req = NULL;
                const uint8_t *ke;

                if (ikev2_msg_keys_new(&k, 0) < 0 ||
                    ikev2_msg_build_init(&(ikev2_msg_init_options){.keys = k}, &req) < 0) {
                        bad++;
                } else {
                        /* header 28, then SA: its length at +2 */
                        size_t sa_len = u16(req->data + 28 + 2);
                        ke = req->data + 28 + sa_len + 8; /* KE header 4, group 2, reserved 2 */
                        if (req->data[28 + sa_len + 4] != 0 ||
                            req->data[28 + sa_len + 5] != IKEV2_GROUP_X25519 ||
                            !ikev2_msg_x25519_usable(ke) || !x25519_derives(ke))
                                bad++;
                }
                req = ikev2_msg_request_free(req);
                k = ikev2_msg_keys_free(k);
        }
        CHECK(bad == 0, "200 drawn X25519 values sent in requests, each one a peer can use (%u not)",
              bad);
}

int main(void) {
        ikev2_msg_response r;
        const char *why = NULL;
        ikev2_msg_request *a = NULL, *b = NULL;
        msg m;
        size_t at;

        test_request(IKEV2_GROUP_X25519, IKEV2_MSG_OFFER_STATELESS);
        test_request(IKEV2_GROUP_ECP256, IKEV2_MSG_OFFER_STATELESS);
        test_x25519_value();
        test_request(IKEV2_GROUP_ECP256, IKEV2_MSG_OFFER_FULL);
        CHECK(ikev2_msg_build_init(&(ikev2_msg_init_options){.ke_group = 14}, &a) == -EINVAL,
              "unsupported KE group refused");
        CHECK(ikev2_msg_build_init(&(ikev2_msg_init_options){0}, &a) == 0 &&
                      ikev2_msg_build_init(&(ikev2_msg_init_options){0}, &b) == 0 &&
                      memcmp(a->spi_i, b->spi_i, 8) && a->size == b->size &&
                      memcmp(a->data, b->data, a->size),
              "two requests differ (SPI, KE, nonce); no NAT-D without addresses (%zu bytes)",
              a ? a->size : 0);
        a = ikev2_msg_request_free(a);
        b = ikev2_msg_request_free(b);

        /* ---- accepted answers ---- */
        full_answer(&m);
        CHECK(parse(&m, &r, &why) == 0 && r.has_sa && r.has_ke && r.has_nonce && !r.notify &&
                      r.ke_group == 19 && r.dh == 19 && r.encr == 12 && r.encr_keylen == 256 &&
                      r.prf == 5 && r.integ == 12 && r.nonce_size == 32 && r.n_payloads == 5,
              "SA/KE/Nonce answer accepted (%s)", why ? why : "ok");
        invalid_ke(&m);
        CHECK(parse(&m, &r, &why) == 0 && r.notify == IKEV2_N_INVALID_KE_PAYLOAD &&
                      r.ke_group == 19 && !r.has_sa,
              "N(INVALID_KE_PAYLOAD) answer accepted, group 19 requested");
        header(&m, (uint8_t[8]){0});
        notify(&m, IKEV2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        fix(&m);
        CHECK(parse(&m, &r, &why) == 0 && r.notify == IKEV2_N_NO_PROPOSAL_CHOSEN,
              "N(NO_PROPOSAL_CHOSEN) accepted");
        header(&m, (uint8_t[8]){0});
        notify(&m, IKEV2_N_COOKIE, "cookiecookiecookie", 18);
        fix(&m);
        CHECK(parse(&m, &r, &why) == 0 && r.cookie && !r.notify, "N(COOKIE) accepted");
        header(&m, (uint8_t[8]){0});
        at = payload(&m, 200, false); /* unknown, not critical: skipped */
        put(&m, "xyz", 3);
        end(&m, at);
        notify(&m, IKEV2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        at = payload(&m, IKEV2_PAYLOAD_VENDOR, false);
        put(&m, "strongSwan", 10);
        end(&m, at);
        fix(&m);
        CHECK(parse(&m, &r, &why) == 0 && r.notify == IKEV2_N_NO_PROPOSAL_CHOSEN &&
                      r.n_payloads == 3,
              "unknown non-critical payload and vendor ID skipped");
        m.b[19] |= 0x10; /* version bit: ignored */
        m.b[17] = 0x21;  /* minor version 1: ignored */
        CHECK(parse(&m, &r, &why) == 0, "minor version and version flag ignored");

        /* ---- header defects ---- */
        invalid_ke(&m);
        m.b[0] ^= 1;
        REFUSED(&m, "initiator SPI not ours");
        invalid_ke(&m);
        m.b[18] = 35;
        REFUSED(&m, "exchange IKE_AUTH");
        invalid_ke(&m);
        m.b[19] = 0;
        REFUSED(&m, "response flag clear");
        invalid_ke(&m);
        m.b[19] = IKEV2_FLAG_RESPONSE | IKEV2_FLAG_INITIATOR;
        REFUSED(&m, "initiator flag set");
        invalid_ke(&m);
        m.b[23] = 1;
        REFUSED(&m, "message ID 1");
        invalid_ke(&m);
        m.b[17] = 0x10;
        REFUSED(&m, "major version 1");
        invalid_ke(&m);
        m.b[27]++;
        REFUSED(&m, "header length one more than the datagram");
        invalid_ke(&m);
        m.b[27]--;
        REFUSED(&m, "header length one less than the datagram");
        invalid_ke(&m);
        CHECK(ikev2_msg_parse_init_response(m.b, 27, SPI_I, &r, &why) == -EBADMSG,
              "27 bytes: too short");
        CHECK(ikev2_msg_parse_init_response(m.b, 0, SPI_I, &r, &why) == -EBADMSG, "empty datagram");
        header(&m, (uint8_t[8]){0});
        fix(&m);
        REFUSED(&m, "header only, no payloads");

        /* ---- payload chain defects ---- */
        invalid_ke(&m);
        m.b[28 + 3] = 3;
        REFUSED(&m, "payload length 3");
        invalid_ke(&m);
        m.b[28 + 3] += 1;
        REFUSED(&m, "payload length past the end");
        invalid_ke(&m);
        m.b[28] = IKEV2_PAYLOAD_NONCE;
        REFUSED(&m, "chain names a payload after the last byte");
        invalid_ke(&m);
        m.b[m.n++] = 0;
        fix(&m);
        REFUSED(&m, "a trailing byte after the last payload");
        header(&m, (uint8_t[8]){0});
        at = payload(&m, 200, true);
        end(&m, at);
        notify(&m, IKEV2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        fix(&m);
        REFUSED(&m, "unknown critical payload");
        header(&m, (uint8_t[8]){0});
        at = payload(&m, IKEV2_PAYLOAD_SK, false);
        put(&m, "0123456789abcdef", 16);
        end(&m, at);
        fix(&m);
        REFUSED(&m, "encrypted payload in IKE_SA_INIT");
        header(&m, (uint8_t[8]){0});
        for (int i = 0; i < IKEV2_MSG_MAX_PAYLOADS; i++) {
                at = payload(&m, IKEV2_PAYLOAD_VENDOR, false);
                end(&m, at);
        }
        notify(&m, IKEV2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
        fix(&m);
        REFUSED(&m, "more than IKEV2_MSG_MAX_PAYLOADS payloads");
        header(&m, (uint8_t[8]){0});
        /* a self-referencing chain: next payload of the last one points at a vendor payload
         * that is not there; the walker must stop at the end, not loop */
        at = payload(&m, IKEV2_PAYLOAD_VENDOR, false);
        end(&m, at);
        m.b[at] = IKEV2_PAYLOAD_VENDOR;
        fix(&m);
        REFUSED(&m, "chain continues past the datagram");

        /* ---- notify defects ---- */
        header(&m, (uint8_t[8]){0});
        notify(&m, IKEV2_N_INVALID_KE_PAYLOAD, "\x00\x13\x00", 3);
        fix(&m);
        REFUSED(&m, "INVALID_KE_PAYLOAD with 3 data bytes");
        header(&m, (uint8_t[8]){0});
        {
                uint8_t big[65];
                memset(big, 1, sizeof(big));
                notify(&m, IKEV2_N_COOKIE, big, sizeof(big));
        }
        fix(&m);
        REFUSED(&m, "COOKIE of 65 bytes");
        header(&m, (uint8_t[8]){0});
        at = payload(&m, IKEV2_PAYLOAD_NOTIFY, false);
        put8(&m, 0);
        put8(&m, 9); /* SPI size 9, but no room */
        put16(&m, IKEV2_N_NO_PROPOSAL_CHOSEN);
        end(&m, at);
        fix(&m);
        REFUSED(&m, "notify SPI size past its payload");
        header(&m, (uint8_t[8]){0});
        notify(&m, IKEV2_N_NAT_DETECTION_SOURCE_IP, "01234567890123456789", 20);
        fix(&m);
        REFUSED(&m, "status notify only: not an answer");

        /* ---- SA/KE/Nonce defects ---- */
        header(&m, SPI_R);
        sa(&m, 1);
        ke(&m, 19, 64);
        fix(&m);
        REFUSED(&m, "SA and KE without Nonce");
        header(&m, (uint8_t[8]){0});
        sa(&m, 1);
        ke(&m, 19, 64);
        nonce(&m, 32);
        fix(&m);
        REFUSED(&m, "SA/KE/Nonce with responder SPI 0");
        header(&m, SPI_R);
        sa(&m, 2);
        ke(&m, 19, 64);
        nonce(&m, 32);
        fix(&m);
        REFUSED(&m, "two proposals in the responder's SA");
        header(&m, SPI_R);
        sa(&m, 1);
        sa(&m, 1);
        ke(&m, 19, 64);
        nonce(&m, 32);
        fix(&m);
        REFUSED(&m, "two SA payloads");
        header(&m, SPI_R);
        sa(&m, 1);
        ke(&m, 19, 63);
        nonce(&m, 32);
        fix(&m);
        REFUSED(&m, "ECP-256 KE of 63 bytes");
        header(&m, SPI_R);
        sa(&m, 1);
        ke(&m, 31, 32);
        nonce(&m, 32);
        fix(&m);
        REFUSED(&m, "KE group 31 but DH transform 19");
        header(&m, SPI_R);
        sa(&m, 1);
        ke(&m, 19, 64);
        nonce(&m, 15);
        fix(&m);
        REFUSED(&m, "nonce of 15 bytes");
        full_answer(&m);
        m.b[28 + 4 + 7] = 5; /* proposal claims 5 transforms, holds 4 */
        REFUSED(&m, "proposal transform count wrong");
        full_answer(&m);
        m.b[28 + 4 + 8 + 3] = 200; /* first transform's length past its proposal */
        REFUSED(&m, "transform length past its proposal");
        full_answer(&m);
        m.b[28 + 4 + 8 + 8] = 0x00; /* key-length attribute turned TLV with a huge length */
        m.b[28 + 4 + 8 + 10] = 0xff;
        REFUSED(&m, "TLV attribute length past its transform");
        full_answer(&m);
        m.b[28 + 4 + 5] = 3; /* protocol ESP */
        REFUSED(&m, "proposal for ESP");

        /* every truncation of a valid answer is refused, none crashes */
        full_answer(&m);
        {
                bool all = true;
                for (size_t n = 0; n < m.n; n++)
                        if (ikev2_msg_parse_init_response(m.b, n, SPI_I, &r, &why) != -EBADMSG)
                                all = false;
                CHECK(all, "all %zu truncations of the SA/KE/Nonce answer refused", m.n);
        }
        CHECK(ikev2_msg_notify_to_string(17) &&
                      !strcmp(ikev2_msg_notify_to_string(17), "INVALID_KE_PAYLOAD"),
              "notify names");
        return TAP_END();
}
