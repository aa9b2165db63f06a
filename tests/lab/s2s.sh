#!/usr/bin/env bash
# The site-to-site lab: the road-warrior lab of tests/lab/lab.sh (its gateway and one client)
# plus a peer gateway the lab gateway keeps a tunnel to, through a middle router where faults
# of the path are injected, and one host behind each gateway (a site). Real charon on both
# gateways, nftables in the middle. Addresses in 198.18.0.0/15 only, inside the namespaces made
# here; everything is named from DIR like the lab (ih-<id>-…), so `lab_down` removes it too.
#
#   site A ─── gateway ─── middle ─── peer ─── site B
#   ns ih-<id>-sa   ih-<id>-gw   ih-<id>-mid   ih-<id>-pe   ih-<id>-sb
#   198.18.5.2  .5.1 | .4.1 ── .4.2 | .4.5 ── .4.6 | .6.1  198.18.6.2
#
# The gateway's connection `s2s` (child `net`: 198.18.5.0/24 <=> 198.18.6.0/24) says
# start_action = start; the peer only answers. Two faces, like lab.sh:
#   a bash library:  . tests/lab/s2s.sh; s2s_up "$dir"; . "$dir/lab.env"; …
#   a command:       tests/lab/s2s.sh up DIR | down DIR | fault DIR KIND [on|off] | ping DIR [SIZE]
# lab.env gains PEER_* (the peer as lab.sh role "peer": lab_stop/lab_start/lab_swanctl DIR peer)
# and S2S_* variables. Functions return non-zero with a message on stderr, never exit.

S2S_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$S2S_SRC/lab.sh"

S2S_CONN=s2s
S2S_CHILD=net
S2S_PEER_ID=peer.lab.test
S2S_GW_ADDR=198.18.4.1     # the gateway's end of the path
S2S_MID_GW=198.18.4.2
S2S_MID_PEER=198.18.4.5
S2S_PEER_ADDR=198.18.4.6
S2S_GW_NET=198.18.5.0/24
S2S_GW_INSIDE=198.18.5.1   # the gateway's inside address
S2S_SITE_A=198.18.5.2
S2S_PEER_NET=198.18.6.0/24
S2S_PEER_INSIDE=198.18.6.1
S2S_SITE_B=198.18.6.2
S2S_DPD=${S2S_DPD:-2s}
S2S_PATH_MTU=1500

_s2s_err() { echo "s2s: $*" >&2; }

# veth A (in NS_A, address ADDR_A/PLEN) <-> B (in NS_B, ADDR_B/PLEN), both made inside the
# namespaces.
_s2s_link() { # NS_A IF_A ADDR_A NS_B IF_B ADDR_B PLEN
        _lab_run ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" &&
                _lab_run ip -n "$1" addr add "$3/$7" dev "$2" && _lab_run ip -n "$1" link set "$2" up &&
                _lab_run ip -n "$4" addr add "$6/$7" dev "$5" && _lab_run ip -n "$4" link set "$5" up
}

_s2s_ns() { # NAME
        _lab_run ip netns add "$1" && _lab_no_ipv6 "$1" && _lab_run ip -n "$1" link set lo up &&
                ip netns exec "$1" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null
}

_s2s_make_net() { # DIR ID
        local id=$2 gw=ih-$2-gw mid=ih-$2-mid pe=ih-$2-pe sa=ih-$2-sa sb=ih-$2-sb
        _s2s_ns "$mid" && _s2s_ns "$pe" && _s2s_ns "$sa" && _s2s_ns "$sb" || return
        _s2s_link "$gw" "ih${id}gm" $S2S_GW_ADDR "$mid" "ih${id}mg" $S2S_MID_GW 30 &&
                _s2s_link "$mid" "ih${id}mp" $S2S_MID_PEER "$pe" "ih${id}pm" $S2S_PEER_ADDR 30 &&
                _s2s_link "$gw" "ih${id}ga" $S2S_GW_INSIDE "$sa" "ih${id}ag" $S2S_SITE_A 24 &&
                _s2s_link "$pe" "ih${id}pb" $S2S_PEER_INSIDE "$sb" "ih${id}bp" $S2S_SITE_B 24 || return
        _lab_run ip -n "$gw" route add 198.18.4.4/30 via $S2S_MID_GW &&
                _lab_run ip -n "$pe" route add 198.18.4.0/30 via $S2S_MID_PEER &&
                _lab_run ip -n "$sa" route add default via $S2S_GW_INSIDE &&
                _lab_run ip -n "$sb" route add default via $S2S_PEER_INSIDE || return
        local ns
        for ns in "$gw" "$mid" "$pe"; do
                ip netns exec "$ns" sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
                        net.ipv4.conf.default.rp_filter=0 >/dev/null || return
        done
}

