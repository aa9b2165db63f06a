#!/usr/bin/env bash
# Footprint of ikeheald next to Monit, side by side in one run on the lab: both watch the same
# gateway with an equivalent check set — the charon process, IKE on UDP 500 and 4500 of the
# gateway address, the gateway certificate file — and both run in the lab's client namespace
# (the vantage point), so both reach the gateway the same way.
#
#   ikeheald: kind daemon (charon over VICI and /proc), ike_probe (a real IKE_SA_INIT on 500
#             and 4500, every 0.5 s), certificate (the gateway's certificate and key files)
#   Monit:    check process charon (pidfile), check host with two `port … type udp` tests,
#             check file of the certificate (checksum, timestamp, permission)
#
# Two phases of WINDOW seconds each (default 60), both daemons running at once:
#   "1s"       every check every 1 s (Monit: set daemon 1), the probe at 0.5 s
#   "defaults" ikeheald's defaults (30 s) with the probe at 0.5 s; Monit: set daemon 30
# Printed per phase: CPU over the window as a share of one core, of the daemon and of every child
# it forked (ikeheald's certificate check surveys in a child): each daemon runs in a cgroup of its
# own, whose CPU counter (cgroup v2 cpu.stat, or v1 cpuacct) is exact and keeps the children that
# have exited; without a writable cgroup, the threads' scheduler run time (/proc/PID/task/*/
# schedstat, exact) plus the reaped children's (/proc/PID/stat cutime + cstime, in clock ticks:
# 10 ms steps, said in the output); wake-ups per second (voluntary
# context switches), RSS split into anonymous and file-backed, PSS, and the shared libraries
# mapped — ikeheald's figure, Monit's, and the ratio. Nothing is asserted.
#
#   bench/footprint.sh [BUILD] [WINDOW]      (BUILD: plain build, default build/)
#   PHASES="defaults" bench/footprint.sh …   one phase only
#   BEFORE=DIR bench/footprint.sh …          also the build in DIR (an older ikeheald), at the same
#                                            time in a lab of its own beside its own Monit (charon
#                                            pushes its events to every VICI subscriber, so two
#                                            agents on one gateway would wake each other); prints
#                                            both side by side with their Monits at the end
#   PROFILE=DIR bench/footprint.sh …         after each window, 20 s of `perf record -g` on
#                                            ikeheald (DIR/perf-PHASE.data, its report in
#                                            DIR/perf-PHASE.txt), then 20 s of `strace -c -f`
#                                            (DIR/strace-PHASE.txt) and 3 s of every call
#                                            (DIR/strace-PHASE.log): where the idle CPU goes;
#                                            and both daemons' RSS per mapped file
#                                            (DIR/smaps-PHASE-*.txt): where the memory is
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
WINDOW=${2:-60}
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
command -v monit >/dev/null || { echo "needs monit (make deps)"; exit 1; }

if [ -n "${BEFORE:-}" ]; then # two runs at once, each in its own lab; then one table
        R=$(mktemp -d /tmp/ikh-bench-fp2-XXXXXX)
        BEFORE= RESULTS=$R/before.res PROFILE= "$0" "$BEFORE" "$WINDOW" >"$R/before.log" 2>&1 &
        bp=$!
        BEFORE= RESULTS=$R/after.res "$0" "$B" "$WINDOW" | tee "$R/after.log"
        wait "$bp" || { cat "$R/before.log"; rm -rf "$R"; exit 1; }
        echo
        echo "before: $BEFORE/ikeheald, after: $B/ikeheald; each beside its own Monit, both at once"
        python3 - "$R/before.res" "$R/after.res" <<'PY'
import sys
rows = {}
for tag, path in (("before", sys.argv[1]), ("after", sys.argv[2])):
    for line in open(path):
        f = line.split()
        rows.setdefault(f[0], {})[tag] = (int(f[1]), list(map(int, f[2:])))
