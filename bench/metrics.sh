#!/usr/bin/env bash
# Benchmark of GET /metrics: ikeheald (plain -O2 build) on the lab with the sas check.
#
# 1. The exposition at the lab's 2 CHILD SAs and at CHILD_SAS (default 2000): CHILD SAs in
#    bulk, 20 IKE_SAs from client 1 under their own identities, each with CHILD_SAS/20 CHILD SAs
#    that the gateway tells apart (bench/lab-peers.sh add_child_sas: up in seconds, no swanctl
#    call per CHILD SA). Per count, side by side: the scrape's wall time as a client sees it
#    (curl, median and p99 of REPS scrapes, each in a dispatch of its own, so each one renders),
#    the size and sample count, `promtool check metrics`, the per-peer series (they must be there
#    only with http.metrics_per_peer) and the sas check's own run time (what /metrics reads is
#    what that run fetched; a scrape never asks charon and never runs a check).
# 2. The control socket's `status` round trip (tests/tools/ctl-latency.py, every 20 ms, 10 s per
#    window), at the lab's 2 CHILD SAs (`status` asks charon for a list-sas: at 2,000 CHILD SAs
#    its round trip is charon's, seconds on a loaded machine) with the per-peer series on, for
#    two fresh ikeheald of a build: idle; while SCRAPERS clients (default
#    100) scrape another ikeheald of the same build as fast as they can (what the machine's load
#    alone costs: the same clients, the same work, another process); and while they scrape this
#    one (what serving them costs the agent's loop). With BEFORE (another build directory, e.g.
#    main's build/), the same windows for its ikeheald first: before and after in one run, on
#    the same lab at the same load.
# Nothing asserted; figures printed. PROFILE=DIR adds a `perf record -g` and an `strace -c` of the
# agent while the clients scrape it, and keeps its log.
#
#   bench/metrics.sh [BUILD] [CHILD_SAS] [REPS] [SCRAPERS] [BEFORE]   (BUILD: default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
CHILD_SAS=${2:-2000}
REPS=${3:-50}
SCRAPERS=${4:-100}
BEFORE=${5:+$(cd "$5" && pwd)}
IKES=20
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
for b in curl promtool python3; do command -v $b >/dev/null || { echo "missing $b"; exit 1; }; done
# the lab's /24 pool of virtual IPs is enough for 20 IKE_SAs; a /20 (inside 198.18.0.0/15) for
# a run with more
LAB_POOL=198.18.16.0/20
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"
D=$(mktemp -d /tmp/ikh-bench-metrics-XXXXXX)
pids=()
cleanup() {
        set +e
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        agent_stop
        [ -z "${PROFILE:-}" ] || cp "$D/agent.log" "$D"/t.log "$PROFILE/" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 2 >/dev/null
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null

. "$top/bench/lab-peers.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
config() { # NAME PORT PER_PEER: an agent's config in $D/NAME.yaml
        cat >"$D/$1.yaml" <<YAML
agent:
  log_level: warning
  state_dir: $D/state-$1
control:
  socket: $D/$1.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1h, timeout: 30s, rise: 1, fall: 1}
checks:
  - kind: daemon
  - kind: sas
http:
  listen: ["127.0.0.1:$2"]
  rate_per_second: 0
  max_connections: 512
  max_connections_per_client: 512
  metrics_per_peer: $3
YAML
}
port=$(free_port)
config a "$port" false
agent_start "$D" "$D/a.yaml" "$B"
agent_wait_checks 10000
url=http://127.0.0.1:$port/metrics

# one column of the exposition table: REPS scrapes after a fresh sas run
declare -A fig
measure() { # COLUMN
        local t
        agent_ctl diagnose >/dev/null # every check once more: the sas check's tally is current
        curl -fsS "$url" >"$D/m"
        for ((i = 0; i < REPS; i++)); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n >"$D/t"
        t=$1
        fig[$t,sas]=$(awk '/^ikeheal_child_sas\{/ && /state="installed"/ {s += $2} END {print s + 0}' "$D/m")
        fig[$t,med]=$(awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)] * 1000}' "$D/t")
        fig[$t,p99]=$(awk '{a[NR]=$1} END {i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; printf "%.2f", a[i] * 1000}' "$D/t")
        fig[$t,bytes]=$(wc -c <"$D/m")
        fig[$t,samples]=$(grep -vc '^#' "$D/m")
        fig[$t,peer]=$(grep -c '^ikeheal_peer_child_sa_bytes_total{' "$D/m" || true)
        fig[$t,sas_s]=$(awk '/^ikeheal_check_duration_seconds\{check="sas"/ {printf "%.1f", $2 * 1000}' "$D/m")
        if promtool check metrics <"$D/m" >"$D/promtool" 2>&1; then fig[$t,promtool]=clean; else
                fig[$t,promtool]="$(wc -l <"$D/promtool") problem(s)"
                sed "s/^/  promtool ($t): /" "$D/promtool" | head -5
        fi
}
per_peer() { # true|false: http.metrics_per_peer of the agent, reloaded
        sed -i "s/^  metrics_per_peer: .*/  metrics_per_peer: $1/" "$D/a.yaml"
        agent_ctl reload >/dev/null
        curl -fsS "$url" >/dev/null # tells the sas check; measure's diagnose runs it
}

