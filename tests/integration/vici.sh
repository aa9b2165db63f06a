#!/usr/bin/env bash
# The VICI client (common/vici.c) against a real charon. A network namespace of our own
# (ikh-vici-<id>, loopback only: VICI is a UNIX socket, the namespace just keeps charon off the
# host's network), a charon-systemd in it with a minimal strongswan.conf (explicit plugin list,
# VICI socket and log file in a private directory), one tiny PSK connection loaded by swanctl
# from a private SWANCTL_DIR, then tests/tools/vici-live:
#
#   phase 1  version, stats, list-conns (≥ 1 streamed item: the swanctl one), list-sas, a log
#            event after its own load-conn
#   restart  this script SIGKILLs charon by PID, waits a second (the tool's reconnects are
#            refused meanwhile and back off), starts a new charon
#   phase 2  the tool saw the disconnect, reconnected, got version again and a log event again
#
# Set IKEHEAL_CAPTURE_CORPUS=DIR to keep the packets the tool received (the fuzz corpus is
# tests/fuzz/corpus/vici-msg). Exit 0 pass, 1 fail, 77 skip.
set -u

build=${IKEHEAL_BUILD:-build-san}
tool=$build/tools/vici-live
[ -x "$tool" ] || tool=${IKEHEAL_BUILD_PLAIN:-build}/tools/vici-live
charon_bin=/usr/sbin/charon-systemd
swanctl_bin=/usr/sbin/swanctl

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
[ -x "$tool" ] || skip "no vici-live tool in $build/tools or ${IKEHEAL_BUILD_PLAIN:-build}/tools"
for b in "$charon_bin" "$swanctl_bin" /usr/sbin/ip; do
        [ -x "$b" ] || skip "missing $b"
done

id=$(printf '%s' "$$-$(date +%s%N)" | sha256sum | cut -c1-6)
NS=ikh-vici-$id
tmp=$(mktemp -d /tmp/ikh-vici.XXXXXX)
sock=$tmp/charon.vici
charon_pid=
tool_pid=

