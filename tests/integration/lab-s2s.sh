#!/usr/bin/env bash
# The site-to-site lab (tests/lab/s2s.sh): the gateway brings its tunnel to the peer gateway up
# by itself, site A reaches site B through it at full size, each fault of the path does what it
# says (ESP dropped while IKE still answers; a path MTU black hole: small passes, large fails),
# and the peer as lab role "peer" can be stopped and started. Everything is removed by down.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-s2s-XXXXXX)
cleanup() {
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

t0=$(_lab_now_ms)
s2s_up "$D/lab" || { echo "s2s lab did not come up"; exit 1; }
echo "figure: s2s lab up with the tunnel installed in $(($(_lab_now_ms) - t0)) ms"
. "$D/lab/lab.env"
ok "the gateway initiated $S2S_CONN/$S2S_CHILD to the peer ($PEER_IP) by itself"
s2s_ping "$D/lab" && ok "site A reaches site B through the tunnel" || bad "small echo through the tunnel"
s2s_ping "$D/lab" 1372 && ok "full size (1372 + 28 = the TUN's 1400) with DF passes" || bad "full-size echo"

s2s_fault "$D/lab" esp on
s2s_ping "$D/lab" && bad "ESP dropped but the echo passed" || ok "ESP dropped on the path: the echo is lost"
sleep 3 # beyond one DPD interval (2 s)
s2s_tunnel_up "$D/lab" && ok "IKE still passes: DPD keeps the tunnel" || bad "the tunnel fell with ESP only dropped"
s2s_fault "$D/lab" esp off
s2s_ping "$D/lab" && ok "ESP back: the echo passes" || bad "echo after the ESP fault"

s2s_fault "$D/lab" mtu on
s2s_ping "$D/lab" 1200 && ok "MTU black hole: small passes" || bad "small echo in the MTU black hole"
s2s_ping "$D/lab" 1372 && bad "MTU black hole: the large echo passed" || ok "MTU black hole: large is lost"
s2s_fault "$D/lab" mtu off
s2s_ping "$D/lab" 1372 && ok "MTU restored: large passes" || bad "large echo after the MTU fault"

lab_stop "$D/lab" peer KILL && ok "the peer's charon killed (lab role peer)" || bad "lab_stop peer"
lab_start "$D/lab" peer && ok "the peer's charon started again" || bad "lab_start peer"
. "$D/lab/lab.env"
grep -q '^PEER_NS=' "$D/lab/lab.env" && grep -q '^GW_NS=' "$D/lab/lab.env" && ok "lab.env keeps the peer's variables across lab_start" ||
        bad "lab.env lost PEER_*"
# the gateway still holds the IKE_SA the killed peer forgot: a CHILD_SA asked for under it would
# wait out its retransmits; drop it here (no DELETE exchange with a peer that has no state)
lab_swanctl "$D/lab" gw --terminate --ike "$S2S_CONN" --force >/dev/null 2>&1
lab_swanctl "$D/lab" gw --initiate --child "$S2S_CHILD" --timeout 10 >/dev/null 2>&1
s2s_wait_tunnel "$D/lab" 5000 && s2s_ping "$D/lab" && ok "re-initiated by hand: traffic passes" || bad "re-initiate"

id=$(_lab_id "$(cd "$D/lab" && pwd -P)")
lab_down "$D/lab" >/dev/null
[ -z "$(_lab_netns_of "$id")" ] && ok "down removed every namespace" || bad "left: $(_lab_netns_of "$id")"
testlib_end
