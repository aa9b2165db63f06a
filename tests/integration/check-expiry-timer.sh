#!/usr/bin/env bash
# Certificates and CRLs change verdict on a timer, not at the next poll: ikeheald (sanitizer
# build) checks the lab gateway's certificates and CRLs every 30 s only. A certificate issued
# by the lab CA that expires seconds later, one that becomes valid seconds later, and a CRL
# whose nextUpdate is seconds away are put in the gateway's swanctl tree while the agent runs;
# each change of verdict (expired, valid again, stale) must be seen well before the next 30 s
# poll — by the timer the check armed at that instant. The latency from the instant to the
# incident's change on the audit trail (to the finding, for a certificate becoming valid) is
# printed as a figure (target: under a second). The x509 directory replaced by a rename while the
# agent runs is seen at once, and so is a later write into the new directory.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-expiry-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
LAB_PKI_CONF=$PKI_DIR/strongswan.conf
mkdir -p "$GW_SWANCTL_DIR/x509crl"
{ agent_yaml_head "$D"; cat <<YAML
checks:
  - kind: certificate
    interval: 30s
    params: {swanctl_dir: $GW_SWANCTL_DIR, warn_days: 1, crit_days: 0}
  - kind: revocation
    interval: 30s
    params: {swanctl_dir: $GW_SWANCTL_DIR, crl_warn: 2s}
YAML
} >"$D/c.yaml"
crl() { # NEXT_UPDATE_S
        pki --signcrl --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" --this-update "$(date -u -d '-1 hour' '+%d.%m.%y %T')" \
                --next-update "$(date -u -d "@$1" '+%d.%m.%y %T')" --outform der >"$GW_SWANCTL_DIR/x509crl/ca.crl.new" 2>/dev/null &&
                mv -f "$GW_SWANCTL_DIR/x509crl/ca.crl.new" "$GW_SWANCTL_DIR/x509crl/ca.crl" || bad "pki --signcrl"
}
crl $(($(date +%s) + 3600))
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
# a CRL whose nextUpdate passes while the agent runs (crl_warn 2s: expiring first, then stale),
# put in place once the agent runs (its start takes long on a loaded machine) and read at once
# (`diagnose` runs every check now); the 30 s interval would read it again only after the test
nu=$(($(date +%s) + 10))
crl "$nu"
agent_ctl diagnose >/dev/null 2>&1

# "reason runs finished_usec next_change_usec" of a check's latest finding (the JSON's "finished"
# in µs)
finding_of() {
        agent_ctl checks --json | python3 -c '
import json, sys
from datetime import datetime as D
us = lambda t: round(D.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1e6) if t else 0
c = {str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}[sys.argv[1]]
f = c.get("facts") or {}
print(f.get("reason", "-"), c["runs"], us(c.get("finished")), f.get("next_change_usec", 0))' "$1"
}
# wait until CHECK's reason is REASON (TIMEOUT_MS); prints finding_of
wait_reason() { # CHECK REASON TIMEOUT_MS
        local t0 line; t0=$(_agent_ms)
        while :; do
                line=$(finding_of "$1")
                [ "${line%% *}" = "$2" ] && { echo "$line"; return 0; }
                [ $(($(_agent_ms) - t0)) -gt "$3" ] && { echo "$line"; return 1; }
                sleep 0.05
        done
}
issue() { # NOT_BEFORE NOT_AFTER (date -d expressions)
        _lab_pki_issue "$PKI_DIR/gw.key" "$PKI_DIR/ca.key" "$CA_CERT" "O=ikeheal lab, CN=$LAB_GW_ID" "$D/gw.pem" \
                --not-before "$(_lab_date "$1")" --not-after "$(_lab_date "$2")" --dateform '%Y-%m-%d %H:%M:%S' \
                "${LAB_GW_CERT_OPTS[@]}" && mv -f "$D/gw.pem" "$GW_CERT"
}
# the time (µs) of the first audit record whose text has PATTERN: when the incident changed
audit_time() { python3 -c '
import sys
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) > 5 and sys.argv[2] in "\t".join(f[5:]):
        print(f[1]); break' "$D/state/audit.log" "$1"; }
