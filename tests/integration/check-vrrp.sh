#!/usr/bin/env bash
# The vrrp check alone (tests/tools/check-run) on a FIFO written the way keepalived writes its
# notify FIFO: the last line heard is the role; a change is pushed (a new finding at once, not at
# the next interval); a line that does not parse is counted and ignored; another instance's lines
# are ignored when `instance` is set; a FIFO others may write to is not trusted; before any line,
# `vip` tells the role by whether that address is local. No network traffic: binding a UDP socket
# is all the address test does.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
CR=$B/tools/check-run
D=$(mktemp -d /tmp/ikh-vrrp-XXXXXX)
trap 'rm -rf "$D"' EXIT
F=$D/vrrp.fifo
mkfifo -m 0600 "$F"
exec 8<>"$F" # hold it open like keepalived does (read-write: writes never block)
field() { sed -n "s/^fact $1=//p" "$2" | tail -1; }

printf 'INSTANCE "VI_1" BACKUP 100\nINSTANCE "VI_1" MASTER 100\n' >&8
printf 'fifo: %s\n' "$F" >"$D/p.yaml"
"$CR" --count 1 vrrp "$D/p.yaml" >"$D/o1" 2>&1
[ "$(field role "$D/o1")" = MASTER ] && [ "$(field role_from "$D/o1")" = fifo ] && [ "$(field priority "$D/o1")" = 100 ] &&
        ok "the last line heard: MASTER, priority 100" || bad "first run: $(cat "$D/o1")"

printf 'INSTANCE "VI_1" MASTER 100\n' >&8
"$CR" --watch 4 --interval 60000 vrrp "$D/p.yaml" >"$D/o2" 2>&1 &
cr=$!
for _ in $(seq 100); do grep -q "^finding 1" "$D/o2" && break; sleep 0.05; done
t0=$(date +%s%N)
printf 'INSTANCE "VI_1" BACKUP 100\n' >&8
for _ in $(seq 100); do grep -q "^fact role=BACKUP" "$D/o2" && break; sleep 0.02; done
t1=$(date +%s%N)
grep -q "^fact role=BACKUP" "$D/o2" && ok "a change is pushed: BACKUP within $(((t1 - t0) / 1000000)) ms (interval 60 s)" ||
        bad "no BACKUP finding: $(cat "$D/o2")"
printf 'INSTANCE VI_1 garbage\n' >&8
wait "$cr"

printf 'INSTANCE "VI_1" MASTER 100\nINSTANCE "other" BACKUP 50\nnot a line at all\n' >&8
printf 'fifo: %s\ninstance: VI_1\n' "$F" >"$D/p2.yaml"
"$CR" --count 1 vrrp "$D/p2.yaml" >"$D/o3" 2>&1
[ "$(field role "$D/o3")" = MASTER ] && [ "$(field bad_lines "$D/o3")" = 1 ] &&
        ok "instance VI_1 followed, the other ignored, one bad line counted" || bad "instance: $(cat "$D/o3")"

chmod 0666 "$F"
"$CR" --count 1 vrrp "$D/p.yaml" >"$D/o4" 2>&1
grep -q "status=unknown" "$D/o4" && grep -q "not trusted" "$D/o4" && ok "a FIFO others may write to is not trusted" ||
        bad "0666 FIFO: $(cat "$D/o4")"
chmod 0600 "$F"
exec 8>&-

mkfifo -m 0600 "$D/quiet.fifo"
printf 'fifo: %s\nvip: 127.0.0.1\n' "$D/quiet.fifo" >"$D/p3.yaml"
"$CR" --count 1 vrrp "$D/p3.yaml" >"$D/o5" 2>&1
[ "$(field role "$D/o5")" = MASTER ] && [ "$(field role_from "$D/o5")" = address ] && ok "keepalived silent, the VIP is local: MASTER" ||
        bad "vip local: $(cat "$D/o5")"
printf 'fifo: %s\nvip: 198.18.255.254\n' "$D/quiet.fifo" >"$D/p4.yaml"
"$CR" --count 1 vrrp "$D/p4.yaml" >"$D/o6" 2>&1
[ "$(field role "$D/o6")" = BACKUP ] && ok "keepalived silent, the VIP is not here: BACKUP" || bad "vip elsewhere: $(cat "$D/o6")"
# a bad vip, through the agent's own configuration check
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $D/charon.vici
  unit: none
checks:
  - kind: vrrp
    params: {fifo: $D/quiet.fifo, vip: not-an-address}
YAML
"$B/ikeheald" -c "$D/c.yaml" --check-config >"$D/o7" 2>&1 && bad "a bad vip accepted" ||
        { grep -q "c.yaml:10:[0-9]*: vip: 'not-an-address' is not an IPv4 or IPv6 address" "$D/o7" && ok "a bad vip refused, with file:line:col" ||
                bad "bad vip: $(cat "$D/o7")"; }
testlib_end
