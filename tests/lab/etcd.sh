#!/usr/bin/env bash
# A real 3-member etcd cluster on loopback for the fleet tests, started and stopped by the test:
#
#   etcd_up DIR            three members (data in DIR/m1…m3, logs DIR/mN.log), client URLs on
#                          127.0.0.1 at free ports; sets ETCD_ENDPOINTS (comma-separated
#                          http://127.0.0.1:PORT) and waits until the cluster has a leader
#   etcd_stop_member DIR N stop member N (SIGTERM, then SIGKILL; by its recorded PID)
#   etcd_start_member DIR N
#   etcd_down DIR          stop every member (idempotent)
# Ports come from the kernel (bind to port 0) so parallel tests do not collide. Loopback only.
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}

_etcd_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

_etcd_start() { # DIR N
        local dir=$1 n=$2
        # shellcheck disable=SC1091
        . "$dir/etcd.env"
        local cp=CP$n pp=PP$n
        "$ETCD_BIN" --name "m$n" --data-dir "$dir/m$n" \
                --listen-client-urls "http://127.0.0.1:${!cp}" --advertise-client-urls "http://127.0.0.1:${!cp}" \
                --listen-peer-urls "http://127.0.0.1:${!pp}" --initial-advertise-peer-urls "http://127.0.0.1:${!pp}" \
                --initial-cluster "$INITIAL" --initial-cluster-token "ikh-$(printf %s "$dir" | sha256sum | cut -c1-8)" \
                --initial-cluster-state new --heartbeat-interval 100 --election-timeout 1000 \
                --log-level warn </dev/null >>"$dir/m$n.log" 2>&1 &
        echo $! >"$dir/m$n.pid"
}

etcd_up() { # DIR
        local dir=$1 i
        mkdir -p "$dir" || return
        [ -x "$ETCD_BIN" ] || { echo "etcd: $ETCD_BIN missing (make deps)" >&2; return 77; }
        {
                local init=""
                for i in 1 2 3; do
                        echo "CP$i=$(_etcd_free_port)"
                        local pp; pp=$(_etcd_free_port)
                        echo "PP$i=$pp"
                        init+="${init:+,}m$i=http://127.0.0.1:$pp"
                done
                echo "INITIAL=$init"
        } >"$dir/etcd.env"
        for i in 1 2 3; do _etcd_start "$dir" $i; done
        # shellcheck disable=SC1091
        . "$dir/etcd.env"
        ETCD_ENDPOINTS="http://127.0.0.1:$CP1,http://127.0.0.1:$CP2,http://127.0.0.1:$CP3"
        for ((i = 0; i < 200; i++)); do
                ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        echo "etcd: the cluster in $dir has no leader after 20 s" >&2
        return 1
}

_etcd_ours() { # DIR PID
        [[ $2 =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$2/cmdline"; } 2>/dev/null | grep -qF -- "--data-dir $1/m"
}

etcd_stop_member() { # DIR N
        local dir=$1 n=$2 pid i
        pid=$(cat "$dir/m$n.pid" 2>/dev/null) || return 0
        _etcd_ours "$dir" "$pid" || { rm -f "$dir/m$n.pid"; return 0; }
        kill -TERM "$pid"
        for ((i = 0; i < 100; i++)); do _etcd_ours "$dir" "$pid" || break; sleep 0.05; done
        _etcd_ours "$dir" "$pid" && kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
        rm -f "$dir/m$n.pid"
}

etcd_start_member() { _etcd_start "$1" "$2"; }

etcd_down() { # DIR
        local i
        [ -d "$1" ] || return 0
        for i in 1 2 3; do etcd_stop_member "$1" $i; done
}