echo "GET /metrics: $REPS scrapes per column, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), build $B"
measure lab
per_peer true
measure lab_pp
per_peer false
lat() { # SOCKET SECONDS → "p50 p99 n" (ms, ms, answers)
        python3 "$top/tests/tools/ctl-latency.py" "$1" "$2" 0.02 |
                python3 -c 'import sys
v = sorted(int(l) for l in sys.stdin if l.strip().isdigit())
f = lambda q: v[min(len(v) - 1, int(q * len(v)))] / 1000 if v else float("nan")
print("%.1f %.1f %d" % (f(0.5), f(0.99), len(v)))'
}
# SCRAPERS clients in one process (threads), each scraping on its own connection after the
# other; a process per scrape would measure the machine's fork rate, not the agent
scrape() { # PORT COUNTFILE
        python3 - "$1" "$SCRAPERS" "$2" <<'PY' &
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
        pids+=($!)
}
stop_scrape() {
        kill "${pids[-1]}" 2>/dev/null
        wait "${pids[-1]}" 2>/dev/null || true # killed: its status is 143, not the benchmark's
        unset 'pids[-1]'
}
rate() { awk '{printf "%.0f", $1 / $2}' "$1" 2>/dev/null || echo "?"; }

# An ikeheald of BUILD on $D/NAME.yaml (its own port and socket), once its sas check reported.
spawn() { # NAME BUILD PORT → its pid in $spawned
        config "$1" "$3" true
        "$2/ikeheald" -c "$D/$1.yaml" --log-target=stderr >"$D/$1.log" 2>&1 &
        spawned=$!
        pids+=($spawned)
        for ((i = 0; i < 1200; i++)); do # at most a minute: at start it reads every CHILD SA
                curl -fsS "http://127.0.0.1:$3/metrics" 2>/dev/null | grep -q '^ikeheal_check_duration_seconds{check="sas"' &&
                        return 0
                sleep 0.05
        done
        echo "($1: no sas check in its /metrics after a minute)"
}
unspawn() { # PID (the newest of pids)
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null || true
        unset 'pids[-1]'
}

# the windows for one build: two fresh ikeheald of it, "this" (measured) and "other" (scraped
# for the machine's load alone)
windows() { # LABEL BUILD
        local p_this p_other this_pid other_pid idle other_s this_s
        p_this=$(free_port)
        p_other=$(free_port)
        spawn t "$2" "$p_this"
        this_pid=$spawned
        spawn o "$2" "$p_other"
        other_pid=$spawned
        idle=$(lat "$D/t.sock" 10)
        scrape "$p_other" "$D/scrapes-other"
        sleep 1
        other_s=$(lat "$D/t.sock" 10)
        stop_scrape
        scrape "$p_this" "$D/scrapes-this"
        sleep 1
        this_s=$(lat "$D/t.sock" 10)
        if [ -n "${PROFILE:-}" ] && [ "$1" = this ]; then
                mkdir -p "$PROFILE"
                perf record -q -F 4999 -g -p "$this_pid" -o "$PROFILE/perf.data" -- sleep 10 >/dev/null 2>&1 || true
                perf report -q -i "$PROFILE/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
                        grep -E '^ +[0-9.]+%' | head -60 >"$PROFILE/perf.txt" || true
                timeout -s INT 10 strace -c -f -p "$this_pid" -o "$PROFILE/strace.txt" >/dev/null 2>&1 || true
        fi
        stop_scrape
        unspawn "$other_pid"
        unspawn "$this_pid"
        set -- "$1" $idle $other_s $this_s
        # $2 $3 $4: idle p50 p99 n; $5 $6 $7: scraping the other; $8 $9 ${10}: scraping this one
        printf '%-8s %6s / %-7s %6s / %-7s %6s / %-7s %5s / %-6s   %6s / %-6s\n' "$1" "$2" "$3" "$5" "$6" "$8" "$9" \
                "$(awk -v a="$8" -v b="$2" 'BEGIN {printf "%.1f", a / b}')" \
                "$(awk -v a="$9" -v b="$3" 'BEGIN {printf "%.1f", a / b}')" \
                "$(rate "$D/scrapes-other")" "$(rate "$D/scrapes-this")"
}

echo
echo "control socket 'status' round trip (ms), asked every 20 ms for 10 s per window, at the lab's ${fig[lab,sas]} CHILD SAs"
echo "(per-peer series on); $SCRAPERS clients scrape as fast as they can; load $(cut -d' ' -f1-3 /proc/loadavg):"
printf '%-8s %16s %16s %16s %14s   %15s\n' "" "idle p50 / p99" "scraping other" "scraping this" "this/idle" "scrapes/s o/t"
[ -z "$BEFORE" ] || windows before "$BEFORE"
windows this "$B"
[ -z "$BEFORE" ] || echo "(before: $BEFORE; this: $B)"
[ -z "${PROFILE:-}" ] || echo "profile: $PROFILE/perf.txt, $PROFILE/strace.txt"
echo
per=$(((CHILD_SAS + IKES - 1) / IKES))
add_child_sas "$IKES" "$per" || echo "(fewer CHILD SAs than asked: see above)"
measure big
per_peer true
measure big_pp
cols=(lab lab_pp big big_pp)
printf '%-34s %14s %14s %14s %14s\n' "" "lab" "lab, per peer" "bulk" "bulk, per peer"
row() { # TITLE KEY
        printf '%-34s' "$1"
        for c in "${cols[@]}"; do printf ' %14s' "${fig[$c,$2]}"; done
        printf '\n'
}
row "CHILD SAs installed" sas
row "scrape median (ms)" med
row "scrape p99 (ms)" p99
row "exposition (bytes)" bytes
row "samples" samples
row "per-peer byte series" peer
row "promtool check metrics" promtool
row "sas check run feeding it (ms)" sas_s

