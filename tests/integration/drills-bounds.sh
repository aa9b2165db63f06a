#!/usr/bin/env bash
# A drill always ends, and a recovery is seen whenever it comes (real lab, sanitizer build): the
# certificate check alone, a cert_swap fault (an expired twin of the gateway's certificate), and
# a runbook of its own whose `exec` step puts the good certificate back without charon.
#
#   healed mid-apply   charon stopped (SIGSTOP), so the fault's apply hangs in swanctl's loads
#                      after its file is written: the file opens the incident, the runbook heals
#                      it and its run succeeds while the drill is still injecting; charon
#                      continued, the apply returns — the drill must settle and pass (it used to
#                      watch for a recovery that was already over until abort.after)
#   never healed       the same runbook at approve grade, nobody approves: the drill is given up
#                      at recover_within + its margin (failed, "given up"), long before
#                      abort.after, and its fault is removed (the file byte for byte)
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-drbounds-XXXXXX)
R=/run/ikh-drb-$$ # root-owned, 0755 all the way: the runbook's script may run from here
CHARON=
cleanup() {
        [ -n "$CHARON" ] && kill -CONT "$CHARON" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D" "$R"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }

lab_up "$D/lab" --clients 1 >/dev/null || { echo "FAIL lab did not come up"; exit 1; }
. "$D/lab/lab.env"
CHARON=$(cat "$D/lab/gw/charon.pid")
cp "$GW_CERT" "$D/gw-good.pem"
lab_gw_cert "$D/lab" expired --no-reload >/dev/null && cp "$GW_CERT" "$D/gw-expired.pem" || { echo "FAIL no expired twin"; exit 1; }
cp -f "$D/gw-good.pem" "$GW_CERT" && rm -f "$GW_SWANCTL_DIR/x509/gw.pem.prev"

install -d -m 0755 "$R" "$R/scripts" "$R/runbooks"
printf '#!/bin/sh\ncp %s %s && echo "good certificate back"\n' "$D/gw-good.pem" "$GW_CERT" >"$R/scripts/fix-cert.sh"
printf '#!/bin/sh\nexit 0\n' >"$R/scripts/noop.sh"
chmod 0755 "$R/scripts/fix-cert.sh" "$R/scripts/noop.sh"
runbook() { # GRADE
        cat >"$R/runbooks/cert-fix.yaml" <<YAML
version: 1
name: cert-fix
match: {class: certificate}
grade: $1
steps:
  - name: fix
    action: exec
    params: {script: $R/scripts/fix-cert.sh, revert: $R/scripts/noop.sh}
    timeout: 10s
    verify: {check: certificate, within: 10s}
YAML
}
runbook auto
mkdir -p "$D/drills"
drill() { # NAME RECOVER_WITHIN
        cat >"$D/drills/$1.yaml" <<YAML
version: 1
name: $1
description: "bounds test: an expired certificate"
steady_state: {checks: [certificate]}
fault:
  kind: cert_swap
  params: {target: $GW_CERT, with: $D/gw-expired.pem, validity: expired}
  expires_in: 2m
expect:
  class: certificate
  runbook: cert-fix
  detect_within: 3s
  recover_within: $2
YAML
}
drill healed-mid-apply 1m
drill never-healed 4s
{ agent_yaml_head "$D"; cat <<YAML
checks:
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR}
drills:
  enabled: true
  dirs: [$D/drills]
YAML
} | sed "s|^  last_good_after: 0s|&\n  runbook_dirs: [$R/runbooks]\n  exec_dir: $R/scripts|" >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" && agent_wait_checks 8000 || { echo "FAIL agent did not start"; exit 1; }
last() { # field of the newest drill record
        agent_ctl drill report --json | python3 -c 'import json,sys; h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; d=h[max(h, key=int)]
v=d
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"
}
phase() { agent_ctl drill status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"]["phase"])' 2>/dev/null; }
over() { case $(last phase 2>/dev/null) in passed | failed | aborted) return 0 ;; esac; return 1; }
run_drill() { # NAME: start it, retrying while the gateway settles (30 s)
        local out
        for _ in $(seq 150); do
                out=$(agent_ctl drill run "$1" 2>&1) && return 0
                sleep 0.2
        done
        bad "drill $1 not started: $out"
        return 1
}

