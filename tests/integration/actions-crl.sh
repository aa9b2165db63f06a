#!/usr/bin/env bash
# The crl_cache action against the lab gateway's charon (tests/tools/action-run): a CRL signed
# by the lab CA is fetched from an HTTP server on loopback, checked, installed in the gateway's
# x509crl/ and loaded (charon says so); a stale CRL, one signed by a CA the gateway does not
# trust, and an unreachable distribution point are refused with nothing changed; verify sees
# the fresh cache; the revert removes it.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actcrl-XXXXXX)
HTTP=
cleanup() {
        agent_stop
        [ -n "$HTTP" ] && kill "$HTTP" 2>/dev/null && wait "$HTTP" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$D/www"
P=$((22000 + $$ % 9000))
(cd "$D/www" && exec python3 -m http.server "$P" --bind 127.0.0.1) >/dev/null 2>&1 &
HTTP=$!
crl() { # OUT CACERT CAKEY [pki options]
        local out=$1 cert=$2 key=$3; shift 3
        pki --signcrl --cacert "$cert" --cakey "$key" "$@" --outform der >"$out" 2>/dev/null
}
crl "$D/www/fresh.crl" "$CA_CERT" "$PKI_DIR/ca.key" --lifetime 7 || { echo "pki --signcrl failed"; exit 1; }
crl "$D/www/stale.crl" "$CA_CERT" "$PKI_DIR/ca.key" --this-update "$(date -u -d '-10 days' '+%d.%m.%y %T')" \
        --next-update "$(date -u -d '-1 day' '+%d.%m.%y %T')"
crl "$D/www/foreign.crl" "$PKI_DIR/foreign-ca.pem" "$PKI_DIR/foreign-ca.key" --lifetime 7
for _ in $(seq 50); do python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$P/fresh.crl" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$D/astate"
A=("$B/tools/action-run" --state-dir "$D/astate" --vici "$GW_VICI" --param "certificate.swanctl_dir=$GW_SWANCTL_DIR" --param "config.strongswan_conf=$GW_CONF")
act() { printf '%s\n' "$2" >"$D/p.yaml"; "${A[@]}" crl_cache "$1" "$D/p.yaml" 2>&1; }

out=$(act apply "{url: http://127.0.0.1:$P/stale.crl}") && bad "a stale CRL was installed" ||
        { grep -q "stale" <<<"$out" && ok "stale CRL refused" || bad "stale: $out"; }
out=$(act apply "{url: http://127.0.0.1:$P/foreign.crl}") && bad "a foreign CRL was installed" ||
        { grep -q "not signed by a CA of x509ca" <<<"$out" && ok "CRL of an untrusted CA refused" || bad "foreign: $out"; }
out=$(act apply "{url: http://127.0.0.1:1/none.crl, fetch_timeout: 2s}") && bad "nothing fetched, yet success" ||
        { grep -q "no fresh CRL could be fetched" <<<"$out" && ok "unreachable distribution point: $(grep -o 'fetched: .*' <<<"$out" | cut -c1-90)" || bad "unreachable: $out"; }
ls "$GW_SWANCTL_DIR/x509crl" 2>/dev/null | grep -q ikeheal && bad "a refused CRL left a file" || ok "nothing installed by the refusals"
out=$(act apply "{url: http://127.0.0.1:$P/fresh.crl}") && ok "fresh CRL fetched, checked, installed" || bad "fresh: $out"
grep -q "loaded certificate from '.*x509crl/ikeheal-" <<<"$out" && ok "charon loaded it (swanctl: loaded certificate from x509crl/ikeheal-…)" || bad "swanctl: $out"
f=$(ls "$GW_SWANCTL_DIR"/x509crl/ikeheal-*.crl 2>/dev/null | head -1)
[ -n "$f" ] && cmp -s "$f" "$D/www/fresh.crl" && ok "cached as $(basename "$f")" || bad "cache file"
kill "$HTTP" 2>/dev/null; wait "$HTTP" 2>/dev/null; HTTP=
out=$(act verify "{url: http://127.0.0.1:$P/fresh.crl}") && ok "verify (distribution point now down): $(grep detail <<<"$out")" || bad "verify: $out"
out=$(act revert "{url: http://127.0.0.1:$P/fresh.crl}") && [ -z "$(ls "$GW_SWANCTL_DIR"/x509crl/ikeheal-* 2>/dev/null)" ] &&
        ok "revert: the cached CRL is gone ($(grep -o 'removed [^ ;]*' <<<"$out" | head -1))" || bad "revert: $out"
# --- the shipped crl-cache runbook, through the agent: a stale CRL in x509crl/ healed ---------
(cd "$D/www" && exec python3 -m http.server "$P" --bind 127.0.0.1) >/dev/null 2>&1 &
HTTP=$!
for _ in $(seq 50); do python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$P/fresh.crl" 2>/dev/null && break; sleep 0.1; done
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: revocation
    params: {swanctl_dir: $GW_SWANCTL_DIR, crl_urls: ["http://127.0.0.1:$P/fresh.crl"]}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
} >"$D/c.yaml"
cp "$D/www/stale.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_incident revocation - 8000 >/dev/null && ok "stale CRL in x509crl/: revocation incident" || bad "no revocation incident"
for _ in $(seq 200); do agent_ctl runs 2>/dev/null | grep -q "crl-cache for incident [0-9]*, succeeded" && break; sleep 0.1; done
agent_ctl runs | grep -q "crl-cache for incident [0-9]*, succeeded" && ok "crl-cache (auto) ran and verified" || bad "crl-cache: $(agent_ctl runs | head -12)"
cmp -s "$D/www/fresh.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl" && ok "the stale CRL was replaced in place by the fresh one" || bad "x509crl: $(ls "$GW_SWANCTL_DIR/x509crl")"
agent_wait_resolved revocation 15000 >/dev/null && ok "revocation incident resolved" || bad "incident not resolved"
agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
