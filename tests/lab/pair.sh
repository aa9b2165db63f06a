#!/usr/bin/env bash
# A gateway pair for the failover tests: two strongSwan gateways, each in its own namespace with
# real keepalived (VRRP) and real charon, sharing one LAN with the clients; the virtual address
# (VIP) lives on whichever gateway keepalived made MASTER, and clients connect to the VIP.
#
#   ih-ID-lan   the LAN: one bridge, a veth to every gateway and client (nothing else)
#   ih-ID-gw    gateway A ("gw" to lab.sh: the one tests put the agent on), 198.18.0.251,
#               keepalived priority 150
#   ih-ID-gb    gateway B, the standby, 198.18.0.252, keepalived priority 100
#   ih-ID-cN    client N, 198.18.0.(1+N), connects to the VIP 198.18.0.1 (LAB_GW_IP, so the
#               gateway certificate, which both gateways share, names it)
#
# Each keepalived tracks a weight file (track_file, weight 1: the number in the file is added to
# the priority) and writes its state changes to a notify FIFO: DIR/gw/vrrp.weight, vrrp.fifo
# (DIR/gb/… for B). A weight of -100 in A's file puts A at 50, under B's 100: B takes the VIP.
#
# A bash library built on tests/lab/lab.sh (source that first, or testlib.sh):
#   pair_up DIR [--clients N]      build it; writes DIR/lab.env (lab.sh's, for gateway A and the
#                                  clients) and DIR/pair.env (VIP, GB_*, the keepalived files)
#   pair_down DIR                  stop keepalived, charons; delete every namespace (idempotent)
#   pair_role DIR gw|gb            MASTER when the VIP is on that gateway, else BACKUP
#   pair_wait_role DIR gw|gb ROLE TIMEOUT_MS
#   pair_swanctl DIR gw|gb CMD …   swanctl against one gateway
#   pair_keepalived_stop DIR gw|gb / pair_keepalived_start DIR gw|gb
# lab.sh's client functions (lab_connect, lab_child_count …) and gateway A's (lab_stop DIR gw,
# lab_start DIR gw) work unchanged. Everything is named from DIR's lab id, so several pairs and
# labs run side by side; pair_down removes exactly what pair_up made.

PAIR_VIP=$LAB_GW_IP
PAIR_GW_A_IP=198.18.0.251
PAIR_GW_B_IP=198.18.0.252
PAIR_PRIO_A=150
PAIR_PRIO_B=100
PAIR_KEEPALIVED_BIN=${PAIR_KEEPALIVED_BIN:-/usr/sbin/keepalived}

_pair_ns() { # ID gw|gb|lan
        echo "ih-$1-$2"
}

# The gateway's link into the LAN (inside its namespace) and the bridge's end of it.
_pair_if() { echo "ih${1}$2"; }

_pair_make_net() { # DIR N ID
        local dir=$1 n=$2 id=$3 lan br i g ip cl cif lif
        lan=$(_pair_ns "$id" lan) br=ih${id}br
        _lab_run ip netns add "$lan" && _lab_no_ipv6 "$lan" &&
                _lab_run ip -n "$lan" link set lo up &&
                _lab_run ip -n "$lan" link add "$br" type bridge &&
                _lab_run ip -n "$lan" link set "$br" up || return
        for g in gw gb; do
                [ $g = gw ] && ip=$PAIR_GW_A_IP || ip=$PAIR_GW_B_IP
                local ns; ns=$(_pair_ns "$id" $g)
                cif=$(_pair_if "$id" "$g") lif=ih${id}l$g
                _lab_run ip netns add "$ns" && _lab_no_ipv6 "$ns" &&
                        _lab_run ip -n "$ns" link set lo up &&
                        _lab_run ip -n "$ns" addr add "$LAB_LAN_IP/32" dev lo &&
                        _lab_run ip -n "$lan" link add "$lif" type veth peer name "$cif" netns "$ns" &&
                        _lab_run ip -n "$lan" link set "$lif" master "$br" up &&
                        _lab_run ip -n "$ns" addr add "$ip/24" dev "$cif" &&
                        _lab_run ip -n "$ns" link set "$cif" up || return
        done
        for ((i = 1; i <= n; i++)); do
                cl=ih-$id-c$i cif=ih${id}c$i lif=ih${id}g$i
                _lab_run ip netns add "$cl" && _lab_no_ipv6 "$cl" &&
                        _lab_run ip -n "$cl" link set lo up &&
                        _lab_run ip -n "$lan" link add "$lif" type veth peer name "$cif" netns "$cl" &&
                        _lab_run ip -n "$lan" link set "$lif" master "$br" up &&
                        _lab_run ip -n "$cl" addr add "$LAB_NET_PREFIX.$((1 + i))/24" dev "$cif" &&
                        _lab_run ip -n "$cl" link set "$cif" up || return
        done
}

