#!/usr/bin/env bash
# Chaos drills end to end on the real lab (tests/lab/drills.sh): ikeheald (sanitizer build) with
# every check at a 1 s interval, the shipped runbooks and the shipped drills (paths rewritten to
# the lab's), two road-warrior clients that keep reconnecting.
#
#   refusals       drills disabled; an active incident (named); a drill that does not exist
#   dry run        the plan is shown, nothing changes (no nftables table, files identical)
#   every drill    the lab can host passes both SLOs (its verdict, TTD and TTR printed), and
#                  its fault is gone afterwards (the drill table, the injected file content)
#   unrelated      an incident of another class opening mid-drill aborts it; fault removed
#   abort          an operator's abort removes the fault at once
#   accept         a renewed certificate: drift, drills refused, `ikehealctl accept` makes it
#                  the last-good state
#   schedule       a window open now: the agent starts the drill itself within a minute
#   report         history and per-class scores; every drill on the audit trail
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/drills.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-drills-XXXXXX)
trap 'dlab_down; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM HUP

dlab_up "$D" "$B" || { echo "FAIL the drill lab did not come up"; exit 1; }
ok "lab, drill files and agent up (checks every 1 s, drills enabled with auto_approve)"
nft_drill_table() { ip netns exec "$GW_NS" nft list table inet ikeheal_drill >/dev/null 2>&1; }
steady_wait() { # until a drill would start: no active incident (at most 60 s)
        for _ in $(seq 600); do [ -z "$(agent_ctl incidents active --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("active") or "")')" ] && return 0; sleep 0.1; done
        return 1
}

# --- refusals ------------------------------------------------------------------------------
out=$(agent_ctl drill run no-such-drill 2>&1) && bad "an unknown drill ran" ||
        { grep -q "no drill named 'no-such-drill'" <<<"$out" && ok "unknown drill refused" || bad "unknown: $out"; }
agent_ctl drill list | grep -q "firewall-drop-4500 .*nft_drop .*firewall -> firewall-restore" &&
        ok "drill list: the shipped drills with their expectation" || bad "list: $(agent_ctl drill list)"

cp "$GW_SWANCTL_CONF" "$D/good.conf"
out=$(agent_ctl drill run firewall-drop-4500 --dry-run 2>&1)
if grep -q "nothing was changed" <<<"$out" && grep -q "ikeheal_drill" <<<"$out" && ! nft_drill_table; then
        ok "dry run: $(grep -c '' <<<"$out") lines of plan, nothing changed"
else
        bad "dry run: $out"
fi

printf 'broken-by-hand {\n' >>"$GW_SWANCTL_CONF"
lab_swanctl "$D/lab" gw --load-all >/dev/null 2>&1
agent_wait_incident daemon_config - 15000 >/dev/null || bad "no daemon_config incident from a hand-made syntax error"
out=$(agent_ctl drill run firewall-drop-4500 2>&1) && bad "a drill started during an incident" ||
        { grep -q "incident [0-9]* (daemon_config" <<<"$out" && ok "refused while incident is active: ${out#*: }" || bad "refusal: $out"; }
nft_drill_table && bad "the refused drill left a table"
cp "$D/good.conf" "$GW_SWANCTL_CONF" && lab_reload "$D/lab" gw >/dev/null
# the pending config-rollback run from that incident is denied so nothing else happens
r=$(agent_run_of config-rollback) && [ -n "$r" ] && agent_ctl deny "${r%% *}" --reason "test: repaired by hand" >/dev/null 2>&1
agent_wait_resolved daemon_config 30000 >/dev/null && ok "repaired by hand, incident resolved" || bad "daemon_config still active"
steady_wait || bad "incidents still active"
# With auto_approve the config-rollback may have run before the hand repair: whatever it and the
# repair left differing from the last-good manifest is a deliberate state now, accepted as such
# (else the config check warns of drift and every drill is refused)
for _ in $(seq 30); do agent_ctl checks | grep -q "^ok *config " && break; sleep 0.1; done
if agent_ctl checks | grep -q "^warn *config "; then
        agent_ctl accept --reason "test: repaired by hand" >/dev/null 2>&1 || bad "accept after the hand repair"
fi

# --- every drill the lab can host ------------------------------------------------------------
for n in $DLAB_DRILLS; do
        before=$(sha256sum "$GW_SWANCTL_CONF" | cut -c1-16)
        v=$(dlab_drill "$n" 240) || { bad "$n: no verdict"; continue; }
        set -- $v
        if [ "$2" = passed ]; then
                ok "drill $1 $n passed: TTD $3 ms, TTR $4 ms"
        else
                bad "drill $1 $n $2: ${5//_/ }"
        fi
        nft_drill_table && bad "$n: the drill table is still there"
        grep -q "ikeheal-drill" "$GW_SWANCTL_CONF" && bad "$n: the injected syntax error is still in swanctl.conf"
        agent_ctl drill report "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["drill"]
