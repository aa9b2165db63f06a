#!/usr/bin/env bash
# The tunnels check's active probe and the data-plane measures, on the site-to-site lab
# (tests/lab/s2s.sh), ikeheald (sanitizer build), real charon on both gateways and nftables:
#
#   ESP dropped on the middle router (IKE passes)
#                        the probe's small echo is lost although it left through the CHILD_SA:
#                        a tunnel incident, reason esp_dropped — not this host's firewall, not
#                        the daemon; the shipped runbook tunnel-force-encap (encap) is not offered:
#                        the lab's SA is UDP-encapsulated already (kernel-libipsec), so forcing
#                        encapsulation gains nothing and the run is escalated to a human at once
#                        with that reason, no approval asked; resolved when ESP passes again
#   an MTU black hole on the path (MTU 1300, "fragmentation needed" dropped)
#                        small echoes pass, full-size ones do not: reason mtu_blackhole; TCP
#                        the shipped runbook tunnel-mss-clamp (expiry shortened) clamps the MSS in
#                        table inet ikeheal_mss of the gateway: a new TCP connection from site A
#                        to site B gets MSS 1160 at most (the server behind the peer reads it); an
#                        operator's revert of the measure deletes the table (expiry and a crash
#                        revert through the same action, as every measure);
#                        a rule not ours in that table stops a revert (nothing deleted);
#                        an IPv6 network gets its ip6 rule pair, MSS 20 less
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-rbdp-XXXXXX)
R=/run/ikh-rbdp-$$ # root-owned, 0755 all the way: a runbook directory the agent accepts
HTTP_PID=
cleanup() {
        [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${KEEP:-}" ] || rm -rf "$D"
        rm -rf "$R"
}
trap cleanup EXIT
install -d -m 0755 "$R"
sed -e 's/expires_in: 1h/expires_in: 2m/' "$top/runbooks/tunnel-mss-clamp.yaml" >"$R/tunnel-mss-clamp.yaml"
cp "$top/runbooks/tunnel-force-encap.yaml" "$R/tunnel-force-encap.yaml"
chmod 0644 "$R/tunnel-mss-clamp.yaml" "$R/tunnel-force-encap.yaml"

# a bad probe is refused at parse time, each error at its line:column
cat >"$D/bad.yaml" <<YAML
agent: {state_dir: $D/bad-state}
control: {socket: $D/bad.sock}
checks:
  - kind: tunnels
    params: {probe: ["s2s/net 198.18.5.1"], probe_netns: "a/b", probe_size: 50}
YAML
out=$("$B/ikeheald" -c "$D/bad.yaml" --check-config 2>&1) && bad "a bad probe accepted" ||
        { [ "$(grep -cE "bad.yaml:5:[0-9]+: (probe: 's2s/net 198.18.5.1' is not|probe_netns: 'a/b' is not|value 50 out of range)" <<<"$out")" = 3 ] &&
                ok "a bad probe refused, located: $(head -1 <<<"$out")" || bad "check-config: $out"; }

s2s_up "$D/lab" >/dev/null || { echo "s2s lab did not come up"; exit 1; }
. "$D/lab/lab.env"
{
        agent_yaml_head "$D" "$R"
        cat <<YAML
checks:
  - kind: daemon
    params: {pidfile: $GW_PIDFILE}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: tunnels
    params:
      swanctl_conf: $GW_SWANCTL_CONF
      grace: 500ms
      probe: ["$S2S_CONN/$S2S_CHILD $S2S_GW_INSIDE $S2S_SITE_B"]
      probe_netns: $GW_NS
      probe_timeout: 600ms
YAML
} >"$D/c.yaml"

# a TCP server behind the peer that tells each client the MSS its connection got (TCP_MAXSEG
# on the accepted socket: at most what the client's SYN advertised, after any clamp on the way)
cat >"$D/mss.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080))
s.listen(4)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"%d" % c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
    except OSError:
        pass
    c.close()
PY
ip netns exec "$S2S_SITE_B_NS" python3 "$D/mss.py" "$S2S_SITE_B" >/dev/null 2>&1 &
HTTP_PID=$!
mss() { # the MSS of a TCP connection from site A to site B through the tunnel
        ip netns exec "$S2S_SITE_A_NS" python3 -c 'import socket, sys
c = socket.create_connection((sys.argv[1], 8080), timeout=4)
print(c.recv(16).decode())' "$S2S_SITE_B" 2>/dev/null
}
for _ in $(seq 50); do [ -n "$(mss)" ] && break; sleep 0.1; done

agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
fact() { # CHECK KEY
        agent_ctl checks "$1" --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}[sys.argv[1]]
print(str(d.get("facts",{}).get(sys.argv[2],"")))' "$1" "$2"
}
grep -q "small=ANSWERED full=ANSWERED" <<<"$(fact tunnels "$S2S_CONN/$S2S_CHILD.probe")" &&
        ok "probe through the tunnel: $(fact tunnels "$S2S_CONN/$S2S_CHILD.probe")" || bad "probe: '$(fact tunnels "$S2S_CONN/$S2S_CHILD.probe")'"
