#!/usr/bin/env bash
# Lost fragments, for real: the lab's link gets an MTU of 576, so the gateway's IKE_AUTH answer
# (about 900 bytes, under charon's 1280-byte IKE fragment size, hence IP-fragmented) leaves in
# IP fragments, and the client's namespace drops non-first fragments (what a NAT box or a
# firewall that cannot reassemble does). IKE_SA_INIT is small and passes; IKE_AUTH never
# arrives, the client retransmits it, the gateway sees the retransmits. The nat_mtu check on
# the gateway's VICI log events must report fragments_lost naming the client; without the drop
# the client connects and the check is OK.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-natmtu-XXXXXX)
CR=
cleanup() {
        [ -n "$CR" ] && kill "$CR" 2>/dev/null && wait "$CR" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
br=$(ip -n "$GW_NS" -o link show type bridge | awk -F': ' '{print $2; exit}')
ip -n "$GW_NS" link set "$GW_IF_1" mtu 576 && ip -n "$GW_NS" link set "$br" mtu 576 &&
        ip -n "$CL_NS_1" link set "$CL_IF_1" mtu 576 || { echo "cannot set the MTU"; exit 1; }
echo "retransmits: 2" >"$D/p.yaml"

"$B/tools/check-run" --vici "$GW_VICI" --watch 3 nat_mtu "$D/p.yaml" >"$D/ok.out" 2>&1 &
CR=$!
sleep 0.4
lab_connect "$D/lab" 1 >/dev/null && ok "MTU 576 alone: the client connects (IP fragments reassembled)" || bad "no connect at MTU 576"
wait "$CR"
CR=
grep -q "status=fail" "$D/ok.out" && bad "nat_mtu failed without a fault: $(grep summary "$D/ok.out")" \
        || ok "nat_mtu OK while fragments pass"
lab_disconnect "$D/lab" 1 >/dev/null

ip netns exec "$CL_NS_1" nft -f - <<NFT
table ip ikhfrag { chain in { type filter hook prerouting priority -400; ip frag-off & 0x1fff != 0 drop; }; }
NFT
"$B/tools/check-run" --vici "$GW_VICI" --watch 8 nat_mtu "$D/p.yaml" >"$D/fault.out" 2>&1 &
CR=$!
sleep 0.4
lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "the client connected although fragments are dropped"
wait "$CR"
CR=
if grep -q "^fact reason=fragments_lost" "$D/fault.out" && grep -q "^fact peers=.*$CL_IP_1" "$D/fault.out"; then
        ok "fragments dropped: $(grep '^summary: IKE_AUTH' "$D/fault.out" | tail -1 | cut -c10-90)…"
        ok "evidence: $(grep '^evidence: IKE_SA' "$D/fault.out" | tail -1 | cut -c11-)"
else
        bad "no fragments_lost: $(grep -E '^(summary|fact|evidence)' "$D/fault.out" | tail -8 | tr '\n' ' ')"
fi
testlib_end