assert d["fault"]["state"] == "removed", d["fault"]
' || bad "$n: fault not recorded as removed"
done

# --- drill run --wait: the command follows the drill to its verdict ---------------------------
steady_wait
t0=$(date +%s)
while :; do
        out=$(agent_ctl drill run firewall-drop-4500 --wait 2>&1); rc=$?
        # refused at the start (the gateway still settling): nothing was followed, try again
        grep -q "^ikehealctl: drill: " <<<"$out" && [ $(($(date +%s) - t0)) -lt 90 ] || break
        sleep 1
done
_dlab_primary_back
[ $rc = 0 ] && grep -q "passed" <<<"$out" && grep -q "TTD [0-9]* ms (SLO [0-9]* ms) met *TTR [0-9]* ms (SLO [0-9]* ms) met" <<<"$out" &&
        ok "drill run --wait: back with the verdict, exit 0: $(grep -o 'TTD.*' <<<"$out")" || bad "drill run --wait: rc=$rc: $out"
nft_drill_table && bad "--wait: the drill table is still there"

# --- an unrelated incident aborts the drill --------------------------------------------------
# The unrelated fault is the expired gateway certificate the lab made beforehand, so that it lands
# the moment the drill has started. The drill is proposal-mismatch, whose recovery takes seconds:
# a firewall drill heals in 200-900 ms, which can be before the certificate check's next run (1 s),
# and the drill then passes before anything unrelated happened.
steady_wait
cp "$GW_SWANCTL_CONF" "$D/before-unrelated.conf"
agent_ctl drill run proposal-mismatch >/dev/null 2>&1 || bad "proposal drill refused for the abort test"
cp -f "$D/files/gateway-expired.pem" "$GW_CERT.tmp" && mv -f "$GW_CERT.tmp" "$GW_CERT" # nobody drilled it
for _ in $(seq 50); do grep -q "aes128-sha1-modp3072" "$GW_SWANCTL_CONF" && break; sleep 0.1; done
for _ in $(seq 300); do
        ph=$(agent_ctl drill report --json | python3 -c 'import json,sys; h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; print(h[max(h, key=int)]["phase"])')
        [ "$ph" = aborted ] && break; sleep 0.1
done
note=$(agent_ctl drill report --json | python3 -c 'import json,sys; h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; print(h[max(h, key=int)]["note"])')
[ "$ph" = aborted ] && grep -q "unrelated incident [0-9]* (certificate)" <<<"$note" &&
        ok "unrelated incident aborted the drill: ${note%%;*}" || bad "unrelated: $ph $note"
for _ in $(seq 100); do cmp -s "$D/before-unrelated.conf" "$GW_SWANCTL_CONF" && break; sleep 0.1; done
cmp -s "$D/before-unrelated.conf" "$GW_SWANCTL_CONF" && ok "the aborted drill's fault is gone: swanctl.conf as before" ||
        bad "the aborted drill's proposal is still in swanctl.conf"
_dlab_primary_back # the very certificate it was: no drift from the last-good configuration
# cert-standby may be pending for that incident: deny it, the certificate is repaired by hand
for _ in $(seq 50); do r=$(agent_run_of cert-standby); [ -n "$r" ] && break; sleep 0.1; done
[ "$(cut -d' ' -f2 <<<"$r")" = pending ] && agent_ctl deny "${r%% *}" --reason "test: repaired by hand" >/dev/null 2>&1
agent_wait_resolved certificate 30000 >/dev/null || bad "certificate incident still active"

# --- an operator's abort ---------------------------------------------------------------------
steady_wait
cp "$GW_SWANCTL_CONF" "$D/before-abort.conf"
out=$(agent_ctl drill run proposal-mismatch 2>&1) || bad "proposal drill refused: $out"
for _ in $(seq 50); do grep -q "aes128-sha1-modp3072" "$GW_SWANCTL_CONF" && break; sleep 0.1; done
out=$(agent_ctl guard begin --reason "during a drill" 2>&1) && bad "a guarded change begun during a drill" ||
        { grep -q "refused: a drill is in progress" <<<"$out" && ok "a guarded change is refused during a drill" || bad "guard: $out"; }
