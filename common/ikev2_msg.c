/* See ikev2_msg.h. The builder writes into a fixed buffer through a writer that refuses to
 * overrun it; the parser reads through bounds-checked helpers only and checks every length
 * field against what is left before it trusts it. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ikev2_msg.h"
#include "macro.h"

/* A request is ~450 bytes; room for twice that. */
#define REQUEST_MAX 1024

/* Transform types and IDs (IANA "IKEv2 Transform Type …" registries). */
enum {
        T_ENCR = 1,
        T_PRF = 2,
        T_INTEG = 3,
        T_DH = 4,
        ENCR_AES_CBC = 12,
        ENCR_AES_GCM_16 = 20,
        ENCR_CHACHA20_POLY1305 = 28,
        PRF_HMAC_SHA1 = 2,
        PRF_HMAC_SHA2_256 = 5,
        PRF_HMAC_SHA2_384 = 6,
        PRF_HMAC_SHA2_512 = 7,
        AUTH_HMAC_SHA1_96 = 2,
        AUTH_HMAC_SHA2_256_128 = 12,
        AUTH_HMAC_SHA2_384_192 = 13,
        AUTH_HMAC_SHA2_512_256 = 14,
        ATTR_KEY_LENGTH = 14,
        ATTR_TV = 0x8000,
        PROTO_IKE = 1,
};

/* Groups worth offering, most likely first: a responder picks from its own configured order,
 * so the breadth of this list is what makes it find something it accepts. */
static const uint16_t offer_groups[] = {IKEV2_GROUP_ECP256,   20, 21, IKEV2_GROUP_X25519,
                                        IKEV2_GROUP_MODP2048, 15, 16};

typedef struct writer {
        uint8_t *buf;
        size_t size, pos;
        bool overflow;
} writer;

static uint8_t *w_reserve(writer *w, size_t n) {
        if (w->overflow || n > w->size - w->pos) {
                w->overflow = true;
                return NULL;
        }
        w->pos += n;
        return w->buf + w->pos - n;
}

static void w_u8(writer *w, uint8_t v) {
        uint8_t *p = w_reserve(w, 1);
        if (p)
                p[0] = v;
}

static void w_u16(writer *w, uint16_t v) {
        uint8_t *p = w_reserve(w, 2);
        if (p) {
                p[0] = (uint8_t) (v >> 8);
                p[1] = (uint8_t) v;
        }
}

static void w_bytes(writer *w, const void *d, size_t n) {
        uint8_t *p = w_reserve(w, n);
        if (p && n)
                memcpy(p, d, n);
}

/* Patch a 16-bit length at `at` once the structure it covers is complete. */
static void w_patch_u16(writer *w, size_t at, size_t v) {
        if (w->overflow || at + 2 > w->pos || v > UINT16_MAX) {
                w->overflow = true;
                return;
        }
        w->buf[at] = (uint8_t) (v >> 8);
        w->buf[at + 1] = (uint8_t) v;
}

/* Begin a generic payload header; returns its offset for end_payload(). The next-payload byte
 * is patched by the following payload (or stays 0 for the last one). */
static size_t begin_payload(writer *w, size_t *prev_next_at, uint8_t type) {
        size_t at = w->pos;

        if (!w->overflow && *prev_next_at < w->pos)
                w->buf[*prev_next_at] = type;
        w_u8(w, IKEV2_PAYLOAD_NONE); /* next payload, patched later */
        w_u8(w, 0);                  /* critical bit clear, reserved */
        w_u16(w, 0);                 /* length, patched by end_payload() */
        *prev_next_at = at;
        return at;
}

static void end_payload(writer *w, size_t at) {
        w_patch_u16(w, at + 2, w->pos - at);
}

static void put_transform(writer *w, bool last, uint8_t type, uint16_t id, uint16_t keylen) {
        w_u8(w, last ? 0 : 3);
        w_u8(w, 0);
        w_u16(w, keylen ? 12 : 8);
        w_u8(w, type);
        w_u8(w, 0);
        w_u16(w, id);
        if (keylen) {
                w_u16(w, ATTR_TV | ATTR_KEY_LENGTH);
                w_u16(w, keylen);
        }
}

typedef struct xform {
        uint8_t type;
        uint16_t id, keylen;
} xform;