def ratio(a, b):
    return f"{a / b:5.2f}" if b else "  n/a"
for name, r in rows.items():
    if "before" not in r or "after" not in r:
        continue
    window = r["after"][0]
    print(f"phase {name} ({window} s)        before  its monit      after  its monit  after/before  after/monit")
    def line(what, b, bm, a, am, fmt):
        print(f"  {what:20s} {fmt(b):>9s} {fmt(bm):>10s} {fmt(a):>10s} {fmt(am):>10s}        {ratio(a, b)}        {ratio(a, am)}")
    bv, av = r["before"][1], r["after"][1]
    bw, aw = r["before"][0], r["after"][0]
    cpu = lambda ns, w: ns / 1e7 / w
    line("CPU (% of one core)", cpu(bv[0], bw), cpu(bv[1], bw), cpu(av[0], aw), cpu(av[1], aw), lambda x: f"{x:.3f}")
    line("wake-ups per second", bv[2] / bw, bv[3] / bw, av[2] / aw, av[3] / aw, lambda x: f"{x:.1f}")
    for i, what in enumerate(["RSS (KiB)", "  anonymous", "  file-backed", "PSS (KiB)", "shared libraries"]):
        line(what, bv[4 + i], bv[9 + i], av[4 + i], av[9 + i], lambda x: f"{x:d}")
PY
        rm -rf "$R"
        exit 0
fi
. "$top/tests/lab/lab.sh"
D=$(mktemp -d /tmp/ikh-bench-fp-XXXXXX)
IKH=
MON=
stop_pid() { # PID
        [ -n "$1" ] || return 0
        kill -TERM "$1" 2>/dev/null || return 0
        for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL "$1" 2>/dev/null || true
}
CG_ROOT= CG_KIND= IKH_CG= MON_CG=
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        CG_ROOT=/sys/fs/cgroup CG_KIND=v2
elif [ -f /sys/fs/cgroup/unified/cgroup.procs ] && [ -w /sys/fs/cgroup/unified ]; then
        CG_ROOT=/sys/fs/cgroup/unified CG_KIND=v2
elif [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] && [ -w /sys/fs/cgroup/cpuacct ]; then
        CG_ROOT=/sys/fs/cgroup/cpuacct CG_KIND=v1
fi
cg_join() { # NAME PID → the path of a new cgroup holding PID, or nothing (none to be had)
        local cg
        [ -n "$CG_ROOT" ] || return 0
        cg=$CG_ROOT/ikh-bench-fp-$$-$1
        if mkdir "$cg" 2>/dev/null && echo "$2" >"$cg/cgroup.procs" 2>/dev/null; then
                echo "$cg"
        else
                rmdir "$cg" 2>/dev/null || true
        fi
}
cg_remove() { # PATH: once its processes are gone
        [ -n "$1" ] || return 0
        for _ in $(seq 20); do rmdir "$1" 2>/dev/null && return 0; sleep 0.1; done
}
cleanup() {
        set +e # every step, whatever the one before returned
        stop_pid "$IKH"
        stop_pid "$MON"
        cg_remove "$IKH_CG"
        cg_remove "$MON_CG"
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 1 >/dev/null
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null

ikh_config() { # INTERVAL
        cat <<YAML
agent:
  log_level: warning
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: $1}
checks:
  - kind: daemon
  - kind: ike_probe
    interval: 500ms
    params: {targets: [$GW_IP], timeout: 400ms}
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR}
YAML
}

monit_config() { # SECONDS
        cat <<MONIT
set daemon $1
set log $D/monit.log
set pidfile $D/monit.pid
set idfile $D/monit.id
set statefile $D/monit.state
check process charon with pidfile $GW_PIDFILE
check host gateway with address $GW_IP
        if failed port 500 type udp then alert
        if failed port 4500 type udp then alert
check file gwcert with path $GW_CERT
        if changed checksum then alert
        if changed timestamp then alert
        if failed permission $(stat -c %a "$GW_CERT") then alert
MONIT
}