out=$(agent_ctl drill abort --reason "test: operator abort" 2>&1) && ok "abort: $out" || bad "abort: $out"
for _ in $(seq 100); do cmp -s "$D/before-abort.conf" "$GW_SWANCTL_CONF" && break; sleep 0.1; done
cmp -s "$D/before-abort.conf" "$GW_SWANCTL_CONF" && ok "aborted: swanctl.conf byte-identical to before the drill" ||
        bad "swanctl.conf not restored after the abort"
# the file is back before the removal's reload has finished and the drill is recorded over
for _ in $(seq 100); do agent_ctl drill status | grep -q "no drill in progress" && break; sleep 0.1; done
agent_ctl drill status | grep -q "no drill in progress" && ok "no drill in progress" || bad "status: $(agent_ctl drill status)"

# --- a deliberate change, accepted as the new last-good state --------------------------------
config_is() { for _ in $(seq 100); do agent_ctl checks | grep -q "^$1 *config " && return 0; sleep 0.1; done; return 1; }
steady_wait
lab_gw_cert "$D/lab" valid >/dev/null 2>&1 && rm -f "$GW_SWANCTL_DIR/gw.pem.prev" # a renewed certificate
config_is warn && ok "a renewed certificate: the config check warns of drift" || bad "no drift warning: $(agent_ctl checks | grep config)"
out=$(agent_ctl drill run firewall-drop-4500 2>&1) && bad "a drill started on a drifted gateway" ||
        { grep -q "last-good state is not recorded yet" <<<"$out" && ok "drills refused meanwhile: ${out#*refused: }" ||
                bad "drift refusal: $out"; }
agent_ctl accept >/dev/null 2>&1 && bad "accept without a reason" || ok "accept needs a reason"
out=$(agent_ctl accept --reason "test: certificate renewed" 2>&1) && ok "accept: $out" || bad "accept: $out"
config_is ok && ok "config check OK against the accepted state" || bad "still: $(agent_ctl checks | grep config)"
grep -q "accept.*accepted as last good by uid 0 (root): test: certificate renewed; warnings accepted: config" "$D/state/audit.log" &&
        ok "audit: the acceptance with the warnings it accepted" || bad "no accept record in the audit log"
cp -f "$GW_CERT" "$D/gw-good.pem" # the harness's own idea of the gateway's certificate follows

# --- a scheduled window --------------------------------------------------------------------
# a window open all week: the agent itself starts the drill at its next minute's tick (a drill
# of its own: the others ran less than `every` ago)
sed 's/^name: firewall-drop-4500$/name: scheduled-drop/' "$D/drills/firewall-drop-4500.yaml" >"$D/drills/scheduled-drop.yaml"
cat >>"$D/ikeheal.yaml" <<YAML
  schedule:
    - drill: scheduled-drop
      every: 1h
      window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "23:59", timezone: utc}
YAML
out=$(agent_ctl reload 2>&1) || bad "reload with a schedule: $out"
sched=
for _ in $(seq 900); do
        sched=$(agent_ctl drill report --json | python3 -c 'import json,sys
h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}
for k in sorted(h, key=int):
    d=h[k]
    if d["scheduled"] is True and d["phase"] in ("passed", "failed", "aborted"):
        print(k, d["phase"], d["requested_by"])')
        [ -n "$sched" ] && break
        sleep 0.1
done
set -- $sched
[ "${2:-}" = passed ] && [ "${3:-}" = schedule ] && ok "scheduled: drill $1 started by the agent in its window, passed" ||
        bad "no scheduled drill passed within 90 s: ${sched:-none}"

# --- report, scores, audit -------------------------------------------------------------------
rep=$(agent_ctl drill report)
echo "$rep" | sed 's/^/     | /'
grep -q "^  firewall .*/100" <<<"$rep" && ok "report: a weighted score per fault class" || bad "no class scores"
agent_ctl drill report --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["history"] and d["scores"]' &&
        ok "report --json: history and scores" || bad "report --json"
# every drill on the audit trail: its start and its verdict (the log itself: more than `audit` shows)
n=$(agent_ctl drill report --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}))')
miss=
for i in $(seq "$n"); do
        grep -q "drill $i ([a-z0-9-]*) started by uid" "$D/state/audit.log" &&
                grep -qE "drill $i \([a-z0-9-]*\) (passed|failed|aborted)" "$D/state/audit.log" || miss="$miss $i"
done
[ "$n" -ge 10 ] && [ -z "$miss" ] && ok "audit: all $n drills recorded, start and verdict" || bad "audit: $n drills, missing:$miss"

dlab_down
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