# the incident's change to REASON, from the instant: detection as an operator sees it
detected() { # CLASS REASON INSTANT_S LABEL
        local t0 t; t0=$(_agent_ms)
        until t=$(audit_time "$1 global, $2:") && [ -n "$t" ]; do
                [ $(($(_agent_ms) - t0)) -gt 25000 ] && { bad "$4: no $1 incident with reason $2 within 25 s"; return; }
                sleep 0.1
        done
        local ms=$((t / 1000 - $3 * 1000))
        [ "$ms" -ge 0 ] && [ "$ms" -lt 10000 ] && ok "$4: the incident says $2 ${ms} ms after the instant, well before the next 30 s poll (figure: $1 $2 detection ${ms} ms)" ||
                bad "$4: the incident says $2 ${ms} ms after the instant"
}
latency() { # CHECK REASON INSTANT_S LABEL
        local line
        if line=$(wait_reason "$1" "$2" 25000); then
                set -- "$@" $line
                local ms=$((($7 / 1000) - $3 * 1000))
                # the poll before came when the file was written, moments before the instant: the next
                # one is 30 s after it; a finding within 10 s of the instant is the timer's
                [ "$ms" -ge 0 ] && [ "$ms" -lt 10000 ] && ok "$4: seen ${ms} ms after the instant, well before the next 30 s poll (figure: $1 $2 latency ${ms} ms)" ||
                        bad "$4: seen ${ms} ms after the instant"
        else
                bad "$4: not seen within 25 s: $line"
        fi
}

line=$(finding_of revocation)
[ "${line%% *}" = - ] && [ "${line##* }" = $(((nu - 2) * 1000000)) ] && ok "CRL fresh; the next instant armed is nextUpdate − crl_warn" ||
        bad "revocation: $line (nextUpdate $nu)"
detected revocation crl_expiring $((nu - 2)) "CRL nextUpdate − crl_warn"
detected revocation crl_stale "$nu" "CRL nextUpdate passed"

# a certificate that expires while the agent runs
now=$(date +%s)
na=$((now + 12))
issue "-1 day" "@$na" || bad "pki"
line=$(wait_reason certificate expires_soon 8000) && ok "certificate valid for 12 s more: expires_soon" || bad "before expiry: $line"
set -- $line
[ "$4" = $((na * 1000000)) ] && ok "the next instant armed is its notAfter" || bad "next_change_usec $4, notAfter $na"
detected certificate expired "$na" "notAfter passed"

# a certificate that becomes valid while the agent runs
nb=$(($(date +%s) + 6))
issue "@$nb" "+30 days" || bad "pki"
line=$(wait_reason certificate not_yet_valid 8000) && ok "certificate valid from 6 s on: not_yet_valid" || bad "before notBefore: $line"
latency certificate - "$nb" "notBefore reached"

# the x509 directory replaced by a rename, as configuration management does: the new directory's
# certificate (expired) is seen at once — the check watches the swanctl directory — and a later
# write inside the new directory too: a watch follows an inode, and each run watches the tree
# as it is now (before, both waited for the next 30 s poll)
x509=$(dirname "$GW_CERT")
rm -rf "$x509.new" "$x509.old" && cp -a "$x509" "$x509.new"
_lab_pki_issue "$PKI_DIR/gw.key" "$PKI_DIR/ca.key" "$CA_CERT" "O=ikeheal lab, CN=$LAB_GW_ID" "$D/gw.pem" \
        --not-before "$(_lab_date "-2 days")" --not-after "$(_lab_date "-1 day")" --dateform '%Y-%m-%d %H:%M:%S' \
        "${LAB_GW_CERT_OPTS[@]}" && mv -f "$D/gw.pem" "$x509.new/$(basename "$GW_CERT")" || bad "pki"
t0=$(_agent_ms)
mv "$x509" "$x509.old" && mv "$x509.new" "$x509"
line=$(wait_reason certificate expired 5000) && ok "x509/ replaced by a rename: its expired certificate seen in $(($(_agent_ms) - t0)) ms" ||
        bad "x509/ replaced by a rename: not seen within 5 s ($line)"
t0=$(_agent_ms)
issue "-1 day" "+30 days" || bad "pki"
line=$(wait_reason certificate - 5000) && ok "a certificate written into the new x509/: seen in $(($(_agent_ms) - t0)) ms" ||
        bad "a certificate written into the new x509/: not seen within 5 s ($line)"
rm -rf "$x509.old"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
