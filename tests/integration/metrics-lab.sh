#!/usr/bin/env bash
# GET /metrics of the real agent on the real lab, scraped by a real Prometheus
# (tests/lab/prometheus.sh, loopback only) that evaluates the shipped rules
# (etc/prometheus/ikeheal-rules.yml):
#
#   the http: section      a bad listen address and a token file others may read are refused
#                          with file:line:col; the listener is off without the section
#   promtool               the agent's exposition passes `promtool check metrics`
#   per peer               no per-peer series by default; with http.metrics_per_peer (a reload)
#                          bytes/packets per peer identity and CHILD_SA, still promtool clean
#   scrapers               while 50 clients scrape /metrics as fast as they can, the control
#                          socket answers every `status` (figures: its round trip, the scrapes)
#   through Prometheus     its HTTP API gives the established IKE SA count (2 clients) and a
#                          probe latency (count and a quantile of the UDP 500 histogram)
#   an injected fault      nftables drops UDP 4500 on the gateway: the incident metric turns
#                          1 and the shipped rule IkehealGlobalOutage fires; once repaired the
#                          resolved counter counts it
#   tokens                 a metrics token file: no token 401, a wrong one 403 (audited), the
#                          right one 200
#   reload                 a reload moves the listener to another port; a reload whose
#                          listener cannot bind is refused and the old one keeps serving
#
# Times are printed ("figure: …"), never asserted.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
for b in prometheus promtool curl python3; do command -v $b >/dev/null || { echo "SKIP: missing $b"; exit 77; }; done

