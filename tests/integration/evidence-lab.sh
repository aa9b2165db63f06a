#!/usr/bin/env bash
# Evidence on demand on the real lab: the log_level action raises a subsystem's level of the
# gateway's charon through a strongswan.d drop-in and reload-settings, a measure reverted at its
# expiry (the level drops back: no more of those lines) and, after a kill -9 of the agent, at
# the next start; refused beyond its disk budget, and reverted early when the log's file system
# falls below that budget while the levels are raised. The capture action (an observe runbook) records
# IKE of a handshake in the gateway's namespace, bounded by its packet limit and then by its
# duration, as pcap files tcpdump reads (0600 in a 0700 directory); `ikehealctl evidence` lists
# and exports them for root, and refuses a reader.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-evidence-XXXXXX)
GRD=ikh-evr-$$
R=/run/ikh-evidence-$$ # 0755: a second uid can reach the socket
SMALL=$D/small # a size-limited tmpfs for the disk budget, mounted by this test
SMALL_MOUNTED=1
cleanup() {
        agent_stop
        [ -n "$SMALL_MOUNTED" ] && umount "$SMALL" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        groupdel "$GRD" 2>/dev/null
        rm -rf "$R"
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
groupadd -r "$GRD" || exit 1
install -d -m 0755 "$R"

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
# the lab's strongswan.conf has no strongswan.d: give it one, as Debian's includes /etc/strongswan.d
mkdir -p "$D/strongswan.d" "$D/runbooks"
echo "include $D/strongswan.d/*.conf" >>"$GW_CONF"
DROPIN=$D/strongswan.d/zz-ikeheal-loglevel.conf
cat >"$D/runbooks/log-raise.yaml" <<YAML
version: 1
name: log-raise
description: more of charon's IKE encoding log while someone looks
match:
  class: daemon
grade: manual
steps:
  - name: raise
    action: log_level
    params:
      subsystems: [enc=2]
      loggers: [charon.filelog.lab]
      dropin: $DROPIN
      disk_budget: 1M
      log_path: $D
    expires_in: 3s
YAML
cat >"$D/runbooks/log-raise-small.yaml" <<YAML
version: 1
name: log-raise-small
description: more of charon's IKE encoding log, its log on a small file system
match:
  class: daemon
grade: manual
steps:
  - name: raise
    action: log_level
    params:
      subsystems: [enc=2]
      loggers: [charon.filelog.lab]
      dropin: $DROPIN
      disk_budget: 2M
      log_path: $SMALL
    expires_in: 1m
YAML
cat >"$D/runbooks/ike-capture.yaml" <<YAML
version: 1
name: ike-capture
description: record IKE and ESP on the gateway for a while
match:
  class: daemon
grade: manual
steps:
  - name: capture
    action: capture
    params: {netns: $GW_NS, duration: 3s, packets: 4}
    timeout: 10s
YAML
{ agent_yaml_head "$D" "$D/runbooks" | sed "s|^  socket: .*|  socket: $R/ctl.sock\n  group: $GRD|"; cat <<YAML
checks:
  - kind: sas
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"

enc2() { grep -c "\[ENC2\]" "$GW_LOG"; }
handshake() { lab_disconnect "$D/lab" 1 >/dev/null 2>&1; lab_connect "$D/lab" 1 >/dev/null; }
handshake && ok "client connected" || bad "connect"
[ "$(enc2)" = 0 ] && ok "no ENC level-2 lines before" || bad "ENC2 lines before the raise: $(enc2)"
t0=$(date +%s%N)
agent_ctl run log-raise --wait >"$D/run.out" 2>&1 && ok "log-raise run succeeded" || bad "run: $(cat "$D/run.out")"
grep -q "enc = 2" "$DROPIN" 2>/dev/null && ok "drop-in written: $(tr '\n' ' ' <"$DROPIN" | sed 's/#[^}]*Do not edit. //')" ||
        bad "no drop-in"
handshake
n=$(enc2)
[ "$n" -gt 0 ] && ok "charon logs ENC level 2 after reload-settings ($n lines for one handshake)" || bad "no ENC2 lines"
for _ in $(seq 150); do agent_ctl measures all | grep -q "log_level .*reverted " && break; sleep 0.1; done
agent_ctl measures all | grep -q "log_level .*reverted " && ok "measure reverted at its expiry" || bad "measures: $(agent_ctl measures all)"
echo "figure: log_level raise to revert $((($(date +%s%N) - t0) / 1000000)) ms (expires_in 3s)"
[ -e "$DROPIN" ] && bad "drop-in still there" || ok "drop-in removed"
n=$(enc2)
handshake
[ "$(enc2)" = "$n" ] && ok "no ENC level-2 lines after the revert" || bad "ENC2 lines after the revert: $(($(enc2) - n))"

# across a kill -9: the measure outlives the agent, the next start reverts it
agent_ctl run log-raise --wait >"$D/run.out" 2>&1 && [ -e "$DROPIN" ] && ok "raised again" || bad "second run: $(cat "$D/run.out")"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
sleep 3.5
[ -e "$DROPIN" ] && ok "agent killed (-9): the drop-in outlives it past its expiry" || bad "drop-in gone without an agent?"
mv "$D/agent.log" "$D/agent.log.1"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
for _ in $(seq 100); do [ -e "$DROPIN" ] || break; sleep 0.1; done
[ -e "$DROPIN" ] && bad "the restarted agent left the drop-in" || ok "the restarted agent reverted it"
for _ in $(seq 100); do agent_ctl measures all | grep -q "log_level .*reverted " && [ "$(agent_ctl measures all | grep -c "log_level .*reverted ")" = 2 ] && break; sleep 0.1; done
agent_ctl audit 40 | grep -q "expired while the agent was down" && ok "audited as expired while the agent was down" ||
        bad "audit: $(agent_ctl audit 20)"
n=$(enc2)
handshake
[ "$(enc2)" = "$n" ] && ok "charon back at its configured levels" || bad "ENC2 lines after the restart's revert"

# the disk budget while the levels are raised: the log's file system (a 4M tmpfs) falls below
# it, and the measure ends early — not at its expiry a minute later
mkdir -p "$SMALL" && mount -t tmpfs -o size=4m "ikh-evr-$$" "$SMALL" || bad "cannot mount a small tmpfs"
agent_ctl run log-raise-small --wait >"$D/run.out" 2>&1 && [ -e "$DROPIN" ] && ok "raised with 4M free, budget 2M" ||
        bad "log-raise-small: $(cat "$D/run.out")"
sleep 4.5 # past two hold checks (every 2 s): the check must come back, not be asked once
t0=$(date +%s%N)
dd if=/dev/zero of="$SMALL/fill" bs=1M count=3 status=none 2>/dev/null
for _ in $(seq 100); do [ -e "$DROPIN" ] || break; sleep 0.1; done
[ -e "$DROPIN" ] && bad "the drop-in stays with the log's file system below the budget" ||
        ok "below the budget: reverted early, drop-in removed"
echo "figure: disk budget crossed → early revert $((($(date +%s%N) - t0) / 1000000)) ms (hold checked every 2 s)"
agent_ctl audit 20 | grep -q "measure [0-9]* (log_level) reverted early: $SMALL has .* free, less than the disk budget" &&
        ok "audited: $(agent_ctl audit 20 | grep -o 'reverted early: .*' | head -1)" || bad "audit: $(agent_ctl audit 20)"
for _ in $(seq 50); do agent_ctl measures all | grep -q "log_level .*reverted .*reverted early" && break; sleep 0.1; done
agent_ctl measures all | grep "log_level" | grep -q "reverted early" && ok "the measure ended: $(agent_ctl measures all | grep 'reverted early' | head -1 | cut -c1-140)" ||
        bad "measures: $(agent_ctl measures all)"
umount "$SMALL" && SMALL_MOUNTED=

# capture: bounded by its packet limit during a handshake, then by its duration with no traffic
grep -q libpcap "/proc/$AGENT_PID/maps" && bad "libpcap mapped before any capture" || ok "no libpcap in the agent before a capture"
lab_disconnect "$D/lab" 1 >/dev/null 2>&1
n_pcap() { find "$D/state/evidence" -name 'capture-*.pcap' 2>/dev/null | wc -l; }
p0=$(n_pcap)
agent_ctl run ike-capture >"$D/run.out" 2>&1 || bad "capture run: $(cat "$D/run.out")"
# the capture file is made once the capture is active (filter set): connect only then
for _ in $(seq 100); do [ "$(n_pcap)" -gt "$p0" ] && break; sleep 0.05; done
lab_connect "$D/lab" 1 >/dev/null
agent_wait_run ike-capture succeeded 10000 >/dev/null && ok "capture run succeeded" || bad "capture: $(agent_ctl runs | head)"
grep -q libpcap "/proc/$AGENT_PID/maps" && ok "libpcap loaded by the first capture" || bad "libpcap not mapped after a capture"
agent_ctl audit 30 | grep -o "4 packet(s).*(ended by the packet limit)" && ok "ended by its packet limit" ||
        bad "capture detail: $(agent_ctl audit 30 | grep -i capture)"
first=$(agent_run_of ike-capture | cut -d' ' -f1)
lab_disconnect "$D/lab" 1 >/dev/null 2>&1
agent_ctl run ike-capture >"$D/run.out" 2>&1 || bad "capture run: $(cat "$D/run.out")"
agent_wait_run ike-capture succeeded 10000 >/dev/null &&
        [ "$(agent_run_of ike-capture | cut -d' ' -f1)" != "$first" ] && agent_ctl audit 30 | grep -q "(ended by its duration)" &&
        ok "an idle capture ends by its duration" || bad "idle capture: $(agent_ctl audit 30 | grep -i capture)"
run=$(agent_run_of ike-capture | cut -d' ' -f1)
python3 - "$D/state/audit.log" "$run" <<'PY'
import sys
t = {}
for line in open(sys.argv[1], errors="replace"):
    f = line.split("\t")
    if len(f) > 5 and f[5].startswith("run %s " % sys.argv[2]):
        t.setdefault(f[2], int(f[1]))
print("figure: an idle capture of duration 3s, requested to applied (the agent's audit): %d ms"
      % ((t["action"] - t["run_requested"]) // 1000))
PY
EV=$D/state/evidence/0
[ "$(stat -c %a "$EV")" = 700 ] && ok "evidence directory 0700" || bad "evidence dir mode $(stat -c %a "$EV")"
ls "$EV"/capture-*.pcap >/dev/null 2>&1 && [ "$(stat -c %a "$EV"/capture-*.pcap | sort -u)" = 600 ] && ok "capture files 0600" ||
        bad "capture files: $(ls -l "$EV")"
P1=$(ls "$EV"/capture-*.pcap | head -1)
n=$(tcpdump -nr "$P1" 2>/dev/null | grep -c "isakmp\|UDP-encap\|\.500 >\|\.4500 >")
[ "$n" = 4 ] && ok "tcpdump reads 4 IKE packets from $(basename "$P1")" || bad "tcpdump: $(tcpdump -nr "$P1" 2>&1 | head -5)"
out=$(agent_ctl evidence 0) && grep -q "incident 0: 2 file(s)" <<<"$out" && grep -q "$(basename "$P1")" <<<"$out" &&
        ok "ikehealctl evidence lists both captures" || bad "evidence: $out"
agent_ctl --json evidence 0 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["schema"] == 1 and d["incident"] == 0 and len(d["files"]) == 2, d
assert all(isinstance(f["size"], int) and f["name"].endswith(".pcap") for f in d["files"]), d' &&
        ok "evidence --json: schema 1, numbers, a list of files" || bad "evidence --json: $(agent_ctl --json evidence 0)"
same_copies() {
        local f
        for f in "$EV"/*.pcap; do
                cmp -s "$f" "$D/out/$(basename "$f")" && [ "$(stat -c %a "$D/out/$(basename "$f")")" = 600 ] || return 1
        done
}
agent_ctl evidence 0 --export "$D/out" >/dev/null && [ "$(stat -c %a "$D/out")" = 700 ] && same_copies &&
        ok "evidence --export: identical copies, 0600 in a 0700 directory" || bad "export: $(ls -l "$D/out" 2>&1)"
agent_ctl evidence 0 --export "$D/out" >/dev/null 2>&1 && bad "export overwrote existing files" || ok "export never overwrites"
out=$(setpriv --reuid=65534 --regid=65534 --groups="$(getent group "$GRD" | cut -d: -f3)" "$B/ikehealctl" --socket "$AGENT_SOCK" evidence 0 2>&1) &&
        bad "a reader listed the evidence" || ok "refused for a reader: $out"

# bounded by its byte limit (the action alone): a 1K file cannot hold one handshake
mkdir -m 0700 "$D/state2"
printf '%s\n' "{netns: $GW_NS, duration: 20s, bytes: 1K}" >"$D/cap.yaml"
"$B/tools/action-run" --state-dir "$D/state2" --timeout 30000 capture apply "$D/cap.yaml" >"$D/cap.out" 2>&1 &
cpid=$!
sleep 0.5
handshake
wait "$cpid" && grep -q "(ended by the byte limit)" "$D/cap.out" && P2=$(ls "$D"/state2/evidence/0/*.pcap) &&
        [ "$(stat -c %s "$P2")" -le 1024 ] && tcpdump -nr "$P2" >/dev/null 2>&1 &&
        ok "ended by its byte limit: $(stat -c %s "$P2") bytes, $(tcpdump -nr "$P2" 2>/dev/null | wc -l) packet(s), read by tcpdump" ||
        bad "byte limit: $(cat "$D/cap.out")"

# the disk budget: refused when the log's file system has less free than it, nothing written
printf '%s\n' "{subsystems: [enc=2], loggers: [charon.filelog.lab], dropin: $DROPIN, disk_budget: 1000T, log_path: $D}" >"$D/p.yaml"
out=$("$B/tools/action-run" --vici "$GW_VICI" log_level apply "$D/p.yaml" 2>&1) && bad "a budget beyond the free space was accepted" ||
        { grep -q "less than the disk budget" <<<"$out" && [ ! -e "$DROPIN" ] && ok "disk budget: $(grep detail <<<"$out")" || bad "budget: $out"; }
echo "charon { filelog { lab { enc = 1 } } }" >"$DROPIN"
printf '%s\n' "{subsystems: [enc=2], loggers: [charon.filelog.lab], dropin: $DROPIN}" >"$D/p.yaml"
out=$("$B/tools/action-run" --vici "$GW_VICI" log_level apply "$D/p.yaml" 2>&1) && bad "a foreign drop-in was replaced" ||
        { grep -q "exists already" <<<"$out" && grep -q "enc = 1" "$DROPIN" && ok "a drop-in not ikeheald's: apply refused" || bad "apply: $out"; }
out=$("$B/tools/action-run" --vici "$GW_VICI" log_level revert "$D/p.yaml" 2>&1) && bad "a foreign drop-in was removed" ||
        { grep -q "left in place" <<<"$out" && [ -e "$DROPIN" ] && ok "and revert leaves it in place" || bad "revert: $out"; }
rm -f "$DROPIN"
sed -e 's/enc=2/enc=9/' -e "s/name: log-raise/name: bad-level/" "$D/runbooks/log-raise.yaml" >"$D/bad.yaml"
out=$("$B/ikehealctl" lint --config "$D/c.yaml" "$D/bad.yaml" 2>&1) && bad "lint passed a level 9" ||
        { grep -q "bad.yaml:[0-9]*:[0-9]*:.*enc=9" <<<"$out" && ok "a bad level is located: $out" || bad "lint: $out"; }

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" "$D/agent.log.1" && bad "sanitizer report" ||
        ok "no sanitizer report"
testlib_end