m0=$(mss)
[ -n "$m0" ] && [ "$m0" -gt 1160 ] && ok "TCP through the tunnel, MSS $m0" || bad "TCP through the healthy tunnel: MSS '$m0'"

# --- ESP dropped on the path --------------------------------------------------------------
t0=$(date +%s%N)
s2s_fault "$D/lab" esp on
out=$(agent_wait_incident tunnel - 15000) && ok "ESP dropped: $(sed 's/ opened_usec=.*//' <<<"$out")" || bad "no tunnel incident"
echo "figure: ESP dropped → incident in $((($(date +%s%N) - t0) / 1000000)) ms (2 s checks, probe timeout 600 ms)"
grep -q "reason=esp_dropped" <<<"$out" && ok "reason esp_dropped" || bad "reason: $out"
agent_ctl incidents active --json | grep -q "left through the CHILD_SA" && ok "the probe is the evidence" ||
        bad "no probe evidence: $(agent_ctl incidents active --json | head -c 600)"
agent_ctl incidents active --json | grep -qE '"class": "(firewall|daemon)"' && bad "blamed on this host's firewall or the daemon" ||
        ok "not this host's firewall, not the daemon"
grep -q "$S2S_CONN/$S2S_CHILD" <<<"$(fact tunnels udp_encap)" && ok "the tunnels check: $S2S_CONN/$S2S_CHILD is UDP-encapsulated" ||
        bad "udp_encap fact: '$(fact tunnels udp_encap)'"
run=$(agent_wait_run tunnel-force-encap escalated 10000) && ok "tunnel-force-encap escalated: $run" ||
        bad "tunnel-force-encap: $(agent_run_of tunnel-force-encap)"
grep -q "already_UDP-encapsulated" <<<"$run" && ok "the reason: already UDP-encapsulated, forcing it gains nothing" ||
        bad "reason: $run"
agent_ctl pending 2>/dev/null | grep -q tunnel-force-encap && bad "an approval was asked for a step that cannot help" ||
        ok "no approval asked"
[ -e "$(dirname "$GW_SWANCTL_CONF")/conf.d/zz-ikeheal-encap.conf" ] && bad "an encap override was written" ||
        ok "no override written"
agent_ctl audit 60 2>/dev/null | grep -q "tunnel-force-encap not offered.*already UDP-encapsulated" &&
        ok "audited: $(agent_ctl audit 60 2>/dev/null | grep -o 'step encap (encap) cannot work.*' | head -1 | cut -c1-120)" ||
        bad "no audit of the refusal"
s2s_fault "$D/lab" esp off
agent_wait_resolved tunnel 15000 >/dev/null && ok "ESP back: resolved" || bad "esp_dropped not resolved"

# --- an MTU black hole ----------------------------------------------------------------------
t0=$(date +%s%N)
s2s_fault "$D/lab" mtu on
out=$(agent_wait_incident tunnel - 15000) && ok "MTU black hole: $(sed 's/ opened_usec=.*//' <<<"$out")" || bad "no tunnel incident"
echo "figure: MTU black hole → incident in $((($(date +%s%N) - t0) / 1000000)) ms"
grep -q "reason=mtu_blackhole" <<<"$out" && ok "reason mtu_blackhole" || bad "reason: $out"
run=$(agent_wait_run tunnel-mss-clamp succeeded 20000) && ok "tunnel-mss-clamp applied and verified (run ${run%% *}, $((($(date +%s%N) - t0) / 1000000)) ms after the fault)" ||
        bad "no clamp run: $(agent_run_of tunnel-mss-clamp)"
plan=$(agent_ctl runs --json | python3 -c 'import json,sys; print(next(x.get("plan", "") for x in json.load(sys.stdin)["runs"] if str(x["id"]) == sys.argv[1]))' "${run%% *}" 2>&1)
! grep -qF '${' <<<"$plan" && grep -qF "$S2S_PEER_NET" <<<"$plan" &&
        ok "its plan is the one that ran, placeholders filled in: $(grep -m1 -F "$S2S_PEER_NET" <<<"$plan" | cut -c1-120)" ||
        bad "the run's plan: $plan"
