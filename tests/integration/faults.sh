#!/usr/bin/env bash
# The drills' fault injectors (faults/*.c) against the real lab, each through action-run, each
# judged by its real effect on a client's connect and on the files charon reads:
#   nft_drop     the client cannot connect and the agent's own evaluator (nft-view) sees the
#                drop; revert deletes the table; with a 3 s timeout the kernel alone removes it
#   cert_swap    an expired certificate in place of the gateway's: AUTH fails; revert restores
#                it byte for byte; a target repaired meanwhile is left alone; a valid `with` is
#                refused for validity: expired
#   config_swap  a syntax error unloads every connection, other IKE proposals give
#                NO_PROPOSAL_CHOSEN; revert restores byte for byte and the client connects
#   crl_swap     a stale CRL in place of the cached one, the CRL removed, a CRL where there was
#                none; every revert exact
#   daemon       charon SIGKILLed through its pid file; without a unit the revert says it cannot
#                start it; once the lab restarted charon, the revert succeeds
# Every revert runs twice (idempotent).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

t0=$(date +%s%N)
D=$(mktemp -d /tmp/ikh-faults-XXXXXX)
cleanup() {
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$D/state"
A=("$B/tools/action-run" --state-dir "$D/state" --vici "$GW_VICI" --param "firewall.netns=$GW_NS"
   --param "config.swanctl_dir=$GW_SWANCTL_DIR" --param "config.strongswan_conf=$GW_CONF")
fault() { printf '%s\n' "$3" >"$D/p.yaml"; "${A[@]}" "$1" "$2" "$D/p.yaml" 2>&1; } # KIND OP PARAMS
detail() { grep -o 'detail: .*' <<<"$1" | cut -c9-200; }
# A fresh IKE_SA each time (an existing one would carry a new CHILD_SA without a new AUTH).
connects() { lab_connect "$D/lab" 1 >/dev/null 2>&1 && lab_disconnect "$D/lab" 1 >/dev/null 2>&1; }
twice_ok() { # NAME KIND PARAMS: revert, then revert again
        local out
        out=$(fault "$2" revert "$3") && ok "$1 revert: $(detail "$out")" || bad "$1 revert: $out"
        out=$(fault "$2" revert "$3") && ok "$1 revert again: $(detail "$out")" || bad "$1 second revert: $out"
}
view() { "$B/tools/nft-view" --netns "$GW_NS" --quiet 2>&1; }

connects && ok "the client connects before any fault" || bad "the lab's client does not connect"

# --- nft_drop --------------------------------------------------------------------------------
P="{timeout: 60s}"
out=$(fault nft_drop apply "$P") && ok "nft_drop apply: $(detail "$out")" || bad "nft_drop apply: $out"
grep -q "priority -300" <<<"$out" && grep -q "timeout 1m" <<<"$out" && ok "nft_drop plan names the chain and the element timeout" ||
        bad "nft_drop plan: $out"
ip netns exec "$GW_NS" nft list table inet ikeheal_drill >"$D/nft.txt" 2>&1
grep -Eq "500 timeout 1m|500 expires" "$D/nft.txt" && grep -q "udp dport @ports drop" "$D/nft.txt" &&
        ok "table inet ikeheal_drill: elements with timeouts, udp dport @ports drop" || bad "nft list: $(cat "$D/nft.txt")"
v=$(view)
grep -q 'verdict ip udp/500 drop chain="inet ikeheal_drill/input"' <<<"$v" &&
        grep -q 'verdict ip udp/4500 drop chain="inet ikeheal_drill/input"' <<<"$v" &&
        ok "nft-view (the agent's evaluator) sees udp/500 and udp/4500 dropped by ikeheal_drill/input" || bad "nft-view: $v"
out=$(fault nft_drop verify "$P") && ok "nft_drop verify: $(detail "$out")" || bad "nft_drop verify: $out"
out=$(fault nft_drop apply "$P") && bad "a second apply succeeded" ||
        { grep -q "exists already" <<<"$out" && ok "a second apply refused: $(detail "$out" | cut -c1-80)" || bad "second apply: $out"; }
connects && bad "the client connected through the drop" || ok "the client cannot connect (dropped)"
twice_ok nft_drop nft_drop "$P"
ip netns exec "$GW_NS" nft list table inet ikeheal_drill >/dev/null 2>&1 && bad "table still there" || ok "table ikeheal_drill gone"
connects && ok "the client connects after the revert" || bad "no connect after the nft_drop revert"
out=$(fault nft_drop apply "{timeout: 3s, esp: true}") && ok "nft_drop with timeout 3s and esp applied" || bad "nft_drop 3s: $out"
grep -q "meta l4proto @protos drop" <<<"$(ip netns exec "$GW_NS" nft list table inet ikeheal_drill 2>&1)" &&
        ok "esp: meta l4proto @protos drop" || bad "no esp rule"
sleep 4
grep -q 'verdict ip udp/500 accept' <<<"$(view)" && ok "after 4 s the kernel removed the elements: nft-view says accept" ||
        bad "nft-view after the timeout: $(view)"
connects && ok "the client connects again, no revert (the kernel ended the fault)" || bad "no connect after the timeout"
out=$(fault nft_drop verify "{timeout: 3s}") && bad "verify passed with every element timed out" ||
        ok "verify: $(detail "$out")"
fault nft_drop revert "{timeout: 3s}" >/dev/null || bad "nft_drop cleanup revert"

# --- cert_swap -------------------------------------------------------------------------------
CERT=$GW_SWANCTL_DIR/x509/gw.pem
cp -p "$CERT" "$D/gw-orig.pem"
lab_gw_cert "$D/lab" expired --no-reload >/dev/null 2>&1 && cp "$CERT" "$D/gw-expired.pem" &&
        cp -p "$D/gw-orig.pem" "$CERT" || bad "cannot make an expired certificate"
chmod 640 "$CERT"
mode=$(stat -c %a "$CERT")
out=$(fault cert_swap apply "{target: $CERT, with: $D/gw-orig.pem, validity: expired}") && bad "a valid cert taken for expired" ||
        { grep -q "has not expired" <<<"$out" && cmp -s "$CERT" "$D/gw-orig.pem" && ok "validity mismatch refused: $(tail -1 <<<"$out")" ||
                bad "mismatch: $out"; }
CP="{target: $CERT, with: $D/gw-expired.pem, validity: expired}"
out=$(fault cert_swap apply "$CP") && ok "cert_swap apply: $(detail "$out" | cut -c1-150)" || bad "cert_swap apply: $out"
cmp -s "$CERT" "$D/gw-expired.pem" && [ "$(stat -c %a "$CERT")" = "$mode" ] && ok "the expired certificate is live (mode $mode kept)" ||
        bad "target after apply"
ls "$D"/state/drill-faults/*.orig >/dev/null 2>&1 && ok "backup kept in state_dir/drill-faults/" || bad "no backup"
out=$(fault cert_swap verify "$CP") && ok "cert_swap verify: $(detail "$out")" || bad "cert_swap verify: $out"
connects && bad "the client accepted an expired gateway certificate" || ok "the client cannot connect (expired certificate)"
grep -q "certificate invalid" "$CL_LOG" && ok "client log: subject certificate invalid" || bad "no 'certificate invalid' in the client log"
twice_ok cert_swap cert_swap "$CP"
cmp -s "$CERT" "$D/gw-orig.pem" && [ "$(stat -c %a "$CERT")" = "$mode" ] && ok "original certificate byte-identical, mode kept" ||
        bad "target after revert"
connects && ok "the client connects after the revert" || bad "no connect after the cert_swap revert"
fault cert_swap apply "$CP" >/dev/null || bad "cert_swap apply (2)"
cp "$STANDBY_DIR/gw-standby.pem" "$CERT" # a runbook swapped the standby in meanwhile
out=$(fault cert_swap revert "$CP") && grep -q "left as it is" <<<"$out" && cmp -s "$CERT" "$STANDBY_DIR/gw-standby.pem" &&
        ok "a repaired target is left alone: $(detail "$out")" || bad "repaired target: $out"
cp -p "$D/gw-orig.pem" "$CERT"
lab_swanctl "$D/lab" gw --load-creds --clear --noprompt >/dev/null && lab_reload "$D/lab" gw >/dev/null || bad "lab reload"

# --- config_swap -----------------------------------------------------------------------------
CONF=$GW_SWANCTL_CONF
cp -p "$CONF" "$D/swanctl-orig.conf"
conns() { lab_swanctl "$D/lab" gw --list-conns 2>/dev/null | grep -c "^$GW_CONN:"; }
out=$(fault config_swap apply "{append: 'ikeheal-drill {'}") && ok "config_swap append applied (exit 0)" || bad "config_swap append: $out"
grep -qi "syntax error" <<<"$out" && ok "swanctl's syntax error recorded: $(grep -oi '[^;]*syntax error[^;]*' <<<"$out" | head -1 | cut -c1-80)" ||
        bad "no syntax error in: $out"
[ "$(conns)" = 0 ] && ok "charon has no connection loaded" || bad "connections still loaded: $(conns)"
out=$(fault config_swap verify "{append: 'ikeheal-drill {'}") && ok "config_swap verify" || bad "config_swap verify: $out"
twice_ok "config_swap (append)" config_swap "{append: 'ikeheal-drill {'}"
cmp -s "$CONF" "$D/swanctl-orig.conf" && [ "$(conns)" = 1 ] && ok "swanctl.conf byte-identical, connection back" ||
        bad "after the append revert: $(conns)"
out=$(fault config_swap apply "{proposals: aes128-sha1-modp2048}") && ok "config_swap proposals: $(detail "$out" | cut -c1-110)" ||
        bad "config_swap proposals: $out"
grep -Eq "^[[:space:]]*proposals = aes128-sha1-modp2048$" "$CONF" && ! grep -q "esp_proposals = aes128-sha1" "$CONF" &&
        ok "only the proposals lines rewritten (esp_proposals unchanged)" || bad "swanctl.conf: $(grep proposals "$CONF")"
: >"$GW_LOG"
connects && bad "the client connected with mismatched proposals" || ok "the client cannot connect (proposals)"
grep -q NO_PROPOSAL_CHOSEN "$GW_LOG" "$CL_LOG" && ok "charon log: NO_PROPOSAL_CHOSEN" || bad "no NO_PROPOSAL_CHOSEN in the logs"
twice_ok "config_swap (proposals)" config_swap "{proposals: aes128-sha1-modp2048}"
cmp -s "$CONF" "$D/swanctl-orig.conf" && ok "swanctl.conf byte-identical" || bad "swanctl.conf after the proposals revert"
connects && ok "the client connects after the revert" || bad "no connect after the config_swap revert"
out=$(fault config_swap apply "{append: x, proposals: y}") && bad "two contents accepted" || ok "config_swap: append and proposals together refused"

# --- crl_swap --------------------------------------------------------------------------------
crl() { pki --signcrl --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" "$@" --outform der 2>/dev/null; }
crl --lifetime 7 >"$D/fresh.crl" && crl --this-update "$(date -u -d '-10 days' '+%d.%m.%y %T')" \
        --next-update "$(date -u -d '-1 day' '+%d.%m.%y %T')" >"$D/stale.crl" || bad "pki --signcrl"
mkdir -p "$GW_SWANCTL_DIR/x509crl"
CRL=$GW_SWANCTL_DIR/x509crl/ca.crl
cp "$D/fresh.crl" "$CRL"
lab_swanctl "$D/lab" gw --load-creds --noprompt >/dev/null || bad "load the fresh CRL"
out=$(fault crl_swap apply "{target: $CRL, with: $D/stale.crl}") && cmp -s "$CRL" "$D/stale.crl" &&
        ok "crl_swap: the stale CRL in place: $(detail "$out" | cut -c1-100)" || bad "crl_swap apply: $out"
twice_ok "crl_swap (stale)" crl_swap "{target: $CRL, with: $D/stale.crl}"
cmp -s "$CRL" "$D/fresh.crl" && ok "the fresh CRL byte-identical again" || bad "CRL after revert"
out=$(fault crl_swap apply "{target: $CRL, remove: true}") && [ ! -e "$CRL" ] && ok "crl_swap remove: the CRL is gone" ||
        bad "crl_swap remove: $out"
fault crl_swap verify "{target: $CRL, remove: true}" >/dev/null && ok "crl_swap verify (removed)" || bad "crl_swap verify"
twice_ok "crl_swap (remove)" crl_swap "{target: $CRL, remove: true}"
cmp -s "$CRL" "$D/fresh.crl" && ok "the CRL is back, byte-identical" || bad "CRL after the remove revert"
NEW=$GW_SWANCTL_DIR/x509crl/drill.crl
fault crl_swap apply "{target: $NEW, with: $D/stale.crl}" >/dev/null && cmp -s "$NEW" "$D/stale.crl" || bad "crl_swap where there was none"
twice_ok "crl_swap (none before)" crl_swap "{target: $NEW, with: $D/stale.crl}"
[ ! -e "$NEW" ] && ok "a CRL put where there was none is removed by the revert" || bad "$NEW left"
fault crl_swap apply "{target: $CRL}" >/dev/null && bad "crl_swap without with/remove accepted" || ok "crl_swap needs with or remove"

# --- daemon ----------------------------------------------------------------------------------
DP="{how: kill, pid_file: $GW_PIDFILE}"
out=$(fault daemon apply "{how: pause, pid_file: $GW_PIDFILE}") && bad "how: pause accepted" || ok "daemon: how: pause refused"
disown "$GW_PID" 2>/dev/null # the shell would report its job "Killed"; it still reaps it
out=$(fault daemon apply "$DP") && ok "daemon kill: $(detail "$out")" || bad "daemon kill: $out"
[ -e "/proc/$GW_PID" ] && [ "$(awk '{print $3}' "/proc/$GW_PID/stat" 2>/dev/null)" != Z ] &&
        bad "charon (pid $GW_PID) still alive" || ok "charon (pid $GW_PID) is dead"
out=$(fault daemon verify "$DP") && ok "daemon verify: $(detail "$out")" || bad "daemon verify: $out"
for i in 1 2; do
        out=$(fault daemon revert "$DP") && bad "revert $i succeeded without a unit" ||
                { grep -q "no unit to start charon with" <<<"$out" && ok "daemon revert $i fails: no unit to start charon with" ||
                        bad "daemon revert $i: $out"; }
done
lab_start "$D/lab" gw >/dev/null 2>&1 && . "$D/lab/lab.env" && ok "the lab restarted the gateway's charon (pid $GW_PID)" ||
        bad "lab_start gw"
out=$(fault daemon revert "$DP") && ok "daemon revert once charon runs: $(detail "$out")" || bad "daemon revert after restart: $out"
connects && ok "the client connects to the restarted gateway" || bad "no connect after the restart"

echo "duration $((($(date +%s%N) - t0) / 1000000)) ms"
testlib_end
