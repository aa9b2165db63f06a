#!/usr/bin/env bash
# A real Alertmanager for the tests, on loopback only, in a directory of the caller's:
#
#   alertmanager.sh start DIR WEBHOOK_URL [TOKEN_FILE]
#                       one route to one webhook receiver (group_wait and group_interval 1 s,
#                       resolved alerts sent too), with a bearer token read from TOKEN_FILE if
#                       given; listens on 127.0.0.1:<free port> (DIR/port), clustering off;
#                       returns once /-/ready answers (up to 60 s)
#   alertmanager.sh post DIR FILE      POST FILE (a v2 alerts JSON array) to /api/v2/alerts
#   alertmanager.sh alerts DIR         GET /api/v2/alerts (JSON)
#   alertmanager.sh stop DIR           TERM (then KILL) the Alertmanager DIR/pid names
#
# Its config, state and log live in DIR; the caller removes DIR (after stop) in its trap.
set -u
. "$(dirname "$0")/server_stop.sh"

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

api() { # DIR PATH [curl args…]
        local dir=$1 path=$2; shift 2
        curl -fsS --max-time 5 "$@" "http://127.0.0.1:$(cat "$dir/port")$path"
}

bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)

case ${1:-} in
start)
        dir=$2 url=$3 token_file=${4:-}
        [ -n "$bin" ] || { echo "alertmanager: not installed" >&2; exit 77; }
        mkdir -p "$dir/data"
        {
                echo "route:"
                echo "  receiver: ikeheal"
                echo "  group_by: [ alertname, incident ]"
                echo "  group_wait: 1s"
                echo "  group_interval: 1s"
                echo "  repeat_interval: 1h"
                echo "receivers:"
                echo "  - name: ikeheal"
                echo "    webhook_configs:"
                echo "      - url: '$url'"
                echo "        send_resolved: true"
                if [ -n "$token_file" ]; then
                        echo "        http_config:"
                        echo "          authorization: { type: Bearer, credentials_file: '$(realpath "$token_file")' }"
                fi
        } > "$dir/alertmanager.yml"
        port=$(free_port)
        echo "$port" > "$dir/port"
        "$bin" --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
                --web.listen-address="127.0.0.1:$port" --cluster.listen-address= --log.level=warn > "$dir/log" 2>&1 &
        echo $! > "$dir/pid"
        for _ in $(seq 600); do
                api "$dir" /-/ready >/dev/null 2>&1 && exit 0
                kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "alertmanager exited:" >&2; tail -n 20 "$dir/log" >&2; exit 1; }
                sleep 0.1
        done
        echo "alertmanager not ready after 60 s" >&2
        exit 1 ;;
post)
        api "$2" /api/v2/alerts -X POST -H 'Content-Type: application/json' --data-binary "@$3" ;;
alerts)
        api "$2" /api/v2/alerts ;;
stop)
        server_stop "$2"
        exit 0 ;;
*)
        sed -n '2,13p' "$0" >&2
        exit 2 ;;
esac