D=$(mktemp -d /tmp/ikh-metrics-XXXXXX)
PROBE_NS=ikh-mprobe-$$
cleanup() {
        "$top/tests/lab/prometheus.sh" stop "$D/prom" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        ip netns del "$PROBE_NS" 2>/dev/null
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
prom() { "$top/tests/lab/prometheus.sh" "$@"; }
code() { curl -s -o "$D/body" -w '%{http_code}' --max-time 5 "$@"; }

# --- the http: section, checked before anything runs ---
mkdir -p "$D/state"
printf 'agent:\n  state_dir: %s\nhttp:\n  listen: ["127.0.0.1:80x"]\n' "$D/state" > "$D/bad1.yaml"
out=$("$B/ikeheald" -c "$D/bad1.yaml" --check-config 2>&1)
grep -q "bad1.yaml:4:12: http.listen: '127.0.0.1:80x' is not a numeric" <<<"$out" &&
        ok "a bad listen address is refused at its position" || bad "bad listen address: $out"
printf 'secret\n' > "$D/token.loose"
chmod 0644 "$D/token.loose"
printf 'agent:\n  state_dir: %s\nhttp:\n  enabled: true\n  metrics_token_file: %s\n' "$D/state" "$D/token.loose" > "$D/bad2.yaml"
out=$("$B/ikeheald" -c "$D/bad2.yaml" --check-config 2>&1)
grep -q "bad2.yaml:5:23: http.metrics_token_file .* has mode 0644: others than root may read it" <<<"$out" &&
        ok "a token file others may read is refused at its position" || bad "loose token file: $out"

lab_up "$D/lab" --clients 2 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"

# an outside vantage point for the probe, as in diagnose-lab.sh
ip netns add "$PROBE_NS" || exit 1
ip link add ikhm$$a type veth peer name ikhm$$b || exit 1
ip link set ikhm$$a netns "$PROBE_NS"
ip link set ikhm$$b netns "$GW_NS"
ip -n "$GW_NS" link set ikhm$$b master "$(ip -n "$GW_NS" -o link show type bridge | awk -F': ' '{print $2; exit}')" up
ip -n "$PROBE_NS" addr add 198.18.0.201/24 dev ikhm$$a
ip -n "$PROBE_NS" link set ikhm$$a up
ip -n "$PROBE_NS" link set lo up

port=$(free_port)
config() { # PORT [extra http lines]
        cat <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: ike_probe
    params: {targets: [$GW_IP], netns: $PROBE_NS, timeout: 600ms, retries: 1}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: sas
  - kind: conns
http:
  listen: ["127.0.0.1:$1"]
${2:-}
YAML
}
config "$port" > "$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
grep -q "HTTP listener on 127.0.0.1:$port" "$D/agent.log" && ok "the listener is up on 127.0.0.1:$port" ||
        bad "no listener in the log"
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null || bad "clients could not connect"
agent_wait_checks 8000 || bad "checks did not all report"

# --- the exposition ---
sleep 1.5
if curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" > "$D/metrics" && promtool check metrics < "$D/metrics" > "$D/promtool" 2>&1; then
        ok "GET /metrics passes promtool check metrics ($(wc -c < "$D/metrics") bytes, $(grep -vc '^#' "$D/metrics") samples)"
else
        bad "promtool check metrics: $(cat "$D/promtool")"
fi
# per-peer series: none by default; with http.metrics_per_peer one per peer identity and CHILD_SA
grep -q "^ikeheal_peer_child_sa" "$D/metrics" && bad "per-peer series without metrics_per_peer" ||
        ok "no per-peer series by default"
config "$port" "  metrics_per_peer: true" > "$D/c.yaml"
out=$(agent_ctl reload 2>&1) || bad "reload: $out"
peers=0
for _ in $(seq 50); do
        curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" > "$D/metrics.peers" 2>/dev/null
        peers=$(grep '^ikeheal_peer_child_sa_bytes_total{.*direction="in"}' "$D/metrics.peers" | sed 's/.*peer="\([^"]*\)".*/\1/' | sort -u | wc -l)
        [ "$peers" -ge 2 ] && break
        sleep 0.2
done
if [ "$peers" -ge 2 ] && promtool check metrics < "$D/metrics.peers" > "$D/promtool" 2>&1; then
        ok "metrics_per_peer: bytes and packets of $peers peer identities, promtool clean: $(grep -m1 '^ikeheal_peer_child_sa_bytes_total' "$D/metrics.peers")"
else
        bad "per-peer series ($peers peers): $(grep '^ikeheal_peer' "$D/metrics.peers" | head -5) $(cat "$D/promtool")"
fi

# --- 50 clients scrape as fast as they can; the control socket answers all the while ---
config "$port" "  metrics_per_peer: true
  rate_per_second: 0
  max_connections_per_client: 64" > "$D/c.yaml"
out=$(agent_ctl reload 2>&1) || bad "reload: $out"
python3 - "$port" 50 4 "$D/scrapes" <<'PY' &
import http.client, sys, threading, time
port, n, secs, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ok, other, end = [0] * n, [0] * n, time.monotonic() + secs
def scrape(k):
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/metrics"); r = c.getresponse(); r.read(); c.close()
            if r.status == 200: ok[k] += 1
            else: other[k] += 1
        except Exception:
            other[k] += 1
            time.sleep(0.01)
ts = [threading.Thread(target=scrape, args=(k,)) for k in range(n)]
for t in ts: t.start()
for t in ts: t.join()
open(out, "w").write("%d %d %d\n" % (sum(ok), sum(other), sum(1 for v in ok if v)))
PY
scrapers=$!
sleep 0.5
python3 "$top/tests/tools/ctl-latency.py" "$D/ctl.sock" 3 0.05 > "$D/ctl-latency"
wait "$scrapers"
read -r served failed clients < "$D/scrapes" || served=0
answered=$(grep -c '^[0-9]' "$D/ctl-latency")
lost=$(grep -c FAIL "$D/ctl-latency")
[ "$lost" = 0 ] && [ "$answered" -gt 0 ] && [ "${served:-0}" -gt 0 ] &&
        ok "control socket answered all $answered status requests while 50 clients scraped ($served scrapes, ${clients:-0} clients served)" ||
        bad "status while scraped: $answered answered, $lost not within 5 s; scrapes '$served' ok, '$failed' not"
echo "figure: status round trip while 50 clients scrape: $(sort -n "$D/ctl-latency" | grep '^[0-9]' |
        awk '{a[NR]=$1} END {printf "p50 %.1f ms, max %.1f ms", a[int((NR+1)/2)]/1000, a[NR]/1000}'); $served scrapes in 4 s, ${failed:-?} not 200"

# --- Prometheus scrapes the agent ---
mkdir -p "$D/prom"
t0=$(ms)
prom start "$D/prom" "127.0.0.1:$port" "$top/etc/prometheus/ikeheal-rules.yml" || { bad "prometheus did not start"; exit 1; }
if prom wait "$D/prom" 'sum(ikeheal_ike_sas{state="established"})' 2 60; then
        ok "Prometheus sees 2 established IKE SAs"
        echo "figure: Prometheus start to the first SA count $(($(ms) - t0)) ms"
else
        bad "IKE SA count through Prometheus: '$(prom query "$D/prom" 'sum(ikeheal_ike_sas{state="established"})')'"
fi
v=$(prom query "$D/prom" "sum(ikeheal_child_sas{state=\"installed\"})")
[ "$v" = 2 ] && ok "Prometheus sees 2 installed CHILD SAs" || bad "CHILD SA count: '$v'"
n=""
for _ in $(seq 50); do
        n=$(prom query "$D/prom" "ikeheal_probe_latency_seconds_count{target=\"$GW_IP\",port=\"500\"}")
        [ -n "$n" ] && [ "$n" != 0 ] && break
        sleep 0.2
done
q=$(prom query "$D/prom" "histogram_quantile(0.5, ikeheal_probe_latency_seconds_bucket{target=\"$GW_IP\",port=\"500\"})")
if [ -n "$n" ] && [ "$n" != 0 ] && python3 -c 'import sys; v=float(sys.argv[1]); sys.exit(0 if 0 < v <= 5 else 1)' "${q:-x}" 2>/dev/null; then
        ok "Prometheus sees the probe's latency on UDP 500: $n probes, median ≤ $q s"
