# Sourced by the lab's server scripts (prometheus.sh, alertmanager.sh): end the server whose pid
# is in DIR/pid — the one the script started — by TERM, then KILL after 5 s.
server_stop() {
        local dir=$1 pid
        [ -f "$dir/pid" ] || return 0
        pid=$(cat "$dir/pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        return 0
}
