/* ICMP echo codec and the tunnel probe's judgement: a request read back as a reply (type
 * changed, checksum fixed) is ours; another identifier, a broken checksum, a truncated packet
 * are not; the probe's spec parser refuses malformed entries; the verdicts follow the small and
 * full-size echoes and the outbound counter. */
#include <errno.h>
#include <string.h>

#include "agent/checks/tunnel_probe.h"
#include "icmp_echo.h"
#include "tap.h"

static size_t as_reply(uint8_t *pkt, const uint8_t *msg, size_t n) {
        memset(pkt, 0, 20);
        pkt[0] = 0x45;
        pkt[2] = (uint8_t) ((n + 20) >> 8);
        pkt[3] = (uint8_t) (n + 20);
        pkt[9] = 1;
        memcpy(pkt + 20, msg, n);
        pkt[20] = 0;                       /* echo reply */
        uint16_t c = (uint16_t) (pkt[22] << 8 | pkt[23]) + 0x0800; /* type 8 → 0 in the sum */
        pkt[22] = (uint8_t) (c >> 8);
        pkt[23] = (uint8_t) c;
        return n + 20;
}

static probe_verdict judge(tunnel_probes *tp, icmp_probe_verdict small, icmp_probe_verdict large, int grew) {
        finding *f = NULL;
        tunnel t = { .conn = "s2s", .child = "net", .installed = true, .ike = TUNNEL_IKE_ESTABLISHED };
        tunnel_probe_params pp = { .size = 1400, .timeout_usec = 1000000 };
        tp->p[0].r_small.verdict = small;
        tp->p[0].r_large.verdict = large;
        tp->p[0].have_small = tp->p[0].have_large = true;
        if (finding_new(&f) < 0)
                return (probe_verdict) 99;
        probe_verdict v = tunnel_probes_judge(tp, &t, &pp, grew, f);
        if (!finding_fact_get(f, "s2s/net.probe"))
                v = (probe_verdict) 98;
        finding_free(f);
        return v;
}

int main(void) {
        uint8_t msg[1500], pkt[1600];
        uint16_t seq = 0;
        int n = icmp_echo_request(msg, sizeof(msg), 1400, 0x1234, 7);

        CHECK(n == 1380, "a 1400-byte packet: 1380 bytes of ICMP");
        size_t len = as_reply(pkt, msg, (size_t) n);
        CHECK(icmp_echo_reply(pkt, len, 0x1234, &seq) == 0 && seq == 7, "our reply read back, seq 7");
        CHECK(icmp_echo_reply(pkt, len, 0x1235, &seq) == -ENOMSG, "another identifier: not ours");
        CHECK(icmp_echo_reply(pkt, len - 1, 0x1234, &seq) == -EBADMSG, "truncated: refused");
        pkt[100] ^= 1;
        CHECK(icmp_echo_reply(pkt, len, 0x1234, &seq) == -EBADMSG, "a flipped bit: checksum refuses it");
        pkt[100] ^= 1;
        pkt[0] = 0x65;
        CHECK(icmp_echo_reply(pkt, len, 0x1234, &seq) == -EBADMSG, "not IPv4: refused");
        CHECK(icmp_echo_request(msg, sizeof(msg), 40, 1, 1) == -EINVAL, "below the minimum size: refused");
        CHECK(icmp_echo_request(msg, 100, 1400, 1, 1) == -EINVAL, "a buffer too small: refused");

        static tunnel_probes tp;
        ydiag d = {};
        char *good[] = { "s2s/net 198.18.5.1 198.18.6.2", NULL };
        char *bad1[] = { "s2s 198.18.5.1 198.18.6.2", NULL };
        char *bad2[] = { "s2s/net 198.18.5.1", NULL };
        char *bad3[] = { "s2s/net 198.18.5.1 198.18.6.2 extra", NULL };
        char *bad4[] = { "s2s/net 198.18.5.1 host.example", NULL };
        CHECK(tunnel_probes_parse(&tp, bad1, NULL, &d) < 0, "no CHILD: refused");
        CHECK(tunnel_probes_parse(&tp, bad2, NULL, &d) < 0, "no target: refused");
        CHECK(tunnel_probes_parse(&tp, bad3, NULL, &d) < 0, "a fourth word: refused");
        CHECK(tunnel_probes_parse(&tp, bad4, NULL, &d) < 0, "a name, not an address: refused");
        ydiag_done(&d);
        CHECK(tunnel_probes_parse(&tp, good, NULL, &d) == 0 && tp.n == 1, "a good spec");

        CHECK(judge(&tp, ICMP_PROBE_ANSWERED, ICMP_PROBE_ANSWERED, 1) == PROBE_OK, "both answered: OK");
        CHECK(judge(&tp, ICMP_PROBE_ANSWERED, ICMP_PROBE_SILENT, 1) == PROBE_MTU, "full size lost: MTU black hole");
        CHECK(judge(&tp, ICMP_PROBE_SILENT, ICMP_PROBE_SILENT, 1) == PROBE_ESP_LOST, "both lost, echoes left: ESP lost");
        CHECK(judge(&tp, ICMP_PROBE_SILENT, ICMP_PROBE_SILENT, -1) == PROBE_ESP_LOST, "counters unknown: ESP lost");
        CHECK(judge(&tp, ICMP_PROBE_SILENT, ICMP_PROBE_SILENT, 0) == PROBE_NOT_ROUTED, "nothing left: not routed");
        CHECK(judge(&tp, ICMP_PROBE_ERROR, ICMP_PROBE_ERROR, 1) == PROBE_NONE, "a local error: no verdict on the path");
        CHECK(strcmp(probe_verdict_reason(PROBE_MTU), "mtu_blackhole") == 0 &&
                      strcmp(probe_verdict_reason(PROBE_ESP_LOST), "esp_dropped") == 0 && !probe_verdict_reason(PROBE_OK),
              "reasons");
        return TAP_END();
}