static void put_proposal(writer *w, bool last, uint8_t num, const xform *xf, size_t n_xf,
                         const uint16_t *groups, size_t n_groups) {
        size_t at = w->pos, n = n_xf + n_groups;

        w_u8(w, last ? 0 : 2);
        w_u8(w, 0);
        w_u16(w, 0); /* length, patched */
        w_u8(w, num);
        w_u8(w, PROTO_IKE);
        w_u8(w, 0); /* SPI size: none in IKE_SA_INIT */
        w_u8(w, (uint8_t) n);
        for (size_t i = 0; i < n_xf; i++)
                put_transform(w, --n == 0, xf[i].type, xf[i].id, xf[i].keylen);
        for (size_t i = 0; i < n_groups; i++)
                put_transform(w, --n == 0, T_DH, groups[i], 0);
        w_patch_u16(w, at + 2, w->pos - at);
}

struct ikev2_msg_keys {
        uint16_t group;
        size_t ke_len;
        uint8_t ke[64];
        EVP_MD *sha1; /* fetched once: an implicit fetch per digest costs a method-store look-up */
        /* Reused for every NAT-D digest: re-initialising a context of the same digest skips
         * the allocation and the provider's set-up (single-threaded use only, like the keys). */
        EVP_MD_CTX *ctx;
};

/* The X25519 u-coordinates of small order (RFC 7748 §7; the list libsodium refuses): a peer's
 * shared secret with one of them is all zero and it must refuse the exchange. Little-endian. */
static const uint8_t x25519_small_order[][32] = {
        {0x00}, /* 0 */
        {0x01}, /* 1 */
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
         0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
         0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
};

bool ikev2_msg_x25519_usable(const uint8_t u[32]) {
        uint8_t top = 0xff;

        /* p − 1, p and p + 1 (p = 2^255 − 19: 0xec, 0xed, 0xee then 30 × 0xff, 0x7f) and
         * anything above p, which is not canonical */
        for (size_t i = 1; i < 31; i++)
                top &= u[i];
        if (top == 0xff && u[31] == 0x7f && u[0] >= 0xec)
                return false;
        if (u[31] & 0x80)
                return false;
        for (size_t i = 0; i < sizeof(x25519_small_order) / sizeof(x25519_small_order[0]); i++)
                if (memcmp(u, x25519_small_order[i], 32) == 0)
                        return false;
        return true;
}

static int random_fill(uint8_t *buf, size_t n);

/* A public value in the group's IKEv2 encoding: ECP x||y (RFC 5903) of a fresh key, X25519 the
 * raw 32 bytes (RFC 8031). The exchange is never completed, so no private half is ever used:
 * for X25519 any canonical u-coordinate of large order is a value a client could send (RFC
 * 7748 §5: every 32-byte string is accepted, the peer's X25519 works on the curve and its
 * twist alike), and drawing one costs a getrandom() instead of a key generation, which also
 * keeps OpenSSL's X25519 code and key management out of the agent (~0.3 MiB of RSS). ECP
 * needs a point on the curve: a real key. */
static int make_ke(uint16_t group, uint8_t *out, size_t size, size_t *ret_len) {
        EVP_PKEY *pkey = NULL;
        int r = -EIO;

        if (group == IKEV2_GROUP_ECP256) {
                uint8_t pt[65];
                size_t len = 0;

                pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
                if (!pkey)
                        goto out;
                if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                                    sizeof(pt), &len) != 1 ||
                    len != 65 || pt[0] != 0x04 || size < 64)
                        goto out;
                memcpy(out, pt + 1, 64); /* drop the uncompressed-point prefix */
                *ret_len = 64;
        } else {
                if (size < 32)
                        goto out;
                do {
                        r = random_fill(out, 32);
                        if (r < 0)
                                goto out;
                        out[31] &= 0x7f;
                } while (!ikev2_msg_x25519_usable(out));
                *ret_len = 32;
        }
        r = 0;
out:
        EVP_PKEY_free(pkey);
        return r;
}

DEFINE_FREE_FUNC(ikev2_msg_keys, ikev2_msg_keys_free);

