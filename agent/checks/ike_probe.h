/* The IKE probe: is a gateway's IKE service reachable from here, on UDP 500 or 4500? One real
 * IKE_SA_INIT request (common/ikev2_msg.h) is sent over a connected UDP socket and retransmitted
 * unchanged until an answer or the timeout; only a strictly parsed IKE answer counts. A plain
 * UDP port test cannot tell an nftables `drop` from a slow gateway; this one can, and it tells
 * the ways of failing apart:
 *
 *   ANSWERED     a parsed IKE_SA_INIT response (SA/KE/Nonce, or N(INVALID_KE_PAYLOAD),
 *                N(NO_PROPOSAL_CHOSEN), N(COOKIE), any error notify, REDIRECT)
 *   REFUSED      ICMP port unreachable: the host is there, nothing listens (ECONNREFUSED on the
 *                connected socket), or an nftables `reject`
 *   UNREACHABLE  ICMP host/net unreachable or administratively prohibited (IP_RECVERR /
 *                IPV6_RECVERR error queue), or no local route
 *   SILENT       nothing before the timeout: dropped on the way or by a firewall
 *   GARBAGE      datagrams came back but none parsed as an answer to our request
 *   ERROR        a local failure (socket, memory, OpenSSL)
 *
 * Half-open SAs: by default the request uses IKEV2_MSG_OFFER_STATELESS (see ikev2_msg.h), which
 * makes charon answer N(INVALID_KE_PAYLOAD) and keep nothing; tests/integration/ike-probe.sh
 * measures it. IKE_PROBE_OFFER_FULL exists to measure the alternative.
 *
 * Vantage point: with `netns` set, the socket is created inside /run/netns/NAME by a short-lived
 * helper thread that joins the namespace, opens the socket and exits; the agent's main thread
 * never changes namespace, and the socket keeps the namespace it was made in.
 *
 * Latency: rtt_usec is measured from the latest transmission; with attempts > 1 the answer may
 * belong to an earlier copy, so such a sample is ambiguous (Karn) and callers may discard it.
 *
 * Never blocks the loop: everything after ike_probe_start() happens in sd-event callbacks, and
 * the result callback is never called from inside ike_probe_start(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "ikev2_msg.h"
#include "macro.h"

#define IKE_PROBE_PORT 500
#define IKE_PROBE_PORT_NATT 4500
#define IKE_PROBE_TIMEOUT_MAX_USEC (5 * 60 * USEC_PER_SEC)
#define IKE_PROBE_RETRIES_MAX 16
/* Datagrams that fail to parse before the probe gives up waiting for a real answer. */
#define IKE_PROBE_GARBAGE_MAX 64

typedef enum ike_probe_verdict {
        IKE_PROBE_ANSWERED,
        IKE_PROBE_REFUSED,
        IKE_PROBE_UNREACHABLE,
        IKE_PROBE_SILENT,
        IKE_PROBE_GARBAGE,
        IKE_PROBE_ERROR,
        _IKE_PROBE_VERDICT_MAX,
} ike_probe_verdict;

typedef struct ike_probe_result {
        ike_probe_verdict verdict;
        int error;         /* positive errno behind REFUSED/UNREACHABLE/ERROR, else 0 */
        uint64_t rtt_usec; /* latest send → answer or ICMP error; 0 for SILENT */
        unsigned attempts; /* datagrams sent */
        uint16_t notify;   /* error notify of the answer (IKEV2_N_*), 0 if none */
        uint16_t ke_group; /* group of the responder's KE, or the one INVALID_KE asks for */
        bool has_sa, has_ke, has_nonce, cookie;
        uint8_t icmp_type, icmp_code; /* from the error queue, when the kernel told us */
        bool icmp;
        char detail[128]; /* one human line: what was seen */
        /* The answer as received (non-ESP marker stripped), valid only during the callback;
         * for GARBAGE the last unparsable datagram. NULL if none. */
        const uint8_t *response;
        size_t response_size;
} ike_probe_result;

typedef enum ike_probe_offer {
        IKE_PROBE_OFFER_STATELESS, /* default: the responder answers INVALID_KE/NO_PROPOSAL */
        IKE_PROBE_OFFER_FULL,      /* textbook request: may leave a half-open SA behind */
} ike_probe_offer;

/* A UDP socket kept between probes to one address and port, one probe at a time: each
 * ike_probe_start() on it disconnects it — its port is released, and what that port still held
 * (a late answer, an ICMP error) is read and thrown away — and connects it again, so every probe
 * still leaves from a fresh ephemeral port, a new flow to conntrack as a new client's would be
 * (a socket that kept its port would ride an established conntrack entry past a new drop rule),
 * without a new socket, epoll registration and (with a netns) helper thread each time. The
 * probe started on it holds a reference. */
typedef struct ike_probe_sock ike_probe_sock;

/* family: AF_INET or AF_INET6; netns as in ike_probe_options. 0, or as ike_probe_start(). */
int ike_probe_sock_new(ike_probe_sock **ret, ev_loop *e, int family, const char *netns);
/* NULL-safe; returns NULL. */
ike_probe_sock *ike_probe_sock_unref(ike_probe_sock *s);
DEFINE_FREE_FUNC(ike_probe_sock, ike_probe_sock_unref);

typedef struct ike_probe_options {
        const struct sockaddr *addr; /* AF_INET or AF_INET6; port 0 = 500, or 4500 with natt */
        socklen_t addr_len;
        bool natt;             /* prefix the 4-byte non-ESP marker (RFC 3948) */
        const char *netns;     /* name under /run/netns, or NULL for ours */
        uint64_t timeout_usec; /* whole probe, 1 ms .. IKE_PROBE_TIMEOUT_MAX_USEC */
        unsigned retries;      /* extra copies, spread evenly over the timeout */
        ike_probe_offer offer;
        uint16_t ke_group; /* 0 = X25519 (or the keys' group); or IKEV2_GROUP_ECP256 */
        /* KE and SHA-1 shared between probes (ikev2_msg.h), read in ike_probe_start() only;
         * NULL: a fresh key pair for this probe. */
        const ikev2_msg_keys *keys;
        /* A kept socket (ike_probe_sock_new(): same loop and family, no other probe on it; netns
         * is then the socket's), or NULL: a socket of the probe's own, closed with it. */
        ike_probe_sock *sock;
} ike_probe_options;

typedef struct ike_probe ike_probe;

/* Called once with the result; may call ike_probe_free(p). */
typedef void (*ike_probe_cb)(ike_probe *p, const ike_probe_result *result, void *userdata);

/* Start a probe on `e`. 0, or -EINVAL (options, netns name), -ENOENT (no such netns), -EPERM,
 * -EBUSY (the kept socket has a probe),
 * -ENOMEM, -EIO (OpenSSL), or a socket error. A socket error that is the verdict itself (no
 * route) is not returned here but delivered as UNREACHABLE through cb. */
int ike_probe_start(ike_probe **ret, ev_loop *e, const ike_probe_options *o, ike_probe_cb cb,
                    void *userdata);
/* Cancel (no callback) and release. NULL-safe; returns NULL. */
ike_probe *ike_probe_free(ike_probe *p);
DEFINE_FREE_FUNC(ike_probe, ike_probe_free);

const char *ike_probe_verdict_to_string(ike_probe_verdict v);
/* Validate a network namespace name as found under /run/netns: 1..64 of [A-Za-z0-9_.-], not
 * "." or "..". 0 or -EINVAL. */
int ike_probe_netns_name_valid(const char *name);
