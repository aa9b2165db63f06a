#!/usr/bin/env bash
# A fault that comes back while its runbook cools down, on the real lab: a stale CRL in the
# gateway's x509crl/ (a real CRL of the lab CA, nextUpdate passed) is healed by an auto
# crl_cache runbook (cooldown 30s, budget 2 runs an hour) from an HTTP server on loopback. The
# stale CRL is put back at once: the re-opened incident is HELD — an audit record and a
# notification (a webhook sink on loopback) saying "held: … cooldown until T", nothing run —
# and decided when the cooldown ends (run 2). Put back a third time with the budget spent: it
# is escalated at once, not held for the cooldown. Nothing else changes meanwhile.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-cooldown-XXXXXX)
HTTP= SINK=
cleanup() {
        agent_stop
        [ -n "$HTTP" ] && kill "$HTTP" 2>/dev/null && wait "$HTTP" 2>/dev/null
        [ -n "$SINK" ] && kill "$SINK" 2>/dev/null && wait "$SINK" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
P=$((24000 + $$ % 9000))
mkdir -p "$D/www" "$D/rb" "$GW_SWANCTL_DIR/x509crl"
pki --signcrl --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" --lifetime 7 --outform der >"$D/www/fresh.crl" 2>/dev/null &&
        pki --signcrl --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" --this-update "$(date -u -d '-10 days' '+%d.%m.%y %T')" \
                --next-update "$(date -u -d '-1 day' '+%d.%m.%y %T')" --outform der >"$D/www/stale.crl" 2>/dev/null ||
        { echo "pki --signcrl failed"; exit 1; }
(cd "$D/www" && exec python3 -m http.server "$P" --bind 127.0.0.1) >/dev/null 2>&1 &
HTTP=$!
python3 "$top/tests/tools/webhook-sink.py" "$D/sink.port" "$D/sink.out" &
SINK=$!
for _ in $(seq 100); do [ -s "$D/sink.port" ] && (echo >/dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.05; done
cp "$D/www/fresh.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl"
cat >"$D/rb/crl-cache-test.yaml" <<YAML
version: 1
name: crl-cache-test
description: a stale CRL — cache a fresh one (cooldown and budget short enough for a test)
match:
  class: revocation
  reason: crl_stale
grade: auto
cooldown: 30s
budget: {runs: 2, window: 1h}
steps:
  - name: cache
    action: crl_cache
    timeout: 30s
    verify: {action: true, within: 10s}
notify:
  when: [succeeded, failed, escalated]
YAML
{ agent_yaml_head "$D" "$D/rb"; cat <<YAML
checks:
  - kind: revocation
    interval: 1s
    params: {swanctl_dir: $GW_SWANCTL_DIR, crl_urls: ["http://127.0.0.1:$P/fresh.crl"], http_timeout: 1s}
notify:
  webhooks:
    - {name: sink, url: "http://127.0.0.1:$(cat "$D/sink.port")/hook", timeout: 2s}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"

n_runs() { agent_ctl runs --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}))'; }
run_states() { agent_ctl runs --json | python3 -c '
import json, sys
r = {str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
print(" ".join(r[k]["state"] for k in sorted(r, key=int)))'; }
sink_events() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["event"], e.get("incident", ""), e["text"].replace("\n", " "))' "$D/sink.out" 2>/dev/null; }
stale() { cp "$D/www/stale.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl"; }
tree_state() { (cd "$GW_SWANCTL_DIR" && find . -type f -printf '%m %U:%G %p\n' | sort && find . -type f -exec sha256sum {} + | sort); }

# 1: healed by run 1
stale
ALL=1 agent_wait_incident revocation - 8000 >/dev/null && ok "stale CRL: revocation incident" || bad "no incident"
agent_wait_run crl-cache-test succeeded 20000 >/dev/null && ok "run 1 cached the fresh CRL" || bad "run 1: $(run_states)"
agent_wait_resolved revocation 10000 >/dev/null && ok "resolved" || bad "not resolved"

# 2: back within the cooldown: held, said, decided when the cooldown ends
stale
before=$(tree_state)
res=$(agent_wait_incident revocation - 8000) && ok "the stale CRL is back: incident re-opened" || bad "no re-opened incident"
id=$(sed -n 's/.* id=\([0-9]*\) .*/\1/p' <<<"$res")
for _ in $(seq 60); do agent_ctl audit 30 | grep -q "incident $id (revocation) held: runbook crl-cache-test in cooldown until" && break; sleep 0.1; done
rec=$(agent_ctl audit 30 | grep "incident $id (revocation) held")
[ -n "$rec" ] && ok "audit: $(grep -o 'held: .*' <<<"$rec" | head -1)" || bad "no hold record: $(agent_ctl audit 10)"
for _ in $(seq 60); do sink_events | grep -q "^held $id " && break; sleep 0.1; done
sink_events | grep -q "^held $id .*cooldown until" && ok "notified: $(sink_events | grep "^held $id" | head -1 | cut -c1-140)" ||
        bad "no held notification: $(sink_events | tr '\n' '|')"
until_s=$(date -d "$(grep -o 'until [0-9T:-]*Z' <<<"$rec" | head -1 | cut -d' ' -f2)" +%s 2>/dev/null || echo 0)
# read first, then the clock: if the hold still runs after, they were read during it
nr=$(n_runs) ts=$(tree_state)
if [ "$(date +%s)" -lt "$until_s" ]; then
        [ "$nr" = 1 ] && [ "$ts" = "$before" ] && ok "while held: no run, nothing changed" || bad "runs while held: $nr"
fi
[ "$(agent_ctl audit 60 | grep -c "incident $id (revocation) held")" = 1 ] && ok "said once, not at every check round" ||
        bad "hold said $(agent_ctl audit 60 | grep -c "incident $id (revocation) held") times"
t0=$(_agent_ms)
until [ "$(run_states)" = "succeeded succeeded" ] || [ $(($(_agent_ms) - t0)) -gt 60000 ]; do sleep 0.5; done
created2=$(agent_ctl runs --json | python3 -c '
import json, sys
from datetime import datetime as D
sec = lambda t: int(D.fromisoformat(t.replace("Z", "+00:00")).timestamp()) if t else 0
r = {str(x["id"]): x for x in json.load(sys.stdin)["runs"] or []}
k = sorted(r, key=int)
print(sec(r[k[1]]["created"]) if len(k) > 1 else 0)')
[ "$(run_states)" = "succeeded succeeded" ] && [ "$until_s" -gt 0 ] && [ "$created2" -ge "$until_s" ] &&
        ok "cooldown over: run 2, started at the end of the hold ($created2 ≥ $until_s), healed it" ||
        bad "after the cooldown: $(run_states), run 2 created $created2, hold until $until_s"
agent_wait_resolved revocation 10000 >/dev/null && ok "resolved" || bad "not resolved"

# 3: back within the cooldown with the budget spent: escalated at once
t0=$(_agent_ms)
t3=$(date +%s)
stale
res=$(agent_wait_incident revocation - 8000) || bad "no incident"
id=$(sed -n 's/.* id=\([0-9]*\) .*/\1/p' <<<"$res")
for _ in $(seq 50); do [ "$(run_states)" = "succeeded succeeded escalated" ] && break; sleep 0.1; done
ms=$(($(_agent_ms) - t0))
set -- $(agent_ctl runs --json | python3 -c '
import json, sys
from datetime import datetime as D
sec = lambda t: int(D.fromisoformat(t.replace("Z", "+00:00")).timestamp()) if t else 0
r = {str(x["id"]): x for x in json.load(sys.stdin)["runs"] or []}
k = sorted(r, key=int)
print(sec(r[k[1]].get("finished")), sec(r[k[2]].get("finished")) if len(k) > 2 else 0)') 0 0
r2=$1 r3=$2
[ "$t3" -lt $((r2 + 30)) ] || bad "the fault came back only after run 2's cooldown (the test was too slow to tell)"
[ "$(run_states)" = "succeeded succeeded escalated" ] && [ "$r3" -gt 0 ] && [ "$r3" -lt $((r2 + 30)) ] &&
        ok "budget spent: escalated at once, within run 2's cooldown, not held for it (figure: ${ms} ms after the fault)" ||
        bad "budget spent: $(run_states) (run 2 ended $r2, run 3 decided $r3)"
agent_ctl runs --json | grep -q "budget" && ok "…saying why: $(agent_ctl runs --json | grep -o '"note": "[^"]*budget[^"]*' | tail -1 | cut -c10-120)" ||
        bad "no budget reason"
agent_ctl incidents "$id" | grep -q "escalated" && ok "incident $id is a human's now" || bad "incident: $(agent_ctl incidents "$id" | head -3)"
agent_ctl audit 30 | grep -q "incident $id (revocation) held" && bad "it was held first" || ok "no hold for it"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
