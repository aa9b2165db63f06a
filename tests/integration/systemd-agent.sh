#!/usr/bin/env bash
# run: alone
# ikeheald as a real Type=notify service under real systemd (a booted Debian 12 container, see
# tests/systemd/): the shipped unit and tmpfiles verified, READY before `systemctl start` returns,
# the hardening in force on the running process, structured journal records (and journald
# taking common/journal_send.c's own: a field with a newline, 300 KiB through a sealed memfd; PID 1
# taking common/service_notify.c's READY=1, STATUS= and its watchdog period), charon in the
# container seen over VICI, the watchdog killing a stopped agent and systemd restarting it, a
# reload with a bad config keeping the old one, real second uids refused or allowed by group, a
# clean SIGTERM stop, and a start refused on a bad config. charon hung (SIGSTOP, and a stop
# signal it ignores) restarted by daemon-restart through a bounded stop and SIGKILL, verified by
# a VICI answer; a crash loop charon came back from warned about and never restarted; the system
# bus restarted under the agent, which connects again and reads the unit. The logs
# check reads charon's unit from the journal. Uses the plain build (the container
# has no sanitizer runtime). Exit 0 pass, 1 fail.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${IKEHEAL_BUILD_PLAIN:-$top/build}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for f in ikeheald ikehealctl; do
        [ -x "$B/$f" ] || { echo "FAIL no $B/$f: build first (make)"; exit 1; }
done
command -v systemd-nspawn mmdebstrap python3 >/dev/null || { echo "FAIL needs systemd-container, mmdebstrap, python3 (make deps)"; exit 1; }
. "$top/tests/systemd/container.sh"
D=$(mktemp -d /tmp/ikh-systemd-XXXXXX)
trap 'ct_down; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM HUP
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # description, command… — ok when the command succeeds
        local what=$1; shift
        if "$@"; then ok "$what"; else bad "$what"; return 1; fi
}
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
prop() { ct_exec systemctl show -p "$1" --value ikeheald.service; }
journal() { ct_exec journalctl -u ikeheald.service --no-pager -o cat; }
journal_has() { journal | grep -Eq "$1"; }
journal_has_text() { journal | grep -Fq "$1"; }
agent_journal() { ct_exec journalctl _SYSTEMD_UNIT=ikeheald.service --no-pager -o short-monotonic; }
ctl() { ct_exec /opt/ikeheal/bin/ikehealctl "$@"; }
as() { # user, command… — runs with the user's uid, primary group and supplementary groups
        local u=$1; shift
        ct_exec setpriv --reuid="$u" --regid="$(ct_exec id -g "$u")" --init-groups "$@"
}
status_json() { ctl status --json 2>/dev/null; }
charon_connected() { [ "$(status_json | jget charon.state)" = connected ]; }
jget() { # JSON on stdin, dotted key → value (empty when absent)
        python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v.get(k) if isinstance(v,dict) else None
print("" if v is None else v)' "$1" 2>/dev/null
}
CFG=/etc/ikeheal/ikeheal.yaml
write_config() { # vici socket, extra agent line (may be empty), log level
        cat >"$(ct_path $CFG)" <<YAML
agent:
  log_level: $3
  state_dir: /var/lib/ikeheal
$2
control:
  socket: /run/ikeheal/ikeheal.sock
  mode: "0660"
  group: ikeheal
  reader_groups: [ikeheal]
  operator_groups: [ikeheal-op]
charon:
  vici_socket: $1
  unit: strongswan.service
YAML
        chmod 0640 "$(ct_path $CFG)"
}

# --- the container ---------------------------------------------------------------------------
t=$(date +%s%N)
ct_build_rootfs || { echo "FAIL rootfs"; exit 1; }
echo "$CT_ROOTFS_NOTE; ready in $(ms "$t") ms"
ct_up "$D" --bind-ro="$B:/opt/ikeheal/bin" --bind-ro="$top/etc:/opt/ikeheal/etc" --bind-ro="$top/runbooks:/opt/ikeheal/runbooks" ||
        { echo "FAIL boot"; exit 1; }
echo "container $CT_MACHINE booted in $CT_BOOT_MS ms (leader pid $CT_LEADER, overlay on $CT_TREE)"