# The peer's certificate, from the lab CA.
_s2s_make_pki() { # DIR ID
        local p=$1/pki
        LAB_PKI_CONF=$p/strongswan.conf
        _lab_pki_key "$p/peer.key" &&
                _lab_pki_issue "$p/peer.key" "$p/ca.key" "$p/ca.pem" "O=ikeheal lab $2, CN=$S2S_PEER_ID" \
                        "$p/peer.pem" --lifetime 365 --san "$S2S_PEER_ID" --san "$S2S_PEER_ADDR" &&
                chmod 600 "$p/peer.key"
}

_s2s_conf() { # OUT ROLE LOCAL_ADDR REMOTE_ADDR CERT LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS START DPD
        _lab_write_conf "$S2S_SRC/s2s-swanctl.conf.in" "$1" ROLE="$2" CONN=$S2S_CONN LOCAL_ADDR="$3" \
                REMOTE_ADDR="$4" IKE_PROPOSALS="$LAB_IKE_PROPOSALS" ESP_PROPOSALS="$LAB_ESP_PROPOSALS" \
                CERT="$5" LOCAL_ID="$6" REMOTE_ID="$7" CA_CERT=ca.pem CHILD=$S2S_CHILD LOCAL_TS="$8" \
                REMOTE_TS="$9" START_ACTION="${10}" DPD="${11}"
}

_s2s_write_env() { # DIR ID
        local dir=$1 id=$2
        {
                echo "S2S_CONN=$S2S_CONN"
                echo "S2S_CHILD=$S2S_CHILD"
                echo "S2S_MID_NS=ih-$id-mid"
                echo "S2S_SITE_A_NS=ih-$id-sa"
                echo "S2S_SITE_B_NS=ih-$id-sb"
                echo "S2S_GW_ADDR=$S2S_GW_ADDR"
                echo "S2S_PEER_ADDR=$S2S_PEER_ADDR"
                echo "S2S_GW_INSIDE=$S2S_GW_INSIDE"
                echo "S2S_PEER_INSIDE=$S2S_PEER_INSIDE"
                echo "S2S_SITE_A=$S2S_SITE_A"
                echo "S2S_SITE_B=$S2S_SITE_B"
                echo "S2S_GW_NET=$S2S_GW_NET"
                echo "S2S_PEER_NET=$S2S_PEER_NET"
                echo "S2S_MID_IF_PEER=ih${id}mp"
                echo "S2S_MID_IF_GW=ih${id}mg"
                echo "S2S_GW_CONF_D=$dir/gw/swanctl/conf.d/s2s.conf"
                echo "PEER_NS=ih-$id-pe"
                echo "PEER_ID=$S2S_PEER_ID"
                echo "PEER_IP=$S2S_PEER_ADDR"
                echo "PEER_VICI=$dir/peer/charon.vici"
                echo "PEER_URI=unix://$dir/peer/charon.vici"
                echo "PEER_PIDFILE=$dir/peer/charon.pid"
                echo "PEER_CONF=$dir/peer/strongswan.conf"
                echo "PEER_SWANCTL_DIR=$dir/peer/swanctl"
                echo "PEER_LOG=$dir/peer/charon.log"
        } >"$dir/lab.env.extra"
}

