#!/usr/bin/env bash
# The config_rollback action and the shipped config-rollback runbook on the real lab: the
# gateway's swanctl.conf gets a syntax error and is loaded (swanctl says so yet exits 0, and
# charon unloads every connection), a stray file appears in conf.d, a key's mode is widened.
# ikeheald (sanitizer build, shipped runbooks) opens a daemon_config incident, proposes the
# rollback at approve grade; approved, the last-good files come back byte for byte with their
# modes, the stray file goes, swanctl --load-all loads them, the client connects again. The
# action's revert puts the broken state back exactly (action-run), a rollback into a read-only
# tree fails saying how many files it restored (none), and a rollback with no last-good
# manifest is refused without touching anything.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actcfg-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
  runbook_dirs: [$top/runbooks]
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: conns
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
for _ in $(seq 100); do [ -s "$D/state/snapshots/config.manifest" ] && break; sleep 0.1; done
[ -s "$D/state/snapshots/config.manifest" ] && [ "$(ls "$D/state/config-store" | wc -l)" -ge 3 ] &&
        ok "healthy: last-good manifest of $(wc -l <"$D/state/snapshots/config.manifest") files, contents stored" || bad "no store"
tar -C "$GW_SWANCTL_DIR" -cf "$D/good.tar" . && (cd "$GW_SWANCTL_DIR" && find . -type f -exec stat -c '%a %n' {} + | sort) >"$D/good.modes"

# --- the fault ------------------------------------------------------------------------------
echo "connections { rw { local_addrs = " >>"$GW_SWANCTL_CONF"
cp "$GW_SWANCTL_CONF" "$D/conf.broken"
echo "# left by a package" >"$GW_SWANCTL_DIR/conf.d/zz-stray.conf" 2>/dev/null || { mkdir -p "$GW_SWANCTL_DIR/conf.d"; echo "# stray" >"$GW_SWANCTL_DIR/conf.d/zz-stray.conf"; }
chmod 0644 "$GW_KEY"
# a temporary measure's file (psk_temp, encap and log_level begin theirs so): its revert removes
# it, a rollback leaves it, and it is no drift
MEAS=$GW_SWANCTL_DIR/conf.d/zz-measure.conf
printf '# Written by ikeheald (a measure with an expiry in this test): do not edit.\n' >"$MEAS"
out=$(lab_swanctl "$D/lab" gw --load-all --noprompt 2>&1)
grep -q "syntax error" <<<"$out" && ok "broken swanctl.conf loaded: every connection gone" || bad "swanctl: $out"
agent_wait_incident daemon_config - 8000 >/dev/null && ok "daemon_config incident" || bad "no daemon_config incident"
out=$("$B/ikehealctl" config diff "$D/state") && bad "config diff saw no change" ||
        { grep -q "changed   $GW_SWANCTL_CONF" <<<"$out" && grep -q "+ connections { rw { local_addrs =" <<<"$out" &&
                grep -q "changed   $GW_KEY  (mode 0600 → 0644" <<<"$out" && grep -q "added     $GW_SWANCTL_DIR/conf.d/zz-stray.conf" <<<"$out" && grep -q "measure   $MEAS" <<<"$out" &&
                ok "ikehealctl config diff: the edit line by line, the key's mode, the stray file, the measure's file apart" || bad "config diff: $out"; }
run_of() { agent_run_of config-rollback; }
wait_run() { agent_wait_run config-rollback "$1" 30000; }
res=$(wait_run pending) && ok "config-rollback proposed at approve grade" || bad "no pending rollback"
plan=$(agent_ctl plan config-rollback)
grep -q "restore $GW_SWANCTL_CONF" <<<"$plan" && grep -q "remove $GW_SWANCTL_DIR/conf.d/zz-stray.conf" <<<"$plan" &&
        grep -q "restore $GW_KEY" <<<"$plan" && ok "the plan lists every file it would restore or remove" || bad "plan: $plan"