# --- the shipped files -----------------------------------------------------------------------
U=/etc/systemd/system/ikeheald.service
sed 's,@SBINDIR@,/opt/ikeheal/bin,g' "$top/etc/ikeheald.service" >"$(ct_path $U)"
mkdir -p "$(ct_path $U.d)"
printf '[Service]\n# the test waits 2 s for a watchdog kill, not 30\nWatchdogSec=2s\n' >"$(ct_path $U.d)/test.conf"
cp "$top/etc/ikeheal.tmpfiles" "$(ct_path /etc/tmpfiles.d)/ikeheal.conf"
ct_exec systemctl daemon-reload
out=$(ct_exec systemd-analyze verify --man=no $U 2>&1)
check "unit file: systemd-analyze verify is silent${out:+: $out}" test -z "$out"
echo "     $(ct_exec systemd-analyze security --no-pager ikeheald.service 2>/dev/null | grep -a 'Overall exposure')"
ct_exec systemd-tmpfiles --create ikeheal.conf
check "tmpfiles: /run/ikeheal 0755, /var/lib/ikeheal 0700" \
        test "$(ct_exec stat -c %a /run/ikeheal /var/lib/ikeheal | tr '\n' ' ')" = "755 700 "
out=$(ct_exec /opt/ikeheal/bin/ikeheald --check-config -c /opt/ikeheal/etc/ikeheal.yaml 2>&1)
check "shipped etc/ikeheal.yaml passes --check-config: $out" test $? = 0

# Real second uids: a reader, an operator, and nobody (no group of ours).
ct_exec groupadd -r ikeheal && ct_exec groupadd -r ikeheal-op
ct_exec useradd -r -M -N -g nogroup -G ikeheal -s /usr/sbin/nologin ikh-reader
ct_exec useradd -r -M -N -g nogroup -G ikeheal,ikeheal-op -s /usr/sbin/nologin ikh-operator
mkdir -p "$(ct_path /etc/ikeheal)"
write_config /run/charon.vici "" info
# PID 1 at debug level logs every sd_notify message it receives (RELOADING=1, STOPPING=1). Only
# while no agent is being started: PID 1's debug lines from a freshly forked child make journald
# cache that PID as "(ikeheald)" in init.scope for a moment, and the agent's first records would
# then lose their _SYSTEMD_UNIT.
debug() { ct_exec systemd-analyze log-level "$1"; }

# --- 1. start: READY, journal ----------------------------------------------------------------
check "charon-systemd runs in the container (strongswan.service)" \
        test "$(ct_exec systemctl is-active strongswan.service)" = active
t=$(date +%s%N)
ct_exec systemctl start ikeheald.service || bad "systemctl start failed"
dt=$(ms "$t")
check "Type=notify: active/running as soon as start returned ($dt ms)" \
        test "$(prop ActiveState)/$(prop SubState)" = active/running
pid1=$(prop MainPID)
check "STATUS= reported: '$(prop StatusText)'" test -n "$(prop StatusText)"
ct_exec journalctl -u ikeheald.service -o json --no-pager >"$D/journal.json"
check "journal: start record with SYSLOG_IDENTIFIER=ikeheald, PRIORITY=6, one CODE_FILE/CODE_LINE naming the caller, _SYSTEMD_UNIT" \
        python3 -c 'import json,sys
recs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hit=[r for r in recs if r.get("SYSLOG_IDENTIFIER")=="ikeheald" and " started" in str(r.get("MESSAGE",""))
     and r.get("PRIORITY")=="6" and r.get("CODE_FILE")=="agent/core/agent.c" and str(r.get("CODE_LINE","")).isdigit()
     and r.get("_SYSTEMD_UNIT")=="ikeheald.service" and r.get("_PID")==sys.argv[2]]
if hit: print("     " + hit[0]["MESSAGE"])
sys.exit(0 if hit else 1)' "$D/journal.json" "$pid1"
# The hardening of the unit is in force on the running process (capability mask 0x20300b =
# CHOWN, DAC_OVERRIDE, FOWNER, NET_ADMIN, NET_RAW (the capture action's and the tunnels'
# probe's raw sockets), SYS_ADMIN).
st=$(ct_exec cat "/proc/$pid1/status")
hard=$(echo "$st" | awk '/^CapBnd|^NoNewPrivs|^Seccomp:/ {printf "%s ", $2}')
check "hardening in force: CapBnd=000000000020300b NoNewPrivs=1 Seccomp=2 (seen: $hard)" \
        test "$hard" = "000000000020300b 1 2 "
check "/ is read-only for the agent (ProtectSystem=strict)" \
        grep -Eq '^[^ ]+ / [^ ]+ ro[, ]' <(ct_exec cat /proc/$pid1/mounts)

