#!/usr/bin/env bash
# A real Prometheus for the tests, on loopback only, in a directory of the caller's:
#
#   prometheus.sh start DIR TARGET [RULES]   scrape TARGET (host:port, path /metrics) every
#                                            second, evaluate RULES (a rules file) every second;
#                                            listens on 127.0.0.1:<free port>, written to DIR/port;
#                                            returns once /-/ready answers (up to 60 s)
#   prometheus.sh query DIR EXPR             the value of EXPR's first sample ("" if none)
#   prometheus.sh wait DIR EXPR VALUE [SEC]  until EXPR's value is VALUE (default 60 s); 1 if not
#   prometheus.sh stop DIR                   TERM (then KILL) the Prometheus DIR/pid names
#
# Its TSDB, config and log live in DIR; nothing outside DIR is touched, nothing but loopback is
# scraped. The caller removes DIR (after stop) in its trap.
set -u
. "$(dirname "$0")/server_stop.sh"

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

api() { # DIR PATH [curl args…]
        local dir=$1 path=$2; shift 2
        curl -fsS --max-time 5 "$@" "http://127.0.0.1:$(cat "$dir/port")$path"
}

case ${1:-} in
start)
        dir=$2 target=$3 rules=${4:-}
        command -v prometheus >/dev/null || { echo "prometheus: not installed" >&2; exit 77; }
        mkdir -p "$dir/data"
        {
                echo "global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s }"
                [ -n "$rules" ] && echo "rule_files: [ '$(realpath "$rules")' ]"
                echo "scrape_configs:"
                echo "  - job_name: ikeheal"
                echo "    static_configs: [ { targets: [ '$target' ] } ]"
        } > "$dir/prometheus.yml"
        port=$(free_port)
        echo "$port" > "$dir/port"
        prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
                --web.listen-address="127.0.0.1:$port" --log.level=warn > "$dir/log" 2>&1 &
        echo $! > "$dir/pid"
        for _ in $(seq 600); do
                api "$dir" /-/ready >/dev/null 2>&1 && exit 0
                kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "prometheus exited:" >&2; tail -n 20 "$dir/log" >&2; exit 1; }
                sleep 0.1
        done
        echo "prometheus not ready after 60 s" >&2
        exit 1 ;;
query)
        dir=$2 expr=$3
        api "$dir" /api/v1/query --data-urlencode "query=$expr" |
                python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' ;;
wait)
        dir=$2 expr=$3 want=$4 secs=${5:-60}
        for _ in $(seq $((secs * 5))); do
                [ "$("$0" query "$dir" "$expr" 2>/dev/null)" = "$want" ] && exit 0
                sleep 0.2
        done
        exit 1 ;;
stop)
        server_stop "$2"
        exit 0 ;;
*)
        sed -n '2,13p' "$0" >&2
        exit 2 ;;
esac
