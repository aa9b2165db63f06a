#!/usr/bin/env bash
# The real-parts lab: a strongSwan gateway and N strongSwan road-warrior clients, each its own
# charon-systemd in its own network namespace, joined by veth pairs on a bridge in the gateway's
# namespace, with certificates made on the spot by strongSwan's pki. Every integration test and
# `make demo` stands on it. Nothing leaves the machine: all addresses are in 198.18.0.0/15 and
# live only inside the namespaces made here; nothing is read from or written to /etc.
#
# Two faces:
#   a bash library:  . tests/lab/lab.sh; lab_up "$dir" --clients 2; lab_connect "$dir" 1; …
#   a command:       tests/lab/lab.sh up DIR [--clients N] | down DIR | connect DIR [IDX] | status DIR
#                    (and the other verbs listed by `tests/lab/lab.sh help`)
#
# Everything a run makes is named from DIR (an id hashed from its path) and recorded in DIR, so
# `down` removes exactly that and nothing else, and is safe to repeat. See tests/lab/README.md.
#
# Functions return non-zero on failure and say why on stderr ("lab: …"); they never `exit`, so a
# test that sources this file keeps control. The library sets no shell options and works under
# the caller's `set -euo pipefail` too.

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Addresses (198.18.0.0/15 is set aside for benchmarking networks, never routed).
LAB_GW_IP=198.18.0.1
LAB_NET_PREFIX=198.18.0        # client i gets .(1+i) on the bridge's /24
LAB_LAN_IP=198.18.1.1          # the gateway's protected address, on its lo
LAB_POOL=${LAB_POOL:-198.18.2.0/24} # virtual IPs handed to clients (a bench with more peers sets a larger one)
LAB_MAX_CLIENTS=50

# The lab's algorithms, in one place. Tests make a mismatch with lab_set_proposals, which edits
# the `proposals`/`esp_proposals` lines of a generated swanctl.conf and reloads.
LAB_IKE_PROPOSALS=${LAB_IKE_PROPOSALS:-aes256-sha256-ecp256}
LAB_ESP_PROPOSALS=${LAB_ESP_PROPOSALS:-aes256-sha256-ecp256}

# Names used in the generated swanctl.conf files.
LAB_GW_CONN=rw                 # gateway connection
LAB_CL_CONN=gw                 # client connection
LAB_CHILD=lan                  # CHILD_SA name on both sides
LAB_POOL_NAME=lab-pool
LAB_GW_ID=gw.lab.test

# Retransmits: the client gives up after 1.0 + 1.5 + 2.25 = 4.75 s; the gateway (which notices
# a vanished client) after ~8 s. charon's defaults would make that 165 s.
LAB_CL_RETRANSMIT=(2 1.0 1.5)
LAB_GW_RETRANSMIT=(3 1.0 1.5)
LAB_CL_DPD=5s
LAB_GW_DPD=10s

# Plugins: charon's list and the short one for swanctl/pki. kernel-libipsec before
# kernel-netlink (see strongswan.conf.in).
LAB_CHARON_PLUGINS="random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey \
sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici"
LAB_TOOL_PLUGINS="random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2"

LAB_CHARON_BIN=${LAB_CHARON_BIN:-/usr/sbin/charon-systemd}
LAB_SWANCTL_BIN=${LAB_SWANCTL_BIN:-/usr/sbin/swanctl}
LAB_PKI_BIN=${LAB_PKI_BIN:-/usr/bin/pki}
LAB_START_TIMEOUT_MS=5000      # charon until its VICI socket answers
LAB_STOP_TIMEOUT_MS=3000       # SIGTERM until SIGKILL
LAB_CONNECT_TIMEOUT=${LAB_CONNECT_TIMEOUT:-15}   # seconds, swanctl --initiate --timeout

_lab_err() { echo "lab: $*" >&2; }

# Run a command quietly; on failure show what ran and its output. Returns its status.
_lab_run() {
        local out rc=0
        out=$("$@" 2>&1) || rc=$?
        if [ $rc -ne 0 ]; then
                _lab_err "command failed ($rc): $*"
                [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/lab:   | /' >&2
        fi
        return $rc
}

# Milliseconds since the epoch, for bounded polling without `timeout`.
_lab_now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

# The lab's id: 6 hex digits of the canonical DIR, so names are unique per run and `down` can
# find them again even from a half-finished `up`.
_lab_id() { printf '%s' "$1" | sha256sum | cut -c1-6; }

# Canonical absolute DIR (must exist).
_lab_dir() {
        [ -n "$1" ] || { _lab_err "no lab directory given"; return 2; }
        [ -d "$1" ] || { _lab_err "$1: no such directory"; return 1; }
        (cd "$1" && pwd -P)
}

# Value of a variable of DIR/lab.env, read in a subshell so the caller's variables stay untouched.
_lab_get() {
        local dir=$1 name=$2
        [ -r "$dir/lab.env" ] || { _lab_err "$dir: no lab.env (is the lab up?)"; return 1; }
        (
                # shellcheck disable=SC1091
                . "$dir/lab.env" || exit 1
                [ -n "${!name+x}" ] || { echo "lab: $dir/lab.env has no $name" >&2; exit 1; }
                printf '%s' "${!name}"
        )
}

# Name of a per-instance variable: ROLE is "gw" or a client index (1…N); KEY e.g. NS, URI.
_lab_key() {
        local role=$1 key=$2
        case $role in
        gw) echo "GW_$key" ;;
        peer) echo "PEER_$key" ;;
        '' | *[!0-9]*) _lab_err "role must be 'gw' or a client index, not '$role'"; return 2 ;;
        *) echo "CL_${key}_$role" ;;
        esac
}

