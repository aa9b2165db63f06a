#!/usr/bin/env bash
# A damaged state log on the real lab: a strongSwan gateway, its nftables, ikeheald (sanitizer
# build) with the firewall check and a runbook whose `nft_open` step is a temporary measure.
#
#   measure in force    a rule drops UDP 500/4500; the runbook inserts tagged accept rules
#                       (a measure expiring in 20 s)
#   engine.log emptied  with the agent killed (SIGKILL): the next start refuses with exit 78
#                       and names the file; nothing was reverted, nothing started
#   --reset-state       starts; the damaged log is kept aside and the reset audited; the measure
#                       comes back from its side record (state_dir/owed) and the tagged rules
#                       are gone at its expiry (figure printed), not earlier
#   owed, log cut       a side record of a measure the (valid) log does not know: refused too
#   drills.log emptied  with a config_swap drill's fault in place and the agent killed: exit 78
#                       naming drills.log; --reset-state takes the drill back from its side
#                       record and removes the fault (swanctl.conf byte for byte again)
#   audit log           signed (HMAC key) and rotated every 2 KiB: `ikehealctl audit verify`
#                       walks the files as one chain (with the key: chain and HMACs; without:
#                       the chain, saying the HMACs were not checked); every tail mutation (last
#                       record deleted, last 3 cut, final newline dropped, a byte of the last
#                       line flipped, the file emptied) is BROKEN against the head record and
#                       against --head SEQ:HASH; the agent started on a damaged log says so at
#                       error level and by webhook, keeps it aside and begins a new chain;
#                       the audit check opens an incident of its own (integrity,
#                       audit_damaged) that survives a restart and resolves only once a person
#                       has moved the kept file out of the state directory
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-statedmg-XXXXXX)
SINK_PID=
cleanup() {
        agent_stop
        [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
gwnft() { ip netns exec "$GW_NS" nft "$@"; }
gwnft -f - <<'NFT'
table inet filter {
        chain input {
                type filter hook input priority 0; policy accept;
                ct state established,related accept
        }
}
NFT
tagged() { gwnft list ruleset | grep -c 'comment "ikeheal-open"'; }

mkdir -p "$D/rb"
cat >"$D/rb/open.yaml" <<'YAML'
version: 1
name: fw-open
match: {class: firewall}
grade: auto
steps:
  - name: open
    action: nft_open
    timeout: 30s
    expires_in: 20s
    verify: {action: true, within: 10s}
YAML
python3 "$top/tests/tools/webhook-sink.py" "$D/sink.port" "$D/sink.out" &
SINK_PID=$!
for _ in $(seq 100); do [ -s "$D/sink.port" ] && break; sleep 0.05; done
head -c 32 /dev/urandom >"$D/audit.key"
chmod 0600 "$D/audit.key"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
  runbook_dirs: [$D/rb]
  audit_key_file: $D/audit.key
audit: {rotate_size_kib: 2, keep: 100}
notify:
  webhooks:
    - {name: sink, url: "http://127.0.0.1:$(cat "$D/sink.port")/hook", timeout: 2s, retries: 3, backoff: 200ms}
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
  - kind: audit
drills:
  enabled: true
  dirs: [$D/drills]
YAML
mkdir -p "$D/drills"
cat >"$D/drills/syntax.yaml" <<'YAML'
version: 1
name: syntax
description: "state-damage test: a config fault left in place"
steady_state: {checks: [config]}
fault:
  kind: config_swap
  params: {append: "ikeheal-state-damage {"}
  expires_in: 90s
expect:
  class: daemon_config
  runbook: fw-open
  detect_within: 5s
  recover_within: 80s
YAML
cp "$GW_SWANCTL_CONF" "$D/good.conf"
# the same agent started with --reset-state: agent_start runs BUILD/ikeheald
mkdir -p "$D/reset"
printf '#!/bin/sh\nexec "%s/ikeheald" --reset-state "$@"\n' "$B" >"$D/reset/ikeheald"
chmod 0755 "$D/reset/ikeheald"
ln -s "$B/ikehealctl" "$D/reset/ikehealctl"

agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"

# --- a measure in force ---------------------------------------------------------------------
gwnft add rule inet filter input udp dport { 500, 4500 } drop
agent_wait_run fw-open succeeded 20000 >/dev/null && ok "nft_open ran and verified" || bad "no measure: $(agent_run_of fw-open)"
[ "$(tagged)" -ge 2 ] && ok "tagged accept rules in force ($(tagged))" || bad "tagged rules: $(tagged)"
expires=$(agent_ctl measures --json | python3 -c 'import json,sys; m={str(x["id"]): x for x in json.load(sys.stdin)["measures"] or []}; from datetime import datetime as D
print(int(D.fromisoformat(next(iter(m.values()))["expires"].replace("Z", "+00:00")).timestamp()))')
ls "$D/state/owed/" 2>/dev/null | grep -q '^measure-[0-9]*$' && ok "the measure has its side record: $(ls "$D/state/owed")" ||
        bad "no owed record: $(ls -la "$D/state" "$D/state/owed" 2>&1)"

# --- the agent killed, engine.log emptied: refused ------------------------------------------
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
cp "$D/agent.log" "$D/agent-1.log"
: >"$D/state/engine.log"
# the operator has fixed the firewall by hand meanwhile: nothing needs the measure any more
h=$(gwnft -a list chain inet filter input | sed -n 's/.*udp dport { 500, 4500 } drop # handle \([0-9]*\)/\1/p')
gwnft delete rule inet filter input handle "$h"
timeout 20 "$B/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent-refused.log" 2>&1
rc=$?
[ "$rc" = 78 ] && ok "the start is refused with exit 78" || bad "exit status $rc: $(tail -5 "$D/agent-refused.log")"
grep -q "$D/state/engine.log is damaged" "$D/agent-refused.log" && ok "it names the file: $(grep -o 'state log .*is damaged: [^(]*' "$D/agent-refused.log" | head -1)" ||
        bad "no path in: $(cat "$D/agent-refused.log")"
[ -e "$D/state/engine.log" ] && [ ! -s "$D/state/engine.log" ] && ok "the emptied log is left as it was" || bad "engine.log changed"
[ "$(tagged)" -ge 2 ] && ok "nothing reverted by the refused start" || bad "tagged rules changed: $(tagged)"

# --- --reset-state: started, audited, the owed revert done on time --------------------------
agent_start "$D" "$D/c.yaml" "$D/reset" || exit 1
up=$(ms) # answering again; on a loaded machine this may be after the measure's expiry
ls "$D"/state/engine.log.broken-* >/dev/null 2>&1 && ok "the damaged log is kept aside: $(cd "$D/state" && ls engine.log.broken-*)" ||
        bad "no engine.log.broken-*"
agent_ctl audit 100 | grep -q "state_reset.*engine.log" && ok "the reset is audited" || bad "audit: $(agent_ctl audit 20)"
agent_ctl audit 100 | grep -q "recovery.*taken back from its side record" && ok "the measure taken back is audited" ||
        bad "audit lacks the recovery: $(agent_ctl audit 20)"
now_s=$(date +%s)
if [ "$now_s" -lt $((expires - 2)) ]; then
        agent_ctl measures | grep -q "nft_open.*active" && ok "the measure is in force again: $(agent_ctl measures | grep nft_open)" ||
                bad "measures: $(agent_ctl measures all)"
        [ "$(tagged)" -ge 2 ] && ok "not reverted before its expiry" || bad "reverted early"
else
        echo "the agent answered again $((up - expires * 1000)) ms after the measure's expiry (negative: before it), too late to see it in force"
fi
t0=$(ms)
while [ "$(tagged)" != 0 ]; do [ $(($(ms) - t0)) -gt 40000 ] && break; sleep 0.05; done
gone=$(ms)
[ "$(tagged)" = 0 ] && ok "the tagged rules are gone" || bad "tagged rules still there: $(tagged)"
due=$((expires * 1000 > up ? expires * 1000 : up)) # the expiry, or the restart if that came later
late=$((gone - due))
echo "figure: owed revert after --reset-state: rules gone ${late} ms after it was due (the expiry, in whole seconds: ±1 s, or the restart)"
[ "$late" -lt 5000 ] && ok "…on time (within 5 s of the expiry, or of the restart when that came later)" ||
        bad "reverted ${late} ms after it was due"
t0=$(ms)
until agent_ctl measures all | grep -q "nft_open.*reverted"; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
agent_ctl measures all | grep -q "nft_open.*reverted" && ok "recorded as reverted in the new log" || bad "measures all: $(agent_ctl measures all)"
ls "$D/state/owed" | grep -q measure- && bad "the side record stays: $(ls "$D/state/owed")" || ok "its side record is removed"
agent_stop && ok "agent stopped cleanly" || bad "agent exit status"

# --- a side record the log does not know: refused as well ------------------------------------
printf 'not a record' >"$D/state/owed/measure-99"
timeout 20 "$B/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent-refused-2.log" 2>&1
rc=$?
[ "$rc" = 78 ] && grep -q "owed/measure-99" "$D/agent-refused-2.log" && ok "an owed record nobody knows: exit 78 naming it" ||
        bad "exit $rc: $(tail -3 "$D/agent-refused-2.log")"
rm -f "$D/state/owed/measure-99"
agent_start "$D" "$D/c.yaml" "$B" && ok "restarts once it is gone" || bad "no restart"
agent_stop
grep -q '"event": *"state_reset"' "$D/sink.out" && ok "the state reset went to the webhook" || bad "webhooks: $(cat "$D/sink.out")"

# --- a drill's fault in place, the agent killed, drills.log emptied --------------------------
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
broken() { grep -q "ikeheal-state-damage" "$GW_SWANCTL_CONF"; }
for _ in $(seq 150); do out=$(agent_ctl drill run syntax 2>&1) && break; sleep 0.2; done
t0=$(ms)
until broken; do [ $(($(ms) - t0)) -gt 10000 ] && break; sleep 0.05; done
broken && ok "the drill's fault is in place" || bad "drill did not inject: $out"
ls "$D/state/owed" | grep -q '^drill-[0-9]*$' && ok "the drill has its side record: $(ls "$D/state/owed")" || bad "owed: $(ls "$D/state/owed")"
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
: >"$D/state/drills.log"
timeout 20 "$B/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent-refused-3.log" 2>&1
rc=$?
[ "$rc" = 78 ] && grep -q "$D/state/drills.log is damaged" "$D/agent-refused-3.log" && ok "emptied drills.log: exit 78 naming it" ||
        bad "exit $rc: $(tail -3 "$D/agent-refused-3.log")"
broken && ok "the fault is still there after the refused start" || bad "fault removed by a refused start?"
agent_start "$D" "$D/c.yaml" "$D/reset" || exit 1
t0=$(ms)
while broken; do [ $(($(ms) - t0)) -gt 15000 ] && break; sleep 0.05; done
cmp -s "$GW_SWANCTL_CONF" "$D/good.conf" && ok "--reset-state: the drill taken back, its fault removed byte for byte ($(($(ms) - t0)) ms)" ||
        bad "swanctl.conf not restored: $(diff "$D/good.conf" "$GW_SWANCTL_CONF" | head -3)"
agent_ctl audit 100 | grep -q "recovery.*drill .* taken back from its side record" && ok "audited" || bad "audit: $(agent_ctl audit 10)"
t0=$(ms)
until ! ls "$D/state/owed" | grep -q drill-; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
ls "$D/state/owed" | grep -q drill- && bad "the drill's side record stays" || ok "its side record is removed"
agent_stop

# --- the audit log: rotated, verified as one chain, every tail mutation found ----------------
verify() { "$B/ikehealctl" audit verify "$@"; }
out=$(verify "$D/state/audit.log" "$D/audit.key") && echo "$out" | grep -q "chain and HMACs intact" &&
        echo "$out" | grep -q "in [0-9]* file(s)" && ! echo "$out" | grep -q "in 1 file(s)" &&
        ok "signed, rotated log verifies as one chain: ${out#*: }" || bad "verify: $out"
HEAD=$(echo "$out" | sed -n 's/.*; head \([0-9]*:[0-9a-f]*\).*/\1/p')
out=$(verify "$D/state/audit.log") && echo "$out" | grep -q "HMACs NOT checked" &&
        ok "without the key: chain verified, HMACs said not checked" || bad "keyless verify: $out"
verify "$D/state/audit.log" "$D/audit.key" --head "$HEAD" >/dev/null && ok "verifies against --head $HEAD" || bad "--head $HEAD"
mutate() { # NAME: a copy of the log with its tail mutated, in $D/av
        rm -rf "$D/av"; mkdir "$D/av"; cp -a "$D"/state/audit.log* "$D/av/"
        local f=$D/av/audit.log n
        case $1 in
        delete-last) n=$(wc -l <"$f"); head -n $((n - 1)) "$f" >"$f.t" && mv "$f.t" "$f" ;;
        cut-3) n=$(wc -l <"$f"); head -n $((n - 3)) "$f" >"$f.t" && mv "$f.t" "$f" ;;
        drop-newline) truncate -s -1 "$f" ;;
        flip-last-line) python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-5]^=1; open(p,"wb").write(b)' "$f" ;;
        empty) : >"$f" ;;
        esac
}
for m in delete-last cut-3 drop-newline flip-last-line empty; do
        mutate $m
        o1=$(verify "$D/av/audit.log" "$D/audit.key"); r1=$?
        o2=$(verify "$D/av/audit.log" --head "$HEAD"); r2=$?
        [ $r1 = 1 ] && [ $r2 = 1 ] && echo "$o1" | grep -q BROKEN && echo "$o2" | grep -q BROKEN &&
                ok "$m: BROKEN with the head record and with --head (${o1#*BROKEN})" || bad "$m: $o1 / $o2"
