#!/usr/bin/env bash
# ikehealctl init on the lab gateway, run inside its network namespace with its strongswan.conf
# and swanctl tree: the configuration it writes passes ikeheald --check-config and names the
# lab's real VICI socket, the gateway's address (its connection's local_addrs), its connection,
# its certificate tree and the standby pair, and the nftables input chain of the namespace;
# every note is a comment in the file. A strongswan.conf with a syntax error is named with
# FILE:LINE:COL and init still writes a checked configuration on strongSwan's defaults.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-init-XXXXXX)
cleanup() { lab_down "$D/lab" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
ip netns exec "$GW_NS" nft -f - <<'NFT'
table inet ikh_init {
        chain input { type filter hook input priority 0; policy accept; udp dport { 500, 4500 } accept; }
}
NFT
# (the lab keeps the standby pair beside the gateway's directory, not in its swanctl tree: named)
init() { ip netns exec "$GW_NS" "$B/ikehealctl" init --strongswan-conf "$GW_CONF" --swanctl-dir "$GW_SWANCTL_DIR" --standby "$STANDBY_DIR" "$@"; }

t=$(date +%s%N)
init -o "$D/ikeheal.yaml" 2>"$D/err"
rc=$?
echo "     figure: ikehealctl init on the lab gateway (detection, writing, --check-config): $((($(date +%s%N) - t) / 1000000)) ms"
[ $rc = 0 ] && ok "init exit 0" || bad "init exit $rc: $(cat "$D/err")"
grep -q "^init: .*--check-config -c .*: accepted" "$D/err" && ok "the agent's --check-config accepted it" ||
        bad "not accepted: $(cat "$D/err")"
[ "$(stat -c %a "$D/ikeheal.yaml")" = 640 ] && ok "written 0640" || bad "mode $(stat -c %a "$D/ikeheal.yaml")"
has() { grep -Fq -- "$2" "$D/ikeheal.yaml" && ok "$1" || bad "$1: no '$2' in the file"; }
has "the lab's VICI socket" "vici_socket: \"$GW_VICI\""
has "probe target: the gateway's address from local_addrs" "params: {targets: [\"$GW_IP\"]}"
has "the lab's connection expected" "params: {expected: [\"$GW_CONN\"]}"
has "the certificate check on the lab's swanctl tree" "swanctl_dir: \"$GW_SWANCTL_DIR\""
has "the standby pair of the lab" "standby: [\"$STANDBY_DIR/gw-standby.pem\", \"$STANDBY_DIR/gw-standby.key\"]"
has "the config check on the lab's strongswan.conf" "strongswan_conf: \"$GW_CONF\""
note() { grep -Fq -- "$2" "$D/err" && ok "$1" || bad "$1: no '$2' in the notes"; }
note "note: charon-systemd found running in the gateway's namespace" "init: + strongSwan: charon-systemd (running now)"
note "note: the certificate found" "init: + certificates: 1 in $GW_SWANCTL_DIR/x509 ($GW_CERT)"
note "note: the nftables input chain named" "inet ikh_init, chain input (input, priority 0, policy accept"
grep -q "^# + strongSwan: charon-systemd" "$D/ikeheal.yaml" && ok "the notes are comments in the file too" || bad "no notes in the file"
grep -q "^# - clock:" "$D/ikeheal.yaml" && ok "note: what could not be found is said too (clock)" || bad "no '-' note"
# the file checks on its own too, as the unit's ExecStartPre would
out=$("$B/ikeheald" --check-config -c "$D/ikeheal.yaml" 2>&1) && ok "ikeheald --check-config -c the file: ${out%%$'\n'*}" ||
        bad "--check-config: $out"

# stdout: the same configuration, nothing else on stdout
init >"$D/stdout.yaml" 2>"$D/err2"
cmp -s <(grep -v '^#' "$D/stdout.yaml") <(grep -v '^#' "$D/ikeheal.yaml") && ok "stdout holds the same configuration" ||
        bad "stdout differs: $(diff <(grep -v '^#' "$D/stdout.yaml") <(grep -v '^#' "$D/ikeheal.yaml") | head -5)"

# a broken strongswan.conf: located, and init goes on with strongSwan's default socket
cp "$GW_CONF" "$D/broken.conf"
printf 'charon {\n  plugins {\n    vici = {\n' >>"$D/broken.conf"
ip netns exec "$GW_NS" "$B/ikehealctl" init --strongswan-conf "$D/broken.conf" --swanctl-dir "$GW_SWANCTL_DIR" \
        -o "$D/broken.yaml" 2>"$D/err3"
rc=$?
grep -Eq "^init: - $D/broken.conf:[0-9]+:[0-9]+: " "$D/err3" && ok "syntax error located: $(grep -Eo "$D/broken.conf:[0-9]+:[0-9]+: [^;]*" "$D/err3")" ||
        bad "no located error: $(cat "$D/err3")"
[ $rc = 0 ] && grep -q 'vici_socket: "/run/charon.vici"' "$D/broken.yaml" && ok "and the default socket is used, the file still checks" ||
        bad "broken conf: exit $rc"

# an existing configuration is not replaced by one the agent refuses (an unusable socket path
# makes the refusal: a relative VICI path)
echo "keep me" >"$D/keep.yaml"
printf 'charon {\n  plugins {\n    vici {\n      socket = unix://relative.vici\n    }\n  }\n}\n' >"$D/rel.conf"
ip netns exec "$GW_NS" "$B/ikehealctl" init --strongswan-conf "$D/rel.conf" --swanctl-dir "$GW_SWANCTL_DIR" \
        -o "$D/keep.yaml" 2>"$D/err4"
rc=$?
if grep -q "REFUSED" "$D/err4"; then
        [ $rc = 1 ] && [ "$(cat "$D/keep.yaml")" = "keep me" ] && ok "refused: exit 1, the existing file kept" ||
                bad "refused but exit $rc / file changed"
else
        ok "(a relative VICI path is accepted by --check-config: refusal case not exercised)"
fi
rm -f "$D"/keep.yaml.*
testlib_end
