#!/usr/bin/env bash
# Resident memory of an idle ikeheald, without a lab: one `daemon` check on a VICI socket that
# does not exist, charon.unit UNIT (default none: nothing asks systemd, so libsystemd stays out
# of the process). Prints VmRSS, RssAnon, whether libsystemd is mapped and how many shared
# objects are, after 3 s. Compare two builds (or one relinked) by running it for each, a few
# times: a figure, nothing asserted.
#
#   bench/idle-rss.sh BUILD/ikeheald [UNIT]
set -u
b=${1:?usage: bench/idle-rss.sh IKEHEALD [UNIT]} unit=${2:-none}
d=$(mktemp -d /tmp/ikh-idle-rss-XXXXXX)
p=
trap '[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; rm -rf "$d"' EXIT
cat >"$d/c.yaml" <<YAML
agent:
  state_dir: $d/state
control:
  socket: $d/ctl.sock
charon:
  vici_socket: $d/none.vici
  unit: $unit
checks:
  - kind: daemon
YAML
chmod 0644 "$d/c.yaml"
"$b" -c "$d/c.yaml" --log-target=stderr >"$d/log" 2>&1 &
p=$!
sleep 3
kill -0 "$p" 2>/dev/null || { echo "ikeheald exited:"; cat "$d/log"; exit 1; }
echo "figure: $b unit=$unit: RSS $(awk '/VmRSS/{print $2}' /proc/$p/status) kB," \
        "anonymous $(awk '/RssAnon/{print $2}' /proc/$p/status) kB," \
        "libsystemd $(grep -q /libsystemd /proc/$p/maps && echo mapped || echo not mapped)," \
        "$(grep -o '/[^ ]*\.so[^ ]*' /proc/$p/maps | sort -u | wc -l) shared objects"