# The instance's directory name under DIR: gw, cl1, cl2, …
_lab_role_dir() { # ROLE
        case $1 in
        gw) echo gw ;;
        peer) echo peer ;;
        '' | *[!0-9]*) _lab_err "role must be 'gw' or a client index, not '$1'"; return 2 ;;
        *) echo "cl$1" ;;
        esac
}

_lab_role_get() { # DIR ROLE KEY
        local k
        k=$(_lab_key "$2" "$3") || return
        _lab_get "$1" "$k"
}

# ---------------------------------------------------------------------------------------------
# Certificates

# pki with the lab's quiet plugin list.
_lab_pki() { STRONGSWAN_CONF=$LAB_PKI_CONF "$LAB_PKI_BIN" "$@"; }

_lab_pki_key() { # OUT
        _lab_pki --gen --type ecdsa --size 256 --outform pem >"$1"
}

_lab_pki_ca() { # KEY CERT DN
        _lab_pki --self --ca --lifetime 3650 --in "$1" --type ecdsa --dn "$3" --outform pem >"$2"
}

# Issue a certificate for KEY's public key. Extra pki options (--san, --flag, dates) follow.
_lab_pki_issue() { # KEY CAKEY CACERT DN OUT [pki options…]
        local key=$1 cakey=$2 cacert=$3 dn=$4 out=$5
        shift 5
        _lab_pki --pub --in "$key" --type ecdsa |
                _lab_pki --issue --cacert "$cacert" --cakey "$cakey" --dn "$dn" --outform pem "$@" >"$out.tmp" &&
                mv -f "$out.tmp" "$out"
}

_lab_date() { date -d "$1" '+%Y-%m-%d %H:%M:%S'; }

# The gateway certificate options shared by every variant: SAN with DNS id and IP, EKU
# serverAuth + ikeIntermediate (what Windows and macOS clients insist on).
LAB_GW_CERT_OPTS=(--san "$LAB_GW_ID" --san "$LAB_GW_IP" --flag serverAuth --flag ikeIntermediate)

