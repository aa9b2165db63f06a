#!/usr/bin/env bash
# Sourced by the benchmarks that need many peers on the lab (bench/check-cycle.sh, bench/metrics.sh),
# after the lab is up and its lab.env read ($D is the benchmark's work directory).
#
# Certificates peerFROM+1 … peerTO.lab.test (client 1's key) in client 1's swanctl tree.
_peer_certs() { # FROM TO
        local i sw=$CL_SWANCTL_DIR_1
        LAB_PKI_CONF=$PKI_DIR/strongswan.conf
        [ -e "$D/peers.pub" ] || _lab_pki --pub --in "$PKI_DIR/client1.key" --type ecdsa --outform pem >"$D/peers.pub"
        for ((i = $1 + 1; i <= $2; i++)); do
                _lab_pki --issue --in "$D/peers.pub" --type pub --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" \
                        --dn "O=ikeheal lab, CN=peer$i.lab.test" --san "peer$i.lab.test" --outform pem \
                        >"$sw/x509/peer$i.pem" || return 1
        done
}

# Peers 3 … TO: IKE_SAs from client 1 as peerK.lab.test (K = 1 … TO − 2); those up to FROM
# are up already.
add_peers() { # FROM TO
        local from=$(($1 - 2)) to=$(($2 - 2)) i sw=$CL_SWANCTL_DIR_1
        [ "$to" -gt "$from" ] || return 0
        _peer_certs "$from" "$to" || return 1
        {
                echo "connections {"
                for ((i = 1; i <= to; i++)); do
                        cat <<CONF
        peer$i {
                version = 2
                local_addrs = $CL_IP_1
                remote_addrs = $GW_IP
                vips = 0.0.0.0
                proposals = $IKE_PROPOSALS
                encap = yes
                keyingtries = 1
                local { auth = pubkey
                        certs = peer$i.pem
                        id = peer$i.lab.test }
                remote { auth = pubkey
                         id = $GW_ID }
                children { peer$i-$LAB_CHILD { remote_ts = $LAN_IP/32
                                               esp_proposals = $ESP_PROPOSALS
                                               start_action = none } }
        }
CONF
                done
                echo "}"
        } >"$sw/peers.conf"
        grep -q '^include peers.conf' "$sw/swanctl.conf" || echo "include peers.conf" >>"$sw/swanctl.conf"
        lab_reload "$D/lab" 1 || return 1
        # on a loaded machine one exchange may time out: try it once more, and go on without it
        # rather than stop at the first (the caller prints the CHILD SAs really up)
        local failed=0
        for ((i = from + 1; i <= to; i++)); do
                lab_swanctl "$D/lab" 1 --initiate --child "peer$i-$LAB_CHILD" --timeout 10 >/dev/null 2>&1 ||
                        lab_swanctl "$D/lab" 1 --initiate --child "peer$i-$LAB_CHILD" --timeout 20 >/dev/null 2>&1 ||
                        { echo "peer$i: initiate failed twice" >&2; failed=$((failed + 1)); }
        done
        [ "$failed" = 0 ]
}

# CHILD_SAs in bulk, fast: IKES IKE_SAs from client 1 (peer1 … peerIKES.lab.test), each carrying
# PER CHILD_SAs c1 … cPER whose selectors differ by port (the gateway's LAN address, UDP
# 10001 …), so that the gateway names them apart as well (children c1 … cPER of its connection):
# on the gateway every CHILD_SA is a row of its own, by IKE_SA identity and name. They all start
# when the config is loaded (start_action = start: charon brings each IKE_SA up and queues the
# CREATE_CHILD_SA exchanges of its other children on it), with no swanctl call per CHILD_SA.
# What would make the exchanges time out on a loaded machine is left out: the lab's DH group on
# the bulk CHILD_SAs (no PFS), and the lab's debug logging of IKE, config and network events on
# both sides (the gateway logs every child config it tries, a line flushed at a time); client 1
# retransmits longer, and an IKE_SA that still times out is tried again.
# Waits up to TIMEOUT_S (default 300) for the gateway to have them installed; prints how many
# and how long.
add_child_sas() { # IKES PER [TIMEOUT_S]
        local ikes=$1 per=$2 i j sw=$CL_SWANCTL_DIR_1 t0 n want esp
        esp=$(sed -E 's/-(ecp|modp|curve|x25519|x448)[a-z0-9]*//g' <<<"$ESP_PROPOSALS")
        t0=$(date +%s%N)
        want=$((ikes * per))
        _peer_certs 0 "$ikes" || return 1
        sed -i -E 's/^( *)(ike|cfg|net) = 2$/\1\2 = 1/' "$GW_CONF" "$CL_CONF_1" || return 1
        sed -i -E 's/^( *retransmit_tries = ).*/\15/' "$CL_CONF_1" || return 1
        lab_swanctl "$D/lab" gw --reload-settings >/dev/null || return 1
        lab_swanctl "$D/lab" 1 --reload-settings >/dev/null || return 1
        # the gateway's children, inserted first in its connection's children section
        python3 - "$GW_SWANCTL_CONF" "$per" "$LAN_IP" "$esp" <<'PY' || return 1
import sys
path, per, lan, esp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
text = open(path).read()
blocks = "".join("                        c%d { local_ts = %s/32[udp/%d]\n"
                 "                              esp_proposals = %s }\n" % (j, lan, 10000 + j, esp)
                 for j in range(1, per + 1))
head, sep, tail = text.partition("                children {\n")
if not sep:
    sys.exit("no children section in " + path)
open(path, "w").write(head + sep + blocks + tail)
PY
        lab_reload "$D/lab" gw || return 1
        {
                echo "connections {"
                for ((i = 1; i <= ikes; i++)); do
                        cat <<CONF
        peer$i {
                version = 2
                local_addrs = $CL_IP_1
                remote_addrs = $GW_IP
                vips = 0.0.0.0
                proposals = $IKE_PROPOSALS
                encap = yes
                keyingtries = 0
                local { auth = pubkey
                        certs = peer$i.pem
                        id = peer$i.lab.test }
                remote { auth = pubkey
                         id = $GW_ID }
                children {
CONF
                        for ((j = 1; j <= per; j++)); do
                                echo "                        c$j { remote_ts = $LAN_IP/32[udp/$((10000 + j))]"
                                echo "                              esp_proposals = $esp"
                                echo "                              start_action = start }"
                        done
                        echo "                }"
                        echo "        }"
                done
                echo "}"
        } >"$sw/peers.conf"
        grep -q '^include peers.conf' "$sw/swanctl.conf" || echo "include peers.conf" >>"$sw/swanctl.conf"
        lab_reload "$D/lab" 1 || return 1
        while :; do
                n=$(lab_swanctl "$D/lab" gw --list-sas 2>/dev/null | grep -cE '^ +c[0-9]+: .*INSTALLED' || true)
                [ "$n" -ge "$want" ] || [ $(($(date +%s%N) - t0)) -ge $((${3:-300} * 1000000000)) ] && break
                sleep 0.5
        done
        echo "  ($n of $want CHILD SAs ($ikes IKE_SAs × $per) up on the gateway in $((($(date +%s%N) - t0) / 1000000)) ms)"
        [ "$n" -ge "$want" ]
}
