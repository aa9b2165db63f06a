#!/usr/bin/env bash
# What the agent reads must never freeze it, and what others could write must never steer it.
# Against the real ikeheald and ikehealctl (no charon needed), each command under `timeout`, so
# a regression fails instead of hanging:
#   - a FIFO in the runbook directory: reload, --check-config, a start and `ikehealctl lint`
#     answer at once with a located error (exit 1 / 78); the running agent keeps serving and
#     stops on SIGTERM;
#   - a FIFO as the configuration, and as a certificate path in a check's params: the same;
#   - a 0666 runbook, a 0777 runbook directory, a 0666 drill and a 0777 drill directory: refused;
#   - a configuration that is a symlink to a root-only file: refused, nothing of the target shown;
#   - agent.audit_key_file missing or too open: --check-config and a start exit 78 (the start
#     before creating the state directory); a reload that changes the key is refused and the
#     agent says so; a missing runbook directory is a located, counted warning.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-inputs-XXXXXX)
chmod 0755 "$D"
# an agent frozen by a regression does not act on SIGTERM: it is killed (by its PID) after 5 s
stop_hard() {
        [ -n "$AGENT_PID" ] || return 0
        kill -TERM "$AGENT_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
        AGENT_PID=
}
cleanup() { stop_hard; rm -rf "$D"; }
trap cleanup EXIT
T="timeout -k 5 20"
RB=$D/runbooks
mkdir -m 0755 "$RB" "$D/drills" "$D/swanctl"
printf 'version: 1\nname: x\ngrade: observe\nmatch: {class: firewall}\nsteps:\n  - name: look\n    action: notify\n    params: {message: hi}\n' >"$RB/x.yaml"
head_yaml() { # STATE_DIR SOCKET
        printf 'agent:\n  state_dir: %s\n  runbook_dirs: [%s]\ncontrol:\n  socket: %s\ncharon:\n  vici_socket: %s/no.vici\n  unit: none\n' \
                "$1" "$RB" "$2" "$D"
}
{ head_yaml "$D/state" "$D/ctl.sock"; echo "checks: []"; } >"$D/c.yaml"
chmod 0644 "$D/c.yaml"
# run CMD…: its exit status in $rc and its output in $D/out; "ms" the time it took
run() { local t0; t0=$(date +%s%N); $T "$@" >"$D/out" 2>&1; rc=$?; ms=$((($(date +%s%N) - t0) / 1000000)); cat "$D/out" >>"$D/all.out"; }
has() { grep -qF -- "$1" "$D/out"; }

agent_start "$D" "$D/c.yaml" "$B" || { echo "agent did not start"; exit 1; }
ok "agent started with one runbook"
keep_log() { cat "$D/agent.log" >>"$D/all.out"; }

# ---- a FIFO in the runbook directory ----
mkfifo "$RB/y.yaml"
run "$B/ikehealctl" --socket "$D/ctl.sock" reload
[ $rc = 1 ] && has "$RB/y.yaml:1:1: cannot read: is a FIFO" && ok "reload: refused in $ms ms with a located error" \
        || bad "reload with a FIFO runbook: rc=$rc ($ms ms): $(head -3 "$D/out")"
run "$B/ikehealctl" --socket "$D/ctl.sock" status
[ $rc = 0 ] && ok "the agent still answers" || bad "status after the FIFO reload: rc=$rc"
run "$B/ikeheald" --check-config -c "$D/c.yaml"
[ $rc = 78 ] && has "$RB/y.yaml:1:1: cannot read: is a FIFO" && ok "--check-config: exit 78 in $ms ms, located" \
        || bad "--check-config with a FIFO runbook: rc=$rc: $(head -3 "$D/out")"
{ head_yaml "$D/state2" "$D/ctl2.sock"; echo "checks: []"; } >"$D/c2.yaml"
run "$B/ikeheald" -c "$D/c2.yaml" --log-target=stderr
[ $rc = 78 ] && has "y.yaml:1:1: cannot read: is a FIFO" && ok "a start: exit 78 in $ms ms, located" \
        || bad "start with a FIFO runbook: rc=$rc: $(tail -3 "$D/out")"
