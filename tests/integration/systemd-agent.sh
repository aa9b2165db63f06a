#!/usr/bin/env bash
# ikeheald as a real Type=notify service under real systemd (a booted Debian 12 container):
# READY before `systemctl start` returns, structured journal records, the watchdog killing a
# stopped agent and systemd restarting it, a reload with a bad config keeping the old one,
# charon-in-the-container seen over VICI, a second uid refused, and a clean stop.
# Uses the plain build (the container has no sanitizer runtime).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${IKEHEAL_BUILD_PLAIN:-$top/build}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
. "$top/tests/systemd/container.sh"
D=$(mktemp -d /tmp/ikh-systemd-XXXXXX)
trap 'ct_down; rm -rf "$D"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
prop() { ct_exec systemctl show -p "$1" --value ikeheald.service; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

t=$(date +%s%N)
ct_rootfs >/dev/null || exit 1
echo "rootfs ready in $(ms "$t") ms (cache $CT_CACHE)"
t=$(date +%s%N)
ct_up "$D" --bind-ro="$B:/opt/ikeheal/bin" --bind-ro="$top/etc:/opt/ikeheal/etc" || exit 1
echo "container booted in $(ms "$t") ms (leader pid $CT_LEADER)"

R=$D/root
mkdir -p "$R/etc/ikeheal" "$R/etc/systemd/system/ikeheald.service.d"
sed 's,@SBINDIR@,/opt/ikeheal/bin,g' "$top/etc/ikeheald.service" >"$R/etc/systemd/system/ikeheald.service"
printf '[Service]\nWatchdogSec=2s\n' >"$R/etc/systemd/system/ikeheald.service.d/test.conf"
cat >"$R/etc/ikeheal/ikeheal.yaml" <<'YAML'
control:
  group: nogroup
  reader_groups: [nogroup]
charon:
  vici_socket: /run/charon.vici
  unit: strongswan.service
YAML
chmod 0644 "$R/etc/ikeheal/ikeheal.yaml"
ct_exec systemctl daemon-reload

t=$(date +%s%N)
ct_exec systemctl start ikeheald.service || { bad "start failed"; ct_exec journalctl -u ikeheald --no-pager | tail -20; }
[ "$(prop ActiveState)" = active ] && ok "Type=notify: active once start returned ($(ms "$t") ms)" || bad "ActiveState $(prop ActiveState)"
[ "$(prop StatusText)" != "" ] && ok "STATUS= reported: $(prop StatusText)" || bad "no StatusText"
pid1=$(prop MainPID)
j=$(ct_exec journalctl -u ikeheald -o json --no-pager)
echo "$j" | python3 -c 'import json,sys
recs=[json.loads(l) for l in sys.stdin if l.strip()]
ok=[r for r in recs if r.get("SYSLOG_IDENTIFIER")=="ikeheald" and "started" in r.get("MESSAGE","") and r.get("PRIORITY")=="6" and r.get("CODE_FILE")]
sys.exit(0 if ok else 1)' && ok "journal: start record with PRIORITY/CODE_FILE fields" || bad "no structured start record"
for _ in $(seq 100); do ct_exec journalctl -u ikeheald -o json --no-pager | grep -q '"IKEHEAL_VICI_EVENT"\|connected to charon' && break; sleep 0.05; done

out=$(ct_exec /opt/ikeheal/bin/ikehealctl status --json)
echo "$out" | grep -q '"state": "connected"' && echo "$out" | grep -q '"version": "5\.' \
        && ok "ikehealctl status: charon in the container, version $(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["charon"]["version"])') over VICI" \
        || bad "status: $out"
echo "$out" | grep -q '"ikesas"' && ok "status carries IKE SA counts" || bad "no ikesas"

# the watchdog: a stopped agent stops pinging; systemd kills and restarts it
t=$(date +%s%N)
ct_exec kill -STOP "$pid1" # MainPID is in the container's pid namespace
for _ in $(seq 300); do
        [ "$(prop NRestarts)" = 1 ] && [ "$(prop ActiveState)" = active ] && break
        sleep 0.05
done
pid2=$(prop MainPID)
[ "$(prop NRestarts)" = 1 ] && [ "$pid2" != "$pid1" ] && [ "$(prop ActiveState)" = active ] \
        && ok "watchdog: stopped agent killed and restarted by systemd in $(ms "$t") ms (NRestarts=1, pid $pid1 → $pid2)" \
        || bad "watchdog: NRestarts=$(prop NRestarts) pid=$pid2 state=$(prop ActiveState)"
ct_exec journalctl -u ikeheald --no-pager | grep -q "Watchdog timeout" && ok "journal: systemd saw the watchdog timeout" || bad "no watchdog timeout in journal"

# reload with a bad config: rejected, old config in force, unit stays active
printf 'agent:\n  log_level: loud\n' >>"$R/etc/ikeheal/ikeheal.yaml"
ct_exec systemctl reload ikeheald.service
sleep 0.3
[ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid2" ] && ok "bad reload: unit still active, same pid" || bad "after bad reload: $(prop ActiveState)"
ct_exec journalctl -u ikeheald --no-pager | grep -q "reload failed: /etc/ikeheal/ikeheal.yaml:[0-9]*:[0-9]*: expected a log level.*keeping the old configuration" \
        && ok "journal: rejection with file:line:col" || bad "no rejection in journal"
out=$(ct_exec /opt/ikeheal/bin/ikehealctl status --json)
echo "$out" | grep -q '"reload_failures": 1' && ok "old configuration still in force (status answers, 1 failure)" || bad "status after bad reload: $out"
sed -i '/log_level: loud/d; /^agent:$/d' "$R/etc/ikeheal/ikeheal.yaml"
ct_exec systemctl reload ikeheald.service; sleep 0.3
ct_exec /opt/ikeheal/bin/ikehealctl status --json | grep -q '"reloads": 1' && ok "good reload accepted" || bad "good reload"

# a real second uid: nobody/nogroup may read, not reload
out=$(ct_exec setpriv --reuid=65534 --regid=65534 --clear-groups /opt/ikeheal/bin/ikehealctl status 2>&1); rc=$?
[ $rc = 0 ] && ok "uid 65534 (reader group) may read status" || bad "reader: rc=$rc $out"
out=$(ct_exec setpriv --reuid=65534 --regid=65534 --clear-groups /opt/ikeheal/bin/ikehealctl reload 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "permission denied" && ok "uid 65534 refused reload: $out" || bad "uid 65534 reload: rc=$rc $out"

# clean stop
ct_exec systemctl stop ikeheald.service
[ "$(prop Result)" = success ] && [ "$(prop ActiveState)" = inactive ] && ok "SIGTERM stop: Result=success" || bad "stop: Result=$(prop Result)"
ct_exec journalctl -u ikeheald --no-pager | grep -q "received SIGTERM, stopping" && ok "journal: clean stop" || bad "no stop record"
[ $fails -gt 0 ] && ct_exec journalctl -u ikeheald --no-pager | tail -30
echo "$fails failed"
[ $fails = 0 ]
