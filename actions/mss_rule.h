/* The mss_clamp action's networks and rules: an IPv4 or IPv6 network ("A.B.C.D/N",
 * "X:…::/N") and, for one network and one direction, the rule of table inet ikeheal_mss that
 * clamps the MSS option of TCP SYN packets to or from it:
 *
 *   ip  daddr NET tcp flags syn tcp option maxseg size > MSS tcp option maxseg size set MSS
 *   ip6 daddr NET tcp flags syn tcp option maxseg size > MSS-20 tcp option maxseg size set MSS-20
 *
 * MSS is the IPv4 figure; an IPv6 header is 20 bytes longer than an IPv4 one, so its segments
 * get 20 bytes less. Pure: builds libnftnl objects, sends nothing. */
#pragma once

#include <libnftnl/rule.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSS_RULE_TABLE "ikeheal_mss"
#define MSS_RULE_CHAIN "forward"
#define MSS_RULE_V6_LESS 20u

typedef struct mss_net {
        int family; /* AF_INET, AF_INET6 */
        uint8_t addr[16], mask[16]; /* network order; the first 4 bytes for IPv4 */
        unsigned plen;
} mss_net;

/* One network (blanks around it allowed; no "/N": a host) into n, its host bits cleared.
 * 0, or -EINVAL. */
int mss_net_parse(const char *s, mss_net *n);
/* Add n to nets (at most max) unless it is there already. */
void mss_net_add(mss_net *nets, size_t *k, size_t max, const mss_net *n);
/* "198.18.6.0/24, 2001:db8::/64" */
const char *mss_nets_text(const mss_net *nets, size_t k, char *buf, size_t size);
/* The MSS a network's packets are clamped to: mss, less 20 for IPv6. */
uint32_t mss_for(const mss_net *n, uint32_t mss);
/* The rule for n (its destination when daddr, else its source), commented with tag; NULL when
 * out of memory. */
struct nftnl_rule *mss_rule_new(const mss_net *n, bool daddr, uint32_t mss, const char *tag);