/* Fill from getrandom(2); at most 256 bytes are never cut short once the pool is ready. */
static int random_fill(uint8_t *buf, size_t n) {
        ssize_t k;

        do
                k = getrandom(buf, n, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        return (size_t) k == n ? 0 : -EIO;
}

int ikev2_msg_keys_new(ikev2_msg_keys **ret, uint16_t group) {
        _cleanup_(ikev2_msg_keys_freep) ikev2_msg_keys *k = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        group = group ? group : IKEV2_GROUP_X25519;
        if (group != IKEV2_GROUP_X25519 && group != IKEV2_GROUP_ECP256)
                return -EINVAL;
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->group = group;
        r = make_ke(group, k->ke, sizeof(k->ke), &k->ke_len);
        if (r < 0)
                return r;
        k->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
        k->ctx = EVP_MD_CTX_new();
        if (!k->sha1 || !k->ctx)
                return -EIO;
        *ret = TAKE_PTR(k);
        return 0;
}

ikev2_msg_keys *ikev2_msg_keys_free(ikev2_msg_keys *k) {
        if (!k)
                return NULL;
        EVP_MD_CTX_free(k->ctx);
        EVP_MD_free(k->sha1);
        free(k);
        return NULL;
}

uint16_t ikev2_msg_keys_group(const ikev2_msg_keys *k) {
        return k->group;
}

/* RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | port), SPIr zero in the request. k NULL: the
 * default SHA-1, fetched for this digest. */
static int natd_hash(const ikev2_msg_keys *k, const uint8_t spi_i[IKEV2_SPI_SIZE],
                     const struct sockaddr *sa, uint8_t out[20]) {
        uint8_t in[2 * IKEV2_SPI_SIZE + 16 + 2] = {0};
        size_t n = 2 * IKEV2_SPI_SIZE;
        uint16_t port;
        unsigned int len = 0;

        memcpy(in, spi_i, IKEV2_SPI_SIZE);
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in4 = (const struct sockaddr_in *) sa;
                memcpy(in + n, &in4->sin_addr, 4);
                n += 4;
                port = in4->sin_port;
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                memcpy(in + n, &in6->sin6_addr, 16);
                n += 16;
                port = in6->sin6_port;
        } else
                return -EAFNOSUPPORT;
        memcpy(in + n, &port, 2); /* already network order */
        n += 2;
        if (k) {
                if (EVP_DigestInit_ex2(k->ctx, k->sha1, NULL) != 1 ||
                    EVP_DigestUpdate(k->ctx, in, n) != 1 || EVP_DigestFinal_ex(k->ctx, out, &len) != 1)
                        return -EIO;
        } else if (EVP_Digest(in, n, out, &len, EVP_sha1(), NULL) != 1)
                return -EIO;
        if (len != 20)
                return -EIO;
        return 0;
}

static void put_notify(writer *w, size_t *prev_next_at, uint16_t type, const uint8_t *data,
                       size_t len) {
        size_t at = begin_payload(w, prev_next_at, IKEV2_PAYLOAD_NOTIFY);
        w_u8(w, 0); /* protocol ID: none (about the IKE SA being set up) */
        w_u8(w, 0); /* SPI size */
        w_u16(w, type);
        w_bytes(w, data, len);
        end_payload(w, at);
}

