#!/usr/bin/env bash
# A reader cannot lock root out of the control socket. A throwaway user, member of
# control.group and of a reader group only, holds as many connections as the agent lets it,
# trickles one byte a second into each (never a complete request) and reconnects at once when
# one is closed or refused, for 12 s. Meanwhile root's `ikehealctl status` must be served every
# time (latency printed as a figure); the reader's connections are closed at the request
# deadline however many bytes it trickles; the refusals are logged in a bounded number of lines
# (one at once, then one summary per 10 s), not one per connection.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
[ -x /usr/bin/python3 ] && command -v setpriv >/dev/null || { echo "needs python3 and setpriv"; exit 77; }

D=$(mktemp -d /tmp/ikh-lockout-XXXXXX)
chmod 0755 "$D"
U=ikhlo$$
ATT=
cleanup() {
        [ -n "$ATT" ] && kill "$ATT" 2>/dev/null && wait "$ATT" 2>/dev/null
        agent_stop >/dev/null 2>&1
        userdel "$U" >/dev/null 2>&1
        groupdel "$U" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
groupadd "$U" && useradd -M -N -g "$U" -s /usr/sbin/nologin "$U" || { echo "cannot create user $U"; exit 1; }

mkdir -m 0755 "$D/runbooks"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  runbook_dirs: [$D/runbooks]
control:
  socket: $D/ctl.sock
  group: $U
  reader_groups: [$U]
  max_clients: 8
  max_clients_per_uid: 8
charon:
  vici_socket: $D/no-charon.vici
  unit: none
checks: []
YAML
agent_start "$D" "$D/c.yaml" "$B" || { echo "agent did not start"; exit 1; }

# root's status without a flood, for comparison
base=0
for i in 1 2 3 4 5; do
        t0=$(date +%s%N)
        timeout 10 "$B/ikehealctl" --socket "$D/ctl.sock" --timeout 5 status >/dev/null 2>&1 || bad "status before the flood failed"
        base=$((base + ($(date +%s%N) - t0) / 1000000))
done
echo "figure: root's status without a flood: mean $((base / 5)) ms"

# The reader: up to 64 connections, one byte of a status request per second into each (11 of
# its 12 bytes at most, so never a whole request), reconnecting as soon as one is closed.
cat >"$D/hog.py" <<'PY'
import socket, sys, time
path, want, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
req = bytes([0, 0, 0, 8, 0xA1, 1, 0, 1, 0, 0, 0, 0])
conns, attempts, closed, held_max, oldest = [], 0, 0, 0, 0.0
end = time.time() + secs
while time.time() < end:
    while len(conns) < want:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        attempts += 1
        try:
            s.connect(path)
        except OSError:
            s.close()
            break
        conns.append([s, 0, time.time(), 0.0])
    now = time.time()
    alive = []
    for c in conns:
        s, sent, born, last = c
        gone = False
        try:
            if s.recv(4096) == b"":
                gone = True
        except BlockingIOError:
            pass
        except OSError:
            gone = True
        if not gone and sent < len(req) - 1 and now - last >= 1.0:
            try:
                s.send(req[sent:sent + 1])
                c[1] += 1
                c[3] = now
            except OSError:
                gone = True
        if gone:
            closed += 1
            oldest = max(oldest, now - born)
            s.close()
        else:
            alive.append(c)
    conns = alive
    held_max = max(held_max, len(conns))
    time.sleep(0.02)
now = time.time()
longest = max([oldest] + [now - c[2] for c in conns if c[1] > 1])
print(f"attempts={attempts} closed={closed} longest_trickler_s={longest:.1f}")
PY
setpriv --reuid="$U" --regid="$U" --init-groups /usr/bin/python3 "$D/hog.py" "$D/ctl.sock" 64 12 >"$D/hog.out" 2>&1 &
ATT=$!
sleep 1

n=0 served=0 worst=0 total=0
t_start=$(date +%s%N)
while kill -0 "$ATT" 2>/dev/null && [ $n -lt 40 ]; do
        t0=$(date +%s%N)
        if timeout 10 "$B/ikehealctl" --socket "$D/ctl.sock" --timeout 5 status >"$D/st.out" 2>&1; then
                served=$((served + 1))
        else
                echo "     root's status failed: $(head -2 "$D/st.out" | tr '\n' ' ')"
        fi
        ms=$((($(date +%s%N) - t0) / 1000000))
        total=$((total + ms))
        [ $ms -gt $worst ] && worst=$ms
        n=$((n + 1))
        sleep 0.2
done
wait "$ATT"
ATT=
elapsed_s=$((($(date +%s%N) - t_start) / 1000000000 + 1))
echo "figure: root's status under a reader's flood: $served of $n served, mean $((total / (n > 0 ? n : 1))) ms, worst $worst ms"
echo "figure: reader: $(cat "$D/hog.out")"
[ $n -ge 5 ] && [ $served = $n ] && ok "root served $served of $n times while a reader holds the readers' slots" \
        || bad "root served $served of $n times"
grep -q "attempts=" "$D/hog.out" && [ "$(sed -n 's/.*attempts=\([0-9]*\).*/\1/p' "$D/hog.out")" -gt 100 ] \
        && ok "the reader kept trying ($(sed -n 's/.*attempts=\([0-9]*\).*/\1/p' "$D/hog.out") connections)" \
        || bad "the reader did not put up a fight: $(cat "$D/hog.out")"
longest=$(sed -n 's/.*longest_trickler_s=\([0-9.]*\).*/\1/p' "$D/hog.out")
awk -v l="${longest:-99}" 'BEGIN { exit !(l < 8) }' \
        && ok "a trickling connection lasts ${longest}s at most (request deadline 5 s, a byte a second)" \
        || bad "a trickling connection lasted ${longest:-?}s"
lines=$(grep -c "control: refused" "$D/agent.log")
evicted=$(grep -c "to make room for" "$D/agent.log")
max_lines=$((2 + elapsed_s / 10))
echo "figure: $lines refusal log lines over ${elapsed_s}s, $evicted reader connections closed to make room"
[ "$lines" -ge 1 ] && [ "$lines" -le $max_lines ] && ok "refusals logged in $lines lines (at most $max_lines)" \
        || bad "refusal log lines: $lines (want 1..$max_lines): $(grep 'control: refused' "$D/agent.log" | head -3)"
grep -q "refused .* more connections in the last 10s" "$D/agent.log" && ok "summary: $(grep -o 'refused [0-9]* more connections in the last 10s' "$D/agent.log" | head -1)" \
        || bad "no summary line of refusals"
timeout 10 "$B/ikehealctl" --socket "$D/ctl.sock" status >/dev/null 2>&1 && ok "the agent answers after the flood" || bad "no answer after the flood"
agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
