#!/usr/bin/env bash
# The configuration check on the lab gateway's real swanctl tree and strongswan.conf: a baseline
# recorded as last good, then an edit of swanctl.conf (drift, naming the file), a package log
# line of an upgrade a minute ago (recent package activity as evidence), a world-writable file
# (unsafe permissions, FAIL), and back to the recorded state (OK).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-checkconf-XXXXXX)
cleanup() { lab_down "$D/lab" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$D/state/snapshots"
echo "$(date -d '-3 hours' '+%Y-%m-%d %H:%M:%S') upgrade old:amd64 1 2" >"$D/dpkg.log"
printf 'swanctl_dir: %s\nstrongswan_conf: %s\npackage_logs: [%s]\nrecent: 1h\n' \
        "$GW_SWANCTL_DIR" "$(dirname "$GW_SWANCTL_DIR")/strongswan.conf" "$D/dpkg.log" >"$D/p.yaml"
run() { "$B/tools/check-run" --state-dir "$D/state" "$@" config "$D/p.yaml" >"$D/out" 2>&1; }

# the lab writes its files just now: give them an age, so "recent" means the edits below
find "$GW_SWANCTL_DIR" "$(dirname "$GW_SWANCTL_DIR")/strongswan.conf" -exec touch -d '-2 hours' {} +
run --mark-good
grep -q "^finding 1 status=ok" "$D/out" && [ -s "$D/state/snapshots/config.manifest" ] \
        && ok "baseline ok, manifest of $(wc -l <"$D/state/snapshots/config.manifest") files recorded" \
        || bad "baseline: $(grep -E '^(finding|summary|evidence)' "$D/out" | tr '\n' ' ')"

echo "# edited by a person at 3 a.m." >>"$GW_SWANCTL_DIR/swanctl.conf"
echo "$(date '+%Y-%m-%d %H:%M:%S') upgrade libssl3:amd64 3.0.1 3.0.2" >>"$D/dpkg.log"
run
grep -q "^fact reason=drift" "$D/out" && grep -q "^evidence: changed or added: .*swanctl.conf" "$D/out" \
        && ok "drift found, file named: $(grep '^summary' "$D/out" | cut -c10-)" || bad "drift: $(grep -E '^(finding|summary|fact|evidence)' "$D/out" | tr '\n' ' ')"
grep -q "^fact packages_changed=1" "$D/out" && grep -q "libssl3" "$D/out" && ok "recent package upgrade as evidence" \
        || bad "package activity: $(grep -E '^(fact|evidence)' "$D/out" | tr '\n' ' ')"
grep -q "^fact recent_changes=1" "$D/out" && ok "one recently changed file" || bad "recent: $(grep recent_changes "$D/out")"

chmod 666 "$GW_SWANCTL_DIR/swanctl.conf"
run
grep -q "^finding 1 status=warn" "$D/out" && grep -q "^fact reason=unsafe_permissions" "$D/out" \
        && ok "world-writable file: WARN unsafe_permissions (it still works)" || bad "perms: $(grep -E '^(finding|fact)' "$D/out" | tr '\n' ' ')"
chmod 644 "$GW_SWANCTL_DIR/swanctl.conf"
sed -i '$d' "$GW_SWANCTL_DIR/swanctl.conf"
run
grep -q "^fact drift=no" "$D/out" && ok "back to the last good content: no drift" || bad "restore: $(grep -E '^(summary|fact drift)' "$D/out")"
testlib_end