# --- healed while the fault is still being injected -------------------------------------------
kill -STOP "$CHARON"
run_drill healed-mid-apply && ok "drill started with charon stopped: the fault's swanctl loads cannot return"
r=
for _ in $(seq 150); do r=$(agent_run_of cert-fix); [ "$(cut -d' ' -f2 <<<"$r")" = succeeded ] && break; sleep 0.1; done
# (a status read can come back empty while the agent is busy with the run's end: read again)
for _ in $(seq 20); do p=$(phase); [ -n "$p" ] && break; sleep 0.1; done
[ "$(cut -d' ' -f2 <<<"$r")" = succeeded ] && [ "$p" = injecting ] &&
        ok "the runbook healed the fault and its run succeeded while the drill was still injecting" ||
        bad "no run success during the injection: run '$r', drill phase '$p'"
cmp -s "$D/gw-good.pem" "$GW_CERT" || bad "the runbook did not put the good certificate back"
kill -CONT "$CHARON"
for _ in $(seq 300); do over && break; sleep 0.1; done
[ "$(last phase)" = passed ] && ok "charon continued, the apply returned: the drill settled and passed: $(last note)" ||
        bad "drill healed mid-apply: $(last phase): $(last note)"
agent_ctl audit 100 | grep -q "drill [0-9]* (healed-mid-apply) passed" || bad "no verdict on the audit trail"

# --- never healed: given up at recover_within + margin -----------------------------------------
runbook approve
agent_ctl reload >/dev/null || bad "reload with the approve-grade runbook"
run_drill never-healed && ok "drill started: its runbook now waits for an approval nobody gives (recover_within 4s, abort.after 2m)"
t0=$(now_ms)
for _ in $(seq 50); do cmp -s "$D/gw-expired.pem" "$GW_CERT" && break; sleep 0.1; done
cmp -s "$D/gw-expired.pem" "$GW_CERT" && ok "fault in place" || bad "no fault"
for _ in $(seq 600); do over && break; sleep 0.1; done
t1=$(now_ms)
if over; then
        f=$(agent_ctl drill report --json | python3 -c 'import json,sys; h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; d=h[max(h, key=int)]
from datetime import datetime as D
us = lambda t: int(D.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1e6)
print((us(d["finished"]) - us(d["started"])) // 1000)')
        [ "$(last phase)" = failed ] && last note | grep -q "not recovered within recover_within 4s and a margin of 10s: given up" &&
                ok "given up: failed, $(last note | cut -c1-150)" || bad "never-healed: $(last phase): $(last note)"
        echo "figure: the unhealed drill ended $f ms after its start (recover_within 4 s + margin 10 s; abort.after 2 m); seen here after $((t1 - t0)) ms"
else
        bad "the unhealed drill is still in progress after 60 s: $(agent_ctl drill status 2>&1 | head -12 | tr '\n' '|')"
fi
for _ in $(seq 50); do cmp -s "$D/gw-good.pem" "$GW_CERT" && break; sleep 0.1; done
[ "$(last fault.state)" = removed ] && cmp -s "$D/gw-good.pem" "$GW_CERT" &&
        ok "its fault removed: the certificate byte for byte as before the drill" || bad "fault: $(last fault.state)"
agent_wait_resolved certificate 30000 >/dev/null && ok "the certificate incident resolved once the fault was gone" ||
        bad "certificate incident still active"
r=$(agent_run_of cert-fix)
case $(cut -d' ' -f2 <<<"$r") in pending) bad "the unapproved run is still pending: $r" ;; *) ok "the unapproved run: $(cut -d' ' -f2 <<<"$r")" ;; esac

agent_stop
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