run "$B/ikehealctl" lint "$RB/y.yaml"
[ $rc = 1 ] && has "$RB/y.yaml:1:1: cannot read: is a FIFO" && ok "lint: exit 1 in $ms ms, located" \
        || bad "lint of a FIFO: rc=$rc: $(head -3 "$D/out")"
t0=$(date +%s%N)
$T bash -c "kill -TERM $AGENT_PID; while kill -0 $AGENT_PID 2>/dev/null; do sleep 0.05; done" && \
        ok "SIGTERM acted on ($((($(date +%s%N) - t0) / 1000000)) ms)" || bad "the agent did not stop on SIGTERM"
stop_hard
keep_log
rm -f "$RB/y.yaml"

# ---- a FIFO as the configuration, and as a certificate path ----
mkfifo "$D/fifo.yaml"
run "$B/ikeheald" --check-config -c "$D/fifo.yaml"
[ $rc = 78 ] && has "$D/fifo.yaml:1:1: cannot open: is a FIFO" && ok "FIFO as the configuration: exit 78 in $ms ms" \
        || bad "FIFO config: rc=$rc: $(head -3 "$D/out")"
mkfifo "$D/standby.pem"
{ head_yaml "$D/state" "$D/ctl.sock"; printf 'checks:\n  - kind: certificate\n    params: {swanctl_dir: %s, standby: [%s]}\n' \
        "$D/swanctl" "$D/standby.pem"; } >"$D/cert.yaml"
run "$B/ikeheald" --check-config -c "$D/cert.yaml"
[ $rc = 78 ] && has "cert.yaml:11:" && has "standby.pem is a FIFO, not a regular file" \
        && ok "FIFO as a certificate path: exit 78 in $ms ms, located" || bad "FIFO certificate: rc=$rc: $(head -3 "$D/out")"

# ---- runbooks and drills others could write ----
chmod 0666 "$RB/x.yaml"
run "$B/ikeheald" --check-config -c "$D/c.yaml"
[ $rc = 78 ] && has "x.yaml:1:1: runbook file is group- or world-writable (mode 0666), refusing" \
        && ok "0666 runbook refused" || bad "0666 runbook: rc=$rc: $(head -3 "$D/out")"
chmod 0644 "$RB/x.yaml"
chmod 0777 "$RB"
run "$B/ikeheald" --check-config -c "$D/c.yaml"
[ $rc = 78 ] && has "c.yaml:3:18: runbook directory $RB is group- or world-writable (mode 0777)" \
        && ok "0777 runbook directory refused, located" || bad "0777 runbook dir: rc=$rc: $(head -3 "$D/out")"
chmod 0755 "$RB"
cp "$top/drills/daemon-stop.yaml" "$D/drills/d.yaml"
chmod 0666 "$D/drills/d.yaml"
{ head_yaml "$D/state" "$D/ctl.sock"; printf 'checks: []\ndrills:\n  enabled: true\n  dirs: [%s]\n' "$D/drills"; } >"$D/dr.yaml"
run "$B/ikeheald" --check-config -c "$D/dr.yaml"
[ $rc = 78 ] && has "d.yaml:1:1: drill file is group- or world-writable (mode 0666)" && ok "0666 drill refused" \
        || bad "0666 drill: rc=$rc: $(head -3 "$D/out")"
run "$B/ikehealctl" lint "$D/drills/d.yaml"
[ $rc = 1 ] && has "drill file is group- or world-writable" && ok "lint refuses the 0666 drill too" \
        || bad "lint 0666 drill: rc=$rc: $(head -3 "$D/out")"