done

# --- the agent on a damaged audit log: loud, kept aside, a new chain ------------------------
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-5]^=1; open(p,"wb").write(b)' "$D/state/audit.log"
: >"$D/sink.out"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
grep -q "audit log $D/state/audit.log is DAMAGED" "$D/agent.log" && ok "said at error level: $(grep -o 'is DAMAGED: [^;]*' "$D/agent.log")" ||
        bad "no error: $(grep -i audit "$D/agent.log")"
ls "$D"/state/audit.log.broken-* >/dev/null 2>&1 && ok "kept aside with its head and rotated files ($(ls "$D"/state/ | grep -c 'audit.log.broken-') files)" ||
        bad "not kept aside"
agent_ctl audit 5 | grep -q "audit_broken" && ok "the new chain begins with a record saying why" || bad "audit: $(agent_ctl audit 5)"
t0=$(ms)
until grep -q '"event": *"audit_broken"' "$D/sink.out" 2>/dev/null; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
grep -q '"event": *"audit_broken"' "$D/sink.out" && ok "and to the webhook" || bad "webhooks: $(cat "$D/sink.out")"
integrity() { # "id state reason" of the active integrity incident
        agent_ctl incidents active --json | python3 -c '
import json, sys
for i in json.load(sys.stdin).get("incidents") or []:
    if i["class"] == "integrity":
        print(i["id"], i["state"], i.get("reason"))'
}
t0=$(ms)
until [ -n "$(integrity)" ]; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
set -- $(integrity) x x x
[ "$3" = audit_damaged ] && ok "an incident of its own: integrity/audit_damaged (incident $1)" || bad "no integrity incident: $(agent_ctl incidents active)"
agent_ctl incidents "$1" | grep -q "kept aside as $D/state/audit.log.broken-" && ok "it names the file kept aside" ||
        bad "incident: $(agent_ctl incidents "$1")"
agent_stop
agent_start "$D" "$D/c.yaml" "$B" || exit 1
t0=$(ms)
until [ -n "$(integrity)" ]; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
[ -n "$(integrity)" ] && ok "still open after a restart: the file is still there" || bad "the integrity incident did not survive a restart"
mkdir "$D/inspected" && mv "$D"/state/audit.log.broken-* "$D/inspected/"
t0=$(ms)
until [ -z "$(integrity)" ]; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
[ -z "$(integrity)" ] && agent_ctl incidents "$1" | grep -q "^Incident: .*(resolved)" &&
        ok "resolved once a person moved the file out of the state directory" || bad "integrity incident stays: $(agent_ctl incidents "$1" | head -3)"
agent_stop
verify "$D/state/audit.log" "$D/audit.key" >/dev/null && ok "the new chain verifies" || bad "new chain: $(verify "$D/state/audit.log" "$D/audit.key")"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D"/agent*.log && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
