/* IKEv2 (RFC 7296) on the wire, just enough for a reachability probe: build one IKE_SA_INIT
 * request and strictly parse the answer to it. Nothing here does I/O or logs; the prober
 * (agent/checks/ike_probe.c) owns the socket.
 *
 * The request is real: random initiator SPI and 32-byte nonce (getrandom), a KE payload with the
 * public value of a key pair from OpenSSL 3 EVP (ECP-256, group 19, or X25519, group 31; fresh,
 * or shared between requests through ikev2_msg_keys), an SA payload
 * with two proposals (AES-CBC-128/256 with HMAC-SHA2/SHA1 integrity, and AES-GCM-16/ChaCha20-
 * Poly1305; PRF-HMAC-SHA2/SHA1) and, when the caller gives both socket addresses, the NAT-D
 * notifies, so the same packet on UDP 4500 lets the peer run NAT detection.
 *
 * Half-open IKE_SAs — why IKEV2_MSG_OFFER_STATELESS is the default. A responder that accepts
 * the KE answers SA/KE/Nonce and keeps a half-open IKE_SA until its half_open_timeout (charon:
 * 30 s). charon also counts them per peer IP: at cookie_threshold_ip (3) it answers COOKIE and
 * at block_threshold (5) it drops new IKE_SA_INITs from that IP without a word, so a prober that
 * completes the KE would soon see its own probes go "silent". STATELESS therefore sends the KE in
 * a group it does not list in the SA payload (X25519 by default, the offer holding ECP-256/384/
 * 521 and MODP-2048/3072/4096): whatever proposal the responder picks names another group, and
 * it must answer N(INVALID_KE_PAYLOAD) with the group it wants (or N(NO_PROPOSAL_CHOSEN) when
 * nothing fits). charon's responder then fails the IKE_SA_INIT task and destroys the IKE_SA
 * right after sending (ike_init.c build_r returns FAILED; task_manager_v2.c build_response
 * sends the answer, then deletes the IKE_SA), so
 * nothing half-open remains; tests/integration/ike-probe.sh measures it with `swanctl --stats`.
 * Measured on charon 5.9.8: 8 STATELESS probes leave 0 half-open IKE_SAs; 8 FULL probes get
 * 3 SA/KE/Nonce answers, then 5 N(COOKIE), and leave 3 half-open (cookie_threshold_ip) for
 * 30 s — and while they last even STATELESS probes from that IP are answered with COOKIE. This
 * departs from RFC 7296 §3.4 ("MUST be one of the groups in the SA payload") on purpose; a
 * responder stricter than charon may answer INVALID_SYNTAX instead, which is still a
 * parsed IKE answer and counts as reachable. FULL lists the KE's group too
 * and is there to measure the difference (and for peers that want a textbook request). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define IKEV2_SPI_SIZE 8
#define IKEV2_NONCE_SIZE 32
#define IKEV2_HEADER_SIZE 28
/* Largest response the parser accepts. An IKE_SA_INIT answer is a few hundred bytes; a long
 * CERTREQ list (20 bytes per CA) still fits many times over. */
#define IKEV2_MSG_MAX_SIZE 16384
/* Most payloads walked in one response (SA, KE, Nonce, a handful of notifies, vendor IDs). */
#define IKEV2_MSG_MAX_PAYLOADS 32
/* Most transforms walked in the responder's one proposal. */
#define IKEV2_MSG_MAX_TRANSFORMS 64

/* Exchange and payload types, notify types used here (RFC 7296 §3). */
enum {
        IKEV2_EXCHANGE_IKE_SA_INIT = 34,

        IKEV2_PAYLOAD_NONE = 0,
        IKEV2_PAYLOAD_SA = 33,
        IKEV2_PAYLOAD_KE = 34,
        IKEV2_PAYLOAD_NONCE = 40,
        IKEV2_PAYLOAD_NOTIFY = 41,
        IKEV2_PAYLOAD_VENDOR = 43,
        IKEV2_PAYLOAD_SK = 46,
        IKEV2_PAYLOAD_SKF = 53,

        IKEV2_FLAG_INITIATOR = 0x08,
        IKEV2_FLAG_RESPONSE = 0x20,

        IKEV2_N_INVALID_SYNTAX = 7,
        IKEV2_N_NO_PROPOSAL_CHOSEN = 14,
        IKEV2_N_INVALID_KE_PAYLOAD = 17,
        IKEV2_N_ERROR_MAX = 16383, /* 1..16383: error notifies; above: status */
        IKEV2_N_NAT_DETECTION_SOURCE_IP = 16388,
        IKEV2_N_NAT_DETECTION_DESTINATION_IP = 16389,
        IKEV2_N_COOKIE = 16390,
        IKEV2_N_REDIRECT = 16407,

