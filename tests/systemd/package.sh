#!/usr/bin/env bash
# The Debian package on a booted Debian 12 (tests/systemd/container.sh, with apt): installed with
# apt-get from the .deb, nothing started, groups made; `ikehealctl init` writes a configuration
# the agent accepts; `systemctl enable --now`; under the shipped unit and its hardening an
# update-like nftables change that drops UDP 4500 is detected and restored by firewall-restore,
# an edit of /etc/strongswan.conf is rolled back by config-rollback (a temporary file in /etc:
# the unit must let the agent write there); a reload with a broken configuration keeps the old
# one; apt-get remove keeps state and configuration, purge leaves nothing of ours.
#
#   tests/systemd/package.sh [DEB]   DEB: default $IKEHEAL_DEB, else PLAIN_BUILD/deb/ikeheal_*.deb,
#                                    else `make deb` into a scratch directory (minutes)
# Exit 0 pass, 1 fail, 77 skipped (no root).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
command -v systemd-nspawn mmdebstrap python3 >/dev/null || { echo "FAIL needs systemd-container, mmdebstrap, python3 (make deps)"; exit 1; }
CT_EXTRA_PACKAGES=apt
. "$here/container.sh"
D=$(mktemp -d /tmp/ikh-package-XXXXXX)
trap 'ct_down; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM HUP
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# ct_wait counts 50 ms per try; the probes here (ikehealctl + python) take longer: by the clock
wait_s() { local end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -ge $end ] && return 1; sleep 0.1; done; }

