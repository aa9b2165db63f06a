#!/usr/bin/env bash
# Benchmark of GET /metrics: ikeheald (plain -O2 build) on the lab with the sas check, at the
# lab's 2 CHILD SAs and at PEERS (default 2000) — IKE_SAs each with its CHILD_SA, from client 1
# under their own identities and connections (the worst case for the per-connection series: one
# connection per peer, so past 512 they are summed as connection="_other"). Printed per count:
# the render's wall time as a client sees it (curl, median and max of REPS scrapes), the
# exposition's size and sample count, and the sas check's own run time (what /metrics reads is
# what that run fetched; the scrape itself never asks charon) — at PEERS also with
# http.metrics_per_peer (a series per peer identity and CHILD_SA).
# Then the control socket's `status` latency (tests/tools/ctl-latency.py, every 20 ms) alone and
# while SCRAPERS clients (default 100) scrape /metrics as fast as they can — side by side.
# Nothing asserted; figures printed.
#
#   bench/metrics.sh [BUILD] [PEERS] [REPS] [SCRAPERS]      (BUILD: plain build, default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
PEERS=${2:-2000}
REPS=${3:-50}
SCRAPERS=${4:-100}
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
# the lab's /24 pool of virtual IPs stops at ~250 peers: a /20 (inside 198.18.0.0/15) holds 4,094
LAB_POOL=198.18.16.0/20
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"
D=$(mktemp -d /tmp/ikh-bench-metrics-XXXXXX)
scrapers=()
cleanup() {
        set +e
        for p in "${scrapers[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${scrapers[@]}"; do wait "$p" 2>/dev/null; done
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 2 >/dev/null
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null

. "$top/bench/lab-peers.sh"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$D/c.yaml" <<YAML
agent:
  log_level: warning
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1h, timeout: 30s, rise: 1, fall: 1}
checks:
  - kind: daemon
  - kind: sas
http:
  listen: ["127.0.0.1:$port"]
  rate_per_second: 0
  max_connections: 512
  max_connections_per_client: 512
YAML
agent_start "$D" "$D/c.yaml" "$B"
agent_wait_checks 10000
url=http://127.0.0.1:$port/metrics

# one count: REPS scrapes after a fresh sas run
measure() { # LABEL
        agent_ctl diagnose >/dev/null # every check once more: the sas check's tally is current
        curl -fsS "$url" >"$D/m"
        local size samples sas_s children
        size=$(wc -c <"$D/m")
        samples=$(grep -vc '^#' "$D/m")
        children=$(awk '/^ikeheal_child_sas\{/ && /state="installed"/ {s += $2} END {print s + 0}' "$D/m")
        sas_s=$(awk -F' ' '/^ikeheal_check_duration_seconds\{check="sas"/ {print $2}' "$D/m")
        for ((i = 0; i < REPS; i++)); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n >"$D/t"
        printf '%-24s %6s CHILD SAs  /metrics: median %6.2f ms, max %6.2f ms, %7d bytes, %5d samples; sas check run %s s\n' \
                "$1" "$children" "$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)] * 1000}' "$D/t")" \
                "$(tail -1 "$D/t" | awk '{print $1 * 1000}')" "$size" "$samples" "$sas_s"
}

echo "GET /metrics: $REPS scrapes per count, $(nproc) cores, build $B"
measure "lab (2 clients)"
t0=$(date +%s)
add_peers 2 "$PEERS" || echo "(fewer peers than asked: see above)"
echo "  ($PEERS peers up in $(($(date +%s) - t0)) s)"
measure "$PEERS peers"
# the same with a series per peer identity (http.metrics_per_peer): what a road-warrior gateway
# pays for it
sed -i 's/^  rate_per_second: 0$/  rate_per_second: 0\n  metrics_per_peer: true/' "$D/c.yaml"
agent_ctl reload >/dev/null
curl -fsS "$url" >/dev/null # asks the sas check to count per peer; measure's diagnose runs it
measure "$PEERS peers, per peer"

lat() { # SECONDS → "p50 p99 max" in ms
        python3 "$top/tests/tools/ctl-latency.py" "$D/ctl.sock" "$1" 0.02 |
                python3 -c 'import sys
v = sorted(int(l) for l in sys.stdin if l.strip().isdigit())
f = lambda q: v[min(len(v) - 1, int(q * len(v)))] / 1000 if v else float("nan")
print("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests)" % (f(0.5), f(0.99), (v[-1] / 1000 if v else float("nan")), len(v)))'
}
echo "control socket 'status' round trip, every 20 ms for 10 s, at $PEERS peers:"
echo "  idle:                     $(lat 10)"
# the scrapers: one process, SCRAPERS threads, each scraping on its own connection after the
# other (a process per scrape would measure the machine's fork rate, not the agent)
python3 - "$port" "$SCRAPERS" "$D/scrapes" <<'PY' &
import http.client, sys, threading, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
count = [0] * n
def scrape(k):
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/metrics"); c.getresponse().read(); c.close()
            count[k] += 1
        except Exception:
            time.sleep(0.01)
for k in range(n):
    threading.Thread(target=scrape, args=(k,), daemon=True).start()
t0 = time.time()
while True:
    time.sleep(1)
    open(out, "w").write("%d %.1f\n" % (sum(count), time.time() - t0))
PY
scrapers+=($!)
sleep 1
echo "  $SCRAPERS clients scraping: $(lat 10)"
echo "  (scrapes served meanwhile: $(awk '{printf "%d in %.0f s", $1, $2}' "$D/scrapes" 2>/dev/null))"
kill "${scrapers[0]}" 2>/dev/null
wait "${scrapers[0]}" 2>/dev/null || true # killed: its status is 143, not the benchmark's
scrapers=()