# Make the lab's PKI under DIR/pki: root CA, intermediate CA (for chain faults), a foreign CA
# (for "wrong CA" faults), the gateway's key and cert, one key and cert per client, and a
# standby gateway key+cert from the same CA kept aside in DIR/standby/.
# shellcheck disable=SC2015  # each chain is a sequence of steps with one failure message
_lab_make_pki() { # DIR N
        local dir=$1 n=$2 p=$1/pki i
        mkdir -p "$p" "$dir/standby" || return
        LAB_PKI_CONF=$p/strongswan.conf
        _lab_write_conf "$LAB_SRC/strongswan.conf.in" "$LAB_PKI_CONF" ROLE=pki LOG=/dev/null \
                RETRANSMIT_TRIES=0 RETRANSMIT_TIMEOUT=0 RETRANSMIT_BASE=0 \
                VICI=/dev/null || return
        local id
        id=$(_lab_id "$dir")
        _lab_pki_key "$p/ca.key" && _lab_pki_ca "$p/ca.key" "$p/ca.pem" "O=ikeheal lab $id, CN=lab root CA" &&
                _lab_pki_key "$p/foreign-ca.key" &&
                _lab_pki_ca "$p/foreign-ca.key" "$p/foreign-ca.pem" "O=ikeheal lab $id, CN=foreign CA" &&
                _lab_pki_key "$p/int.key" &&
                _lab_pki_issue "$p/int.key" "$p/ca.key" "$p/ca.pem" "O=ikeheal lab $id, CN=lab intermediate CA" \
                        "$p/int.pem" --ca --lifetime 3650 &&
                _lab_pki_key "$p/gw.key" &&
                _lab_pki_issue "$p/gw.key" "$p/ca.key" "$p/ca.pem" "O=ikeheal lab $id, CN=$LAB_GW_ID" "$p/gw.pem" \
                        --lifetime 365 "${LAB_GW_CERT_OPTS[@]}" &&
                _lab_pki_key "$dir/standby/gw-standby.key" &&
                _lab_pki_issue "$dir/standby/gw-standby.key" "$p/ca.key" "$p/ca.pem" \
                        "O=ikeheal lab $id, CN=$LAB_GW_ID" "$dir/standby/gw-standby.pem" \
                        --lifetime 365 "${LAB_GW_CERT_OPTS[@]}" || { _lab_err "pki failed"; return 1; }
        for ((i = 1; i <= n; i++)); do
                _lab_pki_key "$p/client$i.key" &&
                        _lab_pki_issue "$p/client$i.key" "$p/ca.key" "$p/ca.pem" \
                                "O=ikeheal lab $id, CN=client$i.lab.test" "$p/client$i.pem" \
                                --lifetime 365 --san "client$i.lab.test" --flag clientAuth ||
                        { _lab_err "pki failed for client $i"; return 1; }
        done
        chmod 600 "$p"/*.key "$dir"/standby/*.key
}

# Re-issue the gateway certificate (same key unless told) and install it in the gateway's
# swanctl tree, for fault tests:
#   valid             signed by the lab CA, valid for a year (the normal state)
#   expired           validity ended yesterday
#   notyet            validity starts tomorrow
#   foreign           signed by a CA the clients do not trust
#   intermediate      signed by the intermediate CA, which the gateway holds and sends: works
#   chain-incomplete  signed by the intermediate CA, which the gateway lacks: clients cannot
#                     build the chain
#   standby           the standby cert+key from DIR/standby/ (same CA, own key)
# Then reloads the gateway's credentials and connections (certificates are bound when a
# connection is loaded) unless --no-reload is given. The previous cert stays as gw.pem.prev
# beside x509/ (not in it: swanctl loads every file there).
lab_gw_cert() { # DIR KIND [--no-reload]
        local dir kind=$2 reload=1
        dir=$(_lab_dir "$1") || return
        [ "${3:-}" = --no-reload ] && reload=0
        local p=$dir/pki sw id
        sw=$(_lab_get "$dir" GW_SWANCTL_DIR) || return
        id=$(_lab_id "$dir")
        LAB_PKI_CONF=$p/strongswan.conf
        local dn="O=ikeheal lab $id, CN=$LAB_GW_ID" cacert=$p/ca.pem cakey=$p/ca.key key=$p/gw.key
        local dates=(--lifetime 365) int=0
        case $kind in
        valid) ;;
        expired) dates=(--not-before "$(_lab_date '-30 days')" --not-after "$(_lab_date '-1 day')"
                        --dateform '%Y-%m-%d %H:%M:%S') ;;
        notyet) dates=(--not-before "$(_lab_date '+1 day')" --not-after "$(_lab_date '+365 days')"
                       --dateform '%Y-%m-%d %H:%M:%S') ;;
        foreign) cacert=$p/foreign-ca.pem cakey=$p/foreign-ca.key ;;
        intermediate) cacert=$p/int.pem cakey=$p/int.key int=1 ;;
        chain-incomplete) cacert=$p/int.pem cakey=$p/int.key ;;
        standby) key=$dir/standby/gw-standby.key ;;
        *) _lab_err "unknown gateway cert kind '$kind' (valid expired notyet foreign intermediate chain-incomplete standby)"
           return 2 ;;
        esac
        cp -f "$sw/x509/gw.pem" "$sw/gw.pem.prev" 2>/dev/null
        if [ "$kind" = standby ]; then
                cp -f "$dir/standby/gw-standby.pem" "$sw/x509/gw.pem" || return
        else
                _lab_pki_issue "$key" "$cakey" "$cacert" "$dn" "$sw/x509/gw.pem" "${dates[@]}" \
                        "${LAB_GW_CERT_OPTS[@]}" || { _lab_err "pki failed"; return 1; }
        fi
        cp -f "$key" "$sw/private/gw.key" && chmod 600 "$sw/private/gw.key" || return
        if [ $int = 1 ]; then
                cp -f "$p/int.pem" "$sw/x509ca/int.pem" || return
        else
                rm -f "$sw/x509ca/int.pem"
        fi
        [ $reload = 1 ] || return 0
        # A key that left the tree stays loaded in charon until creds are cleared: start clean.
        _lab_run lab_swanctl "$dir" gw --load-creds --clear --noprompt || return
        lab_reload "$dir" gw
}

# ---------------------------------------------------------------------------------------------
# Configuration files

# Copy a template, replacing each @KEY@ by its value (KEY=VALUE arguments). Values may hold any
# character but newline; an @KEY@ left over is an error (a template and lab.sh out of step).
_lab_write_conf() { # TEMPLATE OUT KEY=VALUE…
        local tmpl=$1 out=$2 text kv k v
        shift 2
        text=$(<"$tmpl") || return
        for kv in "$@"; do
                k=${kv%%=*} v=${kv#*=}
                text=${text//@"$k"@/$v}
        done
        text=${text//@PLUGINS@/$LAB_CHARON_PLUGINS}
        text=${text//@TOOL_PLUGINS@/$LAB_TOOL_PLUGINS}
        if [[ $text =~ @[A-Z_]+@ ]]; then
                _lab_err "$tmpl: ${BASH_REMATCH[0]} not filled in"
                return 1
        fi
        printf '%s\n' "$text" >"$out"
}

# The tree of one charon instance: DIR/ROLE/{strongswan.conf, swanctl/…, charon.log, …}.
_lab_write_instance() { # DIR NAME RETRANSMIT(3)
        local base=$1/$2
        mkdir -p "$base"/swanctl/{x509,x509ca,private,pubkey,rsa,ecdsa,bliss,pkcs8,pkcs12,x509aa,x509ocsp,x509crl,x509ac,conf.d} ||
                return
        chmod 700 "$base/swanctl/private"
        # A fresh lab starts with fresh logs; restarts of its charons later append (append = yes)
        # so the evidence of a crash survives the restart.
        : >"$base/charon.log"
        _lab_write_conf "$LAB_SRC/strongswan.conf.in" "$base/strongswan.conf" ROLE="$2" \
                LOG="$base/charon.log" VICI="$base/charon.vici" RETRANSMIT_TRIES="$3" \
                RETRANSMIT_TIMEOUT="$4" RETRANSMIT_BASE="$5"
}

# ---------------------------------------------------------------------------------------------
# Processes

# Is PID a live charon this lab (DIR) started? Guards every signal against a recycled PID. A
# zombie has no environment left and counts as gone.
_lab_pid_is_ours() { # DIR PID
        local dir=$1 pid=$2
        [[ $pid =~ ^[0-9]+$ ]] || return 1
        # grep -z reads the NUL-separated environment itself: no pipe for pipefail to trip on.
        grep -qz "^STRONGSWAN_CONF=$dir/[^/]*/strongswan.conf\$" "/proc/$pid/environ" 2>/dev/null
}

# Start one charon in NS, record its PID in DIR/NAME/charon.pid. `ip netns exec` execs env
# which execs charon, so $! is charon's own PID.
_lab_start_charon() { # DIR NAME NS
        local dir=$1 name=$2 ns=$3 base=$1/$2
        rm -f "$base/charon.vici"
        ip netns exec "$ns" env STRONGSWAN_CONF="$base/strongswan.conf" SWANCTL_DIR="$base/swanctl" \
                "$LAB_CHARON_BIN" </dev/null >"$base/charon.out" 2>&1 &
        echo $! >"$base/charon.pid"
}

