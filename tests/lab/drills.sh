#!/usr/bin/env bash
# Chaos drills on the lab: the shipped drills (drills/*.yaml) run by ikeheald against a real
# strongSwan gateway and two road-warrior clients in network namespaces, real nftables, real
# certificates, a CRL distribution point on loopback. Used by `make drill`, the lab test
# (tests/integration/drills.sh) and the benchmark (bench/drill-times.sh).
#
# Two faces:
#   a bash library (source it after tests/lab/lab.sh and tests/lab/agent.sh):
#     dlab_up DIR BUILD [INTERVAL]  lab + drill files + agent with every check (interval
#                                   INTERVAL, default 1s) and drills enabled; the clients keep
#                                   reconnecting in the background as road warriors do
#     dlab_down                     everything dlab_up started, by PID; the lab removed
#     dlab_drill NAME [TIMEOUT_S]   run one drill (retrying while the gateway is not yet steady
#                                   after the previous one) and wait for its verdict; prints
#                                   "id phase ttd_ms ttr_ms note"
#   a command:  tests/lab/drills.sh BUILD [DRILL…]   runs the drills (default: every shipped one
#                                   the lab can host) and prints the report table.
#
# The shipped drills name Debian's paths (/etc/swanctl, /etc/ikeheal/drills.d/files); here they
# are rewritten to the lab's, and the files they need (an expired and a not-yet-valid twin of the
# gateway certificate, a stale CRL, a swanctl.conf switched to a PSK) are made with the lab's CA.
# daemon-kill/daemon-stop need charon under a systemd unit: they run in the systemd container
# (tests/integration/systemd-agent.sh), not here.

DLAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DLAB_TOP=$(cd "$DLAB_SRC/../.." && pwd)
DLAB_DRILLS="firewall-drop-4500 firewall-drop-ike cert-expired cert-notyet config-syntax crl-stale auth-psk-switch proposal-mismatch"
DLAB_DIR=
DLAB_HTTP=
DLAB_TRAFFIC=

_dlab_err() { echo "drills: $*" >&2; }

# The files the shipped drills point at, made with the lab's CA and the gateway's key.
_dlab_files() { # DIR
        local d=$1 f=$1/files p
        mkdir -p "$f" "$d/www" || return
        p=$PKI_DIR
        cp -f "$GW_CERT" "$d/gw-good.pem" && cp -f "$GW_KEY" "$d/gw-good.key" || return
        lab_gw_cert "$d/lab" expired --no-reload && cp -f "$GW_CERT" "$f/gateway-expired.pem" || return
        lab_gw_cert "$d/lab" notyet --no-reload && cp -f "$GW_CERT" "$f/gateway-notyet.pem" || return
        cp -f "$d/gw-good.pem" "$GW_CERT" && rm -f "$GW_SWANCTL_DIR/gw.pem.prev" || return
        pki --signcrl --cacert "$CA_CERT" --cakey "$p/ca.key" --lifetime 7 --outform der >"$d/www/ca.crl" 2>/dev/null || return
        pki --signcrl --cacert "$CA_CERT" --cakey "$p/ca.key" --this-update "$(date -u -d '-10 days' '+%d.%m.%y %T')" \
                --next-update "$(date -u -d '-1 day' '+%d.%m.%y %T')" --outform der >"$f/ca-stale.crl" 2>/dev/null || return
        cp -f "$d/www/ca.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl" || return
        cp -f "$GW_SWANCTL_CONF" "$f/swanctl-psk.conf" || return
        sed -i 's/auth = pubkey/auth = psk/' "$f/swanctl-psk.conf" &&
                printf 'secrets {\n        ike-drill {\n                secret = "a-key-no-client-has"\n        }\n}\n' \
                        >>"$f/swanctl-psk.conf" || return
        # the drills as shipped, with the lab's paths
        mkdir -p "$d/drills" || return
        for p in "$DLAB_TOP"/drills/*.yaml; do
                case ${p##*/} in daemon-*) continue ;; esac # need a unit: the systemd container runs them
                sed -e "s|/etc/swanctl/x509/gateway.pem|$GW_CERT|; s|/etc/swanctl|$GW_SWANCTL_DIR|g" \
                    -e "s|/etc/ikeheal/drills.d/files|$f|g" "$p" >"$d/drills/${p##*/}" || return
        done
        lab_swanctl "$d/lab" gw --load-creds --clear --noprompt >/dev/null && lab_reload "$d/lab" gw >/dev/null
}

# A certificate drill leaves the gateway healed on its standby pair (cert-standby copies it in):
# the operator's part afterwards — the primary pair put back — so the next drill starts from
# the same gateway.
_dlab_primary_back() {
        rm -f "$GW_SWANCTL_DIR/gw.pem.prev" # lab_gw_cert's copy, not part of the gateway
        cmp -s "$DLAB_DIR/gw-good.pem" "$GW_CERT" && cmp -s "$DLAB_DIR/gw-good.key" "$GW_KEY" && return 0
        cp -f "$DLAB_DIR/gw-good.pem" "$GW_CERT" && cp -f "$DLAB_DIR/gw-good.key" "$GW_KEY" &&
                lab_swanctl "$DLAB_DIR/lab" gw --load-creds --clear --noprompt >/dev/null && lab_reload "$DLAB_DIR/lab" gw >/dev/null
}