chmod 0644 "$D/drills/d.yaml"
chmod 0777 "$D/drills"
run "$B/ikeheald" --check-config -c "$D/dr.yaml"
[ $rc = 78 ] && has "drill directory $D/drills is group- or world-writable (mode 0777)" && ok "0777 drill directory refused" \
        || bad "0777 drill dir: rc=$rc: $(head -3 "$D/out")"
chmod 0755 "$D/drills"

# ---- a symlinked configuration ----
printf 'SECRET-7f3a: first line of a root-only file\n' >"$D/secret"
chmod 0600 "$D/secret"
ln -s "$D/secret" "$D/link.yaml"
run "$B/ikeheald" --check-config -c "$D/link.yaml"
[ $rc = 78 ] && has "link.yaml:1:1: cannot open: is a symbolic link" && ! has "SECRET" \
        && ok "a symlinked configuration is refused, nothing of its target shown" || bad "symlink: rc=$rc: $(head -3 "$D/out")"

# ---- the audit key ----
{ head_yaml "$D/state-k" "$D/ctl.sock"; printf 'checks: []\n'; } | sed "s|^  runbook_dirs:|  audit_key_file: $D/audit.key\n  runbook_dirs:|" >"$D/k.yaml"
run "$B/ikeheald" --check-config -c "$D/k.yaml"
[ $rc = 78 ] && has "k.yaml:3:19: agent.audit_key_file $D/audit.key: No such file" && ok "missing audit key: --check-config exit 78, located" \
        || bad "missing key check: rc=$rc: $(head -3 "$D/out")"
run "$B/ikeheald" -c "$D/k.yaml" --log-target=stderr
[ $rc = 78 ] && [ ! -e "$D/state-k" ] && ok "missing audit key: a start exits 78, no state directory made" \
        || bad "missing key start: rc=$rc, state dir $( [ -e "$D/state-k" ] && echo made || echo absent)"
head -c 32 /dev/urandom >"$D/audit.key"
chmod 0644 "$D/audit.key"
run "$B/ikeheald" --check-config -c "$D/k.yaml"
[ $rc = 78 ] && has "has mode 0644: others than root may use it" && ok "a 0644 audit key: exit 78" \
        || bad "0644 key: rc=$rc: $(head -3 "$D/out")"
chmod 0600 "$D/audit.key"
agent_start "$D" "$D/k.yaml" "$B" && ok "a good audit key: started" || bad "did not start with a good key"
head -c 32 /dev/urandom >"$D/audit.key"
run "$B/ikehealctl" --socket "$D/ctl.sock" reload
[ $rc = 1 ] && has "k.yaml:3:19: agent.audit_key_file: the audit key changed" && ok "a reload changing the key is refused" \
        || bad "reload with a new key: rc=$rc: $(head -3 "$D/out")"
kill -HUP "$AGENT_PID"
sleep 0.5
grep -q "reload failed: .*the audit key changed" "$D/agent.log" && ok "SIGHUP: refused the same way, logged" \
        || bad "SIGHUP with a new key: $(grep -i reload "$D/agent.log" | tail -2)"
stop_hard
keep_log

# ---- warnings: a runbook directory that does not exist ----
sed "s|runbook_dirs: \[$RB\]|runbook_dirs: [$D/nope]|" "$D/c.yaml" >"$D/w.yaml"
run "$B/ikeheald" --check-config -c "$D/w.yaml"
[ $rc = 0 ] && has "w.yaml:3:18: warning: runbook directory $D/nope does not exist" && has "configuration OK, 2 warnings" \
        && ok "missing runbook directory: 2 located warnings, counted, exit 0" || bad "warnings: rc=$rc: $(cat "$D/out")"
agent_start "$D" "$D/w.yaml" "$B" && grep -q "warning\].*no runbook in agent.runbook_dirs" "$D/agent.log" \
        && ok "a start with no runbook says so at warning level" || bad "start warning: $(grep -i runbook "$D/agent.log" | head -3)"
stop_hard
cat "$D/agent.log" >>"$D/all.out"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/all.out" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