        IKEV2_GROUP_MODP2048 = 14,
        IKEV2_GROUP_ECP256 = 19,
        IKEV2_GROUP_X25519 = 31,
};

typedef enum ikev2_msg_offer {
        IKEV2_MSG_OFFER_STATELESS, /* KE group left out of the SA payload (see above) */
        IKEV2_MSG_OFFER_FULL,      /* KE group listed first in both proposals */
} ikev2_msg_offer;

/* What requests may share: the KE payload's public value and the SHA-1 used for NAT-D (with a
 * digest context reused from request to request: one thread at a time). The
 * private half of a KE is dropped unused (the exchange is never completed), so a fresh key pair
 * per request proves nothing more about the responder; what ties an answer to its request — the
 * initiator SPI — and the nonce stay fresh in every request. Generating the key once instead of
 * per request takes the key generation and OpenSSL's algorithm look-ups out of every probe. */
typedef struct ikev2_msg_keys ikev2_msg_keys;

/* A fresh public value of `group` (0 = X25519: a random u-coordinate of large order; or
 * IKEV2_GROUP_ECP256: a generated key's point). 0, -EINVAL, -ENOMEM, -EIO. */
int ikev2_msg_keys_new(ikev2_msg_keys **ret, uint16_t group);
ikev2_msg_keys *ikev2_msg_keys_free(ikev2_msg_keys *k);
uint16_t ikev2_msg_keys_group(const ikev2_msg_keys *k);

/* Whether the 32 bytes are a canonical X25519 u-coordinate (below p = 2^255 − 19) outside the
 * small-order points, with which a peer's shared secret would be all zero. */
bool ikev2_msg_x25519_usable(const uint8_t u[32]);

typedef struct ikev2_msg_init_options {
        uint16_t ke_group; /* IKEV2_GROUP_X25519 (0 = this default) or IKEV2_GROUP_ECP256 */
        /* Shared KE and SHA-1 (ke_group must be 0 or the keys' group); NULL: a fresh key pair
         * for this request alone. */
        const ikev2_msg_keys *keys;
        ikev2_msg_offer offer;
        /* Both set: add NAT_DETECTION_SOURCE_IP/DESTINATION_IP computed over them (AF_INET or
         * AF_INET6 with ports, as the connected socket sees them). Either NULL: no NAT-D. */
        const struct sockaddr *local;
        const struct sockaddr *remote;
} ikev2_msg_init_options;

typedef struct ikev2_msg_request {
        uint8_t spi_i[IKEV2_SPI_SIZE];
        uint16_t ke_group;
        size_t size;
        uint8_t data[]; /* the IKE message, without any non-ESP marker */
} ikev2_msg_request;

typedef struct ikev2_msg_response {
        uint8_t spi_r[IKEV2_SPI_SIZE]; /* all zero in most notify-only answers */
        bool has_sa, has_ke, has_nonce;
        bool cookie;       /* N(COOKIE): the responder wants a cookie round */
        uint16_t notify;   /* first error notify (1..16383), 0 if none */
        uint16_t redirect; /* IKEV2_N_REDIRECT if present, else 0 */
        uint16_t ke_group; /* KE payload's group, or the one INVALID_KE_PAYLOAD asks for */
        /* Transform IDs the responder chose (0 = absent), from its one proposal. */
        uint16_t encr, encr_keylen, prf, integ, dh;
        size_t nonce_size;
        unsigned n_payloads;
} ikev2_msg_response;

/* Build an IKE_SA_INIT request (a fresh SPI and nonce every time). 0, -EINVAL (options, or
 * keys of another group), -EAFNOSUPPORT (NAT-D addresses),
 * -ENOMEM, -EIO (key generation or a digest failed), or getrandom's -errno. */
int ikev2_msg_build_init(const ikev2_msg_init_options *o, ikev2_msg_request **ret);
ikev2_msg_request *ikev2_msg_request_free(ikev2_msg_request *r);

/* Strictly parse a response to the IKE_SA_INIT request whose initiator SPI is spi_i. The
 * datagram must be exactly one IKE message (no non-ESP marker; the caller strips it). It is an
 * answer — 0 returned — only if it carries SA+KE+Nonce, an error notify, COOKIE or REDIRECT.
 * Otherwise -EBADMSG and *ret_reason (if given) names the first defect (a static string);
 * *ret is written only on success. */
int ikev2_msg_parse_init_response(const uint8_t *buf, size_t size,
                                  const uint8_t spi_i[IKEV2_SPI_SIZE], ikev2_msg_response *ret,
                                  const char **ret_reason);

/* "NO_PROPOSAL_CHOSEN", "INVALID_KE_PAYLOAD", … or NULL for a type not named here. */
const char *ikev2_msg_notify_to_string(uint16_t type);
