/* The mss_clamp action's networks and rules (actions/mss_rule.c), without the kernel: IPv4 and
 * IPv6 networks parsed with their host bits cleared (bad ones refused), and the rule for each
 * as libnftnl prints it — IPv4: nfproto ipv4, the address at 12 (saddr) or 16 (daddr), 4 bytes,
 * MSS as given; IPv6: nfproto ipv6, at 8 or 24, 16 bytes, MSS 20 less — the comment tag on each. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/mss_rule.h"
#include "tap.h"

static void rule_text(const mss_net *n, bool daddr, uint32_t mss, char *buf, size_t size) {
        struct nftnl_rule *r = mss_rule_new(n, daddr, mss, "ikeheal-mss");
        buf[0] = 0;
        if (r)
                (void) nftnl_rule_snprintf(buf, size, r, NFTNL_OUTPUT_DEFAULT, 0);
        nftnl_rule_free(r);
}

int main(void) {
        mss_net n, nets[4];
        char buf[4096], text[256];
        size_t k = 0;

        CHECK(mss_net_parse(" 198.18.6.9/24 ", &n) == 0 && n.family == AF_INET && n.plen == 24, "IPv4 /24 parses");
        CHECK(strcmp(mss_nets_text(&n, 1, text, sizeof(text)), "198.18.6.0/24") == 0, "host bits cleared: %s", text);
        CHECK(mss_net_parse("2001:db8:1:2::5/64", &n) == 0 && n.family == AF_INET6 && n.plen == 64, "IPv6 /64 parses");
        CHECK(strcmp(mss_nets_text(&n, 1, text, sizeof(text)), "2001:db8:1:2::/64") == 0, "IPv6 host bits cleared: %s", text);
        CHECK(mss_net_parse("2001:db8::1", &n) == 0 && n.plen == 128, "an IPv6 host: /128");
        CHECK(mss_net_parse("2001:db8::/129", &n) == -EINVAL && mss_net_parse("198.18.0.0/33", &n) == -EINVAL,
              "a prefix beyond the family's length: refused");
        CHECK(mss_net_parse("2001:db8::/x", &n) == -EINVAL && mss_net_parse("dynamic", &n) == -EINVAL &&
                      mss_net_parse("", &n) == -EINVAL && mss_net_parse("198.18.0.0/", &n) == -EINVAL,
              "not a network: refused");
        CHECK(mss_net_parse("2001:db8:9::/48", &n) == 0 && mss_for(&n, 1160) == 1140, "IPv6 MSS: 20 less (1140)");
        CHECK(mss_net_parse("198.18.6.0/24", &n) == 0 && mss_for(&n, 1160) == 1160, "IPv4 MSS as given");

        (void) mss_net_parse("198.18.6.0/24", &nets[0]);
        mss_net_add(nets, &k, 4, &nets[0]);
        (void) mss_net_parse("198.18.6.7/24", &n);
        mss_net_add(nets, &k, 4, &n);
        (void) mss_net_parse("2001:db8::/32", &n);
        mss_net_add(nets, &k, 4, &n);
        CHECK(k == 2 && strcmp(mss_nets_text(nets, k, text, sizeof(text)), "198.18.6.0/24, 2001:db8::/32") == 0,
              "the same network once, both families: %s", text);

        (void) mss_net_parse("198.18.6.0/24", &n);
        rule_text(&n, true, 1160, buf, sizeof(buf));
        CHECK(strstr(buf, "payload load 4b @ network header + 16 => reg 1"), "IPv4 daddr: 4 bytes at 16");
        CHECK(strstr(buf, "cmp eq reg 1 0x00000002 ]") && strstr(buf, "immediate reg 1 0x00008804"), "nfproto ipv4, MSS 1160 (0x0488)");
        CHECK(strstr(buf, "bitwise reg 1 = ( reg 1 & 0x00ffffff )") && strstr(buf, "cmp eq reg 1 0x000612c6"),
              "masked to /24, compared with 198.18.6.0");
        rule_text(&n, false, 1160, buf, sizeof(buf));
        CHECK(strstr(buf, "payload load 4b @ network header + 12 => reg 1"), "IPv4 saddr: at 12");

        (void) mss_net_parse("2001:db8:1::/48", &n);
        rule_text(&n, true, 1160, buf, sizeof(buf));
        CHECK(strstr(buf, "payload load 16b @ network header + 24 => reg 1"), "IPv6 daddr: 16 bytes at 24");
        CHECK(strstr(buf, "cmp eq reg 1 0x0000000a ]"), "nfproto ipv6 (10)");
        CHECK(strstr(buf, "immediate reg 1 0x00007404") && strstr(buf, "cmp gt reg 1 0x00007404"),
              "IPv6: MSS 1140 (0x0474) compared and set");
        CHECK(strstr(buf, "0xb80d0120 0x00000100 0x00000000 0x00000000"), "compared with 2001:db8:1::");
        CHECK(strstr(buf, "0xffffffff 0x0000ffff 0x00000000 0x00000000"), "masked to /48");
        rule_text(&n, false, 1160, buf, sizeof(buf));
        CHECK(strstr(buf, "payload load 16b @ network header + 8 => reg 1"), "IPv6 saddr: at 8");
        (void) mss_net_parse("2001:db8::1", &n);
        rule_text(&n, true, 1160, buf, sizeof(buf));
        CHECK(!strstr(buf, "bitwise reg 1 = ( reg 1 & 0xffffffff"), "a /128 host: no mask");
        return TAP_END();
}