# Wait until the charon of DIR/NAME answers on its VICI socket.
_lab_wait_charon() { # DIR NAME
        local dir=$1 name=$2 base=$1/$2 pid deadline
        pid=$(<"$base/charon.pid")
        deadline=$(($(_lab_now_ms) + LAB_START_TIMEOUT_MS))
        while [ "$(_lab_now_ms)" -lt $deadline ]; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        _lab_err "charon of $name (pid $pid) died at start; its output and log end:"
                        cat "$base/charon.out" "$base/charon.log" 2>/dev/null | tail -n 20 | sed 's/^/lab:   | /' >&2
                        return 1
                fi
                if [ -S "$base/charon.vici" ] &&
                        STRONGSWAN_CONF=$base/strongswan.conf timeout 2 "$LAB_SWANCTL_BIN" --stats \
                                --uri "unix://$base/charon.vici" >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.02
        done
        _lab_err "charon of $name (pid $pid) did not answer on $base/charon.vici within ${LAB_START_TIMEOUT_MS} ms"
        return 1
}

# Stop the charons recorded in DIR: SIGTERM, then SIGKILL after LAB_STOP_TIMEOUT_MS.
_lab_stop_charons() { # DIR
        local dir=$1 f pid pids=() left deadline killed=0
        for f in "$dir"/*/charon.pid; do
                [ -r "$f" ] || continue
                pid=$(<"$f")
                if _lab_pid_is_ours "$dir" "$pid"; then
                        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
                fi
        done
        deadline=$(($(_lab_now_ms) + LAB_STOP_TIMEOUT_MS))
        while [ ${#pids[@]} -gt 0 ]; do
                left=()
                for pid in "${pids[@]}"; do
                        _lab_pid_is_ours "$dir" "$pid" && left+=("$pid")
                done
                pids=(${left[@]+"${left[@]}"})
                [ ${#pids[@]} -eq 0 ] && break
                if [ "$(_lab_now_ms)" -ge $deadline ]; then
                        if [ $killed = 1 ]; then
                                _lab_err "charon pid(s) ${pids[*]} survived SIGKILL, giving up"
                                return 1
                        fi
                        _lab_err "charon pid(s) ${pids[*]} ignored SIGTERM for ${LAB_STOP_TIMEOUT_MS} ms, sending SIGKILL"
                        kill -KILL "${pids[@]}" 2>/dev/null
                        killed=1
                        deadline=$(($(_lab_now_ms) + 2000))
                fi
                sleep 0.02
        done
        # Reap the ones that are children of this shell (the library case); `wait` on anything
        # else returns at once. Never a bare `wait`: the caller may have children of its own.
        for f in "$dir"/*/charon.pid; do
                [ -r "$f" ] || continue
                pid=$(<"$f")
                [[ $pid =~ ^[0-9]+$ ]] && { wait "$pid" 2>/dev/null || true; }
                rm -f "$f" "${f%/charon.pid}/charon.vici"
        done
        return 0
}

# ---------------------------------------------------------------------------------------------
# Network

# The lab is IPv4 only; without IPv6 charon's log carries no link-local address churn. Where
# the kernel has no IPv6 at all there is nothing to switch off.
_lab_no_ipv6() { # NS
        [ -e /proc/sys/net/ipv6 ] || return 0
        ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
                net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
        return 0
}

_lab_make_net() { # DIR N
        local dir=$1 n=$2 id gw br i cl gif cif
        id=$(_lab_id "$dir")
        gw=ih-$id-gw br=ih${id}br
        _lab_run ip netns add "$gw" || return
        _lab_no_ipv6 "$gw"
        _lab_run ip -n "$gw" link set lo up &&
                _lab_run ip -n "$gw" addr add "$LAB_LAN_IP/32" dev lo &&
                _lab_run ip -n "$gw" link add "$br" type bridge &&
                _lab_run ip -n "$gw" addr add "$LAB_GW_IP/24" dev "$br" &&
                _lab_run ip -n "$gw" link set "$br" up || return
        for ((i = 1; i <= n; i++)); do
                cl=ih-$id-c$i gif=ih${id}g$i cif=ih${id}c$i
                # Both ends are made inside the namespaces: nothing of the lab ever exists in the
                # host namespace, and deleting the namespaces removes every link.
                _lab_run ip netns add "$cl" && _lab_no_ipv6 "$cl" &&
                        _lab_run ip -n "$cl" link set lo up &&
                        _lab_run ip -n "$gw" link add "$gif" type veth peer name "$cif" netns "$cl" &&
                        _lab_run ip -n "$gw" link set "$gif" master "$br" up &&
                        _lab_run ip -n "$cl" addr add "$LAB_NET_PREFIX.$((1 + i))/24" dev "$cif" &&
                        _lab_run ip -n "$cl" link set "$cif" up || return
        done
}

# Namespaces of the lab with id ID that exist now.
_lab_netns_of() { ip netns list 2>/dev/null | awk -v p="ih-$1-" 'index($1, p) == 1 { print $1 }'; }

# ---------------------------------------------------------------------------------------------
# Public API