# Build the lab with its peer gateway and bring the tunnel up (0 when the gateway's CHILD_SA
# `net` is INSTALLED). On failure everything made is torn down.
s2s_up() { # DIR
        local dir id
        [ -n "${1:-}" ] || { _s2s_err "usage: s2s_up DIR"; return 2; }
        lab_up "$1" --clients 1 || return
        dir=$(_lab_dir "$1") || return
        id=$(_lab_id "$dir")
        if ! _s2s_up_body "$dir" "$id"; then
                _s2s_err "up failed; tearing down what was made"
                lab_down "$dir" >/dev/null
                return 1
        fi
}

_s2s_up_body() { # DIR ID
        local dir=$1 id=$2 psw=$1/peer/swanctl gsw=$1/gw/swanctl
        _s2s_make_pki "$dir" "$id" && _s2s_make_net "$dir" "$id" || return
        _lab_write_instance "$dir" peer "${LAB_GW_RETRANSMIT[@]}" || return
        cp "$dir/pki/peer.pem" "$psw/x509/peer.pem" && cp "$dir/pki/peer.key" "$psw/private/peer.key" &&
                cp "$dir/pki/ca.pem" "$psw/x509ca/ca.pem" && chmod 600 "$psw/private/peer.key" || return
        _s2s_conf "$psw/swanctl.conf" peer $S2S_PEER_ADDR $S2S_GW_ADDR peer.pem $S2S_PEER_ID $LAB_GW_ID \
                $S2S_PEER_NET $S2S_GW_NET none 0s || return
        _s2s_write_env "$dir" "$id" && _lab_write_env "$dir" 1 "$id" || return
        # the peer first: the gateway initiates as soon as it loads its connection
        _lab_start_charon "$dir" peer "ih-$id-pe" && _lab_wait_charon "$dir" peer &&
                _lab_write_env "$dir" 1 "$id" && lab_reload "$dir" peer || return
        _s2s_conf "$gsw/conf.d/s2s.conf" gw $S2S_GW_ADDR $S2S_PEER_ADDR gw.pem $LAB_GW_ID $S2S_PEER_ID \
                $S2S_GW_NET $S2S_PEER_NET start "$S2S_DPD" || return
        printf '\n# the site-to-site tunnel (tests/lab/s2s.sh)\ninclude conf.d/*.conf\n' >>"$gsw/swanctl.conf" || return
        lab_reload "$dir" gw && s2s_wait_tunnel "$dir"
}

# Is the gateway's CHILD_SA of the tunnel INSTALLED? 0 yes.
s2s_tunnel_up() { # DIR
        lab_swanctl "$1" gw --list-sas --ike "$S2S_CONN" 2>/dev/null | grep -q "$S2S_CHILD:.*INSTALLED"
}

s2s_wait_tunnel() { # DIR [TIMEOUT_MS]
        local deadline
        deadline=$(($(_lab_now_ms) + ${2:-10000}))
        until s2s_tunnel_up "$1"; do
                if [ "$(_lab_now_ms)" -ge $deadline ]; then
                        _s2s_err "no INSTALLED CHILD_SA $S2S_CHILD of $S2S_CONN on the gateway after ${2:-10000} ms"
                        return 1
                fi
                sleep 0.05
        done
}

# One echo from site A to site B through the tunnel, SIZE bytes of payload (default 56) with DF
# set. 0 when the answer came.
s2s_ping() { # DIR [SIZE]
        ip netns exec "$(_lab_get "$1" S2S_SITE_A_NS)" ping -n -q -c 1 -W 2 -M do -s "${2:-56}" $S2S_SITE_B >/dev/null 2>&1
}