else
        bad "probe latency through Prometheus: count '$n' median '$q'"
fi

# --- UDP 4500 dropped on the gateway ---
ip netns exec "$GW_NS" nft -f - <<NFT
table inet ikhmfault { chain in { type filter hook input priority -10; udp dport 4500 drop; }; }
NFT
t0=$(ms)
agent_wait_incident firewall global 10000 >/dev/null && ok "the agent opened the firewall incident" || bad "no firewall incident"
if prom wait "$D/prom" 'sum(ikeheal_incidents_active{class="firewall",scope="global"})' 1 30; then
        ok "Prometheus sees ikeheal_incidents_active{class=firewall,scope=global} 1"
        echo "figure: drop to incident metric in Prometheus $(($(ms) - t0)) ms"
else
        bad "incident metric: '$(prom query "$D/prom" 'sum(ikeheal_incidents_active)')'"
fi
if prom wait "$D/prom" 'count(ALERTS{alertname="IkehealGlobalOutage",alertstate="firing",class="firewall"})' 1 30; then
        ok "the shipped rule IkehealGlobalOutage fires"
        echo "figure: drop to firing alert $(($(ms) - t0)) ms"
else
        bad "IkehealGlobalOutage did not fire: $(prom query "$D/prom" 'ALERTS')"
fi
ip netns exec "$GW_NS" nft delete table inet ikhmfault
agent_wait_resolved firewall 15000 >/dev/null && ok "the incident resolved once the drop was removed" || bad "still active"
prom wait "$D/prom" 'sum(ikeheal_incidents_active)' "" 30 || prom wait "$D/prom" 'sum(ikeheal_incidents_active)' 0 5 ||
        bad "incidents still active in Prometheus: $(prom query "$D/prom" 'sum(ikeheal_incidents_active)')"
prom wait "$D/prom" 'ikeheal_incidents_resolved_total{class="firewall"}' 1 30 &&
        ok "Prometheus counts the resolved incident" ||
        bad "resolved total: '$(prom query "$D/prom" 'ikeheal_incidents_resolved_total{class="firewall"}')'"
prom stop "$D/prom"

# --- a token, and a reload to another port ---
printf 'tok-%s\n' "$RANDOM$RANDOM" > "$D/metrics.token"
chmod 0600 "$D/metrics.token"
port2=$(free_port)
config "$port2" "  metrics_token_file: $D/metrics.token" > "$D/c.yaml"
agent_ctl reload >/dev/null 2>&1 || kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ "$(code "http://127.0.0.1:$port2/metrics")" = 401 ] && break; sleep 0.1; done
[ "$(code "http://127.0.0.1:$port2/metrics")" = 401 ] && ok "after a reload: the new port asks for the token (401)" ||
        bad "new port without token: $(code "http://127.0.0.1:$port2/metrics")"
c=$(code "http://127.0.0.1:$port/metrics")
[ "$c" = 000 ] && ok "the old port is closed" || bad "old port answers $c"
c=$(code -H "Authorization: Bearer wrong" "http://127.0.0.1:$port2/metrics")
[ "$c" = 403 ] && ok "a wrong token: 403" || bad "wrong token: $c"
c=$(code -H "Authorization: Bearer $(cat "$D/metrics.token")" "http://127.0.0.1:$port2/metrics")
[ "$c" = 200 ] && grep -q '^ikeheal_build_info' "$D/body" && ok "the right token: 200" || bad "right token: $c"
agent_ctl audit 2>/dev/null | grep -q "http_refused.*403 127.0.0.1 GET /metrics: wrong bearer token" ||
        grep -q "http_refused.*403 127.0.0.1 GET /metrics: wrong bearer token" "$D/agent.log" &&
        ok "the refusal is on the audit trail" || bad "no audit record of the refusal"

# a listener that cannot bind: the reload is refused whole, the old listener serves on
taken=$(free_port)
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(60)' "$taken" "$D/held" &
holder=$!
for _ in $(seq 100); do [ -e "$D/held" ] && break; sleep 0.05; done
config "$taken" > "$D/c.yaml"
out=$(agent_ctl reload 2>&1)
grep -q "http.listen 127.0.0.1:.*Address already in use" <<<"$out" && ok "a listener that cannot bind refuses the reload: $out" ||
        bad "reload onto a taken port: $out"
c=$(code -H "Authorization: Bearer $(cat "$D/metrics.token")" "http://127.0.0.1:$port2/metrics")
[ "$c" = 200 ] && ok "the old listener still serves" || bad "old listener after a refused reload: $c"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

agent_stop || bad "agent did not stop cleanly"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
testlib_end
