#!/usr/bin/env bash
# Sourced by the benchmarks that need many peers on the lab (bench/check-cycle.sh, bench/metrics.sh),
# after the lab is up and its lab.env read ($D is the benchmark's work directory).
#
# Peers 3 … TO: IKE_SAs from client 1 as peerK.lab.test (K = 1 … TO − 2); those up to FROM
# are up already.
add_peers() { # FROM TO
        local from=$(($1 - 2)) to=$(($2 - 2)) i sw=$CL_SWANCTL_DIR_1
        [ "$to" -gt "$from" ] || return 0
        LAB_PKI_CONF=$PKI_DIR/strongswan.conf
        [ -e "$D/peers.pub" ] || _lab_pki --pub --in "$PKI_DIR/client1.key" --type ecdsa --outform pem >"$D/peers.pub"
        for ((i = from + 1; i <= to; i++)); do
                _lab_pki --issue --in "$D/peers.pub" --type pub --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" \
                        --dn "O=ikeheal lab, CN=peer$i.lab.test" --san "peer$i.lab.test" --outform pem \
                        >"$sw/x509/peer$i.pem" || return 1
        done
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