# Run swanctl against one instance: COMMAND first (swanctl insists), then --uri, then the rest.
lab_swanctl() { # DIR ROLE COMMAND [ARGS…]
        local dir=$1 role=$2 cmd=$3 uri sw conf
        shift 3
        uri=$(_lab_role_get "$dir" "$role" URI) || return
        sw=$(_lab_role_get "$dir" "$role" SWANCTL_DIR) || return
        conf=$(_lab_role_get "$dir" "$role" CONF) || return
        STRONGSWAN_CONF=$conf SWANCTL_DIR=$sw "$LAB_SWANCTL_BIN" "$cmd" --uri "$uri" "$@"
}

# Run a command inside an instance's namespace.
lab_exec() { # DIR ROLE CMD…
        local ns
        ns=$(_lab_role_get "$1" "$2" NS) || return
        shift 2
        ip netns exec "$ns" "$@"
}

# (Re)load everything of an instance's swanctl tree. swanctl exits 0 even when swanctl.conf has
# a syntax error (and then unloads every connection), so its output is checked too.
lab_reload() { # DIR ROLE
        local out rc=0
        out=$(lab_swanctl "$1" "$2" --load-all --noprompt 2>&1) || rc=$?
        if [ $rc -ne 0 ] || grep -qiE 'syntax error|invalid config|failed|error' <<<"$out"; then
                _lab_err "loading the swanctl config of '$2' failed (exit $rc):"
                printf '%s\n' "$out" | sed 's/^/lab:   | /' >&2
                return 1
        fi
}

# Number of INSTALLED CHILD_SAs an instance has.
lab_child_count() { # DIR ROLE
        local out
        out=$(lab_swanctl "$1" "$2" --list-sas 2>/dev/null) || { echo 0; return 1; }
        grep -c 'INSTALLED' <<<"$out" || true
}

# Wait until an instance has at least COUNT installed CHILD_SAs (default timeout 10000 ms).
lab_wait_children() { # DIR ROLE COUNT [TIMEOUT_MS]
        local deadline
        deadline=$(($(_lab_now_ms) + ${4:-10000}))
        while [ "$(lab_child_count "$1" "$2" 2>/dev/null)" -lt "$3" ]; do
                if [ "$(_lab_now_ms)" -ge $deadline ]; then
                        _lab_err "'$2' has $(lab_child_count "$1" "$2" 2>/dev/null) CHILD_SA(s) after ${4:-10000} ms, wanted $3"
                        return 1
                fi
                sleep 0.05
        done
}

# Bring a client's tunnel up: flush cached peer certificates (a probe must see the gateway's
# current certificate), initiate the CHILD_SA and wait for it. 0 when the CHILD_SA is installed.
# swanctl's output goes to DIR/clIDX/initiate.log (and to stderr on failure).
lab_connect() { # DIR [IDX]
        local dir idx=${2:-1} log rc
        dir=$(_lab_dir "$1") || return
        _lab_role_get "$dir" "$idx" NS >/dev/null || return
        log=$dir/cl$idx/initiate.log
        lab_swanctl "$dir" "$idx" --flush-certs >/dev/null 2>&1 || true
        rc=0
        lab_swanctl "$dir" "$idx" --initiate --child "$LAB_CHILD" --timeout "$LAB_CONNECT_TIMEOUT" >"$log" 2>&1 || rc=$?
        if [ $rc -ne 0 ]; then
                _lab_err "client $idx: initiate failed (exit $rc); last lines of $log:"
                tail -n 8 "$log" | sed 's/^/lab:   | /' >&2
                return 1
        fi
        if [ "$(lab_child_count "$dir" "$idx")" -lt 1 ]; then
                _lab_err "client $idx: initiate said yes but no CHILD_SA is INSTALLED"
                return 1
        fi
}

# Tear a client's IKE_SA (and its CHILD_SA) down. 0 also when there was none.
lab_disconnect() { # DIR [IDX]
        local dir idx=${2:-1}
        dir=$(_lab_dir "$1") || return
        _lab_role_get "$dir" "$idx" NS >/dev/null || return
        local sas
        sas=$(lab_swanctl "$dir" "$idx" --list-sas 2>/dev/null) || true
        grep -q "^$LAB_CL_CONN:" <<<"$sas" || return 0
        _lab_run lab_swanctl "$dir" "$idx" --terminate --ike "$LAB_CL_CONN" --timeout 5
}

# Stop one instance's charon (a "daemon down" fault): SIGNAL (default TERM) to the recorded PID,
# then wait until it is gone (SIGKILL after LAB_STOP_TIMEOUT_MS). The pid file is removed.
lab_stop() { # DIR ROLE [SIGNAL]
        local dir role=$2 sig=${3:-TERM} name pid deadline
        dir=$(_lab_dir "$1") || return
        name=$(_lab_role_dir "$role") || return
        pid=$(cat "$dir/$name/charon.pid" 2>/dev/null || true)
        if ! _lab_pid_is_ours "$dir" "$pid"; then
                rm -f "$dir/$name/charon.pid"
                return 0
        fi
        kill -"$sig" "$pid" || return
        deadline=$(($(_lab_now_ms) + LAB_STOP_TIMEOUT_MS))
        while _lab_pid_is_ours "$dir" "$pid"; do
                if [ "$(_lab_now_ms)" -ge $deadline ]; then
                        _lab_err "$name: charon pid $pid still there after SIG$sig, sending SIGKILL"
                        kill -KILL "$pid" 2>/dev/null
                        deadline=$(($(_lab_now_ms) + 2000 + LAB_STOP_TIMEOUT_MS))
                fi
                sleep 0.02
        done
        wait "$pid" 2>/dev/null || true
        rm -f "$dir/$name/charon.pid" "$dir/$name/charon.vici"
}

