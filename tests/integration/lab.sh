#!/usr/bin/env bash
# The lab's own test: builds the real-parts lab with two clients, proves that both tunnels come
# up and carry traffic, that an nftables drop of UDP 500/4500 inside the gateway's namespace stops
# a fresh connection and that removing it lets the next one through, that the gateway-certificate
# faults of lab_gw_cert act as they should, and that `down` leaves no namespace, link or process
# of the run behind. Prints each check and the measured times. Exit 0 pass, 1 fail, 77 skip.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lab/lab.sh
. tests/lab/lab.sh

failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
# Run CMD; its output is shown only when the check fails.
check() { # DESC CMD…
        local desc=$1 out
        shift
        if out=$("$@" 2>&1); then
                pass "$desc"
        else
                fail "$desc"
                [ -n "$out" ] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/     | /'
        fi
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
for b in /usr/sbin/charon-systemd /usr/sbin/swanctl /usr/bin/pki nft ip ping; do
        command -v "$b" >/dev/null || skip "$b not installed (make deps)"
done

dir=$(mktemp -d /tmp/ikeheal-lab.XXXXXX) || exit 1
id=$(_lab_id "$dir")
host_ruleset_before=$(nft list ruleset 2>/dev/null)

# Every exit path tears the lab down; the directory goes too unless KEEP_LAB=1 asks to keep it.
cleanup() {
        lab_down "$dir" >/dev/null 2>&1
        if [ "${KEEP_LAB:-0}" = 1 ]; then echo "lab kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "# lab id $id in $dir"
t=$(date +%s%N)
if ! lab_up "$dir" --clients 2; then
        fail "lab_up with 2 clients"
        exit 1
fi
echo "# up took $(ms_since "$t") ms"
pass "lab_up with 2 clients"
# shellcheck disable=SC1091
. "$dir/lab.env"

check "lab.env names 2 clients" [ "$LAB_CLIENTS" = 2 ]
check "gateway and client namespaces exist" \
        bash -c "ip netns list | grep -qw '$GW_NS' && ip netns list | grep -qw '$CL_NS_1' && ip netns list | grep -qw '$CL_NS_2'"
check "3 charons running with recorded pids" \
        bash -c "kill -0 $GW_PID && kill -0 $CL_PID_1 && kill -0 $CL_PID_2"
check "each charon runs inside its own namespace (not the host's)" \
        bash -c "[ \"\$(readlink /proc/$GW_PID/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ] &&
                 [ \"\$(readlink /proc/$GW_PID/ns/net)\" != \"\$(readlink /proc/$CL_PID_1/ns/net)\" ]"
check "gateway vici socket answers (swanctl --stats)" lab_swanctl "$dir" gw --stats
check "gateway log file written" test -s "$GW_LOG"
check "no lab link exists in the host namespace" bash -c "! ip -o link show | grep -q '$id'"

for i in 1 2; do
        t=$(date +%s%N)
        if lab_connect "$dir" "$i"; then
                pass "client $i connects ($(ms_since "$t") ms)"
        else
                fail "client $i connects"
        fi
done

check "lab_wait_children: the gateway reaches 2 CHILD_SAs" lab_wait_children "$dir" gw 2 2000
sas=$(swanctl --list-sas --uri "$GW_URI" 2>&1)
check "gateway lists 2 INSTALLED CHILD_SAs (swanctl --list-sas --uri \$GW_URI)" \
        [ "$(grep -c INSTALLED <<<"$sas")" = 2 ]
check "both client identities are on the gateway" \
        bash -c "grep -q \"'$CL_ID_1'\" <<<\"\$1\" && grep -q \"'$CL_ID_2'\" <<<\"\$1\"" _ "$sas"
check "ESP rides UDP (TUNNEL-in-UDP, kernel-libipsec)" grep -q 'TUNNEL-in-UDP' <<<"$sas"
check "virtual IPs come from the pool 198.18.2.0/24" grep -qE '\[198\.18\.2\.[0-9]+\]' <<<"$sas"
for i in 1 2; do
        ns_var=CL_NS_$i
        check "client $i pings $LAN_IP through the tunnel" \
                ip netns exec "${!ns_var}" ping -c1 -W2 "$LAN_IP"
done
check "the gateway counted ESP packets in" \
        bash -c "swanctl --list-sas --uri '$GW_URI' | grep -qE 'in .*[1-9][0-9]* packets'"

# The seeds' case study: the firewall drops IKE (500) and NAT-T/ESP (4500); charon is up but no
# session forms. The rule lives only in the gateway's namespace.
check "client 1 disconnects" lab_disconnect "$dir" 1
check "client 1 flushes its cached certificates" lab_swanctl "$dir" 1 --flush-certs
check "nftables drop of udp dport 500,4500 added in the gateway namespace" \
        ip netns exec "$GW_NS" nft -f - <<'EOF'
table inet labtest {
        chain input {
                type filter hook input priority 0; policy accept;
                udp dport { 500, 4500 } drop
        }
}
EOF
t=$(date +%s%N)
if lab_connect "$dir" 1 2>/dev/null; then
        fail "connect fails while UDP 500/4500 is dropped"
else
        pass "connect fails while UDP 500/4500 is dropped (gave up after $(ms_since "$t") ms)"
fi
check "client log says the peer is not responding" grep -q 'peer not responding' "$dir/cl1/initiate.log"
check "host nftables ruleset untouched by the lab" [ "$(nft list ruleset 2>/dev/null)" = "$host_ruleset_before" ]
check "nftables drop removed" ip netns exec "$GW_NS" nft delete table inet labtest
t=$(date +%s%N)
if lab_connect "$dir" 1; then
        pass "connect succeeds again once the drop is gone ($(ms_since "$t") ms)"
else
        fail "connect succeeds again once the drop is gone"
fi
check "client 1 pings through the tunnel again" ip netns exec "$CL_NS_1" ping -c1 -W2 "$LAN_IP"

# Gateway-certificate faults the later tests inject.
for kind in expired notyet foreign chain-incomplete; do
        lab_disconnect "$dir" 1 >/dev/null
        if ! lab_gw_cert "$dir" "$kind"; then
                fail "gateway cert re-issued as $kind"
                continue
        fi
        if lab_connect "$dir" 1 2>/dev/null; then
                fail "connect fails with a $kind gateway certificate"
        else
                pass "connect fails with a $kind gateway certificate"
        fi
done
for kind in intermediate standby valid; do
        lab_disconnect "$dir" 1 >/dev/null
        lab_gw_cert "$dir" "$kind" || fail "gateway cert re-issued as $kind"
        check "connect succeeds with the $kind gateway certificate" lab_connect "$dir" 1
done
check "a swanctl.conf syntax error is reported by lab_reload" \
        bash -c ". tests/lab/lab.sh; cp '$GW_SWANCTL_DIR/swanctl.conf' '$dir/good.conf';
                 echo 'connections { broken' >>'$GW_SWANCTL_DIR/swanctl.conf';
                 ! lab_reload '$dir' gw 2>/dev/null; rc=\$?;
                 cp '$dir/good.conf' '$GW_SWANCTL_DIR/swanctl.conf'; lab_reload '$dir' gw && exit \$rc"
check "a proposal mismatch makes connect fail" \
        bash -c ". tests/lab/lab.sh; lab_disconnect '$dir' 1 >/dev/null;
                 lab_set_proposals '$dir' gw aes128-sha1-modp2048 && ! lab_connect '$dir' 1 2>/dev/null"
check "restoring the proposals lets it connect" \
        bash -c ". tests/lab/lab.sh; lab_set_proposals '$dir' gw '$IKE_PROPOSALS' && lab_connect '$dir' 1"

# A "daemon down" fault and its repair: stop the gateway's charon, start it again.
old_pid=$GW_PID
check "lab_stop gw stops the gateway's charon" lab_stop "$dir" gw
check "the gateway's charon is gone and its vici socket removed" \
        bash -c "[ ! -e /proc/$old_pid ] && [ ! -S '$GW_VICI' ]"
t=$(date +%s%N)
# Not through check(): its $(…) subshell would become charon's parent, and when it exits charon is
# an orphan that this machine's PID 1 never reaps. Charons are children of the test shell.
if lab_start "$dir" gw; then
        pass "lab_start gw starts it again ($(ms_since "$t") ms)"
else
        fail "lab_start gw starts it again"
fi
# shellcheck disable=SC1091
. "$dir/lab.env"
check "lab.env has the new gateway pid" bash -c "[ '$GW_PID' != '$old_pid' ] && kill -0 '$GW_PID'"
lab_disconnect "$dir" 1 >/dev/null 2>&1
check "client 1 connects to the restarted gateway" lab_connect "$dir" 1

t=$(date +%s%N)
check "lab_down" lab_down "$dir"
echo "# down took $(ms_since "$t") ms"
check "lab_down again is a no-op" lab_down "$dir"
check "no namespace of the run remains" bash -c "! ip netns list | grep -q 'ih-$id-'"
check "no link of the run remains in the host namespace" bash -c "! ip -o link show | grep -q '$id'"
for p in "$GW_PID" "$CL_PID_1" "$CL_PID_2"; do
        check "charon pid $p is gone (reaped, not even a zombie)" bash -c "[ ! -e /proc/$p ]"
done
check "lab.env removed, lab_status says down" bash -c ". tests/lab/lab.sh; ! lab_status '$dir' >/dev/null"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