# Road warriors: each client reconnects when its tunnel is gone, as real ones retry.
_dlab_traffic() { # DIR
        local d=$1 i
        while :; do
                for i in 1 2; do
                        [ "$(lab_child_count "$d/lab" "$i" 2>/dev/null)" -ge 1 ] 2>/dev/null ||
                                LAB_CONNECT_TIMEOUT=4 lab_connect "$d/lab" "$i" >/dev/null 2>&1
                done
                sleep 0.5
        done
}

dlab_up() { # DIR BUILD [INTERVAL]
        local d=$1 b=$2 iv=${3:-1s} port
        DLAB_DIR=$d
        lab_up "$d/lab" --clients 2 >/dev/null || { _dlab_err "lab did not come up"; return 1; }
        . "$d/lab/lab.env"
        _dlab_files "$d" || { _dlab_err "cannot make the drills' files"; return 1; }
        port=$((23000 + $$ % 9000))
        (cd "$d/www" && exec python3 -m http.server "$port" --bind 127.0.0.1) >/dev/null 2>&1 &
        DLAB_HTTP=$!
        { agent_yaml_head "$d" "$DLAB_TOP/runbooks" | sed "s/interval: 2s/interval: $iv/"; cat <<YAML
checks:
  - kind: ike_probe
    params: {targets: [$GW_IP], netns: $CL_NS_1, timeout: 500ms}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: daemon
  - kind: conns
  - kind: sas
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$STANDBY_DIR/gw-standby.pem, $STANDBY_DIR/gw-standby.key]}
  - kind: revocation
    params: {swanctl_dir: $GW_SWANCTL_DIR, crl_urls: ["http://127.0.0.1:$port/ca.crl"]}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
  - kind: logs
    params: {window: 1m}
drills:
  enabled: true
  dirs: [$d/drills]
  auto_approve: true
YAML
        } >"$d/ikeheal.yaml"
        for _ in $(seq 50); do
                python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
                        "http://127.0.0.1:$port/ca.crl" 2>/dev/null && break
                sleep 0.1
        done
        lab_connect "$d/lab" 1 >/dev/null && lab_connect "$d/lab" 2 >/dev/null || { _dlab_err "clients cannot connect"; return 1; }
        agent_start "$d" "$d/ikeheal.yaml" "$b" || return 1
        _dlab_traffic "$d" &
        DLAB_TRAFFIC=$!
        agent_wait_checks 15000
}

dlab_down() {
        [ -n "$DLAB_TRAFFIC" ] && kill "$DLAB_TRAFFIC" 2>/dev/null && wait "$DLAB_TRAFFIC" 2>/dev/null
        DLAB_TRAFFIC=
        agent_stop
        [ -n "$DLAB_HTTP" ] && kill "$DLAB_HTTP" 2>/dev/null && wait "$DLAB_HTTP" 2>/dev/null
        DLAB_HTTP=
        [ -n "$DLAB_DIR" ] && lab_down "$DLAB_DIR/lab" >/dev/null 2>&1
        return 0
}

# The verdict of drill ID as "id phase ttd_ms ttr_ms note", once it is over.
_dlab_verdict() { # ID
        agent_ctl drill report "$1" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)["drill"]
print(d["id"], d["phase"], d.get("ttd_ms", "-"), d.get("ttr_ms", "-"), d.get("note", "").replace(" ", "_"))' 2>/dev/null
}

dlab_drill() { # NAME [TIMEOUT_S]
        local name=$1 timeout=${2:-180} t0 out id line
        t0=$(date +%s)
        # after the previous drill the gateway may still be settling (an incident resolving, a
        # check not yet OK again, the last-good state not yet recorded): a real start refuses
        # then; try again until it is steady
        until out=$(agent_ctl drill run "$name" 2>&1); do
                if [ $(($(date +%s) - t0)) -gt 90 ]; then
                        _dlab_err "$name refused for 90 s: $out"
                        return 1
                fi
                sleep 1
        done
        id=$(sed -n 's/^drill \([0-9]*\) .*/\1/p' <<<"$out" | head -1)
        [ -n "$id" ] || id=$(agent_ctl drill status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"]["id"])')
        while :; do
                line=$(_dlab_verdict "$id")
                case $(cut -d' ' -f2 <<<"$line") in passed|failed|aborted) _dlab_primary_back; echo "$line"; return 0 ;; esac
                [ $(($(date +%s) - t0)) -gt "$timeout" ] && { _dlab_err "drill $id ($name) not over after ${timeout}s: $line"; return 1; }
                sleep 0.2
        done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        set -u
        b=$(cd "${1:?usage: drills.sh BUILD [DRILL…]}" && pwd)
        shift
        . "$DLAB_SRC/lab.sh"
        . "$DLAB_SRC/agent.sh"
        D=$(mktemp -d /tmp/ikh-drills-XXXXXX)
        trap 'dlab_down; rm -rf "$D"' EXIT
        trap 'exit 1' INT TERM HUP
        echo "== the lab: gateway + 2 clients in namespaces, ikeheald ($b) with every check at a 1 s interval"
        dlab_up "$D" "$b" || exit 1
        rc=0
        for n in ${*:-$DLAB_DRILLS}; do
                v=$(dlab_drill "$n") || { rc=1; continue; }
                set -- $v
                printf '   drill %-3s %-20s %-8s TTD %6s ms  TTR %6s ms\n' "$1" "$n" "$2" "$3" "$4"
                [ "$2" = passed ] || { rc=1; echo "      ${5//_/ }"; }
        done
        echo
        agent_ctl drill report
        exit $rc
fi