# (Re)start one instance's charon in its namespace, wait for VICI, load its swanctl tree and
# record the new PID in lab.env (re-source lab.env afterwards). Fails if it is running already.
lab_start() { # DIR ROLE
        local dir role=$2 name ns pid n id
        dir=$(_lab_dir "$1") || return
        name=$(_lab_role_dir "$role") || return
        pid=$(cat "$dir/$name/charon.pid" 2>/dev/null || true)
        if _lab_pid_is_ours "$dir" "$pid"; then
                _lab_err "$name: charon is running already (pid $pid)"
                return 1
        fi
        ns=$(_lab_role_get "$dir" "$role" NS) || return
        n=$(_lab_get "$dir" LAB_CLIENTS) || return
        id=$(_lab_get "$dir" LAB_ID) || return
        _lab_start_charon "$dir" "$name" "$ns" && _lab_wait_charon "$dir" "$name" &&
                _lab_write_env "$dir" "$n" "$id" && lab_reload "$dir" "$role"
}

# Replace the IKE (and optionally ESP) proposals of one instance and reload its connections.
lab_set_proposals() { # DIR ROLE IKE [ESP]
        local dir=$1 role=$2 ike=$3 esp=${4:-} sw
        sw=$(_lab_role_get "$dir" "$role" SWANCTL_DIR) || return
        sed -i -E "s/^([[:space:]]*)proposals = .*/\1proposals = $ike/" "$sw/swanctl.conf" || return
        [ -n "$esp" ] && { sed -i -E "s/^([[:space:]]*)esp_proposals = .*/\1esp_proposals = $esp/" "$sw/swanctl.conf" || return; }
        lab_reload "$dir" "$role"
}