start_both() { # IKEHEAL_INTERVAL MONIT_SECONDS
        ikh_config "$1" >"$D/ikeheal.yaml"
        monit_config "$2" >"$D/monitrc"
        chmod 0600 "$D/monitrc"
        "$B/ikeheald" -c "$D/ikeheal.yaml" --check-config >"$D/check-config.out" 2>&1 ||
                { cat "$D/check-config.out"; exit 1; }
        ip netns exec "$CL_NS" "$B/ikeheald" -c "$D/ikeheal.yaml" --log-target=stderr \
                >"$D/ikeheal.log" 2>&1 &
        IKH=$!
        ip netns exec "$CL_NS" monit -I -c "$D/monitrc" >"$D/monit.out" 2>&1 &
        MON=$!
        N_START=$((${N_START:-0} + 1))
        IKH_CG=$(cg_join "ikeheald-$N_START" "$IKH")
        MON_CG=$(cg_join "monit-$N_START" "$MON")
}

stop_both() {
        stop_pid "$IKH"
        stop_pid "$MON"
        wait "$IKH" "$MON" 2>/dev/null || true
        cg_remove "$IKH_CG"
        cg_remove "$MON_CG"
        IKH= MON= IKH_CG= MON_CG=
}

runtime_ns() { # PID: scheduler run time of every live thread, ns
        cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
}
cpu_ns() { # PID CGROUP: CPU of the process and of its children, ns
        if [ -z "$2" ]; then
                echo $(($(runtime_ns "$1") + $(awk -v hz="$(getconf CLK_TCK)" \
                        '{printf "%d\n", ($16 + $17) * 1e9 / hz}' /proc/"$1"/stat)))
        elif [ "$CG_KIND" = v2 ]; then
                awk '/^usage_usec/ {printf "%d\n", $2 * 1000}' "$2/cpu.stat"
        else
                cat "$2/cpuacct.usage"
        fi
}
wakeups() { # PID: voluntary context switches of every live thread
        cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'
}
memory() { # PID → "rss anon file pss libs" (KiB, KiB, KiB, KiB, count)
        local rss anon file pss libs
        rss=$(awk '/^VmRSS/ {print $2}' /proc/"$1"/status)
        anon=$(awk '/^RssAnon/ {print $2}' /proc/"$1"/status)
        file=$(awk '/^RssFile/ {print $2}' /proc/"$1"/status)
        pss=$(awk '/^Pss:/ {print $2}' /proc/"$1"/smaps_rollup)
        libs=$(awk '$6 ~ /\.so/ {print $6}' /proc/"$1"/maps | sort -u | wc -l)
        echo "$rss $anon $file $pss $libs"
}

smaps_by_file() { # PID → "RSS anonymous FILE" (KiB) per mapped file, [heap] and the rest, largest first
        awk '/^[0-9a-f]+-[0-9a-f]+ / {f = $6 == "" ? "[anon]" : $6}
             /^Rss:/ {r[f] += $2} /^Anonymous:/ {a[f] += $2}
             END {for (f in r) printf "%6d %6d %s\n", r[f], a[f], f}' /proc/"$1"/smaps | sort -rn
}

profile() { # NAME: perf, then strace, of the running ikeheald; both daemons' memory by file
        mkdir -p "$PROFILE"
        perf record -q -F 4999 -g -p "$IKH" -o "$PROFILE/perf-$1.data" -- sleep 20 >/dev/null 2>&1 || true
        perf report -q -i "$PROFILE/perf-$1.data" --no-children --sort dso,sym --stdio 2>/dev/null |
                grep -E '^ +[0-9.]+%' | head -40 >"$PROFILE/perf-$1.txt" || true
        timeout -s INT 20 strace -c -f -p "$IKH" -o "$PROFILE/strace-$1.txt" >/dev/null 2>&1 || true
        timeout -s INT 3 strace -f -tt -p "$IKH" -o "$PROFILE/strace-$1.log" >/dev/null 2>&1 || true
        smaps_by_file "$IKH" >"$PROFILE/smaps-$1-ikeheald.txt"
        smaps_by_file "$MON" >"$PROFILE/smaps-$1-monit.txt"
        echo "  profile: $PROFILE/perf-$1.txt, $PROFILE/strace-$1.txt, $PROFILE/smaps-$1-*.txt"
}