m1=$(mss)
[ -n "$m1" ] && [ "$m1" -le 1160 ] && ok "a new TCP connection through the tunnel gets MSS $m1 (was $m0)" ||
        bad "MSS with the clamp: '$m1' (was $m0); the clamp table now: $(ip netns exec "$GW_NS" nft list table inet ikeheal_mss 2>&1 | tr '\n' ' ')"
rules=$(ip netns exec "$GW_NS" nft list table inet ikeheal_mss 2>&1)
[ "$(grep -c 'maxseg size set 1160 comment "ikeheal-mss"' <<<"$rules")" = 2 ] &&
        grep -q "ip daddr $S2S_PEER_NET" <<<"$rules" && ok "clamp rules for $S2S_PEER_NET in inet ikeheal_mss" ||
        bad "rules: $rules"
agent_ctl measures | grep -q "mss_clamp .*active" && ok "a measure in force: $(agent_ctl measures | grep mss_clamp)" ||
        bad "measures: $(agent_ctl measures)"
mid=$(agent_ctl measures --json | python3 -c 'import json,sys; print(next(str(x["id"]) for x in json.load(sys.stdin)["measures"] if x["kind"] == "mss_clamp"))' 2>/dev/null)
agent_ctl revert "$mid" >/dev/null 2>&1 && ok "measure $mid reverted by an operator" || bad "revert $mid: $(agent_ctl revert "$mid" 2>&1)"
t0=$(date +%s%N)
until ! ip netns exec "$GW_NS" nft list table inet ikeheal_mss >/dev/null 2>&1; do
        [ $((($(date +%s%N) - t0) / 1000000)) -gt 10000 ] && break
        sleep 0.1
done
ip netns exec "$GW_NS" nft list table inet ikeheal_mss >/dev/null 2>&1 && bad "clamp table still there after the revert" ||
        ok "reverted: table inet ikeheal_mss gone"
m2=$(mss)
[ -n "$m2" ] && [ "$m2" -gt 1160 ] && ok "new TCP connections get MSS $m2 again" || bad "MSS after the revert: '$m2'"
s2s_fault "$D/lab" mtu off

# --- ownership: a rule of someone else's in the table stops the revert ------------------------
printf 'networks: [%s, "2001:db8:6::/48"]\nnetns: %s\n' "$S2S_PEER_NET" "$GW_NS" >"$D/clamp.yaml"
"$B/tools/action-run" mss_clamp apply "$D/clamp.yaml" >/dev/null && ok "mss_clamp applied by hand" || bad "mss_clamp apply"
# an IPv6 network behind a peer: its rule pair is ip6, MSS 20 less (the kernel takes it; the lab
# carries no IPv6 to show a connection clamped)
rules=$(ip netns exec "$GW_NS" nft list table inet ikeheal_mss 2>&1)
[ "$(grep -c 'ip6 [sd]addr 2001:db8:6::/48 tcp flags syn tcp option maxseg size > 1140 tcp option maxseg size set 1140 comment "ikeheal-mss"' <<<"$rules")" = 2 ] &&
        [ "$(grep -c 'ip [sd]addr 198.18.6.0/24 .*maxseg size set 1160' <<<"$rules")" = 2 ] &&
        ok "IPv6 network: ip6 rules with MSS 1140 beside the IPv4 ones with 1160" || bad "rules: $rules"
ip netns exec "$GW_NS" nft add rule inet ikeheal_mss forward counter
out=$("$B/tools/action-run" mss_clamp revert "$D/clamp.yaml") && bad "revert deleted a table with a rule not ours" ||
        { grep -q "not commented" <<<"$out" && ok "revert refused: $(grep detail <<<"$out")" || bad "revert: $out"; }
ip netns exec "$GW_NS" nft list table inet ikeheal_mss >/dev/null 2>&1 && ok "the table is left for a human" || bad "table gone"
ip netns exec "$GW_NS" nft flush chain inet ikeheal_mss forward
"$B/tools/action-run" mss_clamp revert "$D/clamp.yaml" >/dev/null && ! ip netns exec "$GW_NS" nft list table inet ikeheal_mss >/dev/null 2>&1 &&
        ok "with only ours left, revert deletes it" || bad "revert after the foreign rule went"
testlib_end