stop_pid() { # PID: TERM, wait up to 3 s, then KILL
        local p=$1
        [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
        kill "$p" 2>/dev/null
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
}
cleanup() {
        stop_pid "$tool_pid"
        stop_pid "$charon_pid"
        ip netns del "$NS" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

ip netns add "$NS" || { echo "cannot create namespace $NS"; exit 1; }
ip -n "$NS" link set lo up
echo "namespace $NS, private dir $tmp"

plugins="random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 hmac kdf kernel-netlink socket-default vici"
cat >"$tmp/strongswan.conf" <<EOF
# minimal charon for tests/integration/vici.sh
charon {
        load_modular = no
        load = $plugins
        # no IKE traffic is needed: keep charon off the standard ports even inside the namespace
        port = 0
        port_nat_t = 0
        filelog {
                vici-test {
                        path = $tmp/charon.log
                        append = yes
                        flush_line = yes
                        time_format = %H:%M:%S
                        default = 1
                        cfg = 2
                }
        }
        syslog {
                daemon {
                        default = -1
                }
        }
        plugins {
                vici {
                        socket = unix://$sock
                }
        }
}
charon-systemd {
        journal {
                default = -1
        }
}
swanctl {
        load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2
}
EOF
mkdir -p "$tmp/swanctl/conf.d"
cat >"$tmp/swanctl/swanctl.conf" <<EOF
connections {
        vici-test {
                version = 2
                local_addrs = 198.18.254.1
                remote_addrs = 198.18.254.2
                proposals = aes256-sha256-ecp256
                local {
                        auth = psk
                        id = gw.vici.test
                }
                remote {
                        auth = psk
                }
                children {
                        c {
                                local_ts = 198.18.254.1/32
                        }
                }
        }
}
secrets {
        ike-vici-test {
                secret = "vici-test-only-$id"
        }
}
EOF

swanctl() { STRONGSWAN_CONF=$tmp/strongswan.conf SWANCTL_DIR=$tmp/swanctl "$swanctl_bin" "$@" --uri "unix://$sock"; }

start_charon() {
        ip netns exec "$NS" env STRONGSWAN_CONF="$tmp/strongswan.conf" "$charon_bin" </dev/null >>"$tmp/charon.out" 2>&1 &
        charon_pid=$!
        for _ in $(seq 100); do
                [ -S "$sock" ] && swanctl --stats >/dev/null 2>&1 && return 0
                kill -0 "$charon_pid" 2>/dev/null || break
                sleep 0.05
        done
        echo "charon (pid $charon_pid) did not come up:"
        tail -n 20 "$tmp/charon.out" "$tmp/charon.log" 2>/dev/null
        return 1
}

start_charon || exit 1
echo "charon pid $charon_pid in $NS, VICI at $sock"
if swanctl --load-conns >"$tmp/load.out" 2>&1 && ! grep -qiE "syntax error|invalid config" "$tmp/load.out"; then
        pass "swanctl --load-conns: $(tail -n1 "$tmp/load.out")"
else
        fail "swanctl --load-conns"; cat "$tmp/load.out"; exit 1
fi

capture=()
if [ -n "${IKEHEAL_CAPTURE_CORPUS:-}" ]; then
        mkdir -p "$tmp/capture"
        capture=(--capture "$tmp/capture")
fi
"$tool" --socket "$sock" --ready "$tmp/ready" --min-conns 1 --timeout-ms 3000 --deadline-s 40 \
        --backoff-ms 50,400 "${capture[@]}" >"$tmp/tool.out" 2>&1 &
tool_pid=$!

for _ in $(seq 300); do
        [ -e "$tmp/ready" ] && break
        kill -0 "$tool_pid" 2>/dev/null || break
        sleep 0.1
done
if [ -e "$tmp/ready" ]; then
        pass "phase 1: version, stats, list-conns, list-sas and a log event observed"
        kill -9 "$charon_pid"
        wait "$charon_pid" 2>/dev/null
        echo "     SIGKILLed charon (pid $charon_pid)"
        charon_pid=
        sleep 1 # the tool's reconnects are refused meanwhile and back off up to 400 ms
        if start_charon; then
                pass "charon restarted (pid $charon_pid)"
        else
                fail "charon restart"
        fi
else
        fail "phase 1 did not complete"
fi

wait "$tool_pid"
rc=$?
tool_pid=
sed 's/^/     | /' "$tmp/tool.out"
out=$(cat "$tmp/tool.out")
grep -q "^version phase=1 daemon=charon-systemd version=5" <<<"$out" && pass "version (phase 1): $(grep -m1 '^version phase=1' <<<"$out" | sed 's/.*version=\([^ ]*\).*/\1/')" || fail "no version in phase 1"
grep -q "^stats .*ikesas.total=" <<<"$out" && pass "stats" || fail "no stats"
n=$(sed -n 's/^stream list-conns items=\([0-9]*\)/\1/p' <<<"$out")
[ "${n:-0}" -ge 1 ] && pass "list-conns streamed $n items" || fail "list-conns streamed ${n:-no} items"
grep -q "^item list-conn conn=vici-test" <<<"$out" && pass "… including the swanctl connection vici-test" || fail "vici-test not listed"
grep -q "^stream list-sas items=" <<<"$out" && pass "list-sas completed" || fail "list-sas not completed"
grep -q "^log phase=1 " <<<"$out" && pass "log event (phase 1)" || fail "no log event in phase 1"
grep -q "^state disconnected reason=" <<<"$out" && pass "disconnect seen: $(grep -m1 '^state disconnected' <<<"$out")" || fail "no disconnect seen"
secs=$(sed -n 's/^reconnected \([0-9.]*\) s after.*/\1/p' <<<"$out")
# 1 s down + charon's start-up + at most one 400 ms backoff step, with room for a slow machine
if [ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s >= 1.0 && s < 4.0) }'; then
        pass "reconnected $secs s after the disconnect (1 s down, backoff 50..400 ms)"
else
        fail "reconnect: '${secs:-none}' s after the disconnect"
fi
grep -q "^version phase=2 " <<<"$out" && pass "version after the restart" || fail "no version after the restart"
grep -q "^log phase=2 " <<<"$out" && pass "log subscription renewed after the reconnect" || fail "no log event after the reconnect"
[ "$rc" = 0 ] && pass "vici-live exit 0" || fail "vici-live exit $rc"

if [ -n "${IKEHEAL_CAPTURE_CORPUS:-}" ]; then
        mkdir -p "$IKEHEAL_CAPTURE_CORPUS"
        cp "$tmp"/capture/* "$IKEHEAL_CAPTURE_CORPUS"/ 2>/dev/null
        echo "     captured $(ls "$tmp/capture" | wc -l) packets into $IKEHEAL_CAPTURE_CORPUS"
fi

if [ "$fails" -gt 0 ]; then
        echo "charon log (last lines):"
        tail -n 15 "$tmp/charon.log" 2>/dev/null | sed 's/^/     | /'
        echo "$fails failed"
        exit 1
fi
echo "all passed"
exit 0
