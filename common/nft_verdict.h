/* What the local nftables ruleset does to an IKE packet: the evaluator behind the firewall part of
 * the health checks. Given the model (nft_ruleset.h) and a packet description — UDP to 500, UDP to
 * 4500, or ESP (IP protocol 50), sent to the gateway from outside — it answers accept, drop,
 * reject, or unknown with the reason, and names the deciding chain and rule handle as evidence
 * for the operator. Nothing here logs or does I/O.
 *
 * The path of a packet to the gateway, as the kernel runs it: every base chain that sees it —
 * ingress (netdev family, and inet ingress), then prerouting, then input, of the families inet
 * and ip (IPv4) or inet and ip6 (IPv6), each hook's chains in priority order, of any type (a nat
 * chain can drop too). An accept ends only its own base chain: the packet must survive every
 * base chain, so a drop in any of them wins. Inside a chain: rules in order; jump pushes a
 * return point (at most 16 deep, as the kernel), goto does not, return pops (or ends the base
 * chain with its policy), a chain's end returns; a base chain's end applies its policy.
 *
 * The packet is partly unknown, and rules that read what is unknown are followed both ways:
 *   - known: nfproto, l4proto, meta protocol, pkttype host, ip protocol / ip6 nexthdr (no
 *     extension headers assumed), the UDP destination port, the source port if given (IKE
 *     behind NAT arrives from any port, so by default it is unknown), "meta ipsec" false (nothing
 *     decrypted yet), fib daddr type local (it is sent to the gateway), and ct state NEW,
 *     direction original: we judge the first packet of a new IKE SA or ESP flow. So
 *     "ct state established,related accept" does not match it — deliberately: such a rule lets
 *     existing tunnels live on after a tightened policy, while new ones fail (the unattended-update case).
 *   - unknown: addresses, interface (but it is not "lo": iifname "lo" / iif 1 never match),
 *     marks, the SPI, ct status/mark, time, etc. A rule matching on those may or may not match.
 *   - limit may stop matching at any time: read as "may not match".
 * A rule that may match forks the evaluation: both outcomes are followed (at most
 * NFT_VERDICT_PATHS_MAX paths). If every path ends the same way, that is the verdict; if they
 * differ the verdict is unknown and says which match decides. An expression not understood
 * (quota, nat, queue, dynset, …) makes the verdict unknown when a path reaches it: "unknown:
 * rule handle N in chain X uses <expr>".
 *
 * Not modelled: the bridge and arp families, IP fragments, IPv6 extension headers, and the
 * state a notrack in raw prerouting would give (untracked instead of new). Flowtables only
 * bypass the forward hook and do not matter here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_ruleset.h"

#define NFT_VERDICT_PATHS_MAX 64u       /* evaluation paths followed per packet */
#define NFT_VERDICT_STEPS_MAX 32u       /* base chains recorded per result */
#define NFT_VERDICT_JUMP_MAX 16u        /* NFT_JUMP_STACK_SIZE in the kernel */
#define NFT_VERDICT_RULE_BUDGET 200000u /* rule evaluations per packet, against goto loops */
#define NFT_VERDICT_WHY_MAX 512u

typedef enum nft_verdict_kind {
        NFT_VERDICT_ACCEPT,
        NFT_VERDICT_DROP,
        NFT_VERDICT_REJECT,
        NFT_VERDICT_UNKNOWN,
        _NFT_VERDICT_KIND_MAX,
} nft_verdict_kind;

/* The three packets the health check asks about. */
typedef enum nft_verdict_probe {
        NFT_VERDICT_PROBE_IKE,  /* UDP to port 500 */
        NFT_VERDICT_PROBE_NATT, /* UDP to port 4500 (NAT traversal, and ESP-in-UDP) */
        NFT_VERDICT_PROBE_ESP,  /* IP protocol 50 */
        _NFT_VERDICT_PROBE_MAX,
} nft_verdict_probe;

typedef struct nft_verdict_packet {
        uint8_t nfproto;     /* NFPROTO_IPV4 or NFPROTO_IPV6 */
        uint8_t l4proto;     /* IPPROTO_UDP, IPPROTO_ESP, … */
        uint16_t sport;      /* host order; 0: unknown */
        uint16_t dport;      /* host order; UDP/TCP only */
        const char *iifname; /* input interface if known; NULL: unknown but not "lo" */
        uint32_t iif;        /* its index if known; 0: unknown but not lo's (1) */
} nft_verdict_packet;

/* What one base chain on the path did. Pointers are into the ruleset evaluated. */
typedef struct nft_verdict_step {
        const nftr_chain *chain;      /* the base chain */
        nft_verdict_kind verdict;     /* ACCEPT: the packet went on to the next base chain */
        const nftr_chain *rule_chain; /* the chain holding the deciding rule; NULL: the policy */
        uint64_t rule_handle;
} nft_verdict_step;

typedef struct nft_verdict_result {
        nft_verdict_kind verdict;
        /* The deciding place: for DROP/REJECT where the packet died, for UNKNOWN where knowledge
         * ended, for ACCEPT the last base chain that accepted. chain NULL: no base chain. */
        const nftr_chain *chain;
        const nftr_chain *rule_chain; /* NULL: the base chain's policy decided */
        uint64_t rule_handle;
        char why[NFT_VERDICT_WHY_MAX]; /* one line for the operator, always set */
        nft_verdict_step steps[NFT_VERDICT_STEPS_MAX];
        size_t n_steps;
        unsigned n_paths;
} nft_verdict_result;

/* The packet for a probe: `nfproto` NFPROTO_IPV4 or NFPROTO_IPV6; interface and source port
 * unknown. */
void nft_verdict_packet_for(nft_verdict_probe probe, uint8_t nfproto, nft_verdict_packet *ret);

/* Evaluate. The result points into `rs` and lives as long as it does, unchanged. -EINVAL for a
 * bad argument, -ENOMEM. A ruleset the evaluator cannot follow is not an error: it is a verdict
 * of UNKNOWN with its reason. */
int nft_verdict_eval(const nft_ruleset *rs, const nft_verdict_packet *p, nft_verdict_result *ret);

const char *nft_verdict_kind_to_string(nft_verdict_kind k);   /* "accept", …, "unknown" */
const char *nft_verdict_probe_to_string(nft_verdict_probe p); /* "udp/500", "udp/4500", "esp" */
