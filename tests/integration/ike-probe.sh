#!/usr/bin/env bash
# The IKE probe against a real charon: two network namespaces of our own joined by a veth
# (gateway 198.19.7.1, vantage point 198.19.7.2; 198.19.7.0/24 is inside 198.18.0.0/15 and away
# from the lab's 198.18.0.0/24), a charon-systemd in the gateway namespace with a minimal config
# and one PSK connection loaded by swanctl, and tests/tools/ike-probe run from the host with
# --netns (the socket is made in the vantage namespace). Cases:
#
#   charon up                     → ANSWERED on 500 and on 4500 (N(INVALID_KE_PAYLOAD) asks 19)
#   ECP-256 KE, stateless offer   → ANSWERED (N(NO_PROPOSAL_CHOSEN): the gateway only has 19)
#   N stateless probes            → half-open IKE_SAs on the gateway (swanctl --stats), printed
#   nft drop udp dport 4500       → SILENT on 4500, ANSWERED on 500; a plain UDP send sees nothing
#   nft reject udp dport 4500     → REFUSED on 4500
#   nft reject host-unreachable   → UNREACHABLE on 4500
#   N full-offer probes           → SA/KE/Nonce answers, then COOKIE; half-open SAs printed
#   charon stopped                → REFUSED on 500 and 4500 (the kernel's port unreachable)
#
# Set IKEHEAL_CAPTURE_CORPUS=DIR to copy the captured answers there (the fuzz corpus is
# tests/fuzz/corpus/ikev2-msg). Exit 0 pass, 1 fail, 77 skip.
set -u

build=${IKEHEAL_BUILD:-build-san}
tool=$build/tools/ike-probe
[ -x "$tool" ] || tool=${IKEHEAL_BUILD_PLAIN:-build}/tools/ike-probe
charon_bin=/usr/sbin/charon-systemd
swanctl_bin=/usr/sbin/swanctl
N_PROBES=${IKE_PROBE_N:-8}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
[ -x "$tool" ] || skip "no ike-probe tool in $build/tools or ${IKEHEAL_BUILD_PLAIN:-build}/tools"
for b in "$charon_bin" "$swanctl_bin" /usr/sbin/nft /usr/sbin/ip; do
        [ -x "$b" ] || skip "missing $b"
done

id=$(printf '%s' "$$-$(date +%s%N)" | sha256sum | cut -c1-6)
GW=ihp-$id-gw
CL=ihp-$id-cl
GW_IF=ihp${id}g
CL_IF=ihp${id}c
GW_IP=198.19.7.1
CL_IP=198.19.7.2
tmp=$(mktemp -d /tmp/ike-probe.XXXXXX)
charon_pid=