phase() { # NAME IKEHEAL_INTERVAL MONIT_SECONDS
        local i0 i1 m0 m1 iw0 iw1 mw0 mw1
        start_both "$2" "$3"
        sleep 5 # start-up, first runs of every check
        kill -0 "$IKH" && kill -0 "$MON" || { echo "a daemon died:"; cat "$D/ikeheal.log" "$D/monit.out"; exit 1; }
        i0=$(cpu_ns "$IKH" "$IKH_CG"); m0=$(cpu_ns "$MON" "$MON_CG")
        iw0=$(wakeups "$IKH"); mw0=$(wakeups "$MON")
        sleep "$WINDOW"
        i1=$(cpu_ns "$IKH" "$IKH_CG"); m1=$(cpu_ns "$MON" "$MON_CG")
        iw1=$(wakeups "$IKH"); mw1=$(wakeups "$MON")
        [ -z "${RESULTS:-}" ] || echo "$1 $WINDOW $((i1 - i0)) $((m1 - m0)) $((iw1 - iw0)) $((mw1 - mw0))" \
                $(memory "$IKH") $(memory "$MON") >>"$RESULTS"
        python3 - "$1" "$WINDOW" "$((i1 - i0))" "$((m1 - m0))" "$((iw1 - iw0))" "$((mw1 - mw0))" \
                $(memory "$IKH") $(memory "$MON") <<'PY'
import sys
name, window = sys.argv[1], int(sys.argv[2])
icpu, mcpu, iwk, mwk = map(int, sys.argv[3:7])
imem = list(map(int, sys.argv[7:12]))
mmem = list(map(int, sys.argv[12:17]))
def ratio(a, b):
    return f"{a / b:6.2f}" if b else "   n/a"
print(f"phase {name} ({window} s)            ikeheald        monit    ratio")
ipct, mpct = icpu / 1e7 / window, mcpu / 1e7 / window
print(f"  CPU (% of one core)   {ipct:12.3f} {mpct:12.3f}   {ratio(ipct, mpct)}")
print(f"  wake-ups per second   {iwk / window:12.1f} {mwk / window:12.1f}   {ratio(iwk, mwk)}")
for i, what in enumerate(["RSS (KiB)", "  anonymous", "  file-backed", "PSS (KiB)", "shared libraries"]):
    print(f"  {what:20s}  {imem[i]:12d} {mmem[i]:12d}   {ratio(imem[i], mmem[i])}")
PY
        "$B/ikehealctl" --socket "$D/ctl.sock" checks | sed 's/^/  ikeheald: /'
        [ -z "${PROFILE:-}" ] || profile "$1"
        grep -E 'failed|error' "$D/monit.log" | tail -3 | sed 's/^/  monit: /'
        stop_both
}

echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); monit $(monit -V | awk 'NR == 1 {print $NF}')"
if [ -n "$CG_ROOT" ]; then
        echo "CPU: each daemon's cgroup ($CG_KIND, $CG_ROOT), its children included"
else
        echo "CPU: threads' run time + reaped children's in clock ticks (no writable cgroup: 10 ms steps)"
fi
for p in ${PHASES:-1s defaults}; do
        case $p in
        1s) phase 1s 1s 1 ;;
        defaults) phase defaults 30s 30 ;;
        *) echo "unknown phase '$p' (1s, defaults)"; exit 2 ;;
        esac
done