# keepalived.conf of one gateway: VRRP only, one instance holding the VIP, the weight file
# tracked, state changes to the FIFO. The virtual router id comes from the lab id, so two pairs
# could even share a wire.
_pair_keepalived_conf() { # DIR ID gw|gb
        local dir=$1 id=$2 g=$3 prio state vrid
        if [ "$g" = gw ]; then prio=$PAIR_PRIO_A state=MASTER; else prio=$PAIR_PRIO_B state=BACKUP; fi
        vrid=$((0x${id:0:2} % 250 + 1))
        cat >"$dir/$g/keepalived.conf" <<EOF
# keepalived of the lab pair's gateway $g (tests/lab/pair.sh)
global_defs {
        router_id ih-$id-$g
        vrrp_notify_fifo $dir/$g/vrrp.fifo
        enable_script_security
        script_user root
        vrrp_garp_master_delay 1
}
track_file ikeheal_weight {
        file "$dir/$g/vrrp.weight"
        weight 1
        init_file 0
}
vrrp_instance VI_IKE {
        state $state
        interface $(_pair_if "$id" "$g")
        virtual_router_id $vrid
        priority $prio
        advert_int 1
        virtual_ipaddress {
                $PAIR_VIP/24
        }
        track_file {
                ikeheal_weight weight 1
        }
}
EOF
}

pair_keepalived_start() { # DIR gw|gb
        local dir=$1 g=$2 id ns
        id=$(_lab_id "$dir")
        ns=$(_pair_ns "$id" "$g")
        ip netns exec "$ns" "$PAIR_KEEPALIVED_BIN" -n -P -l -D -G -f "$dir/$g/keepalived.conf" \
                -p "$dir/$g/keepalived.pid" -r "$dir/$g/keepalived-vrrp.pid" \
                </dev/null >>"$dir/$g/keepalived.log" 2>&1 &
        echo $! >"$dir/$g/keepalived.main"
}