cleanup() {
        if [ -n "$charon_pid" ] && kill -0 "$charon_pid" 2>/dev/null; then
                kill "$charon_pid" 2>/dev/null
                for _ in $(seq 30); do kill -0 "$charon_pid" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$charon_pid" 2>/dev/null
        fi
        ip netns del "$GW" 2>/dev/null
        ip netns del "$CL" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# probe PORT [ARGS…]: run the tool from the vantage namespace, print and keep its line in $out
probe() {
        local port=$1; shift
        out=$("$tool" --netns "$CL" --port "$port" --timeout "${TIMEOUT_MS:-1500}" --retries 2 "$@" "$GW_IP" 2>&1)
        echo "     probe :$port $*: $out"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$out"; }
expect() { # VERDICT WHAT
        local v; v=$(field verdict)
        if [ "$v" = "$1" ]; then pass "$2: $v"; else fail "$2: expected $1, got '${v:-?}'"; fi
}

half_open() { # prints "total half-open" from swanctl --stats
        STRONGSWAN_CONF=$tmp/strongswan.conf "$swanctl_bin" --stats --uri "unix://$tmp/vici.sock" 2>/dev/null |
                sed -n 's/^IKE_SAs: \([0-9]*\) total, \([0-9]*\) half-open.*/\1 \2/p'
}

nft_gw() { ip netns exec "$GW" nft "$@"; }

# ---- network ----
ip netns add "$GW" && ip netns add "$CL" || { echo "cannot create namespaces"; exit 1; }
ip link add "$GW_IF" netns "$GW" type veth peer name "$CL_IF" netns "$CL" || exit 1
ip -n "$GW" addr add "$GW_IP/24" dev "$GW_IF" && ip -n "$CL" addr add "$CL_IP/24" dev "$CL_IF" || exit 1
for ns in "$GW" "$CL"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1
done
ip -n "$GW" link set "$GW_IF" up && ip -n "$CL" link set "$CL_IF" up || exit 1
echo "namespaces $GW ($GW_IP) and $CL ($CL_IP)"

# ---- charon ----
plugins="random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 hmac kdf kernel-netlink socket-default vici"
cat >"$tmp/strongswan.conf" <<EOF
# minimal gateway for tests/integration/ike-probe.sh
charon {
        load_modular = no
        load = $plugins
        port = 500
        port_nat_t = 4500
        filelog {
                probe {
                        path = $tmp/charon.log
                        flush_line = yes
                        time_format = %H:%M:%S
                        default = 1
                        ike = 2
                        net = 2
                }
        }
        syslog {
                daemon {
                        default = -1
                }
        }
        plugins {
                vici {
                        socket = unix://$tmp/vici.sock
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
cat >"$tmp/swanctl.conf" <<EOF
connections {
        probe {
                version = 2
                local_addrs = $GW_IP
                proposals = aes256-sha256-ecp256
                local {
                        auth = psk
                        id = gw.probe.test
                }
                remote {
                        auth = psk
                }
                children {
                        c {
                                local_ts = $GW_IP/32
                        }
                }
        }
}
secrets {
        ike-probe {
                secret = "probe-test-only-$id"
        }
}
EOF
ip netns exec "$GW" env STRONGSWAN_CONF="$tmp/strongswan.conf" "$charon_bin" </dev/null >"$tmp/charon.out" 2>&1 &
charon_pid=$!
for _ in $(seq 50); do
        [ -S "$tmp/vici.sock" ] && STRONGSWAN_CONF=$tmp/strongswan.conf \
                "$swanctl_bin" --stats --uri "unix://$tmp/vici.sock" >/dev/null 2>&1 && break
        kill -0 "$charon_pid" 2>/dev/null || break
        sleep 0.1
done
if ! STRONGSWAN_CONF=$tmp/strongswan.conf "$swanctl_bin" --load-all --file "$tmp/swanctl.conf" \
        --uri "unix://$tmp/vici.sock" >"$tmp/load.out" 2>&1; then
        echo "charon (pid $charon_pid) did not come up:"; tail -n 20 "$tmp/charon.out" "$tmp/charon.log" "$tmp/load.out"
        exit 1
fi
echo "charon pid $charon_pid in $GW, connection loaded"

capture() { [ -n "${IKEHEAL_CAPTURE_CORPUS:-}" ] && [ -s "$tmp/$1" ] && cp "$tmp/$1" "$IKEHEAL_CAPTURE_CORPUS/$1"; }

# ---- reachable ----
probe 500 --capture "$tmp/charon-invalid-ke-500.bin"
expect ANSWERED "charon up, UDP 500"
[ "$(field notify)" = INVALID_KE_PAYLOAD ] && [ "$(field ke_group)" = 19 ] &&
        pass "stateless offer: N(INVALID_KE_PAYLOAD) asking for group 19" || fail "expected INVALID_KE_PAYLOAD/19"
capture charon-invalid-ke-500.bin
probe 4500 --capture "$tmp/charon-invalid-ke-4500.bin"
expect ANSWERED "charon up, UDP 4500 with non-ESP marker"
capture charon-invalid-ke-4500.bin
probe 500 --ke-group 19 --capture "$tmp/charon-no-proposal.bin"
expect ANSWERED "ECP-256 KE left out of the offer"
[ "$(field notify)" = NO_PROPOSAL_CHOSEN ] && pass "… answered N(NO_PROPOSAL_CHOSEN)" || fail "expected NO_PROPOSAL_CHOSEN"
capture charon-no-proposal.bin
# the same from inside the namespace (no --netns): both vantage paths agree
out=$(ip netns exec "$CL" "$tool" --port 500 --timeout 1500 "$GW_IP" 2>&1); echo "     ip netns exec: $out"
expect ANSWERED "probe run inside the namespace"

# ---- half-open SAs after stateless probes ----
before=$(half_open)
for _ in $(seq "$N_PROBES"); do
        probe 500 >/dev/null
        [ "$(field verdict)" = ANSWERED ] || fail "stateless probe not answered: $out"
done
after=$(half_open)
echo "MEASURE stateless: $N_PROBES probes; gateway IKE_SAs (total half-open) before: $before, after: $after"
[ "${after#* }" = 0 ] && pass "no half-open IKE_SA left by $N_PROBES stateless probes" ||
        fail "half-open IKE_SAs after stateless probes: ${after#* }"

# ---- nftables: drop / reject on 4500 ----
nft_gw add table inet ihprobe || exit 1
nft_gw add chain inet ihprobe input '{ type filter hook input priority 0; policy accept; }'
nft_gw add rule inet ihprobe input udp dport 4500 drop
TIMEOUT_MS=900 probe 4500
expect SILENT "nft drop udp dport 4500 → 4500"
probe 500
expect ANSWERED "nft drop udp dport 4500 → 500 still"
# a generic UDP port test: the send "succeeds" whether the port is dropped or open
if ip netns exec "$CL" bash -c "echo x >/dev/udp/$GW_IP/4500" 2>/dev/null; then
        pass "a plain UDP send to the dropped port reports success (blind to the drop; the probe is not)"
fi
nft_gw flush chain inet ihprobe input
nft_gw add rule inet ihprobe input udp dport 4500 reject
probe 4500
expect REFUSED "nft reject udp dport 4500 → 4500"
nft_gw flush chain inet ihprobe input
nft_gw add rule inet ihprobe input udp dport 4500 reject with icmp type host-unreachable
probe 4500
expect UNREACHABLE "nft reject with host-unreachable → 4500"
nft_gw flush chain inet ihprobe input
nft_gw add rule inet ihprobe input udp dport 4500 reject with icmp type admin-prohibited
probe 4500
expect UNREACHABLE "nft reject with admin-prohibited → 4500"
# the ike_probe check probes both ports of a round from one socket: each port's verdict is its
# own, whichever of them the firewall refuses, drops or lets through
checkrun=$build/tools/check-run
[ -x "$checkrun" ] || checkrun=${IKEHEAL_BUILD_PLAIN:-build}/tools/check-run
printf 'targets: [%s]\ntimeout: 900ms\nretries: 2\n' "$GW_IP" >"$tmp/probe-check.yaml"
check_both() { # RULE|"" EXPECT500 EXPECT4500 WHAT
        nft_gw flush chain inet ihprobe input
        [ -n "$1" ] && nft_gw add rule inet ihprobe input $1
        out=$(ip netns exec "$CL" "$checkrun" --count 1 ike_probe "$tmp/probe-check.yaml" 2>&1)
        local v500 v4500
        v500=$(sed -n "s/^fact $GW_IP:500=//p" <<<"$out")
        v4500=$(sed -n "s/^fact $GW_IP:4500=//p" <<<"$out")
        if [ "$v500 $v4500" = "$2 $3" ]; then pass "check, $4: 500 $v500, 4500 $v4500 ($(sed -n 's/^summary: //p' <<<"$out"))"
        else fail "check, $4: expected 500 $2 and 4500 $3, got: $(tr '\n' '|' <<<"$out")"; fi
}
check_both "udp dport 4500 reject" ANSWERED REFUSED "reject on 4500"
check_both "udp dport 500 reject" REFUSED ANSWERED "reject on 500"
check_both "udp dport 500 reject with icmp type host-unreachable" UNREACHABLE ANSWERED "host-unreachable on 500"
check_both "udp dport 4500 drop" ANSWERED SILENT "drop on 4500"
check_both "udp dport 500 drop" SILENT ANSWERED "drop on 500"
check_both "" ANSWERED ANSWERED "no rule"
# Each run of the check leaves from fresh source ports: a drop rule added behind the admin's
# "ct state established accept" stops the next runs, as it stops every new client (a probe that
# kept its port would ride the earlier runs' conntrack entries past it and report ANSWERED).
nft_gw flush chain inet ihprobe input
nft_gw add rule inet ihprobe input ct state established,related accept
ip netns exec "$CL" "$checkrun" --count 6 --interval 300 ike_probe "$tmp/probe-check.yaml" >"$tmp/probe-runs.out" 2>&1 &
runs=$!
# two answered runs (their flows established), then the drop; the last run starts at least two
# intervals after it
for _ in $(seq 200); do grep -q '^finding 2 ' "$tmp/probe-runs.out" && break; sleep 0.05; done
nft_gw add rule inet ihprobe input udp dport 500 drop
wait "$runs"
first=$(awk '/^finding 2 /,/^end/' "$tmp/probe-runs.out" | sed -n "s/^fact $GW_IP:500=//p")
last=$(awk '/^finding 6 /,/^end/' "$tmp/probe-runs.out" | sed -n "s/^fact $GW_IP:500=//p")
if [ "$first $last" = "ANSWERED SILENT" ]; then
        pass "check runs after a drop behind 'ct state established accept': 500 $first, then $last (fresh source ports)"
else
        fail "check runs: 500 '$first' then '$last': $(tr '\n' '|' <<<"$(cat "$tmp/probe-runs.out")")"
fi
nft_gw delete table inet ihprobe
probe 4500
expect ANSWERED "rule removed → 4500 answered again"

# ---- half-open SAs after full-offer probes (the alternative we do not use) ----
before=$(half_open)
sa_answers=0 cookies=0 silent=0
for i in $(seq "$N_PROBES"); do
        probe 500 --full --ke-group 19 --capture "$tmp/full-$i.bin" >/dev/null
        case "$(field verdict) $(field sa) $(field cookie)" in
        "ANSWERED 1 "*) sa_answers=$((sa_answers + 1)); [ -s "$tmp/charon-sa-ke-nonce.bin" ] || cp "$tmp/full-$i.bin" "$tmp/charon-sa-ke-nonce.bin" ;;
        "ANSWERED 0 1") cookies=$((cookies + 1)); [ -s "$tmp/charon-cookie.bin" ] || cp "$tmp/full-$i.bin" "$tmp/charon-cookie.bin" ;;
        SILENT*) silent=$((silent + 1)) ;;
        esac
done
after=$(half_open)
echo "MEASURE full offer: $N_PROBES probes → $sa_answers SA/KE/Nonce, $cookies COOKIE, $silent silent;" \
        "gateway IKE_SAs (total half-open) before: $before, after: $after"
[ "$sa_answers" -ge 1 ] && pass "full offer: charon answered SA/KE/Nonce ($sa_answers)" || fail "no SA/KE/Nonce answer"
[ "${after#* }" -ge 1 ] && pass "full offer leaves half-open IKE_SAs (${after#* }), the stateless one none" ||
        fail "expected half-open IKE_SAs after full-offer probes"
capture charon-sa-ke-nonce.bin
capture charon-cookie.bin
# once charon asks for cookies, even the stateless probe sees COOKIE: still a parsed answer
probe 500
expect ANSWERED "stateless probe while charon demands cookies"

# ---- charon stopped ----
kill "$charon_pid"
for _ in $(seq 50); do kill -0 "$charon_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$charon_pid" 2>/dev/null && { kill -9 "$charon_pid"; sleep 0.2; }
charon_pid=
probe 500
expect REFUSED "charon stopped → 500"
probe 4500
expect REFUSED "charon stopped → 4500"

echo "charon log (IKE lines):"
grep -E "INVALID_KE|unacceptable|no acceptable|proposal|cookie|half-open" "$tmp/charon.log" 2>/dev/null | tail -n 8 | sed 's/^/     | /'
if [ "$fails" -gt 0 ]; then
        echo "$fails failed"
        exit 1
fi
echo "all passed"
exit 0
