/* Fuzz the network parser mss_clamp reads swanctl.conf's remote_ts and a runbook's `networks`
 * with: whatever it accepts has a prefix within its family, no host bits, prints back to a
 * text that parses to the same network, and makes a rule. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "actions/mss_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[128], back[128];
        mss_net n, m;
        size_t len;

        if (size >= sizeof(s))
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (mss_net_parse(s, &n) < 0)
                return 0;
        len = n.family == AF_INET6 ? 16 : 4;
        if ((n.family != AF_INET && n.family != AF_INET6) || n.plen > len * 8)
                __builtin_trap();
        for (size_t i = 0; i < len; i++)
                if (n.addr[i] & ~n.mask[i])
                        __builtin_trap();
        if (mss_net_parse(mss_nets_text(&n, 1, back, sizeof(back)), &m) < 0 || m.family != n.family || m.plen != n.plen ||
            memcmp(m.addr, n.addr, len) != 0)
                __builtin_trap();
        nftnl_rule_free(mss_rule_new(&n, true, 1160, "t"));
        return 0;
}
