/* The ICMP probe: does an echo of a given size reach an address and come back? Used through a
 * tunnel: sent from the gateway's inside address, so the kernel's IPsec policy carries it in
 * the tunnel's CHILD_SA. The echo leaves with DF set and the interface's MTU as its only bound
 * (IP_PMTUDISC_PROBE: a path MTU learnt earlier neither fragments nor refuses it), so a packet
 * of full size tells whether the path carries it whole. Up to `count` copies are sent
 * `interval` apart; the first matching reply (common/icmp_echo.h) ends the probe:
 *
 *   ANSWERED   an echo reply with our identifier and pattern
 *   SILENT     nothing before the timeout
 *   TOO_BIG    this host refused to send it (EMSGSIZE: larger than the local MTU allows)
 *   ERROR      a local failure (socket, bind, no route); `error` says which
 *
 * One raw ICMP socket per probe (CAP_NET_RAW), made in /run/netns/NAME when netns is set (the
 * socket keeps that namespace), bound to the source, connected to the target, filtered to echo
 * replies. Never blocks the loop; the callback is never called from inside icmp_probe_start(). */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include "ev.h"
#include "macro.h"

#define ICMP_PROBE_COUNT_MAX 8u

typedef enum icmp_probe_verdict {
        ICMP_PROBE_ANSWERED,
        ICMP_PROBE_SILENT,
        ICMP_PROBE_TOO_BIG,
        ICMP_PROBE_ERROR,
        _ICMP_PROBE_VERDICT_MAX,
} icmp_probe_verdict;

typedef struct icmp_probe_result {
        icmp_probe_verdict verdict;
        int error;         /* positive errno behind TOO_BIG/ERROR, else 0 */
        unsigned sent;     /* echoes that left */
        uint64_t rtt_usec; /* the answered copy's send → reply; 0 unless ANSWERED */
        char detail[128];  /* one human line */
} icmp_probe_result;

typedef struct icmp_probe_options {
        const char *netns;       /* NULL: the agent's own namespace */
        struct in_addr src, dst;
        size_t total;            /* IP packet size, ICMP_ECHO_MIN_TOTAL … ICMP_ECHO_MAX_TOTAL */
        unsigned count;          /* 1 … ICMP_PROBE_COUNT_MAX */
        uint64_t interval_usec;  /* between copies */
        uint64_t timeout_usec;   /* from the start to SILENT */
} icmp_probe_options;

typedef struct icmp_probe icmp_probe;
typedef void (*icmp_probe_cb)(icmp_probe *p, const icmp_probe_result *r, void *userdata);

/* Start a probe. 0, or -EINVAL for bad options (nothing is started). Errors of the socket are
 * results (ERROR), delivered from the loop. */
int icmp_probe_start(icmp_probe **ret, ev_loop *event, const icmp_probe_options *o, icmp_probe_cb cb, void *userdata);
/* Stops it (no callback). NULL-safe; returns NULL. */
icmp_probe *icmp_probe_free(icmp_probe *p);
DEFINE_FREE_FUNC(icmp_probe, icmp_probe_free);
const char *icmp_probe_verdict_to_string(icmp_probe_verdict v);
