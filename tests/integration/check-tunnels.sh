#!/usr/bin/env bash
# The tunnels check on the site-to-site lab (tests/lab/s2s.sh): the gateway keeps s2s/net up to
# the peer gateway. Expected from swanctl.conf (start_action = start, read through its include)
# and from an explicit list. A CHILD_SA deleted under a live IKE_SA is its own reason
# (child_missing); a trap tunnel whose trap policy is installed is up; the peer's charon killed is ike_down once DPD gives up, with charon's last
# words (its "giving up" line) and the peer named by identity and address; both resolved when
# the tunnel is back. A listed tunnel charon has not loaded is a configuration fault; a listed
# name that is not CONNECTION/CHILD is refused at parse time with FILE:LINE:COL.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-tun-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

s2s_up "$D/lab" >/dev/null || { echo "s2s lab did not come up"; exit 1; }
. "$D/lab/lab.env"
# a trap tunnel beside it: its CHILD_SA would come with the first packet, its trap policy is up
cat >"$GW_SWANCTL_DIR/conf.d/trap.conf" <<CONF
connections {
        s2strap {
                version = 2
                local_addrs = $S2S_GW_ADDR
                remote_addrs = $PEER_IP
                encap = yes
                local {
                        auth = pubkey
                        certs = gw.pem
                        id = $GW_ID
                }
                remote {
                        auth = pubkey
                        id = $PEER_ID
                }
                children {
                        t {
                                local_ts = $S2S_GW_NET
                                remote_ts = 198.18.7.0/24
                                start_action = trap
                        }
                }
        }
}
CONF
lab_reload "$D/lab" gw || bad "the trap connection did not load"

{
        agent_yaml_head "$D"
        cat <<YAML
checks:
  - kind: daemon
    params: {pidfile: $GW_PIDFILE}
  - kind: sas
  - kind: logs
  - kind: tunnels
    params: {swanctl_conf: $GW_SWANCTL_CONF, grace: 500ms}
  - kind: tunnels
    name: listed
    params: {from_config: false, tunnels: [$S2S_CONN/$S2S_CHILD], grace: 500ms}
YAML
} >"$D/c.yaml"

# a name that is not CONNECTION/CHILD: refused with its position
sed "s|tunnels: \[$S2S_CONN/$S2S_CHILD\]|tunnels: [$S2S_CONN]|" "$D/c.yaml" >"$D/bad.yaml"
out=$("$B/ikeheald" -c "$D/bad.yaml" --check-config 2>&1) && bad "a tunnel without /child accepted" ||
        { grep -qE "bad.yaml:[0-9]+:[0-9]+: .*not CONNECTION/CHILD" <<<"$out" && ok "'tunnels: [$S2S_CONN]' refused: $(grep -o 'bad.yaml:[0-9:]*' <<<"$out" | head -1)" ||
                bad "refusal without position: $out"; }

agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
fact() { # CHECK KEY
        agent_ctl checks "$1" --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}[sys.argv[1]]
print(d.get("facts",{}).get(sys.argv[2],""))' "$1" "$2"
}
wait_for() { # TIMEOUT_MS CMD…
        local end=$(($(date +%s%N) / 1000000 + $1)); shift
        while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do "$@" && return 0; sleep 0.05; done
        "$@"
}
up_is() { [ "$(fact "$1" up)" = "$2" ]; }
wait_for 5000 up_is tunnels "$S2S_CONN/$S2S_CHILD,s2strap/t" && ok "expected from swanctl.conf (through its include; start and trap): $(fact tunnels up) up" ||
        bad "tunnels check: up='$(fact tunnels up)' tunnels='$(fact tunnels tunnels)'"
wait_for 2000 up_is listed "$S2S_CONN/$S2S_CHILD" && ok "expected from the list: $(fact listed up) up" || bad "listed: up='$(fact listed up)'"
[ "$(fact tunnels tunnels)" = 2 ] && ok "the road-warrior connection (no start_action) is not expected" ||
        bad "tunnels=$(fact tunnels tunnels)"

# --- the CHILD_SA deleted, the IKE_SA alive -----------------------------------------------------
t0=$(date +%s%N)
lab_swanctl "$D/lab" gw --terminate --child "$S2S_CHILD" --timeout 5 >/dev/null 2>&1
out=$(agent_wait_incident tunnel - 8000) && ok "CHILD_SA deleted: incident $(sed 's/opened_usec=.*//' <<<"$out")" ||
        bad "no tunnel incident after the CHILD_SA was deleted"
echo "figure: CHILD_SA deleted → tunnel incident in $((($(date +%s%N) - t0) / 1000000)) ms (grace 500 ms)"
grep -q "reason=child_missing" <<<"$out" && ok "reason child_missing (IKE_SA up, CHILD_SA missing)" || bad "reason: $out"
grep -q "peers=$PEER_ID@$PEER_IP" <<<"$out" && ok "the peer named by identity and address" || bad "peers: $out"
[ "$(fact tunnels missing)" = "$S2S_CONN/$S2S_CHILD" ] && ok "the finding names $S2S_CONN/$S2S_CHILD" || bad "missing=$(fact tunnels missing)"
lab_swanctl "$D/lab" gw --initiate --child "$S2S_CHILD" --timeout 10 >/dev/null 2>&1
out=$(agent_wait_resolved tunnel 8000) && ok "re-initiated: incident resolved ($out)" || bad "tunnel incident not resolved"

# --- the peer's charon killed: DPD gives up, the IKE_SA goes ----------------------------------
lab_stop "$D/lab" peer KILL
t0=$(date +%s%N)
out=$(agent_wait_incident tunnel - 20000) && ok "peer killed: incident $(sed 's/opened_usec=.*//' <<<"$out")" ||
        bad "no tunnel incident after the peer was killed"
echo "figure: peer killed → tunnel incident in $((($(date +%s%N) - t0) / 1000000)) ms (DPD 2 s, 3 retransmits)"
grep -q "reason=ike_down" <<<"$out" && ok "reason ike_down" || bad "reason: $out"
said=$(fact tunnels charon_said)
grep -q "giving up after" <<<"$said" && ok "charon's last words: '$said' ($(fact tunnels charon_event))" ||
        bad "charon_said='$said'"
agent_ctl incidents active --json | grep -q "giving up after" && ok "charon's words are in the incident's evidence" ||
        bad "incident evidence lacks charon's words"
lab_start "$D/lab" peer >/dev/null && . "$D/lab/lab.env"
lab_swanctl "$D/lab" gw --initiate --child "$S2S_CHILD" --timeout 10 >/dev/null 2>&1
out=$(agent_wait_resolved tunnel 8000) && ok "peer back, tunnel re-initiated: resolved ($out)" || bad "not resolved after the peer came back"

# --- a listed tunnel that charon has not loaded ---------------------------------------------
agent_stop
sed -i "s|tunnels: \[$S2S_CONN/$S2S_CHILD\]|tunnels: [$S2S_CONN/$S2S_CHILD, ghost/net]|" "$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
out=$(agent_wait_incident daemon_config - 8000) && grep -q "reason=tunnel_not_loaded" <<<"$out" &&
        ok "a listed tunnel not loaded: daemon_config/tunnel_not_loaded" || bad "ghost/net: ${out:-no incident}"
testlib_end