grep -q "zz-measure.conf" <<<"$plan" && bad "the plan would touch a measure's file: $plan" || ok "the plan leaves the measure's file alone"
set -- $res
agent_ctl approve "$1" "$3" >/dev/null && ok "approved" || bad "approve"
res=$(wait_run succeeded) && ok "rolled back, loaded and verified" || bad "rollback: $(run_of)"
mkdir -p "$D/now" && tar -C "$D/now" -xf "$D/good.tar"
[ -e "$MEAS" ] && ok "the measure's file is still there" || bad "the rollback removed the measure's file"
rm -f "$MEAS"
diff -r "$D/now" "$GW_SWANCTL_DIR" >/dev/null && ok "the swanctl tree is byte-identical to the last-good one (stray file gone)" ||
        bad "tree differs: $(diff -r "$D/now" "$GW_SWANCTL_DIR" | head -3)"
(cd "$GW_SWANCTL_DIR" && find . -type f -exec stat -c '%a %n' {} + | sort) | diff "$D/good.modes" - >/dev/null &&
        ok "modes restored (the key is 0600 again)" || bad "modes differ"
lab_connect "$D/lab" 1 >/dev/null && ok "the client connects again" || bad "client cannot connect"
agent_wait_resolved daemon_config 15000 >/dev/null && ok "incident resolved" || bad "incident not resolved"
agent_ctl audit 40 | grep -q "swanctl --load-all" && ok "the load's output is on the audit trail" || bad "audit"

# --- revert (the action alone): the state before the rollback comes back exactly -------------
agent_ctl pause --reason "revert test" >/dev/null
printf 'check: config\n' >"$D/p.yaml"
"$B/tools/action-run" --state-dir "$D/state" --vici "$GW_VICI" --param "config.swanctl_dir=$GW_SWANCTL_DIR" \
        --param "config.strongswan_conf=$GW_CONF" config_rollback revert "$D/p.yaml" >"$D/rev.out" 2>&1
cmp -s "$D/conf.broken" "$GW_SWANCTL_CONF" && [ -e "$GW_SWANCTL_DIR/conf.d/zz-stray.conf" ] &&
        [ "$(stat -c %a "$GW_KEY")" = 644 ] && ok "revert: the broken state is back exactly (file, stray, mode)" || bad "revert: $(cat "$D/rev.out")"
grep -q "result=-71" "$D/rev.out" && grep -q "syntax error" "$D/rev.out" &&
        ok "…and its load honestly fails on the syntax error" || bad "revert result: $(cat "$D/rev.out")"
# a rollback that cannot write (the tree read-only, as under a hardened unit without the path in
# ReadWritePaths) fails and counts only what it put in place
unshare -m sh -c "mount --bind -o ro '$GW_SWANCTL_DIR' '$GW_SWANCTL_DIR' && exec '$B/tools/action-run' --state-dir '$D/state' \
        --vici '$GW_VICI' --param 'config.swanctl_dir=$GW_SWANCTL_DIR' --param 'config.strongswan_conf=$GW_CONF' \
        config_rollback apply '$D/p.yaml'" >"$D/ro.out" 2>&1 && bad "a rollback into a read-only tree succeeded" ||
        { grep -q "0 of [1-9][0-9]* file(s) restored" "$D/ro.out" && grep -q "Read-only file system" "$D/ro.out" &&
                cmp -s "$D/conf.broken" "$GW_SWANCTL_CONF" && ok "read-only tree: refused by EROFS, 0 files counted as restored" ||
                bad "read-only rollback: $(cat "$D/ro.out")"; }
rm -f "$D/state/snapshots/config.manifest"*
"$B/tools/action-run" --state-dir "$D/state" --vici "$GW_VICI" --param "config.swanctl_dir=$GW_SWANCTL_DIR" \
        config_rollback apply "$D/p.yaml" >"$D/none.out" 2>&1 && bad "a rollback without a manifest succeeded" ||
        { grep -q "no last-good configuration" "$D/none.out" && cmp -s "$D/conf.broken" "$GW_SWANCTL_CONF" &&
                ok "no last-good manifest: refused, nothing touched" || bad "no manifest: $(cat "$D/none.out")"; }

agent_stop && ok "agent stopped cleanly" || ok "agent already stopped"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
