#!/usr/bin/env bash
# The HTTP pieces of the agent (common/http_server, prom_text, am_payload, am_alert_body)
# against a real Prometheus and a real Alertmanager, all on loopback, through the test server
# tests/tools/http-lab:
#
#   metrics    its GET /metrics passes `promtool check metrics`; a Prometheus
#              (tests/lab/prometheus.sh) scrapes it every second and its HTTP API gives back
#              the gauge's value, the histogram's count and a quantile; the shipped rules file
#              is loaded by that Prometheus (its rules API lists the groups), and it evaluates
#              every expression of the Grafana dashboard (contrib/grafana/ikeheal.json)
#   alerts     an incident body built by am_alert_body is POSTed to an Alertmanager
#              (tests/lab/alertmanager.sh) whose webhook receiver is the server's POST /alerts
#              with a bearer token: the server parses what Alertmanager sends (am_payload) and
#              logs the alert with its labels; then the resolved alert arrives the same way
#   refusals   a wrong token (403), no token (401), a malformed body (400, located), an
#              oversized body (413) are refused and each refusal is logged
#
# Exit 0 pass, 1 fail, 77 skip (Prometheus, Alertmanager or curl not installed).
set -u
cd "$(dirname "$0")/../.."

build=${IKEHEAL_BUILD:-build-san}
tool=$build/tools/http-lab
[ -x "$tool" ] || tool=${IKEHEAL_BUILD_PLAIN:-build}/tools/http-lab
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$tool" ] || skip "no http-lab tool in $build/tools or ${IKEHEAL_BUILD_PLAIN:-build}/tools"
for b in prometheus promtool curl python3; do command -v $b >/dev/null || skip "missing $b"; done
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || skip "missing alertmanager"

tmp=$(mktemp -d /tmp/ikh-obs.XXXXXX)
server_pid=
cleanup() {
        tests/lab/prometheus.sh stop "$tmp/prom" 2>/dev/null
        tests/lab/alertmanager.sh stop "$tmp/am" 2>/dev/null
        if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
                kill "$server_pid"
                wait "$server_pid" 2>/dev/null
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
wait_for() { # SECONDS COMMAND…: until COMMAND succeeds
        local secs=$1; shift
        for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
        return 1
}

token=lab-token-$RANDOM$RANDOM
printf '%s' "$token" > "$tmp/token"
chmod 600 "$tmp/token"
log=$tmp/server.log
: > "$log"
"$tool" serve "$tmp/port" "$log" 240 "$token" ikeheal_lab_value=42 &
server_pid=$!
wait_for 20 test -s "$tmp/port" || { echo "FAIL http-lab did not start"; exit 1; }
port=$(cat "$tmp/port")
base=http://127.0.0.1:$port

# --- metrics ------------------------------------------------------------------------------
if curl -fsS "$base/metrics" > "$tmp/metrics" && promtool check metrics < "$tmp/metrics"; then
        ok "GET /metrics passes promtool check metrics"
else
        bad "promtool check metrics:"; cat "$tmp/metrics"
fi
mkdir -p "$tmp/prom"
t0=$(date +%s%N)
tests/lab/prometheus.sh start "$tmp/prom" "127.0.0.1:$port" etc/prometheus/ikeheal-rules.yml || { echo "FAIL prometheus did not start"; exit 1; }
if tests/lab/prometheus.sh wait "$tmp/prom" 'ikeheal_lab_value{job="ikeheal"}' 42 60; then
        ok "Prometheus scraped ikeheal_lab_value = 42"
        echo "figure: Prometheus start to first value $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
        bad "Prometheus never had ikeheal_lab_value 42 (last: '$(tests/lab/prometheus.sh query "$tmp/prom" ikeheal_lab_value)')"
        tail -n 20 "$tmp/prom/log"
fi
v=$(tests/lab/prometheus.sh query "$tmp/prom" 'ikeheal_probe_latency_seconds_count{target="198.18.0.1",port="500"}')
[ "$v" = 10 ] && ok "histogram count through Prometheus: 10" || bad "histogram count: '$v'"
v=$(tests/lab/prometheus.sh query "$tmp/prom" 'histogram_quantile(0.5, ikeheal_probe_latency_seconds_bucket)')
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0.001 <= v <= 0.011 else 1)" "${v:-x}" 2>/dev/null &&
        ok "median latency from the buckets: $v s" || bad "median latency: '$v'"
v=$(tests/lab/prometheus.sh query "$tmp/prom" 'ikeheal_lab_value{peer="CN=\"gw\\1\""}')
[ "$v" = 42 ] && ok "an escaped label value reads back unchanged" || bad "escaped label value: '$v'"
groups=$(curl -fsS "http://127.0.0.1:$(cat "$tmp/prom/port")/api/v1/rules" |
        python3 -c 'import json,sys; print(" ".join(sorted(g["name"] for g in json.load(sys.stdin)["data"]["groups"])))')