# --- 1b. the real journald takes common/journal_send.c's records ----------------------------
# plain fields, a value with a newline (the binary-safe form), and a 300 KiB field: too large for
# a datagram, so in a sealed memfd passed with SCM_RIGHTS
JT=ikh-journal-send-$$
t=$(date +%s%N)
out=$(ct_exec /opt/ikeheal/bin/tools/journal-send --big 307200 "MESSAGE=journal-send $JT" \
        "SYSLOG_IDENTIFIER=$JT" "PRIORITY=6" "IKEHEAL_TEST=two
lines" 2>&1)
check "journal-send: a 300 KiB record sent to journald${out:+: $out}" test -z "$out"
# one cheap poll until journald has it (each journalctl reads the whole journal), then one look
js_seen() { ct_exec journalctl -q -t "$JT" -o cat -n 1 --no-pager 2>/dev/null | grep -q .; }
ct_wait 10 js_seen
dt=$(ms "$t")
ct_exec journalctl SYSLOG_IDENTIFIER="$JT" -o json --all --no-pager >"$D/js.json" 2>/dev/null
check "journald stored it whole: MESSAGE, PRIORITY, IKEHEAL_TEST with its newline, BIG of 307200 bytes" \
        python3 -c 'import json,sys
def text(v): return bytes(v).decode() if isinstance(v, list) else v
recs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
big="".join("\n" if k % 1000 == 999 else chr(97 + k % 26) for k in range(307200))
ok=len(recs)==1 and text(recs[0].get("MESSAGE"))=="journal-send "+sys.argv[2] and recs[0].get("PRIORITY")=="6" \
   and text(recs[0].get("IKEHEAL_TEST"))=="two\nlines" and text(recs[0].get("BIG"))==big
sys.exit(0 if ok else 1)' "$D/js.json" "$JT"
echo "     figure: a 300 KiB record through a sealed memfd, sent → seen by journalctl: $dt ms"

# --- 1c. the real PID 1 takes common/service_notify.c's messages ------------------------------
# a transient Type=notify unit is active only once its process sent READY=1; the watchdog period
# systemd gave it ($WATCHDOG_USEC, $WATCHDOG_PID) comes back in its STATUS=
SN=ikh-service-notify-$$
t=$(date +%s%N)
out=$(ct_exec systemd-run -q --unit="$SN" -p Type=notify -p WatchdogSec=30s -p TimeoutStartSec=10s \
        /opt/ikeheal/bin/tools/service-notify --wait READY=1 2>&1)
check "Type=notify: the start returned once READY=1 came ($(ms "$t") ms), active${out:+: $out}" \
        test "$(ct_exec systemctl show -p ActiveState --value "$SN")" = active
out=$(ct_exec systemctl show -p StatusText --value "$SN")
check "STATUS= from service_notifyf with the watchdog period read back: '$out'" test "$out" = "watchdog 30000000"
ct_exec systemctl stop "$SN"

# --- 2. charon over VICI ---------------------------------------------------------------------
ct_wait 10 charon_connected
js=$(status_json)
check "ikehealctl status: charon connected, version $(echo "$js" | jget charon.version) over VICI" \
        test "$(echo "$js" | jget charon.state)" = connected -a -n "$(echo "$js" | jget charon.version)"
check "status carries SA counts (IKE total=$(echo "$js" | jget ikesas.total), CHILD total=$(echo "$js" | jget childsas.total))" \
        test -n "$(echo "$js" | jget ikesas.total)" -a -n "$(echo "$js" | jget childsas.total)"
check "status: pid $(echo "$js" | jget pid), the MainPID systemd knows (both in the container's pid namespace)" \
        test "$(echo "$js" | jget pid)" = "$pid1"
ctl status | sed 's/^/     | /'

# --- 2b. the daemon check reads the unit over D-Bus and sees it die ---------------------------
dfact() { ctl checks daemon --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}["daemon"]
print(d.get("facts",{}).get(sys.argv[1],""))' "$1"; }
ct_wait 10 sh -c 'true' # (ct_wait needs a command; the checks run at start)
for ((i = 0; i < 50; i++)); do [ "$(dfact active_state)" = active ] && break; sleep 0.1; done
check "daemon check: unit $(dfact unit) is $(dfact active_state)/$(dfact sub_state) (read over D-Bus)" \
        test "$(dfact unit)/$(dfact active_state)" = strongswan.service/active
before=$(dfact restarts_seen)
ct_exec systemctl kill -s KILL strongswan.service
for ((i = 0; i < 50; i++)); do
        ctl incidents active --json 2>/dev/null | grep -q '"class": "daemon"' && break
        sleep 0.1
done
inc=$(ctl incidents active --json 2>/dev/null | python3 -c 'import json,sys
for i in {str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}.values():
    if i["class"]=="daemon": print(i["reason"], i["scope"])')
check "charon SIGKILLed under systemd: daemon incident '$inc'" test "$inc" = "crashed global"
ct_exec systemctl start strongswan.service 2>/dev/null
for ((i = 0; i < 50; i++)); do [ "$(dfact active_state)" = active ] && [ "$(dfact vici)" = connected ] && break; sleep 0.1; done
check "charon back: our restart counter went from $before to $(dfact restarts_seen), NRestarts=$(dfact n_restarts)" \
        test "$(dfact restarts_seen)" -gt "${before:-0}"

# the system bus restarted (dbus upgraded): the agent's connection is closed under it; at the
# next run it connects again and makes its match on the unit anew, so charon's unit is still
# read over D-Bus — here, charon stopped through systemd shows as the unit's state
ct_exec systemctl restart dbus.service
dbus_up() { [ "$(ct_exec systemctl is-active dbus.service)" = active ]; }
ct_wait 10 dbus_up
ct_exec systemctl stop strongswan.service
for ((i = 0; i < 100; i++)); do [ "$(dfact active_state)" = inactive ] && break; sleep 0.1; done
check "the system bus restarted, then charon stopped: the unit read over D-Bus again ($(dfact active_state)/$(dfact sub_state))" \
        test "$(dfact active_state)" = inactive
ct_exec systemctl start strongswan.service 2>/dev/null
for ((i = 0; i < 100; i++)); do [ "$(dfact active_state)" = active ] && [ "$(dfact vici)" = connected ] && break; sleep 0.1; done
check "charon started again: seen active through the new connection's match" test "$(dfact active_state)" = active

# --- 2c. the shipped daemon-restart runbook: the agent restarts the unit itself ----------------
write_config /run/charon.vici "  runbook_dirs: [/opt/ikeheal/runbooks]" info
out=$(ctl reload 2>&1)
check "reload with the shipped runbooks: $out" test $? = 0
ct_wait 10 charon_connected
for ((i = 0; i < 50; i++)); do ctl incidents active 2>/dev/null | grep -q daemon || break; sleep 0.1; done
t=$(date +%s%N)
ct_exec systemctl kill -s KILL strongswan.service
dr_state() { ctl runs --json 2>/dev/null | python3 -c 'import json,sys
r={str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
print(next((v["state"] for k,v in sorted(r.items(), key=lambda kv: -int(kv[0])) if v["runbook"]=="daemon-restart"), ""))'; }
restarted_by_agent() { [ "$(dr_state)" = succeeded ]; }
ct_wait 30 restarted_by_agent
dt=$(ms "$t")
check "charon SIGKILLed: the daemon-restart runbook restarted strongswan.service over D-Bus and verified it ($dt ms)" \
        test "$(dr_state)" = succeeded -a "$(ct_exec systemctl is-active strongswan.service)" = active
echo "     figure: charon SIGKILL → restarted by the agent and verified active: $dt ms"
ctl audit 40 2>/dev/null | grep -E "run [0-9]+|strongswan" | tail -8 | sed 's/^/     | /'
ctl audit 30 2>/dev/null | grep -q "strongswan.service: job done" && ok "audit: systemd's job result recorded" || bad "audit lacks the job result"
ct_wait 10 charon_connected

# --- 2d. the shipped daemon drills: the agent injects the fault, daemon-restart heals it ------
mkdir -p "$(ct_path /etc/ikeheal/drills.d)"
cp "$top/drills/daemon-kill.yaml" "$top/drills/daemon-stop.yaml" "$(ct_path /etc/ikeheal/drills.d)/"
# the container's charon has no connection, certificate or NTP: a drill refuses to start on
# such a gateway, so here the agent checks the daemon alone (the drills' steady state)
write_config /run/charon.vici "  runbook_dirs: [/opt/ikeheal/runbooks]
  last_good_after: 0s
checks:
  - kind: daemon
drills: {enabled: true, dirs: [/etc/ikeheal/drills.d]}" info
out=$(ctl reload 2>&1)
check "reload with drills enabled: $out" test $? = 0
no_incident() { ! ctl incidents active 2>/dev/null | grep -q daemon; }
drill_over() { case $(ctl drill report --json 2>/dev/null | python3 -c 'import json,sys
h={str(x["id"]): x for x in json.load(sys.stdin).get("history") or []}
print(h[max(h, key=int)]["phase"] if h else "")') in passed|failed|aborted) return 0 ;; esac; return 1; }
for d in daemon-kill daemon-stop; do
        ct_wait 20 no_incident
        ct_wait 10 charon_connected
        # no `ctl resume`: daemon-restart's budget (2 an hour) is spent by the runs above, and a
        # drill's runs are outside it
        drill_starts() { out=$(ctl drill run "$d" 2>&1); }
        if ! ct_wait 15 drill_starts; then
                bad "drill $d refused: $out"
                ctl incidents active 2>&1 | sed 's/^/     | /'
                ctl checks 2>&1 | sed 's/^/     | /'
                continue
        fi
        ct_wait 120 drill_over
        v=$(ctl drill report --json | python3 -c 'import json,sys
h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; d=h[max(h, key=int)]
print(d["phase"], d.get("ttd_ms","-"), d.get("ttr_ms","-"), d["runbook"], d["note"])')
        set -- $v
        check "drill $d under systemd: $1 (TTD $2 ms, TTR $3 ms, healed by $4)" test "$1" = passed
        [ "$1" = passed ] || echo "     note: ${*:5}"
        check "after drill $d strongswan.service is active" test "$(ct_exec systemctl is-active strongswan.service)" = active
done
ctl drill report | sed 's/^/     | /'

# --- 2e. charon hung under its unit: daemon-restart stops it (bounded), SIGKILLs, starts it ---
# SIGSTOP makes charon alive but answering nothing. A drop-in gives it a stop signal it ignores
# (SIGWINCH; systemd's SIGCONT after it wakes the process, which then just runs on) and a long
# stop timeout of systemd's own (90 s): like a deadlocked charon, it never stops by itself, and
# only daemon-restart's stop_timeout (10 s) and SIGKILL end it.
DROPIN=/etc/systemd/system/strongswan.service.d
mkdir -p "$(ct_path $DROPIN)"
printf '[Service]\nKillSignal=SIGWINCH\nTimeoutStopSec=90s\n' >"$(ct_path $DROPIN)/hung-test.conf"
ct_exec systemctl daemon-reload
ctl resume >/dev/null 2>&1 # the runs above spent daemon-restart's budget (2 an hour)
ct_wait 20 no_incident
ct_wait 10 charon_connected
spid() { ct_exec systemctl show -p MainPID --value strongswan.service; }
last_run_id() { ctl runs --json 2>/dev/null | python3 -c 'import json,sys
t=sys.stdin.read()
r=(json.loads(t).get("runs") if t.strip() else None) or []
print(max([v["id"] for v in r if v["runbook"]==sys.argv[1]] or [0]))' "$1"; }
run_state() { ctl runs --json 2>/dev/null | python3 -c 'import json,sys
t=sys.stdin.read()
r=(json.loads(t).get("runs") if t.strip() else None) or []
print(next((v["state"] for v in r if str(v["id"])==sys.argv[1]), ""))' "$1"; }
opened_lines() { ct_exec journalctl _SYSTEMD_UNIT=ikeheald.service --no-pager -o cat | grep -o "incident [0-9]* opened: [a-z_]* ([a-z]*, [a-z_]*" ; }
cpid=$(spid)
run0=$(last_run_id daemon-restart)
n_open0=$(opened_lines | wc -l)
rs0=$(dfact restarts_seen)
t=$(date +%s%N)
ct_exec kill -STOP "$cpid"
new_run_done() { r=$(last_run_id daemon-restart); [ "$r" -gt "$run0" ] && case $(run_state "$r") in succeeded|failed|escalated|cancelled) true ;; *) false ;; esac; }
ct_wait 120 new_run_done # (after the drills, daemon-restart may still be in its 1 min cooldown)
dt=$(ms "$t")
first=$(opened_lines | tail -n +$((n_open0 + 1)) | head -1 | sed 's/incident [0-9]* opened: //')
check "charon SIGSTOPped under systemd: the first incident is daemon/hung ('$first')" test "$first" = "daemon (global, hung"
r=$(last_run_id daemon-restart)
check "daemon-restart run $r restarted the hung charon: $(run_state "$r") in $dt ms" test "$(run_state "$r")" = succeeded ||
        ct_exec journalctl -u strongswan.service --no-pager -o short-monotonic --since=-120s | tail -n 40 | sed 's/^/     strongswan| /'
ctl audit 30 2>/dev/null | grep -v "check .*: ok" | tail -n 20 | sed 's/^/     audit| /' # the run's timeline, for the log
echo "     figure: charon SIGSTOP under systemd → hung → bounded stop, SIGKILL, start, VICI answered: $dt ms"
ctl audit 60 2>/dev/null | grep -q "did not stop in time: SIGKILLed" && ok "audit: the stop ran out (10 s), charon was SIGKILLed, then started" \
        || bad "audit lacks the bounded stop's SIGKILL: $(ctl audit 60 2>/dev/null | grep -i "strongswan" | tail -3 | tr '\n' '|')"
ctl audit 80 2>/dev/null | grep -q "if not stopped within 10s, KillUnit SIGKILL; then StartUnit" &&
        ok "audit: the plan was the bounded restart (StopUnit, KillUnit SIGKILL after 10s, StartUnit)" ||
        bad "audit lacks the bounded restart's plan"
npid=$(spid)
check "strongswan.service active with a new main pid ($cpid → $npid)" \
        test "$(ct_exec systemctl is-active strongswan.service)" = active -a "$npid" != "$cpid" -a "$npid" != 0
ct_wait 10 charon_connected
daemon_answers() { [ "$(ctl checks daemon --json 2>/dev/null | python3 -c 'import json,sys; print({str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}["daemon"]["status"])')" = ok ]; }
ct_wait 10 daemon_answers
check "daemon check OK again (an answer), restarts_seen $rs0 → $(dfact restarts_seen) (one restart, by pid)" \
        test "$(dfact restarts_seen)" = $((rs0 + 1))
ct_wait 20 no_incident
rm -f "$(ct_path $DROPIN)/hung-test.conf"
ct_exec systemctl daemon-reload

# --- 2f. a crash loop charon came back from: a warning, never a restart -----------------------
# flap_max 1: two crashes within the window make a loop. charon is SIGKILLed twice; systemd's
# Restart=on-abnormal brings it back each time (the test starts it if not). Once charon is up
# and answering, the incident is crash_loop at warn: nothing may restart it — its pid stays,
# and no daemon-restart run starts, also with the budget reset.
write_config /run/charon.vici "  runbook_dirs: [/opt/ikeheal/runbooks]
  last_good_after: 0s
checks:
  - kind: daemon
    params: {flap_max: 1}" info
out=$(ctl reload 2>&1)
check "reload, daemon check with flap_max 1: $out" test $? = 0
ct_wait 20 no_incident
ct_wait 10 charon_connected
for k in 1 2; do
        p=$(spid)
        ct_exec systemctl kill -s KILL strongswan.service
        back() { q=$(spid); [ "$q" != 0 ] && [ "$q" != "$p" ] && [ "$(ct_exec systemctl is-active strongswan.service)" = active ]; }
        ct_wait 5 back || ct_exec systemctl start strongswan.service
        ct_wait 10 charon_connected
done
warn_loop() { ctl incidents active --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if any(i["class"]=="daemon" and i["reason"]=="crash_loop" and i["severity"]=="warn"
                  for i in {str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}.values()) else 1)'; }
ct_wait 15 warn_loop
check "two crashes, charon up and answering: incident daemon/crash_loop/warn" warn_loop
ctl incidents active 2>/dev/null | sed 's/^/     | /'
ctl resume >/dev/null 2>&1 # no budget, breaker or cooldown holds a restart back now
lpid=$(spid)
run1=$(last_run_id daemon-restart)
sleep 25 # the flapping warning fired daemon-restart ~20 s after charon was healthy again
check "charon up after a crash loop is left alone: main pid $lpid → $(spid) over 25 s" test "$(spid)" = "$lpid"
check "no daemon-restart run for the crash loop (last run $run1 → $(last_run_id daemon-restart))" \
        test "$(last_run_id daemon-restart)" = "$run1"
check "daemon-crash-loop told a human: $(ctl runs --json 2>/dev/null | grep -c daemon-crash-loop) run(s)" \
        test "$(last_run_id daemon-crash-loop)" -gt 0
write_config /run/charon.vici "" info
ctl reload >/dev/null 2>&1

# --- 3. watchdog -----------------------------------------------------------------------------
t=$(date +%s%N)
ct_exec kill -STOP "$pid1" # MainPID is a pid of the container's namespace; nsenter joined it
restarted() { [ "$(prop NRestarts)" = 1 ] && [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" != "$pid1" ]; }
ct_wait 15 restarted
pid2=$(prop MainPID)
check "watchdog: stopped agent killed and restarted in $(ms "$t") ms (NRestarts=1, pid $pid1 → $pid2, active)" restarted
check "journal: PID 1 saw the watchdog timeout" journal_has "Watchdog timeout"
check "journal: Result=watchdog before the restart" journal_has "Failed with result 'watchdog'"
out=$(busctl --address="$(ct_bus)" get-property org.freedesktop.systemd1 \
        /org/freedesktop/systemd1/unit/ikeheald_2eservice org.freedesktop.systemd1.Service NRestarts 2>&1)
check "host reaches the container's bus: NRestarts over D-Bus is '$out'" test "$out" = "u 1"
ct_wait 10 charon_connected

# --- 4. reload -------------------------------------------------------------------------------
# A bad file: an unknown key on line 4 AND a different VICI socket. Rejected as a whole, so the
# agent must still talk to /run/charon.vici.
write_config /run/elsewhere.vici "  colour: blue" info
debug debug
ct_exec systemctl reload ikeheald.service || bad "systemctl reload (bad config) failed"
ct_wait 5 journal_has "reload failed"
msg=$(journal | grep -m1 "reload failed")
check "journal: rejection with file:line:col: '$msg'" \
        grep -Eq "reload failed: $CFG:4:[0-9]+: .*keeping the old configuration" <<<"$msg"
check "PID 1 got RELOADING=1 then READY=1 with the rejection in STATUS=" bash -c '
        j=$(cat); r=$(grep -Fn "Got notification message from PID $1 (RELOADING=1" <<<"$j" | head -1 | cut -d: -f1)
        y=$(grep -Fn "Got notification message from PID $1 (READY=1, STATUS=running (last reload rejected))" <<<"$j" | head -1 | cut -d: -f1)
        [ -n "$r" ] && [ -n "$y" ] && [ "$r" -lt "$y" ]' _ "$pid2" < <(journal)
check "bad reload: unit still active with the same pid" test "$(prop ActiveState)/$(prop MainPID)" = "active/$pid2"
js=$(status_json)
check "old configuration in force: status answers, charon.socket=$(echo "$js" | jget charon.socket), reload_failures=1" \
        test "$(echo "$js" | jget charon.socket)/$(echo "$js" | jget charon.state)/$(echo "$js" | jget reload_failures)" = "/run/charon.vici/connected/1"
# (every diagnosis may say STATUS= anew — with the daemon check's heartbeat, every second — and
# the rejection stays in it until a good reload)
sleep 2
check "StatusText still tells of the rejected reload: '$(prop StatusText)'" \
        grep -q "last reload rejected" <<<"$(prop StatusText)"
write_config /run/charon.vici "" debug
ct_exec systemctl reload ikeheald.service || bad "systemctl reload (good config) failed"
ct_wait 5 journal_has "configuration reloaded from $CFG"
js=$(status_json)
check "good edit reloads: reloads=1, StatusText '$(prop StatusText)'" \
        test "$(echo "$js" | jget reloads)/$(prop StatusText | cut -c1-7)" = "1/running"

# --- 5. the control socket and second uids ---------------------------------------------------
out=$(as ikh-reader /opt/ikeheal/bin/ikehealctl status 2>&1); rc=$?
check "reader (group ikeheal) may read status" test $rc = 0
out=$(as ikh-reader /opt/ikeheal/bin/ikehealctl reload 2>&1); rc=$?
check "reader refused reload by the agent, exit 1: '$out'" \
        bash -c '[ "$1" = 1 ] && grep -q "permission denied" <<<"$2"' _ "$rc" "$out"
out=$(as ikh-operator /opt/ikeheal/bin/ikehealctl reload 2>&1); rc=$?
check "operator (group ikeheal-op) may reload: '$out'" test $rc = 0
out=$(ct_exec setpriv --reuid=65534 --regid=65534 --clear-groups /opt/ikeheal/bin/ikehealctl reload 2>&1); rc=$?
check "uid 65534 (no group of ours) refused, exit 1: '$out'" \
        bash -c '[ "$1" = 1 ] && grep -qi "permission denied" <<<"$2"' _ "$rc" "$out"
check "socket is root:ikeheal 0660" test "$(ct_exec stat -c '%U:%G %a' /run/ikeheal/ikeheal.sock)" = "root:ikeheal 660"

# --- 6. stop ---------------------------------------------------------------------------------
pid3=$(prop MainPID)
t=$(date +%s%N)
ct_exec systemctl stop ikeheald.service
debug info
check "SIGTERM stop in $(ms "$t") ms: Result=success, exit status 0, inactive" \
        test "$(prop Result)/$(prop ExecMainStatus)/$(prop ActiveState)" = success/0/inactive
check "PID 1 got STOPPING=1 from the main PID" journal_has_text "Got notification message from PID $pid3 (STOPPING=1"
check "journal: the agent logged its clean stop" journal_has "received SIGTERM, stopping"
check "runtime directory removed on stop" test ! -e "$(ct_path /run/ikeheal/ikeheal.sock)"

# --- 6b. the main events by MESSAGE_ID (common/log_ids.h), each with its IKEHEAL_* fields -----
# journalctl MESSAGE_ID=… as an operator would type it, in the container's real journal
mid() { sed -n "s/^#define LOG_MID_$1 LOG_MID(\"\([0-9a-f]*\)\").*/\1/p" "$top/common/log_ids.h"; }
by_mid() { # NAME, fields that every record of it carries
        local name=$1 id; shift
        id=$(mid "$name")
        ct_exec journalctl MESSAGE_ID="$id" -o json --no-pager 2>/dev/null | python3 -c 'import json,sys
recs=[json.loads(l) for l in sys.stdin if l.strip()]
recs=[r for r in recs if r.get("SYSLOG_IDENTIFIER")=="ikeheald"]
bad=[r.get("MESSAGE") for r in recs if not all(r.get(f) for f in sys.argv[1:])]
if recs and not bad:
    print("%d record(s), e.g. %s" % (len(recs), recs[-1]["MESSAGE"][:90]))
    sys.exit(0)
print("%d record(s); without %s: %s" % (len(recs), sys.argv[1:], bad[:2]))
sys.exit(1)' "$@"
}
for ev in "STARTED" "RELOADED" "RELOAD_REFUSED" "CHECK_STATUS IKEHEAL_CHECK IKEHEAL_CHECK_STATUS" \
        "INCIDENT_OPENED IKEHEAL_INCIDENT IKEHEAL_CLASS IKEHEAL_SCOPE IKEHEAL_INCIDENT_STATE" \
        "INCIDENT_STATE IKEHEAL_INCIDENT IKEHEAL_CLASS IKEHEAL_INCIDENT_STATE" \
        "RUN_STEP IKEHEAL_RUN IKEHEAL_RUNBOOK IKEHEAL_INCIDENT IKEHEAL_STEP" \
        "RUN_SUCCEEDED IKEHEAL_RUN IKEHEAL_RUNBOOK IKEHEAL_INCIDENT" \
        "AUDIT IKEHEAL_AUDIT_KIND IKEHEAL_AUDIT_SEQ IKEHEAL_AUDIT_HASH IKEHEAL_AUDIT_HEAD"; do
        set -- $ev
        [ -n "$(mid "$1")" ] || { bad "no LOG_MID_$1 in common/log_ids.h"; continue; }
        res=$(by_mid "$@") && ok "journalctl MESSAGE_ID=$(mid "$1") ($1): $res" || bad "MESSAGE_ID $1: $res"
done

# --- 7. a start on a bad config is refused by ExecStartPre --check-config --------------------
write_config /run/charon.vici "  colour: blue" info
ct_exec systemctl start ikeheald.service 2>/dev/null && bad "start on a bad config succeeded"
# --check-config writes the bare error to stderr (the journal stream): the line starts with it.
ct_wait 3 journal_has "^$CFG:4:[0-9]+: "
check "bad config at start refused by ExecStartPre: '$(journal | grep -m1 "^$CFG:4:")'" journal_has "^$CFG:4:[0-9]+: "
check "and the unit is not active: $(prop ActiveState)/$(prop Result)" test "$(prop ActiveState)" != active
ct_exec systemctl stop ikeheald.service
ct_exec systemctl reset-failed ikeheald.service 2>/dev/null

# --- 8. the logs check's journal source: a unit's lines read from the real journal ----------
# (check-run: the logs check alone, as the agent runs it; libsystemd's journal reader loaded on
# its first use). The lines come from a transient unit in charon's text format: its stdout is
# the journal, under its own _SYSTEMD_UNIT; and one record as charon-systemd writes it (the
# message alone, its thread and subsystem in THREAD= and GROUP=), which the check must classify.
printf 'vici: false\njournal_units: [strongswan.service, ikh-loglines.service]\n' >"$(ct_path /tmp/ikh-logs.yaml)"
rm -f "$(ct_path /tmp/ikh-logs.ready)"
ct_exec /opt/ikeheal/bin/tools/check-run --watch 4 --interval 500 --ready /tmp/ikh-logs.ready logs /tmp/ikh-logs.yaml \
        >"$D/logs.out" 2>&1 &
lp=$!
ct_wait 4 test -e "$(ct_path /tmp/ikh-logs.ready)"
ct_exec systemd-run --quiet --unit=ikh-loglines.service sh -c \
        'for i in 1 2 3; do echo "09[IKE] <gw|7> journal line $i of the logs check test"; done
         /opt/ikeheal/bin/tools/journal-send --linger 2 "MESSAGE=<gw|7> received AUTHENTICATION_FAILED notify error" \
                GROUP=IKE THREAD=9 LEVEL=1 SYSLOG_IDENTIFIER=charon-systemd'
wait "$lp"
lines=$(sed -n 's/^fact lines=//p' "$D/logs.out" | sort -n | tail -1)
check "logs check, journal_units: a unit's 3 lines read from the journal (${lines:-no} lines)" \
        test "${lines:-0}" -ge 3
auth=$(sed -n 's/^fact authentication=//p' "$D/logs.out" | sort -n | tail -1)
check "and charon-systemd's record (THREAD=, GROUP=) classified: authentication ${auth:-0}" \
        test "${auth:-0}" -ge 1
check "and the journal was never reported unavailable$(grep -m1 '^fact journal_error=' "$D/logs.out" | sed 's/^/: /')" \
        bash -c '! grep -q "^fact journal=unavailable" "$1"' _ "$D/logs.out"

if [ $fails -gt 0 ]; then
        echo "--- the unit's own processes in the journal (last 40 lines):"
        agent_journal | tail -40
        echo "--- journald:"
        ct_exec journalctl -u systemd-journald.service --no-pager | tail -5
fi
echo "$fails failed"
[ $fails = 0 ]