int ikev2_msg_build_init(const ikev2_msg_init_options *o, ikev2_msg_request **ret) {
        static const xform cbc[] = {
                {T_ENCR, ENCR_AES_CBC, 256},          {T_ENCR, ENCR_AES_CBC, 128},
                {T_PRF, PRF_HMAC_SHA2_256, 0},        {T_PRF, PRF_HMAC_SHA2_384, 0},
                {T_PRF, PRF_HMAC_SHA2_512, 0},        {T_PRF, PRF_HMAC_SHA1, 0},
                {T_INTEG, AUTH_HMAC_SHA2_256_128, 0}, {T_INTEG, AUTH_HMAC_SHA2_384_192, 0},
                {T_INTEG, AUTH_HMAC_SHA2_512_256, 0}, {T_INTEG, AUTH_HMAC_SHA1_96, 0},
        };
        static const xform aead[] = {
                {T_ENCR, ENCR_AES_GCM_16, 256},      {T_ENCR, ENCR_AES_GCM_16, 128},
                {T_ENCR, ENCR_CHACHA20_POLY1305, 0}, {T_PRF, PRF_HMAC_SHA2_256, 0},
                {T_PRF, PRF_HMAC_SHA2_384, 0},       {T_PRF, PRF_HMAC_SHA2_512, 0},
        };
        _cleanup_(freep) ikev2_msg_request *req = NULL;
        uint16_t groups[ELEMENTSOF(offer_groups)];
        size_t n_groups = 0, next_at = 16, at, ke_len = 0;
        uint8_t ke[64], nonce[IKEV2_NONCE_SIZE], rnd[IKEV2_SPI_SIZE + IKEV2_NONCE_SIZE];
        uint16_t group;
        writer w;
        int r;

        if (!o || !ret)
                return -EINVAL;
        group = o->ke_group ? o->ke_group : o->keys ? o->keys->group : IKEV2_GROUP_X25519;
        if (group != IKEV2_GROUP_X25519 && group != IKEV2_GROUP_ECP256)
                return -EINVAL;
        if (o->keys && o->keys->group != group)
                return -EINVAL;
        if (o->offer != IKEV2_MSG_OFFER_STATELESS && o->offer != IKEV2_MSG_OFFER_FULL)
                return -EINVAL;
        if (o->offer == IKEV2_MSG_OFFER_FULL)
                groups[n_groups++] = group;
        for (size_t i = 0; i < ELEMENTSOF(offer_groups); i++)
                if (offer_groups[i] != group)
                        groups[n_groups++] = offer_groups[i];

        req = calloc(1, sizeof(*req) + REQUEST_MAX);
        if (!req)
                return -ENOMEM;
        req->ke_group = group;
        /* SPI and nonce in one draw from the kernel's generator: a single system call, where
         * OpenSSL's DRBG re-keys its cipher on every call. An all-zero initiator SPI is invalid
         * (RFC 7296 §3.1): draw again. */
        do {
                r = random_fill(rnd, sizeof(rnd));
                if (r < 0)
                        return r;
        } while (!memcmp(rnd, (uint8_t[IKEV2_SPI_SIZE]){0}, IKEV2_SPI_SIZE));
        memcpy(req->spi_i, rnd, IKEV2_SPI_SIZE);
        memcpy(nonce, rnd + IKEV2_SPI_SIZE, sizeof(nonce));
        OPENSSL_cleanse(rnd, sizeof(rnd));
        if (o->keys) {
                memcpy(ke, o->keys->ke, o->keys->ke_len);
                ke_len = o->keys->ke_len;
        } else {
                r = make_ke(group, ke, sizeof(ke), &ke_len);
                if (r < 0)
                        return r;
        }

        w = (writer){.buf = req->data, .size = REQUEST_MAX};
        w_bytes(&w, req->spi_i, IKEV2_SPI_SIZE);
        w_bytes(&w, (uint8_t[IKEV2_SPI_SIZE]){0}, IKEV2_SPI_SIZE);
        w_u8(&w, IKEV2_PAYLOAD_NONE); /* next payload (offset 16), patched by the SA payload */
        w_u8(&w, 0x20);               /* version 2.0 */
        w_u8(&w, IKEV2_EXCHANGE_IKE_SA_INIT);
        w_u8(&w, IKEV2_FLAG_INITIATOR);
        w_bytes(&w, (uint8_t[4]){0}, 4); /* message ID 0 */
        w_bytes(&w, (uint8_t[4]){0}, 4); /* length, patched at the end */

        /* SA payload: proposal 1 classic cipher+integrity, proposal 2 AEAD. */
        at = w.pos;
        if (!w.overflow)
                w.buf[next_at] = IKEV2_PAYLOAD_SA;
        w_u8(&w, IKEV2_PAYLOAD_NONE);
        w_u8(&w, 0);
        w_u16(&w, 0);
        next_at = at;
        put_proposal(&w, false, 1, cbc, ELEMENTSOF(cbc), groups, n_groups);
        put_proposal(&w, true, 2, aead, ELEMENTSOF(aead), groups, n_groups);
        end_payload(&w, at);

        at = begin_payload(&w, &next_at, IKEV2_PAYLOAD_KE);
        w_u16(&w, group);
        w_u16(&w, 0);
        w_bytes(&w, ke, ke_len);
        end_payload(&w, at);

        at = begin_payload(&w, &next_at, IKEV2_PAYLOAD_NONCE);
        w_bytes(&w, nonce, sizeof(nonce));
        end_payload(&w, at);

        if (o->local && o->remote) {
                uint8_t h[20];

                r = natd_hash(o->keys, req->spi_i, o->local, h);
                if (r < 0)
                        return r;
                put_notify(&w, &next_at, IKEV2_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
                r = natd_hash(o->keys, req->spi_i, o->remote, h);
                if (r < 0)
                        return r;
                put_notify(&w, &next_at, IKEV2_N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
        }

        if (w.overflow)
                return -ENOMEM; /* REQUEST_MAX too small: a bug, not an input */
        req->data[24] = (uint8_t) (w.pos >> 24);
        req->data[25] = (uint8_t) (w.pos >> 16);
        req->data[26] = (uint8_t) (w.pos >> 8);
        req->data[27] = (uint8_t) w.pos;
        req->size = w.pos;
        *ret = TAKE_PTR(req);
        return 0;
}

ikev2_msg_request *ikev2_msg_request_free(ikev2_msg_request *r) {
        if (r)
                OPENSSL_cleanse(r->data, r->size);
        free(r);
        return NULL;
}

/* ---- parsing ---- */

static uint16_t get_u16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

#define FAIL(why)                                                                                  \
        do {                                                                                       \
                *reason = (why);                                                                   \
                return -EBADMSG;                                                                   \
        } while (0)

/* One transform of the responder's proposal (RFC 7296 §3.3.2); attributes are walked too. */
static int parse_transform(const uint8_t *p, size_t len, ikev2_msg_response *m,
                           const char **reason) {
        uint8_t type = p[4];
        uint16_t id = get_u16(p + 6), keylen = 0;
        uint16_t *slot;

        for (size_t off = 8; off < len;) {
                uint16_t at, alen;

                if (len - off < 4)
                        FAIL("transform attribute truncated");
                at = get_u16(p + off);
                if (at & ATTR_TV) {
                        if ((at & ~ATTR_TV) == ATTR_KEY_LENGTH)
                                keylen = get_u16(p + off + 2);
                        off += 4;
                        continue;
                }
                alen = get_u16(p + off + 2);
                if (alen > len - off - 4)
                        FAIL("transform attribute overruns its transform");
                off += 4 + (size_t) alen;
        }
        switch (type) {
        case T_ENCR:
                slot = &m->encr;
                break;
        case T_PRF:
                slot = &m->prf;
                break;
        case T_INTEG:
                slot = &m->integ;
                break;
        case T_DH:
                slot = &m->dh;
                break;
        default:
                return 0; /* other transform types (ESN, additional KEs): not ours to judge */
        }
        if (*slot)
                FAIL("responder chose two transforms of one type");
        if (id == 0)
                FAIL("transform ID 0");
        *slot = id;
        if (type == T_ENCR)
                m->encr_keylen = keylen;
        return 0;
}

/* The responder's SA payload body: exactly one IKE proposal (§2.7, §3.3.1). */
static int parse_sa(const uint8_t *p, size_t len, ikev2_msg_response *m, const char **reason) {
        size_t off = 0;
        unsigned n_prop = 0;

        while (off < len) {
                size_t plen, spi, xoff, n_xf = 0, want_xf;
                uint8_t last;

                /* a responder answers with the one proposal it chose (RFC 7296 §3.3) */
                if (++n_prop > 1)
                        FAIL("responder SA must hold exactly one proposal");
                if (len - off < 8)
                        FAIL("proposal truncated");
                last = p[off];
                plen = get_u16(p + off + 2);
                if (last != 0 && last != 2)
                        FAIL("proposal: bad last-substructure byte");
                if (plen < 8 || plen > len - off)
                        FAIL("proposal length out of bounds");
                if (p[off + 5] != PROTO_IKE)
                        FAIL("proposal is not for IKE");
                spi = p[off + 6];
                want_xf = p[off + 7];
                if (spi != 0 && spi != IKEV2_SPI_SIZE)
                        FAIL("proposal SPI size");
                if (8 + spi > plen)
                        FAIL("proposal SPI overruns the proposal");
                for (xoff = off + 8 + spi; xoff < off + plen;) {
                        size_t xlen;
                        int r;

                        if (++n_xf > IKEV2_MSG_MAX_TRANSFORMS)
                                FAIL("too many transforms");
                        if (off + plen - xoff < 8)
                                FAIL("transform truncated");
                        xlen = get_u16(p + xoff + 2);
                        if (p[xoff] != 0 && p[xoff] != 3)
                                FAIL("transform: bad last-substructure byte");
                        if (xlen < 8 || xlen > off + plen - xoff)
                                FAIL("transform length out of bounds");
                        if ((p[xoff] == 0) != (xoff + xlen == off + plen))
                                FAIL("transform last-substructure disagrees with the length");
                        r = parse_transform(p + xoff, xlen, m, reason);
                        if (r < 0)
                                return r;
                        xoff += xlen;
                }
                if (n_xf != want_xf)
                        FAIL("proposal transform count disagrees with its transforms");
                off += plen;
                if ((last == 0) != (off == len))
                        FAIL("proposal last-substructure disagrees with the length");
        }
        if (n_prop != 1)
                FAIL("responder SA without a proposal");
        if (!m->encr || !m->prf || !m->dh)
                FAIL("responder proposal lacks ENCR, PRF or DH");
        return 0;
}

static int parse_notify(const uint8_t *p, size_t len, ikev2_msg_response *m, const char **reason) {
        size_t spi, dlen;
        const uint8_t *d;
        uint16_t type;

        if (len < 4)
                FAIL("notify truncated");
        spi = p[1];
        type = get_u16(p + 2);
        if (spi > len - 4)
                FAIL("notify SPI overruns the notify");
        d = p + 4 + spi;
        dlen = len - 4 - spi;
        if (type == 0)
                FAIL("notify type 0");
        if (type <= IKEV2_N_ERROR_MAX) {
                if (type == IKEV2_N_INVALID_KE_PAYLOAD) {
                        if (dlen != 2)
                                FAIL("INVALID_KE_PAYLOAD data is not one group number");
                        if (!m->notify)
                                m->ke_group = get_u16(d);
                }
                if (!m->notify)
                        m->notify = type;
        } else if (type == IKEV2_N_COOKIE) {
                if (dlen < 1 || dlen > 64)
                        FAIL("COOKIE data not 1..64 bytes");
                m->cookie = true;
        } else if (type == IKEV2_N_REDIRECT) {
                if (dlen < 2)
                        FAIL("REDIRECT truncated");
                m->redirect = type;
        }
        return 0;
}

int ikev2_msg_parse_init_response(const uint8_t *buf, size_t size,
                                  const uint8_t spi_i[IKEV2_SPI_SIZE], ikev2_msg_response *ret,
                                  const char **ret_reason) {
        const char *dummy, **reason = ret_reason ? ret_reason : &dummy;
        ikev2_msg_response m = {0};
        uint8_t next;
        size_t off;
        int r;

        *reason = NULL;
        if (!buf || !spi_i || !ret)
                return -EINVAL;
        if (size < IKEV2_HEADER_SIZE)
                FAIL("shorter than an IKE header");
        if (size > IKEV2_MSG_MAX_SIZE)
                FAIL("longer than IKEV2_MSG_MAX_SIZE");
        if (memcmp(buf, spi_i, IKEV2_SPI_SIZE) != 0)
                FAIL("initiator SPI is not ours");
        if (buf[17] >> 4 != 2)
                FAIL("major version is not 2");
        if (buf[18] != IKEV2_EXCHANGE_IKE_SA_INIT)
                FAIL("exchange type is not IKE_SA_INIT");
        if (!(buf[19] & IKEV2_FLAG_RESPONSE))
                FAIL("response flag not set");
        if (buf[19] & IKEV2_FLAG_INITIATOR)
                FAIL("initiator flag set in a response to us");
        if (get_u32(buf + 20) != 0)
                FAIL("message ID is not 0");
        if (get_u32(buf + 24) != size)
                FAIL("header length disagrees with the datagram");
        memcpy(m.spi_r, buf + IKEV2_SPI_SIZE, IKEV2_SPI_SIZE);

        next = buf[16];
        off = IKEV2_HEADER_SIZE;
        while (next != IKEV2_PAYLOAD_NONE) {
                uint8_t type = next;
                bool critical;
                size_t plen;
                const uint8_t *body;
                size_t blen;

                if (++m.n_payloads > IKEV2_MSG_MAX_PAYLOADS)
                        FAIL("too many payloads");
                if (size - off < 4)
                        FAIL("payload header truncated");
                next = buf[off];
                critical = buf[off + 1] & 0x80;
                plen = get_u16(buf + off + 2);
                if (plen < 4 || plen > size - off)
                        FAIL("payload length out of bounds");
                body = buf + off + 4;
                blen = plen - 4;

                switch (type) {
                case IKEV2_PAYLOAD_SA:
                        if (m.has_sa)
                                FAIL("two SA payloads");
                        r = parse_sa(body, blen, &m, reason);
                        if (r < 0)
                                return r;
                        m.has_sa = true;
                        break;
                case IKEV2_PAYLOAD_KE:
                        if (m.has_ke)
                                FAIL("two KE payloads");
                        if (blen < 5)
                                FAIL("KE payload without key data");
                        m.has_ke = true;
                        m.ke_group = get_u16(body);
                        if (m.ke_group == IKEV2_GROUP_ECP256 && blen - 4 != 64)
                                FAIL("ECP-256 KE data is not 64 bytes");
                        if (m.ke_group == IKEV2_GROUP_X25519 && blen - 4 != 32)
                                FAIL("X25519 KE data is not 32 bytes");
                        break;
                case IKEV2_PAYLOAD_NONCE:
                        if (m.has_nonce)
                                FAIL("two Nonce payloads");
                        if (blen < 16 || blen > 256)
                                FAIL("nonce not 16..256 bytes");
                        m.has_nonce = true;
                        m.nonce_size = blen;
                        break;
                case IKEV2_PAYLOAD_NOTIFY:
                        r = parse_notify(body, blen, &m, reason);
                        if (r < 0)
                                return r;
                        break;
                case IKEV2_PAYLOAD_SK:
                case IKEV2_PAYLOAD_SKF:
                        FAIL("encrypted payload in IKE_SA_INIT");
                case IKEV2_PAYLOAD_VENDOR:
                case 36: /* IDr */
                case 37: /* CERT */
                case 38: /* CERTREQ */
                case 39: /* AUTH */
                        /* known, may appear (CERTREQ does), nothing we need from them */
                        break;
                default:
                        /* RFC 7296 §2.5: an unknown payload with the critical bit means the
                         * whole message must be rejected; without it, it is skipped. */
                        if (critical)
                                FAIL("unsupported critical payload");
                        break;
                }
                off += plen;
        }
        if (off != size)
                FAIL("bytes after the last payload");

        if (m.has_sa || m.has_ke || m.has_nonce) {
                if (!m.notify && !m.cookie && !(m.has_sa && m.has_ke && m.has_nonce))
                        FAIL("incomplete SA/KE/Nonce answer");
        }
        if (m.has_sa && m.has_ke && m.has_nonce && !m.notify) {
                if (!memcmp(m.spi_r, (uint8_t[IKEV2_SPI_SIZE]){0}, IKEV2_SPI_SIZE))
                        FAIL("responder SPI zero in an SA/KE/Nonce answer");
                if (m.dh != m.ke_group)
                        FAIL("KE group disagrees with the chosen DH transform");
        } else if (!m.notify && !m.cookie && !m.redirect)
                FAIL("neither SA/KE/Nonce nor an error, COOKIE or REDIRECT notify");
        *ret = m;
        return 0;
}

const char *ikev2_msg_notify_to_string(uint16_t type) {
        switch (type) {
        case 1:
                return "UNSUPPORTED_CRITICAL_PAYLOAD";
        case 4:
                return "INVALID_IKE_SPI";
        case 5:
                return "INVALID_MAJOR_VERSION";
        case IKEV2_N_INVALID_SYNTAX:
                return "INVALID_SYNTAX";
        case 9:
                return "INVALID_MESSAGE_ID";
        case IKEV2_N_NO_PROPOSAL_CHOSEN:
                return "NO_PROPOSAL_CHOSEN";
        case IKEV2_N_INVALID_KE_PAYLOAD:
                return "INVALID_KE_PAYLOAD";
        case 24:
                return "AUTHENTICATION_FAILED";
        case 43:
                return "TEMPORARY_FAILURE";
        case IKEV2_N_COOKIE:
                return "COOKIE";
        case IKEV2_N_REDIRECT:
                return "REDIRECT";
        default:
                return NULL;
        }
}