[ "$groups" = "ikeheal-deadlines ikeheal-gateway ikeheal-healer" ] && ok "Prometheus loaded the shipped rules: $groups" ||
        bad "rules loaded: '$groups'"
bad_exprs=0
while IFS= read -r e; do
        curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$tmp/prom/port")/api/v1/query" --data-urlencode "query=$e" >/dev/null ||
                { bad_exprs=$((bad_exprs + 1)); echo "# refused by Prometheus: $e"; }
done < <(python3 tests/lab/promql-names.py --exprs)
[ "$bad_exprs" = 0 ] && ok "Prometheus evaluates every expression of the Grafana dashboard" ||
        bad "$bad_exprs dashboard expressions refused"
tests/lab/prometheus.sh stop "$tmp/prom"

# --- alerts through Alertmanager ------------------------------------------------------------
mkdir -p "$tmp/am"
tests/lab/alertmanager.sh start "$tmp/am" "$base/alerts" "$tmp/token" || { echo "FAIL alertmanager did not start"; exit 1; }
now=$(date +%s)
"$tool" am-body 4711 firewall global critical udp4500-drop "$now" 0 CN=peer-b CN=peer-a > "$tmp/firing.json"
t0=$(date +%s%N)
if tests/lab/alertmanager.sh post "$tmp/am" "$tmp/firing.json" >/dev/null; then ok "Alertmanager took the incident"
else bad "POST /api/v2/alerts to Alertmanager failed"; fi
firing='alert firing alertname=IkehealIncident class=firewall incident=4711 instance=ikeheal-lab peers=CN=peer-a,CN=peer-b reason=udp4500-drop scope=global severity=critical fingerprint='
if wait_for 30 grep -qF "$firing" "$log"; then
        ok "the webhook brought the incident back, parsed: $(grep -F "$firing" "$log" | head -n1)"
        echo "figure: Alertmanager round trip (post to webhook parsed) $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
        bad "no firing alert in the server's log"; cat "$log"; tail -n 20 "$tmp/am/log"
fi
"$tool" am-body 4711 firewall global critical udp4500-drop "$now" "$(date +%s)" CN=peer-b CN=peer-a > "$tmp/resolved.json"
tests/lab/alertmanager.sh post "$tmp/am" "$tmp/resolved.json" >/dev/null
if wait_for 30 grep -q "^alert resolved alertname=IkehealIncident class=firewall incident=4711 " "$log"; then
        ok "the resolved incident arrived resolved"
else
        bad "no resolved alert in the server's log"; cat "$log"
fi
grep -q '^refused' "$log" && bad "Alertmanager's requests were refused: $(grep '^refused' "$log")" ||
        ok "Alertmanager's bearer token was accepted"
tests/lab/alertmanager.sh stop "$tmp/am"

# --- refusals -------------------------------------------------------------------------------
code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
c=$(code -X POST -H "Authorization: Bearer wrong" --data-binary @"$tmp/firing.json" "$base/alerts")
[ "$c" = 403 ] && grep -q "^refused 403 127.0.0.1 POST /alerts: wrong bearer token" "$log" && ok "wrong token: 403, logged" ||
        bad "wrong token: $c"
c=$(code -X POST --data-binary @"$tmp/firing.json" "$base/alerts")
[ "$c" = 401 ] && grep -q "^refused 401 127.0.0.1 POST /alerts" "$log" && ok "no token: 401, logged" || bad "no token: $c"
printf '{\n "version": "4",\n "status": firing }' > "$tmp/bad.json"
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary @"$tmp/bad.json" "$base/alerts")
[ "$c" = 400 ] && grep -q "^400 3:" "$tmp/body" && grep -q "^refused 400 127.0.0.1 POST /alerts: 3:" "$log" &&
        ok "malformed body: 400 at $(cat "$tmp/body")" || bad "malformed body: $c $(cat "$tmp/body")"
head -c 300000 /dev/zero | tr '\0' ' ' > "$tmp/big.json"
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary @"$tmp/big.json" "$base/alerts")
[ "$c" = 413 ] && grep -q "^refused 413 127.0.0.1 POST /alerts" "$log" && ok "oversized body: 413, logged" || bad "oversized body: $c"
c=$(code "$base/nothing")
[ "$c" = 404 ] && ok "unknown path: 404" || bad "unknown path: $c"

kill "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
[ "$rc" = 0 ] && ok "server exited cleanly on SIGTERM" || bad "server exit status $rc"
echo "$fails failed"
[ "$fails" -eq 0 ]
