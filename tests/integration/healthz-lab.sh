#!/usr/bin/env bash
# GET /healthz of the real agent on the real lab, as a load balancer asks it:
#
#   global incident   nftables drops UDP 4500 on the gateway: /healthz turns 503 with the
#                     incident's class as soon as the incident opens (pushed by the incident
#                     event; a poller asking every few ms prints how long after the opening
#                     it saw 503), and 200 again once it resolved
#   drain             `ikehealctl drain --for 3s` → 503 "drained" with the reason, still 503
#                     before its end, 200 after it (the lateness is printed); a drain across an
#                     agent restart still ends on time; one that ended while the agent was down
#                     is over at start; `undrain` ends one at once; all audited
#   drain action      a runbook that drains the gateway while it restores the firewall: after
#                     the incident resolved, /healthz stays 503 (drained by the runbook) until
#                     the measure expires and is reverted
#
# Times are printed ("figure: …"), never asserted.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
for b in curl python3; do command -v $b >/dev/null || { echo "SKIP: missing $b"; exit 77; }; done

D=$(mktemp -d /tmp/ikh-healthz-XXXXXX)
poller=
cleanup() {
        [ -n "$poller" ] && kill "$poller" 2>/dev/null && wait "$poller" 2>/dev/null
        agent_stop
        ip netns exec "$GW_NS" nft delete table inet ikhhfault 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
GW_NS=
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
hz() { curl -s -o "$D/hz" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz"; }
wait_hz() { # CODE SECONDS
        for _ in $(seq $(($2 * 20))); do [ "$(hz)" = "$1" ] && return 0; sleep 0.05; done
        return 1
}
# Ask /healthz every 2 ms; log "µs code" at every change of the answer.
poll_start() { # LOGFILE
        python3 - "$port" "$1" <<'PY' &
import http.client, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
last = None
with open(log, "w", buffering=1) as f:
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            code = c.getresponse().status
            c.close()
        except Exception:
            code = 0
        if code != last:
            f.write("%d %d\n" % (time.time_ns() // 1000, code))
            last = code
        time.sleep(0.002)
PY
        poller=$!
        # python starts slowly on a loaded machine: wait for its first answer
        for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
        bad "the poller did not start"
}
poll_stop() { kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null; poller=; }
first_at() { awk -v c="$2" '$2 == c {print $1; exit}' "$1"; } # LOG CODE: µs of the first answer CODE

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$D/runbooks"
chmod 755 "$D/runbooks"
port=$(free_port)
cat > "$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
  runbook_dirs: [$D/runbooks]
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: daemon
  - kind: sas
http:
  listen: ["127.0.0.1:$port"]
  rate_per_second: 0
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
lab_connect "$D/lab" 1 >/dev/null || bad "the client could not connect"
agent_wait_checks 8000 || bad "checks did not all report"
sleep 1.2
[ "$(hz)" = 200 ] && grep -q '"status":"ok"' "$D/hz" && ok "healthy: /healthz 200 $(cat "$D/hz")" || bad "healthy: $(hz) $(cat "$D/hz")"

# --- a global incident ---
poll_start "$D/poll1"
sleep 0.3
ip netns exec "$GW_NS" nft -f - <<NFT
table inet ikhhfault { chain in { type filter hook input priority -10; udp dport 4500 drop; }; }
NFT
if res=$(agent_wait_incident firewall global 10000); then
        opened=$(sed 's/.*opened_usec=\([0-9]*\).*/\1/' <<<"$res")
        wait_hz 503 5 && grep -q '"class":"firewall"' "$D/hz" && ok "global incident: /healthz 503 $(cat "$D/hz")" ||
                bad "global incident: $(hz) $(cat "$D/hz")"
        t503=$(first_at "$D/poll1" 503)
        [ -n "$t503" ] && echo "figure: /healthz 503 $(((t503 - opened) / 1000)) ms after the incident opened (poller every 2 ms; the 503 is pushed by the incident event)"
else
        bad "no firewall incident"
fi
ip netns exec "$GW_NS" nft delete table inet ikhhfault
agent_wait_resolved firewall 15000 >/dev/null && ok "the incident resolved" || bad "incident still active"
wait_hz 200 5 && ok "resolved: /healthz 200 again" || bad "after resolution: $(hz) $(cat "$D/hz")"
poll_stop

# --- an operator's drain ---
poll_start "$D/poll2"
out=$(agent_ctl drain --for 3s --reason "kernel update" 2>&1) && ok "drain: $out" || bad "drain: $out"
t_until=$(sed -n 's/^until_usec=//p' "$D/state/drain")
c=$(hz)
[ "$c" = 503 ] && grep -q '"status":"drained","reason":"kernel update","by":"operator"' "$D/hz" &&
        ok "drained: /healthz 503 $(cat "$D/hz")" || bad "drained: $c $(cat "$D/hz")"
grep -q '^ikeheal_drained 1$' <(curl -s "http://127.0.0.1:$port/metrics") && ok "ikeheal_drained 1" || bad "ikeheal_drained not 1"
wait_hz 200 8 && ok "the drain ended: /healthz 200" || bad "the drain did not end: $(hz) $(cat "$D/hz")"
sleep 0.1
poll_stop
# a 200 the poller logged before the drain's end was answered before it: the drain ended early
t200=$(awk -v t="${t_until:-0}" '$2 == 200 && $1 > 0 {print $1}' "$D/poll2" | tail -1)
[ -n "$t200" ] && [ -n "$t_until" ] && [ "$t200" -ge "$t_until" ] && ok "not before its end" ||
        bad "the drain ended early: $(cat "$D/poll2" | tr '\n' ' ') (until $t_until)"
[ -n "$t200" ] && echo "figure: drain --for 3s: /healthz 200 seen $(((t200 - t_until) / 1000)) ms after its end (poller every 2 ms)"
agent_ctl audit 2>/dev/null | grep -q "drain.*kernel update" && ok "the drain is audited" || bad "no drain audit record"

# across a restart
agent_ctl drain --for 6s --reason "across a restart" >/dev/null || bad "drain --for 6s"
t_until=$(sed -n 's/^until_usec=//p' "$D/state/drain")
agent_stop || bad "agent did not stop cleanly"
[ -s "$D/state/drain" ] && ok "the drain is kept on disk: $(tr '\n' ' ' < "$D/state/drain")" || bad "no drain file"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
[ "$(hz)" = 503 ] && grep -q "across a restart" "$D/hz" && ok "after a restart: still drained" || bad "after a restart: $(hz) $(cat "$D/hz")"
poll_start "$D/poll3"
wait_hz 200 10 && ok "the drain ended after the restart too" || bad "drain after restart did not end: $(hz)"
sleep 0.1
poll_stop
t200=$(awk '$2 == 200 {print $1}' "$D/poll3" | tail -1)
[ -n "$t200" ] && [ "$t200" -ge "$((t_until - 500000))" ] && ok "not before its end" || bad "ended $(((t_until - ${t200:-0}) / 1000)) ms early"
# (only when the poller was up before the end: python may start after it on a loaded machine)
[ -n "$t200" ] && head -1 "$D/poll3" | grep -q ' 503$' &&
        echo "figure: drain across a restart: /healthz 200 seen $(((t200 - t_until) / 1000)) ms after its end"

# ended while the agent was down
agent_ctl drain --for 1s --reason "short" >/dev/null || bad "drain --for 1s"
agent_stop
sleep 1.5
agent_start "$D" "$D/c.yaml" "$B" || exit 1
[ "$(hz)" = 200 ] && [ ! -e "$D/state/drain" ] && ok "a drain that ended while the agent was down is over at start" ||
        bad "expired drain at start: $(hz) $(cat "$D/hz")"

agent_ctl drain --for 1h --reason "long" >/dev/null && [ "$(hz)" = 503 ] || bad "drain --for 1h"
out=$(agent_ctl undrain 2>&1) && [ "$(hz)" = 200 ] && ok "undrain: $out" || bad "undrain: $out $(hz)"
out=$(agent_ctl undrain 2>&1) && bad "undrain when not drained succeeded" || ok "undrain when not drained: $out"
out=$(agent_ctl drain --reason "no duration" 2>&1) && bad "drain without --for succeeded" || ok "drain without --for: $out"

# --- a runbook's drain measure ---
cat > "$D/runbooks/drain-heal.yaml" <<'YAML'
version: 1
name: drain-heal
description: out of the pool while the firewall is restored
match:
  class: firewall
grade: auto
steps:
  - name: out-of-pool
    action: drain
    params: {reason: "healing the firewall"}
    expires_in: 12s
    timeout: 5s
    verify: {action: true, within: 5s}
  - name: restore
    action: nft_restore
    timeout: 30s
    verify: {action: true, within: 10s}
YAML
chmod 644 "$D/runbooks/drain-heal.yaml"
out=$(agent_ctl reload 2>&1) || bad "reload with the runbook: $out"
ip netns exec "$GW_NS" nft -f - <<NFT
table inet ikhhfault { chain in { type filter hook input priority -10; udp dport 4500 drop; }; }
NFT
if res=$(agent_wait_run drain-heal succeeded 20000); then
        ok "the runbook drained and restored: $res"
else
        bad "drain-heal run: $(agent_run_of drain-heal)"
fi
agent_wait_resolved firewall 15000 >/dev/null && ok "the incident resolved" || bad "still active"
c=$(hz)
[ "$c" = 503 ] && grep -q '"by":"runbook"' "$D/hz" && ok "resolved but still drained by the runbook's measure: $(cat "$D/hz")" ||
        bad "after the run: $c $(cat "$D/hz")"
agent_ctl measures 2>/dev/null | grep -q "drain" && ok "the measure is listed: $(agent_ctl measures | grep drain | head -1)" ||
        bad "no drain measure listed: $(agent_ctl measures 2>&1)"
wait_hz 200 20 && ok "the measure expired and was reverted: /healthz 200" || bad "runbook drain did not end: $(hz) $(cat "$D/hz")"

agent_stop || bad "agent did not stop cleanly"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
testlib_end