# Faults of the path, made in the middle namespace (table ip ihs2s, its own):
#   esp   drop ESP, keep IKE: UDP 4500 whose first 4 payload bytes are not zero (ESP in UDP;
#         IKE carries the zero non-ESP marker) and IP protocol 50
#   mtu   the path towards the peer gets MTU 1300; what does not fit is dropped without a
#         word (no "fragmentation needed" leaves the middle box): a black hole
#   ike   drop everything to/from UDP 500 and 4500 (the peer unreachable for IKE too)
s2s_fault() { # DIR esp|mtu|ike on|off
        local dir=$1 kind=$2 onoff=${3:-on} mid ifp
        mid=$(_lab_get "$dir" S2S_MID_NS) || return
        ifp=$(_lab_get "$dir" S2S_MID_IF_PEER) || return
        case $onoff in on | off) ;; *) _s2s_err "fault: on or off, not '$onoff'"; return 2 ;; esac
        if [ "$kind" = mtu ] && [ "$onoff" = off ]; then
                _s2s_mtu "$dir" "$mid" "$ifp" $S2S_PATH_MTU || return
        fi
        ip netns exec "$mid" nft delete table ip "ihs2s_$kind" 2>/dev/null
        [ "$onoff" = off ] && return 0
        local rules extra=
        case $kind in
        esp) rules='udp sport 4500 @th,64,32 != 0 counter drop
                udp dport 4500 @th,64,32 != 0 counter drop
                ip protocol esp counter drop' ;;
        mtu) # charon's UDP packets carry DF: what does not fit is dropped by the link, and
             # the middle box's "fragmentation needed" never reaches the gateways
             rules=
             extra=' chain o {
  type filter hook output priority -10; policy accept;
  icmp type destination-unreachable icmp code frag-needed counter drop
 }
' ;;
        ike) rules='udp dport { 500, 4500 } counter drop
                udp sport { 500, 4500 } counter drop' ;;
        *) _s2s_err "unknown fault '$kind' (esp mtu ike)"; return 2 ;;
        esac
        printf 'table ip ihs2s_%s {\n chain c {\n type filter hook forward priority -10; policy accept;\n%s\n }\n%s}\n' \
                "$kind" "$rules" "$extra" | _lab_run ip netns exec "$mid" nft -f - || return
        # the MTU falls only once "fragmentation needed" is dropped: one that escaped in
        # between would teach the gateway the path MTU, and there would be no black hole
        [ "$kind" = mtu ] && _s2s_mtu "$dir" "$mid" "$ifp" 1300
        return 0
}

# The path towards the peer gets MTU M (both ends of the middle's link to the peer), and the
# gateways forget what they learnt of the path MTU: it must not hide the fault, or outlive it.
_s2s_mtu() { # DIR MID_NS MID_IF M
        _lab_run ip -n "$2" link set "$3" mtu "$4" &&
                _lab_run ip -n "$(_lab_get "$1" PEER_NS)" link set "${3%mp}pm" mtu "$4" || return
        ip -n "$(_lab_get "$1" GW_NS)" route flush cache && ip -n "$(_lab_get "$1" PEER_NS)" route flush cache
}

_s2s_usage() {
        cat <<EOF
usage: tests/lab/s2s.sh VERB DIR [ARGS]
  up DIR                     the lab with a peer gateway and the tunnel s2s/net up
  down DIR                   everything of it (lab.sh down)
  tunnel DIR                 0 when the gateway's CHILD_SA net is INSTALLED
  ping DIR [SIZE]            site A → site B through the tunnel, DF set
  fault DIR esp|mtu|ike on|off
                             a fault of the path in the middle namespace
  (the peer is lab.sh role "peer": lab.sh stop|start|swanctl DIR peer …)
EOF
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        verb=${1:-help}
        shift
        case $verb in
        up) trap 'lab_down "$1" >/dev/null 2>&1; exit 130' INT TERM HUP
            s2s_up "$@" ;;
        down) lab_down "$@" ;;
        tunnel) s2s_tunnel_up "$(_lab_dir "$1")" ;;
        ping) s2s_ping "$(_lab_dir "$1")" "${2:-}" ;;
        fault) d=$(_lab_dir "$1") || exit; shift; s2s_fault "$d" "$@" ;;
        help | -h | --help) _s2s_usage ;;
        *) _s2s_usage >&2; exit 2 ;;
        esac
fi
