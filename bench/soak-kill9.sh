#!/usr/bin/env bash
# Crash soak: ikeheald SIGKILLed at random moments while temporary measures of every kind are in
# force — a firewall opened (nft_open), a PSK fallback (psk_temp) and a drill's own fault
# (nft_drop) — and restarted after a random delay, ITERATIONS times, on the real lab (gateway +
# one client in namespaces, real nftables, real charon and swanctl files). Plain -O2 build.
#
# Each iteration starts a drill whose fault (a table dropping UDP 500/4500 in the gateway) opens a
# firewall incident; its runbook opens the firewall (measure, 5 s), loads a PSK fallback (measure,
# 6 s) and holds for 3 s; the agent is killed at a random moment of that (0…KILL_MAX s after the
# start), restarted 0…DOWN_MAX s later, and watched until everything is over. After every
# iteration, from the agent's own records (CLI) and the real state (nft, swanctl files):
#
#   late       a measure still in force (its nft rules, its PSK file, the drill's table) more
#              than 2 s past its expiry — or past the restart, when the agent was down at its
#              expiry (nothing can revert while it is down; the drill's nft elements carry their
#              own kernel timeout) — or left behind once the agent says nothing is in force
#   double     an nft rule of the measure present twice in a chain, more than one PSK fallback
#              file, or one run's step recorded as applied twice on the audit trail
#   lost       an audit record on disk before the kill (a complete line) missing or changed after
#              the restart (the log as a whole, rotated files first)
#   verify     `ikehealctl audit verify` of the log failing after the restart
#
# Prints one line per iteration and a summary line:
#   soak: N iterations, late 0, double 0, lost 0, verify-failed 0, measures seen M, …
# Exit status 0 only if all four counts are 0.
#
#   bench/soak-kill9.sh ITERATIONS [BUILD]     (make soak SOAK_ITERATIONS=N)
# Environment: SOAK_SEED (random seed), KILL_MAX (s, default 8), DOWN_MAX (s, default 4),
# SOAK_KEEP=1 keeps the work directory (logs, the audit log) at the end.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:?usage: soak-kill9.sh ITERATIONS [BUILD]}
B=$(cd "${2:-$top/build}" && pwd)
KILL_MAX=${KILL_MAX:-8}
DOWN_MAX=${DOWN_MAX:-4}
RANDOM=${SOAK_SEED:-$$}
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"

D=$(mktemp -d /tmp/ikh-soak-XXXXXX)
R=/run/ikh-soak-$$ # root-owned, 0755 all the way: the runbook's script runs from here
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$R"
        [ "${SOAK_KEEP:-}" ] && echo "soak: work directory kept: $D" || rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rnd_ms() { echo $((RANDOM * 32768 + RANDOM)) | awk -v max="$1" '{ printf "%d", ($1 % (max * 1000 + 1)) }'; }