lab_up() { # DIR [--clients N]
        local dir n=1
        [ -n "${1:-}" ] || { _lab_err "usage: lab_up DIR [--clients N]"; return 2; }
        mkdir -p "$1" || return
        dir=$(_lab_dir "$1") || return
        shift
        while [ $# -gt 0 ]; do
                case $1 in
                --clients) n=${2:-}; shift 2 || { _lab_err "--clients needs a number"; return 2; } ;;
                --clients=*) n=${1#*=}; shift ;;
                *) _lab_err "lab_up: unknown option '$1'"; return 2 ;;
                esac
        done
        if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt $LAB_MAX_CLIENTS ]; then
                _lab_err "--clients must be 1…$LAB_MAX_CLIENTS, not '$n'"
                return 2
        fi
        if [ "$(id -u)" -ne 0 ]; then
                _lab_err "the lab needs root (network namespaces)"
                return 77
        fi
        local b
        for b in "$LAB_CHARON_BIN" "$LAB_SWANCTL_BIN" "$LAB_PKI_BIN"; do
                [ -x "$b" ] || { _lab_err "$b missing (make deps)"; return 77; }
        done
        # The path goes unquoted into strongswan.conf and lab.env: keep it to plain characters.
        if ! [[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]]; then
                _lab_err "$dir: use a directory path of letters, digits and ._/+- only"
                return 2
        fi
        # sun_path holds 108 bytes; charon would fail late and obscurely.
        if [ ${#dir} -gt 80 ]; then
                _lab_err "$dir: path too long for the VICI sockets (keep it under 80 characters)"
                return 2
        fi
        if [ -e "$dir/lab.env" ]; then
                _lab_err "$dir: a lab is already up here (lab.sh down $dir first)"
                return 1
        fi
        local id
        id=$(_lab_id "$dir")
        if [ -n "$(_lab_netns_of "$id")" ]; then
                _lab_err "namespaces of lab id $id exist already: $(_lab_netns_of "$id" | tr '\n' ' ')"
                return 1
        fi
        if ! _lab_up_body "$dir" "$n" "$id"; then
                _lab_err "up failed; tearing down what was made"
                lab_down "$dir" >/dev/null
                return 1
        fi
}

_lab_up_body() { # DIR N ID
        local dir=$1 n=$2 id=$3 i
        _lab_make_pki "$dir" "$n" || return
        _lab_make_net "$dir" "$n" || return

        # Gateway tree.
        local gsw=$dir/gw/swanctl
        _lab_write_instance "$dir" gw "${LAB_GW_RETRANSMIT[@]}" || return
        cp "$dir/pki/gw.pem" "$gsw/x509/gw.pem" && cp "$dir/pki/gw.key" "$gsw/private/gw.key" &&
                cp "$dir/pki/ca.pem" "$gsw/x509ca/ca.pem" && chmod 600 "$gsw/private/gw.key" || return
        _lab_write_conf "$LAB_SRC/gw-swanctl.conf.in" "$gsw/swanctl.conf" GW_CONN=$LAB_GW_CONN \
                GW_IP=$LAB_GW_IP IKE_PROPOSALS="$LAB_IKE_PROPOSALS" ESP_PROPOSALS="$LAB_ESP_PROPOSALS" \
                POOL_NAME=$LAB_POOL_NAME POOL=$LAB_POOL GW_DPD=$LAB_GW_DPD GW_CERT=gw.pem \
                GW_ID=$LAB_GW_ID CA_CERT=ca.pem CHILD=$LAB_CHILD LAN_IP=$LAB_LAN_IP || return

        # Client trees.
        for ((i = 1; i <= n; i++)); do
                local csw=$dir/cl$i/swanctl
                _lab_write_instance "$dir" "cl$i" "${LAB_CL_RETRANSMIT[@]}" || return
                cp "$dir/pki/client$i.pem" "$csw/x509/client.pem" &&
                        cp "$dir/pki/client$i.key" "$csw/private/client.key" &&
                        cp "$dir/pki/ca.pem" "$csw/x509ca/ca.pem" && chmod 600 "$csw/private/client.key" || return
                _lab_write_conf "$LAB_SRC/client-swanctl.conf.in" "$csw/swanctl.conf" INDEX=$i \
                        CL_CONN=$LAB_CL_CONN CL_IP=$LAB_NET_PREFIX.$((1 + i)) GW_IP=$LAB_GW_IP \
                        IKE_PROPOSALS="$LAB_IKE_PROPOSALS" ESP_PROPOSALS="$LAB_ESP_PROPOSALS" \
                        CL_DPD=$LAB_CL_DPD CL_CERT=client.pem CL_ID=client$i.lab.test GW_ID=$LAB_GW_ID \
                        CHILD=$LAB_CHILD LAN_IP=$LAB_LAN_IP || return
        done

        # lab.env before any process starts, so a failure below is cleaned up by lab_down.
        _lab_write_env "$dir" "$n" "$id" || return

        # All charons start together; each is then awaited and loaded.
        _lab_start_charon "$dir" gw "ih-$id-gw" || return
        for ((i = 1; i <= n; i++)); do
                _lab_start_charon "$dir" "cl$i" "ih-$id-c$i" || return
        done
        _lab_wait_charon "$dir" gw || return
        for ((i = 1; i <= n; i++)); do
                _lab_wait_charon "$dir" "cl$i" || return
        done
        _lab_write_env "$dir" "$n" "$id" || return
        lab_reload "$dir" gw || return
        for ((i = 1; i <= n; i++)); do
                lab_reload "$dir" "$i" || return
        done
}

# DIR/lab.env: everything a test needs, sourceable. Client 1 is also CL_* without a suffix.
_lab_write_env() { # DIR N ID
        local dir=$1 n=$2 id=$3 i f=$1/lab.env.tmp pid
        {
                echo "# The lab in $dir, written by tests/lab/lab.sh up. Source it."
                echo "LAB_DIR=$dir"
                echo "LAB_ID=$id"
                echo "LAB_CLIENTS=$n"
                echo "LAB_CHILD=$LAB_CHILD"
                echo "LAN_IP=$LAB_LAN_IP"
                echo "POOL=$LAB_POOL"
                echo "IKE_PROPOSALS=$LAB_IKE_PROPOSALS"
                echo "ESP_PROPOSALS=$LAB_ESP_PROPOSALS"
                echo "PKI_DIR=$dir/pki"
                echo "CA_CERT=$dir/pki/ca.pem"
                echo "STANDBY_DIR=$dir/standby"
                echo "GW_NS=ih-$id-gw"
                echo "GW_IP=$LAB_GW_IP"
                echo "GW_ID=$LAB_GW_ID"
                echo "GW_BRIDGE=ih${id}br"
                echo "GW_CONN=$LAB_GW_CONN"
                echo "GW_VICI=$dir/gw/charon.vici"
                echo "GW_URI=unix://$dir/gw/charon.vici"
                pid=$(cat "$dir/gw/charon.pid" 2>/dev/null || true)
                echo "GW_PID=$pid"
                echo "GW_PIDFILE=$dir/gw/charon.pid"
                echo "GW_CONF=$dir/gw/strongswan.conf"
                echo "GW_SWANCTL_DIR=$dir/gw/swanctl"
                echo "GW_SWANCTL_CONF=$dir/gw/swanctl/swanctl.conf"
                echo "GW_CERT=$dir/gw/swanctl/x509/gw.pem"
                echo "GW_KEY=$dir/gw/swanctl/private/gw.key"
                echo "GW_LOG=$dir/gw/charon.log"
                echo "CL_CONN=$LAB_CL_CONN"
                for ((i = 1; i <= n; i++)); do
                        pid=$(cat "$dir/cl$i/charon.pid" 2>/dev/null || true)
                        echo "CL_NS_$i=ih-$id-c$i"
                        echo "CL_IP_$i=$LAB_NET_PREFIX.$((1 + i))"
                        echo "CL_ID_$i=client$i.lab.test"
                        echo "CL_IF_$i=ih${id}c$i"
                        echo "GW_IF_$i=ih${id}g$i"
                        echo "CL_VICI_$i=$dir/cl$i/charon.vici"
                        echo "CL_URI_$i=unix://$dir/cl$i/charon.vici"
                        echo "CL_PID_$i=$pid"
                        echo "CL_PIDFILE_$i=$dir/cl$i/charon.pid"
                        echo "CL_CONF_$i=$dir/cl$i/strongswan.conf"
                        echo "CL_SWANCTL_DIR_$i=$dir/cl$i/swanctl"
                        echo "CL_LOG_$i=$dir/cl$i/charon.log"
                done
                for k in NS IP ID IF VICI URI PID PIDFILE CONF SWANCTL_DIR LOG; do
                        echo "CL_$k=\$CL_${k}_1"
                done
                echo "GW_IF=\$GW_IF_1"
                # what a layer built on this lab adds (tests/lab/s2s.sh: the peer gateway)
                if [ -r "$dir/lab.env.extra" ]; then cat "$dir/lab.env.extra"; fi
        } >"$f" && mv -f "$f" "$dir/lab.env"
}

# Stop everything the lab in DIR started and delete its namespaces (and with them every link).
# Safe to repeat and on a half-made lab. Keeps logs and certificates in DIR; removes lab.env.
lab_down() { # DIR
        local dir id ns rc=0
        [ -n "${1:-}" ] || { _lab_err "usage: lab_down DIR"; return 2; }
        [ -d "$1" ] || return 0
        dir=$(_lab_dir "$1") || return
        id=$(_lab_id "$dir")
        _lab_stop_charons "$dir"
        for ns in $(_lab_netns_of "$id"); do
                ip netns del "$ns" 2>/dev/null || { _lab_err "cannot delete namespace $ns"; rc=1; }
        done
        rm -f "$dir/lab.env"
        return $rc
}

# Human summary: namespaces, charons, SAs.
lab_status() { # DIR
        local dir id n i pid st
        dir=$(_lab_dir "$1") || return
        id=$(_lab_id "$dir")
        if [ ! -e "$dir/lab.env" ]; then
                echo "lab $id in $dir: down"
                [ -n "$(_lab_netns_of "$id")" ] && echo "  leftover namespaces: $(_lab_netns_of "$id" | tr '\n' ' ')"
                return 3
        fi
        n=$(_lab_get "$dir" LAB_CLIENTS) || return
        echo "lab $id in $dir: gateway $LAB_GW_IP (LAN $LAB_LAN_IP), $n client(s)"
        local roles=(gw) names=(gw) rc=0
        for ((i = 1; i <= n; i++)); do roles+=("$i"); names+=("cl$i"); done
        for i in "${!roles[@]}"; do
                pid=$(cat "$dir/${names[$i]}/charon.pid" 2>/dev/null || true)
                if _lab_pid_is_ours "$dir" "$pid"; then st="running pid $pid"; else st="NOT RUNNING"; rc=1; fi
                printf '  %-4s ns %-14s charon %-18s CHILD_SAs %s\n' "${names[$i]}" \
                        "$(_lab_role_get "$dir" "${roles[$i]}" NS)" "$st" \
                        "$(lab_child_count "$dir" "${roles[$i]}" 2>/dev/null)"
        done
        return $rc
}

# Pre-shared keys instead of certificates for one instance: both `auth = pubkey` lines of its
# connection become `auth = psk` (certificate constraints commented out), and its swanctl.conf gets a `secrets` section with SECRET (for
# any peer identity). Reloads. A gateway and a client with different secrets fail with
# AUTHENTICATION_FAILED (the seeds' "wrong PSK").
lab_set_psk() { # DIR ROLE SECRET
        local dir=$1 role=$2 secret=$3 sw
        sw=$(_lab_role_get "$dir" "$role" SWANCTL_DIR) || return
        # certificate constraints (cacerts, certs) would refuse a PSK-authenticated peer
        sed -i -E 's/^([[:space:]]*)auth = pubkey/\1auth = psk/; s/^([[:space:]]*)(cacerts|certs) = /\1# \2 = /' \
                "$sw/swanctl.conf" || return
        sed -i '/^# lab_set_psk/,$d' "$sw/swanctl.conf" || return
        printf '# lab_set_psk\nsecrets {\n        ike-lab {\n                secret = "%s"\n        }\n}\n' \
                "$secret" >>"$sw/swanctl.conf" || return
        lab_reload "$dir" "$role"
}

# Traffic selectors of one instance's CHILD_SA: the gateway's local_ts or a client's remote_ts
# (what it wants to reach). Reloads. Selectors that do not overlap give TS_UNACCEPTABLE.
lab_set_ts() { # DIR ROLE TS
        local dir=$1 role=$2 ts=$3 sw key=remote_ts
        [ "$role" = gw ] && key=local_ts
        sw=$(_lab_role_get "$dir" "$role" SWANCTL_DIR) || return
        sed -i -E "s|^([[:space:]]*)$key = .*|\1$key = $ts|" "$sw/swanctl.conf" || return
        lab_reload "$dir" "$role"
}

_lab_usage() {
        cat <<EOF
usage: tests/lab/lab.sh VERB DIR [ARGS]
  up DIR [--clients N]       build the lab (namespaces, certs, charons) in DIR; writes DIR/lab.env
  down DIR                   stop its charons, delete its namespaces (idempotent)
  connect DIR [IDX]          client IDX (default 1) brings its CHILD_SA up; 0 when installed
  disconnect DIR [IDX]       terminate client IDX's IKE_SA
  status DIR                 namespaces, charons and SA counts
  reload DIR gw|IDX          swanctl --load-all for one instance (fails on config errors)
  stop DIR gw|IDX [SIG]      stop one charon (default SIGTERM; SIGKILL if it lingers)
  start DIR gw|IDX           start it again, load its config, update lab.env
  cert DIR KIND              re-issue the gateway cert: valid expired notyet foreign
                             intermediate chain-incomplete standby; reloads the gateway
  swanctl DIR gw|IDX CMD …   swanctl CMD --uri … against one instance
  exec DIR gw|IDX CMD …      run CMD in an instance's namespace
EOF
}

# CLI, only when executed (not when sourced).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        verb=${1:-help}
        shift
        case $verb in
        # A Ctrl-C during `up` must not leave half a lab behind.
        up) trap 'lab_down "$1" >/dev/null 2>&1; exit 130' INT TERM HUP
            lab_up "$@" ;;
        down) lab_down "$@" ;;
        connect) lab_connect "$@" ;;
        disconnect) lab_disconnect "$@" ;;
        status) lab_status "$@" ;;
        reload) lab_reload "$(_lab_dir "$1")" "${2:-gw}" ;;
        stop) lab_stop "$@" ;;
        start) lab_start "$@" ;;
        cert) lab_gw_cert "$@" ;;
        swanctl) d=$(_lab_dir "$1") || exit; shift; lab_swanctl "$d" "$@" ;;
        exec) d=$(_lab_dir "$1") || exit; shift; lab_exec "$d" "$@" ;;
        help | -h | --help) _lab_usage ;;
        *) _lab_usage >&2; exit 2 ;;
        esac
fi