deb=${1:-${IKEHEAL_DEB:-}}
[ -n "$deb" ] || deb=$(ls "${IKEHEAL_BUILD_PLAIN:-$top/build}"/deb/ikeheal_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
        t=$(date +%s%N)
        make -C "$top" deb BUILD="$D/debbuild" >"$D/deb.log" 2>&1 || { echo "FAIL make deb:"; tail -20 "$D/deb.log"; exit 1; }
        deb=$(ls "$D"/debbuild/deb/ikeheal_*.deb | head -1)
        echo "     make deb: $(ms "$t") ms"
fi
mkdir -p "$D/deb" && cp "$deb" "$D/deb/" || { echo "FAIL no .deb at '$deb'"; exit 1; }
deb=/opt/deb/$(basename "$deb")

ct_build_rootfs || { echo "FAIL rootfs"; exit 1; }
echo "$CT_ROOTFS_NOTE"
ct_up "$D" --bind-ro="$D/deb:/opt/deb" || { echo "FAIL boot"; exit 1; }
echo "container $CT_MACHINE booted in $CT_BOOT_MS ms"
prop() { ct_exec systemctl show -p "$1" --value ikeheald.service; }
ctl() { ct_exec ikehealctl "$@"; }
journal() { ct_exec journalctl -u ikeheald.service --no-pager -o cat; }
jq_() { python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v.get(k) if isinstance(v,dict) else None
print("" if v is None else v)' "$1" 2>/dev/null; }

# --- install ---------------------------------------------------------------------------------
t=$(date +%s%N)
out=$(ct_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y /opt/deb/"${deb##*/}" 2>&1)
rc=$?
check "apt-get install ./$(basename "$deb") ($(ms "$t") ms)" test $rc = 0
[ $rc = 0 ] || { echo "$out" | tail -20; exit 1; }
check "dpkg: installed" test "$(ct_exec dpkg-query -W -f='${Status}' ikeheal)" = "install ok installed"
check "groups ikeheal and ikeheal-approvers made (sysusers)" ct_exec getent group ikeheal ikeheal-approvers
check "unit installed, not enabled: $(ct_exec systemctl is-enabled ikeheald.service 2>&1)" \
        test "$(ct_exec systemctl is-enabled ikeheald.service 2>&1)" = disabled
check "nothing started on an unconfigured gateway: $(prop ActiveState)" test "$(prop ActiveState)" = inactive
check "config is a conffile, 0640" test "$(ct_exec stat -c %a /etc/ikeheal/ikeheal.yaml)" = 640 -a \
        -n "$(ct_exec dpkg-query -W -f='${Conffiles}' ikeheal | grep /etc/ikeheal/ikeheal.yaml)"
check "tmpfiles ran: /var/lib/ikeheal 0700" test "$(ct_exec stat -c %a /var/lib/ikeheal)" = 700
check "bash completion and man pages installed" ct_exec test -f /usr/share/bash-completion/completions/ikehealctl -a \
        -f /usr/share/man/man8/ikeheald.8.gz
out=$(ct_exec systemd-analyze verify --man=no /lib/systemd/system/ikeheald.service 2>&1)
check "the installed unit verifies${out:+: $out}" test -z "$out"

# --- ikehealctl init → configuration ----------------------------------------------------------
ct_exec systemctl is-active --quiet strongswan.service || ct_exec systemctl start strongswan.service
out=$(ct_exec ikehealctl init -o /etc/ikeheal/ikeheal.yaml 2>&1); rc=$?
check "ikehealctl init -o /etc/ikeheal/ikeheal.yaml: exit $rc, accepted by --check-config" \
        bash -c '[ "$1" = 0 ] && grep -q -- "--check-config -c .*: accepted" <<<"$2"' _ "$rc" "$out"
[ $rc = 0 ] || echo "$out" | sed 's/^/     | /'
Y=$(ct_path /etc/ikeheal/ikeheal.yaml)
check "init found charon-systemd, its unit, the VICI socket, the groups" bash -c \
        'grep -q "^# + strongSwan: charon-systemd (running now)" "$1" && grep -q "unit: \"strongswan.service\"" "$1" &&
         grep -q "vici_socket: \"/run/charon.vici\"" "$1" && grep -q "approver_groups: \[ikeheal-approvers\]" "$1"' _ "$Y"
check "init found the nftables input chain (none yet) and no NTP address: said so" \
        bash -c 'grep -q "^# + nftables: no chain on the input path" "$1" && grep -q "^# - clock:" "$1"' _ "$Y"
# This container has no peer, no NTP server and no connection: the checks that need them would
# never be healthy and no last-good state would ever be recorded. Keep init's file, with the
# checks this gateway can pass, faster schedules for the test and a last-good state at once.
cp "$Y" "$D/init.yaml"
python3 - "$Y" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("last_good_after: 30s", "last_good_after: 0s")
s = re.sub(r"\nchecks:\n.*?\n\n", "\ncheck_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}\nchecks:\n"
           "  - kind: daemon\n  - kind: firewall\n  - kind: config\n    params: {swanctl_dir: /etc/swanctl, "
           "strongswan_conf: /etc/strongswan.conf}\n\n", s, flags=re.S)
open(p, "w").write(s)
PY
out=$(ct_exec ikeheald --check-config 2>&1)
check "the tuned file passes --check-config: ${out%%$'\n'*}" test $? = 0

# --- enable --now ----------------------------------------------------------------------------
t=$(date +%s%N)
ct_exec systemctl enable --now ikeheald.service >/dev/null 2>&1
check "systemctl enable --now: $(prop ActiveState)/$(prop SubState) in $(ms "$t") ms, enabled" \
        test "$(prop ActiveState)/$(ct_exec systemctl is-enabled ikeheald.service)" = active/enabled
pid=$(prop MainPID)
connected() { [ "$(ctl status --json 2>/dev/null | jq_ charon.state)" = connected ]; }
wait_s 15 connected
check "charon connected over VICI" connected
good() { ct_exec test -s /var/lib/ikeheal/snapshots/firewall.nft.hash -a -s /var/lib/ikeheal/snapshots/config.manifest; }
wait_s 20 good
check "last-good state recorded (nftables ruleset, configuration manifest)" good

# --- an update-like change drops UDP 4500 -----------------------------------------------------
t=$(date +%s%N)
ct_exec nft -f - <<'NFT'
table inet pkg_update {
        chain input { type filter hook input priority -5; policy accept; udp dport 4500 drop; }
}
NFT
run_state() { ctl runs --json 2>/dev/null | python3 -c 'import json,sys
r={str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
rs=sorted(((int(k),v) for k,v in r.items() if v.get("runbook")==sys.argv[1]), key=lambda kv: -kv[0])
print("%d %s %s" % (rs[0][0], rs[0][1]["state"], rs[0][1].get("plan_hash", "")) if rs else "")' "$1"; }
restored() { [ "$(run_state firewall-restore | cut -d' ' -f2)" = succeeded ]; }
wait_s 30 restored
dt=$(ms "$t")
check "UDP 4500 dropped → firewall-restore run $(run_state firewall-restore) ($dt ms)" restored
echo "     figure: drop of UDP 4500 in the container → restored by the packaged agent: $dt ms"
gone() { ! ct_exec nft list table inet pkg_update >/dev/null 2>&1; }
check "the table that drops 4500 is gone" gone
! ct_exec nft list table inet pkg_update >/dev/null 2>&1 || ct_exec nft list ruleset | sed 's/^/     | /'

# --- a config rollback of /etc/strongswan.conf under the unit's hardening ----------------------
# An edit alone is drift (a warning, class config_change): no runbook is due. An approver runs
# config-rollback by hand, as after a bad edit: the file goes back by a temporary file in /etc
# and rename(), which needs /etc writable for the agent (ProtectSystem=strict makes it read-only).
cp "$(ct_path /etc/strongswan.conf)" "$D/strongswan.conf.good"
ct_exec sh -c 'echo "# an edit nobody reviewed" >>/etc/strongswan.conf'
drift() { ctl checks config --json 2>/dev/null | grep -Eq '"drift": *true'; }
wait_s 15 drift
out=$(ctl run config-rollback 2>&1)
check "ikehealctl run config-rollback (root approves): $out" test $? = 0
rolled() { [ "$(run_state config-rollback | cut -d' ' -f2)" = succeeded ]; }
wait_s 30 rolled
check "config-rollback succeeded under ProtectSystem=strict ($(run_state config-rollback))" rolled
check "/etc/strongswan.conf is the last-good one again" cmp -s "$D/strongswan.conf.good" "$(ct_path /etc/strongswan.conf)"
rolled || { ctl runs 2>&1 | head -5 | sed 's/^/     | /'; journal | grep -i "rollback\|read-only\|EROFS" | tail -5 | sed 's/^/     | /'; }
check "no temporary file left in /etc" bash -c '! ls "$1"/etc/*.ikeheal-tmp >/dev/null 2>&1' _ "$(ct_path /)"

# --- reload with a broken configuration keeps the old one ---------------------------------------
cp "$Y" "$D/good.yaml"
sed -i 's/^agent:$/agent:\n  colour: blue/' "$Y"
ct_exec systemctl reload ikeheald.service
for _ in $(seq 50); do journal | grep -q "reload failed" && break; sleep 0.1; done
msg=$(journal | grep -m1 "reload failed")
check "broken reload rejected with its location: '$msg'" \
        grep -Eq "reload failed: /etc/ikeheal/ikeheal.yaml:[0-9]+:[0-9]+: .*keeping the old configuration" <<<"$msg"
check "the agent still runs, same pid, charon connected" test "$(prop ActiveState)/$(prop MainPID)" = "active/$pid"
connected || bad "status does not answer after the rejected reload"
cp "$D/good.yaml" "$Y"

# --- remove, purge ------------------------------------------------------------------------------
out=$(ct_exec env DEBIAN_FRONTEND=noninteractive apt-get remove -y ikeheal 2>&1)
check "apt-get remove: exit $?" test $? = 0
removed() { [ "$(ct_exec systemctl is-active ikeheald.service)" != active ] &&
        ! ct_exec test -e /usr/sbin/ikeheald && ! ct_exec test -e /lib/systemd/system/ikeheald.service; }
check "removed: agent stopped, binaries and unit gone" removed
check "remove keeps state and configuration (/var/lib/ikeheal, /etc/ikeheal/ikeheal.yaml)" \
        ct_exec test -d /var/lib/ikeheal/snapshots -a -f /etc/ikeheal/ikeheal.yaml
out=$(ct_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y ikeheal 2>&1)
check "apt-get purge: exit $?" test $? = 0
purged() { ! ct_exec test -e /etc/ikeheal && ! ct_exec test -e /var/lib/ikeheal && ! ct_exec test -e /run/ikeheal &&
        [ -z "$(ct_exec dpkg-query -W -f='${Status}' ikeheal 2>/dev/null | grep -v not-installed)" ]; }
check "purged: no /etc/ikeheal, /var/lib/ikeheal, /run/ikeheal, no dpkg record" purged
left=$(ct_exec sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /opt/deb \) -prune -o -name "*ikeheal*" -print 2>/dev/null' | grep -v "^/var/lib/systemd/deb-systemd-helper" )
check "nothing named *ikeheal* left on the file system${left:+: $left}" test -z "$left"

echo "$fails failed"
[ $fails = 0 ]