# Is PID the keepalived this pair started for gateway G (its command line names our config)?
_pair_keepalived_ours() { # DIR G PID
        [[ $3 =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$3/cmdline"; } 2>/dev/null | grep -qF -- "-f $1/$2/keepalived.conf "
}

pair_keepalived_stop() { # DIR gw|gb
        local dir=$1 g=$2 pid i
        pid=$(cat "$dir/$g/keepalived.main" 2>/dev/null || true)
        _pair_keepalived_ours "$dir" "$g" "$pid" || { rm -f "$dir/$g/keepalived.main"; return 0; }
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do
                _pair_keepalived_ours "$dir" "$g" "$pid" || break
                sleep 0.02
        done
        _pair_keepalived_ours "$dir" "$g" "$pid" && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
        rm -f "$dir/$g/keepalived.main"
}

# The gateway's swanctl (lab.sh's lab_swanctl knows gateway A as "gw" only).
pair_swanctl() { # DIR gw|gb CMD [ARGS…]
        local dir=$1 g=$2 cmd=$3
        shift 3
        STRONGSWAN_CONF=$dir/$g/strongswan.conf SWANCTL_DIR=$dir/$g/swanctl "$LAB_SWANCTL_BIN" "$cmd" \
                --uri "unix://$dir/$g/charon.vici" "$@"
}

pair_role() { # DIR gw|gb
        local id
        id=$(_lab_id "$1")
        if ip -n "$(_pair_ns "$id" "$2")" -4 addr show 2>/dev/null | grep -q "inet $PAIR_VIP/"; then
                echo MASTER
        else
                echo BACKUP
        fi
}

pair_wait_role() { # DIR gw|gb ROLE TIMEOUT_MS
        local deadline
        deadline=$(($(_lab_now_ms) + $4))
        until [ "$(pair_role "$1" "$2")" = "$3" ]; do
                [ "$(_lab_now_ms)" -ge $deadline ] && { _lab_err "$2 is not $3 after $4 ms"; return 1; }
                sleep 0.05
        done
}

pair_up() { # DIR [--clients N]
        local dir n=1
        [ -n "${1:-}" ] || { _lab_err "usage: pair_up DIR [--clients N]"; return 2; }
        mkdir -p "$1" || return
        dir=$(_lab_dir "$1") || return
        shift
        case ${1:-} in
        --clients) n=${2:-1} ;;
        '') ;;
        *) _lab_err "pair_up: unknown option '$1'"; return 2 ;;
        esac
        [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $LAB_MAX_CLIENTS ] ||
                { _lab_err "--clients must be 1…$LAB_MAX_CLIENTS"; return 2; }
        [ "$(id -u)" -eq 0 ] || { _lab_err "the pair needs root"; return 77; }
        [ -x "$PAIR_KEEPALIVED_BIN" ] || { _lab_err "$PAIR_KEEPALIVED_BIN missing (make deps)"; return 77; }
        [[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] && [ ${#dir} -le 80 ] ||
                { _lab_err "$dir: a short path of plain characters, please"; return 2; }
        [ ! -e "$dir/lab.env" ] || { _lab_err "$dir: a lab is already up here"; return 1; }
        local id
        id=$(_lab_id "$dir")
        [ -z "$(_lab_netns_of "$id")" ] || { _lab_err "namespaces of lab id $id exist already"; return 1; }
        if ! _pair_up_body "$dir" "$n" "$id"; then
                _lab_err "pair up failed; tearing down what was made"
                pair_down "$dir" >/dev/null
                return 1
        fi
}

_pair_up_body() { # DIR N ID
        local dir=$1 n=$2 id=$3 i g
        _lab_make_pki "$dir" "$n" && _pair_make_net "$dir" "$n" "$id" || return
        for g in gw gb; do
                local sw=$dir/$g/swanctl
                _lab_write_instance "$dir" $g "${LAB_GW_RETRANSMIT[@]}" || return
                cp "$dir/pki/gw.pem" "$sw/x509/gw.pem" && cp "$dir/pki/gw.key" "$sw/private/gw.key" &&
                        cp "$dir/pki/ca.pem" "$sw/x509ca/ca.pem" && chmod 600 "$sw/private/gw.key" || return
                _lab_write_conf "$LAB_SRC/gw-swanctl.conf.in" "$sw/swanctl.conf" GW_CONN=$LAB_GW_CONN \
                        GW_IP=$PAIR_VIP IKE_PROPOSALS="$LAB_IKE_PROPOSALS" ESP_PROPOSALS="$LAB_ESP_PROPOSALS" \
                        POOL_NAME=$LAB_POOL_NAME POOL=$LAB_POOL GW_DPD=$LAB_GW_DPD GW_CERT=gw.pem \
                        GW_ID=$LAB_GW_ID CA_CERT=ca.pem CHILD=$LAB_CHILD LAN_IP=$LAB_LAN_IP || return
                echo 0 >"$dir/$g/vrrp.weight" && _pair_keepalived_conf "$dir" "$id" $g || return
        done
        for ((i = 1; i <= n; i++)); do
                local csw=$dir/cl$i/swanctl
                _lab_write_instance "$dir" "cl$i" "${LAB_CL_RETRANSMIT[@]}" || return
                cp "$dir/pki/client$i.pem" "$csw/x509/client.pem" &&
                        cp "$dir/pki/client$i.key" "$csw/private/client.key" &&
                        cp "$dir/pki/ca.pem" "$csw/x509ca/ca.pem" && chmod 600 "$csw/private/client.key" || return
                _lab_write_conf "$LAB_SRC/client-swanctl.conf.in" "$csw/swanctl.conf" INDEX=$i \
                        CL_CONN=$LAB_CL_CONN CL_IP=$LAB_NET_PREFIX.$((1 + i)) GW_IP=$PAIR_VIP \
                        IKE_PROPOSALS="$LAB_IKE_PROPOSALS" ESP_PROPOSALS="$LAB_ESP_PROPOSALS" \
                        CL_DPD=$LAB_CL_DPD CL_CERT=client.pem CL_ID=client$i.lab.test GW_ID=$LAB_GW_ID \
                        CHILD=$LAB_CHILD LAN_IP=$LAB_LAN_IP || return
        done
        _lab_write_env "$dir" "$n" "$id" && _pair_write_env "$dir" "$id" || return
        for g in gw gb; do
                _lab_start_charon "$dir" $g "$(_pair_ns "$id" $g)" || return
        done
        for ((i = 1; i <= n; i++)); do
                _lab_start_charon "$dir" "cl$i" "ih-$id-c$i" || return
        done
        for g in gw gb; do
                _lab_wait_charon "$dir" $g || return
        done
        for ((i = 1; i <= n; i++)); do
                _lab_wait_charon "$dir" "cl$i" || return
        done
        _lab_write_env "$dir" "$n" "$id" || return
        lab_reload "$dir" gw || return
        _lab_run pair_swanctl "$dir" gb --load-all --noprompt || return
        for ((i = 1; i <= n; i++)); do
                lab_reload "$dir" "$i" || return
        done
        # A first, so it is MASTER from the start (B would take the VIP after 3 s alone anyway)
        pair_keepalived_start "$dir" gw && pair_wait_role "$dir" gw MASTER 10000 &&
                pair_keepalived_start "$dir" gb || return
}

# DIR/pair.env: what lab.env does not hold. Source it after lab.env.
_pair_write_env() { # DIR ID
        local dir=$1 id=$2
        {
                echo "# The pair in $dir, written by tests/lab/pair.sh. Source it after lab.env."
                echo "VIP=$PAIR_VIP"
                echo "GW_NS=$(_pair_ns "$id" gw)"
                echo "GW_REAL_IP=$PAIR_GW_A_IP"
                echo "GW_WEIGHT=$dir/gw/vrrp.weight"
                echo "GW_FIFO=$dir/gw/vrrp.fifo"
                echo "GB_NS=$(_pair_ns "$id" gb)"
                echo "GB_REAL_IP=$PAIR_GW_B_IP"
                echo "GB_VICI=$dir/gb/charon.vici"
                echo "GB_CONF=$dir/gb/strongswan.conf"
                echo "GB_SWANCTL_DIR=$dir/gb/swanctl"
                echo "GB_LOG=$dir/gb/charon.log"
                echo "GB_WEIGHT=$dir/gb/vrrp.weight"
                echo "GB_FIFO=$dir/gb/vrrp.fifo"
                echo "LAN_NS=$(_pair_ns "$id" lan)"
        } >"$dir/pair.env.tmp" && mv -f "$dir/pair.env.tmp" "$dir/pair.env"
}

pair_down() { # DIR
        local dir g
        [ -n "${1:-}" ] || { _lab_err "usage: pair_down DIR"; return 2; }
        [ -d "$1" ] || return 0
        dir=$(_lab_dir "$1") || return
        for g in gw gb; do
                pair_keepalived_stop "$dir" $g
        done
        lab_down "$dir"
        rm -f "$dir/pair.env"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        . "$(dirname "${BASH_SOURCE[0]}")/lab.sh"
        verb=${1:-help}
        shift
        case $verb in
        up) trap 'pair_down "$1" >/dev/null 2>&1; exit 130' INT TERM HUP
            pair_up "$@" ;;
        down) pair_down "$@" ;;
        role) pair_role "$(_lab_dir "$1")" "${2:-gw}" ;;
        *) echo "usage: tests/lab/pair.sh up DIR [--clients N] | down DIR | role DIR gw|gb" >&2; exit 2 ;;
        esac
fi