lab_up "$D/lab" --clients 1 >/dev/null || { echo "soak: the lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$GW_SWANCTL_DIR/conf.d" && echo 'include conf.d/*.conf' >>"$GW_SWANCTL_CONF" # as Debian's
lab_reload "$D/lab" gw >/dev/null
install -d -m 0755 "$R" "$R/scripts"
printf '#!/bin/sh\nsleep 3\n' >"$R/scripts/hold.sh"
printf '#!/bin/sh\nexit 0\n' >"$R/scripts/noop.sh"
chmod 0755 "$R/scripts/hold.sh" "$R/scripts/noop.sh"
mkdir -p "$D/runbooks" "$D/drills"
cat >"$D/runbooks/soak-open.yaml" <<YAML
version: 1
name: soak-open
description: "soak: open the firewall and load a PSK fallback, both for a few seconds"
match: {class: firewall}
grade: auto
steps:
  - name: open
    action: nft_open
    params: {netns: $GW_NS}
    expires_in: 5s
  - name: psk
    action: psk_temp
    params: {conn: rw, peers: [$CL_ID_1]}
    expires_in: 6s
  - name: hold
    action: exec
    params: {script: $R/scripts/hold.sh, revert: $R/scripts/noop.sh}
    timeout: 10s
YAML
cat >"$D/drills/soak-drop.yaml" <<YAML
version: 1
name: soak-drop
description: "soak: IKE dropped by a table of the drill's own"
steady_state: {checks: [firewall]}
fault:
  kind: nft_drop
  params: {udp_ports: [500, 4500], netns: $GW_NS}
  expires_in: 40s
expect:
  class: firewall
  runbook: soak-open
  detect_within: 10s
  recover_within: 20s
abort: {after: 30s}
YAML
{ agent_yaml_head "$D"; cat <<YAML
checks:
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
policy:
  budget: {runs: 32, window: 1m}
  flap: {opens: 31, window: 1m}
drills:
  enabled: true
  dirs: [$D/drills]
YAML
} | sed -e "s|^  last_good_after: 0s|&\n  runbook_dirs: [$D/runbooks]\n  exec_dir: $R/scripts|" \
        -e 's/interval: 2s/interval: 1s/' >"$D/c.yaml"
STATE=$D/state
AUDIT=$STATE/audit.log
"$B/ikeheald" -c "$D/c.yaml" --check-config >"$D/check-config.out" 2>&1 ||
        { echo "soak: configuration refused:"; cat "$D/check-config.out"; exit 1; }

# ---- observing ------------------------------------------------------------------------------
# The real state, one line: "OPEN_RULES OPEN_DUP PSK_FILES DRILL_TABLE"
real_state() {
        local rules psk tbl
        rules=$(ip netns exec "$GW_NS" nft -a list ruleset 2>/dev/null | grep 'comment "ikeheal-open' | sed 's/ # handle [0-9]*$//')
        psk=$(ls "$GW_SWANCTL_DIR"/conf.d/ 2>/dev/null | grep -c '^ikeheal-psk')
        ip netns exec "$GW_NS" nft list table inet ikeheal_drill >/dev/null 2>&1 && tbl=1 || tbl=0
        echo "$(grep -c . <<<"$rules") $(sort <<<"$rules" | uniq -d | grep -c .) $psk $tbl"
}
# The agent's measures as "KIND EXPIRES_MS STATE ID" lines. The CLI gives the expiry in whole
# seconds (RFC 3339): the last millisecond of that second is taken (a measure is "late" only past
# that + 2 s). (awk on the CLI's JSON, one key per line: a python start costs seconds on a loaded
# machine; the time through date(1) only for a measure)
agent_measures() {
        local js
        js=$(agent_ctl --timeout 2 --json measures all 2>/dev/null) || return 1
        awk '
                function val(l) { sub(/^[^:]*: */, "", l); gsub(/[",{ ]/, "", l); return l }
                function epoch(t,  c, s) { c = "date -d " t " +%s"; c | getline s; close(c); return s + 0 }
                function out() { if (id != "") printf "%s %.0f %s %s\n", (kind ? kind : "?"), (ex ? epoch(ex) * 1000 + 999 : 0), (st ? st : "?"), id }
                /^ *"id":/ { out(); id = val($0); kind = st = ""; ex = ""; next }
                /^ *"kind":/ { kind = val($0) }
                /^ *"state":/ { st = val($0) }
                /^ *"expires":/ { ex = val($0); if (ex == "null") ex = "" }
                END { out() }' <<<"$js"
}
# The active drill's fault deadline (ms), if any.
drill_deadline() {
        local t
        t=$(agent_ctl --timeout 2 --json drill status 2>/dev/null |
                awk '/^ *"deadline":/ { l = $0; sub(/^[^:]*: */, "", l); gsub(/[", ]/, "", l); print l; exit }')
        [ -n "$t" ] && [ "$t" != null ] && echo $(($(date -d "$t" +%s%N) / 1000000))
}

late=0 double=0 lost=0 vfail=0 seen_measures=0 seen_faults=0
restart_ms_sum=0 iter_fail=0
# allowed-until per kind, ms: measures may be in force until then
declare -A until_ms
note_measures() { # lines from agent_measures; T_RESTART
        local kind exp st id u
        while read -r kind exp st id; do
                [ -n "$kind" ] || continue
                grep -qx "$id" "$D/ids.seen" 2>/dev/null || { echo "$id" >>"$D/ids.seen"; seen_measures=$((seen_measures + 1)); }
                [ "$exp" -gt 0 ] 2>/dev/null || continue
                u=$((exp > T_RESTART ? exp : T_RESTART))
                u=$((u + 2000))
                [ "${until_ms[$kind]:-0}" -lt "$u" ] && until_ms[$kind]=$u
        done
}
# Check the real state now against what may be in force; count each violation once per iteration.
ITER_LATE=0 ITER_DOUBLE=0
overdue() { # NOW RULES PSK TABLE: what is in force past its time, or nothing
        if [ "$2" -gt 0 ] && [ "$1" -gt "${until_ms[nft_open]:-0}" ]; then
                echo "nft_open rules in force $(($1 - ${until_ms[nft_open]:-0} + 2000)) ms past their expiry (or the restart)"
        elif [ "$3" -gt 0 ] && [ "$1" -gt "${until_ms[psk_temp]:-0}" ]; then
                echo "psk_temp file in place $(($1 - ${until_ms[psk_temp]:-0} + 2000)) ms past its expiry (or the restart)"
        elif [ "$4" -gt 0 ] && [ "$1" -gt "${until_ms[drill]:-0}" ]; then
                echo "the drill's table in place $(($1 - ${until_ms[drill]:-0} + 2000)) ms past its deadline (or the restart)"
        fi
}
observe() {
        local now st rules dup psk tbl why
        now=$(now_ms)
        st=$(real_state)
        set -- $st
        rules=$1 dup=$2 psk=$3 tbl=$4
        why=$(overdue "$now" "$rules" "$psk" "$tbl")
        if [ -n "$why" ] && [ -n "$AGENT_PID" ]; then
                # a measure applied since the last look: its record came first, read it again
                local m
                if m=$(agent_measures); then
                        note_measures <<<"$m"
                        if [ "${until_ms[drill]:-0}" = 0 ]; then
                                local dl
                                dl=$(drill_deadline)
                                [ "${dl:-0}" -gt 0 ] && until_ms[drill]=$((dl + 2000))
                        fi
                        why=$(overdue "$now" "$rules" "$psk" "$tbl")
                else
                        # the agent did not answer in time (a loaded machine): what it has in force
                        # is unknown now, not late; the next look decides (and 60 s after a
                        # restart anything still in force is late whatever the agent says)
                        why=
                fi
        fi
        if [ -n "$why" ] && [ "$ITER_LATE" = 0 ]; then
                ITER_LATE=1
                echo "   late: $why"
        fi
        if { [ "$dup" -gt 0 ] || [ "$psk" -gt 1 ]; } && [ "$ITER_DOUBLE" = 0 ]; then
                ITER_DOUBLE=1; echo "   double: $dup duplicated nft_open rule(s), $psk PSK fallback file(s)"
        fi
}
# "run R step S … applied" twice on the audit trail (each pair reported once)
: >"$D/doubles.seen"
audit_double() {
        grep -a -o 'run [0-9]* step [0-9]* [a-z0-9_-]* ([a-z_]*) applied' "$AUDIT" 2>/dev/null | sort | uniq -d
}
# The log as a whole: rotated files (FILE.N, oldest = highest N) first, then FILE.
audit_snapshot() { # OUT
        local f
        : >"$1"
        for f in $(ls "$AUDIT".[0-9]* 2>/dev/null | awk -F. '{ print $NF, $0 }' | sort -rn | cut -d' ' -f2-) "$AUDIT"; do
                [ -f "$f" ] && cat "$f" >>"$1"
        done
}
# Every complete line of the log before the kill is still there, unchanged, in order (a torn
# last line, never acknowledged, may be cut).
audit_kept() { # SNAPSHOT_BEFORE
        local n partial
        n=$(wc -c <"$1")
        [ "$n" -gt 0 ] || return 0
        [ "$(tail -c1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ] || { partial=$(tail -n1 "$1" | wc -c); n=$((n - partial)); }
        audit_snapshot "$D/audit.after"
        cmp -s -n "$n" "$1" "$D/audit.after" && [ "$(wc -c <"$D/audit.after")" -ge "$n" ]
}
quiet() { # nothing in force, nothing active, real state clean
        local st
        st=$(real_state)
        [ "$st" = "0 0 0 0" ] || { QUIET_WHY="real state $st"; return 1; }
        agent_ctl --timeout 2 drill status 2>/dev/null | grep -q "no drill in progress" || { QUIET_WHY="a drill in progress"; return 1; }
        st=$(agent_measures | awk '$3 != "reverted"')
        [ -z "$st" ] || { QUIET_WHY="measures $st"; return 1; }
        return 0
}
start_agent() {
        [ -f "$D/agent.log" ] && cat "$D/agent.log" >>"$D/agent.all.log" # agent_start starts a new one
        agent_start "$D" "$D/c.yaml" "$B" >>"$D/start.log" 2>&1 || { tail -5 "$D/start.log"; return 1; }
}

done_n=0
summary() {
        echo "soak: $done_n iterations, late $late, double $double, lost $lost, verify-failed $vfail," \
                "measures seen $seen_measures, drill faults $seen_faults, mean restart-to-answer $((restart_ms_sum / (done_n > 0 ? done_n : 1))) ms"
}
trap 'summary; exit 1' INT TERM HUP # an interrupted run still says how far it got

start_agent || exit 1
agent_wait_checks 10000 || { echo "soak: checks did not report"; exit 1; }
echo "soak: $N iterations, kill at 0…${KILL_MAX} s into the drill, down 0…${DOWN_MAX} s; build $B; seed ${SOAK_SEED:-$$}"
for i in $(seq "$N"); do
        ITER_LATE=0 ITER_DOUBLE=0 T_RESTART=0
        until_ms=()
        # the gateway steady again: the drill may start (retry while it refuses)
        t0=$(now_ms) started=
        while [ $(($(now_ms) - t0)) -lt 90000 ]; do
                if agent_ctl --timeout 3 drill run soak-drop >"$D/run.out" 2>&1; then started=1; break; fi
                cp "$D/run.out" "$D/refusal"
                sleep 0.3
        done
        [ -n "$started" ] || { echo "soak: iteration $i: the drill never started: $(cat "$D/run.out")"; iter_fail=$((iter_fail + 1)); break; }
        seen_faults=$((seen_faults + 1))
        t_drill=$(now_ms)
        [ "${SOAK_DEBUG:-}" ] && echo "debug: steady after $((t_drill - t0)) ms; last refusal: $(cat "$D/refusal" 2>/dev/null)"
        rm -f "$D/t_kill"
        after=$(rnd_ms "$KILL_MAX")
        (
                wait_ms=$((t_drill + after - $(now_ms)))
                [ "$wait_ms" -gt 0 ] && sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
                kill -KILL "$AGENT_PID" 2>/dev/null
                now_ms >"$D/t_kill"
        ) &
        killer=$!
        dl=$(drill_deadline)
        [ -n "$dl" ] && [ "$dl" -gt 0 ] && until_ms[drill]=$((dl + 2000))
        while [ ! -s "$D/t_kill" ]; do
                note_measures < <(agent_measures)
                [ -s "$D/t_kill" ] || observe
                sleep 0.1
        done
        wait "$killer"
        wait "$AGENT_PID" 2>/dev/null
        AGENT_PID=
        t_kill=$(cat "$D/t_kill")
        [ "${SOAK_DEBUG:-}" ] && echo "debug: after $after t_drill $t_drill t_kill $t_kill"
        audit_snapshot "$D/audit.before"
        down=$(rnd_ms "$DOWN_MAX")
        # nothing is reverted while the agent is down: what fell due meanwhile may stay until 2 s
        # after the restart (for the drill's table, the kernel's element timeouts still run)
        T_RESTART=$((t_kill + down))
        for k in nft_open psk_temp drill; do
                [ "${until_ms[$k]:-0}" -lt $((T_RESTART + 2000)) ] && until_ms[$k]=$((T_RESTART + 2000))
        done
        while [ "$(now_ms)" -lt "$T_RESTART" ]; do observe; sleep 0.1; done
        T_RESTART=$(now_ms)
        start_agent || { echo "soak: iteration $i: the agent did not restart"; iter_fail=$((iter_fail + 1)); break; }
        t_up=$(now_ms)
        restart_ms_sum=$((restart_ms_sum + t_up - T_RESTART))
        # watch until everything is over (at most 60 s)
        while [ $(($(now_ms) - T_RESTART)) -lt 60000 ]; do
                note_measures < <(agent_measures)
                observe
                quiet && break
                [ "${SOAK_DEBUG:-}" ] && echo "debug: not quiet: $QUIET_WHY"
                sleep 0.1
        done
        [ "${SOAK_DEBUG:-}" ] && echo "debug: quiet $(($(now_ms) - T_RESTART)) ms after the restart"
        quiet || { [ "$ITER_LATE" = 0 ] && ITER_LATE=1 && echo "   late: still in force 60 s after the restart: $QUIET_WHY"; }
        dbl=$(audit_double | grep -vxF -f "$D/doubles.seen" 2>/dev/null)
        if [ -n "$dbl" ]; then
                echo "$dbl" >>"$D/doubles.seen"
                [ "$ITER_DOUBLE" = 0 ] && { ITER_DOUBLE=1; echo "   double: applied twice on the audit trail: $dbl"; }
        fi
        audit_kept "$D/audit.before" || { lost=$((lost + 1)); echo "   lost: the audit log before the kill is not a prefix of the log after the restart"; }
        "$B/ikehealctl" audit verify "$AUDIT" >"$D/verify.out" 2>&1 || { vfail=$((vfail + 1)); echo "   verify: $(tail -2 "$D/verify.out" | tr '\n' ' ')"; }
        late=$((late + ITER_LATE)) double=$((double + ITER_DOUBLE)) done_n=$((done_n + 1))
        printf 'iteration %d: killed %d ms into the drill, down %d ms, agent answering %d ms after exec; late %d double %d lost %d verify-failed %d\n' \
                "$i" "$((t_kill - t_drill))" "$down" "$((t_up - T_RESTART))" "$late" "$double" "$lost" "$vfail"
done
summary
[ $((late + double + lost + vfail + iter_fail)) = 0 ]
