#!/usr/bin/env bash
# The sa action against real charons over VICI (tests/tools/action-run): terminate the gateway's
# IKE_SA of a connected client by connection name (the client's tunnel is gone), initiate it
# again from the client's side by child name (it is back), rekey it, reload settings; a
# terminate of a connection that has no SA reports charon's own error.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actsa-XXXXXX)
cleanup() {
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
run() { # VICI YAML → output; exit status of action-run
        printf '%s\n' "$2" >"$D/p.yaml"
        "$B/tools/action-run" --vici "$1" sa apply "$D/p.yaml" 2>&1
}
lab_connect "$D/lab" 1 >/dev/null && [ "$(lab_child_count "$D/lab" gw)" -ge 1 ] && ok "client connected" || bad "connect"
out=$(run "$GW_VICI" "{operation: terminate, ike: $GW_CONN}") && ok "terminate ike=$GW_CONN: $(grep detail <<<"$out")" || bad "terminate: $out"
grep -q "the matching SAs drop" <<<"$out" && ok "the plan says it is disruptive" || bad "plan: $out"
[ "$(lab_child_count "$D/lab" gw)" = 0 ] && ok "the gateway has no CHILD_SA left" || bad "still $(lab_child_count "$D/lab" gw) CHILD_SAs"
out=$(run "$CL_VICI_1" "{operation: initiate, child: $LAB_CHILD, ike: $CL_CONN}") && ok "initiate from the client: $(grep detail <<<"$out")" ||
        bad "initiate: $out"
[ "$(lab_child_count "$D/lab" gw)" -ge 1 ] && ok "the tunnel is back" || bad "no CHILD_SA after initiate"
out=$(run "$GW_VICI" "{operation: rekey, ike: $GW_CONN}") && ok "rekey: $(grep detail <<<"$out")" || bad "rekey: $out"
out=$(run "$GW_VICI" "{operation: reload-settings}") && ok "reload-settings: $(grep detail <<<"$out")" || bad "reload-settings: $out"
lab_disconnect "$D/lab" 1 >/dev/null
out=$(run "$GW_VICI" "{operation: terminate, ike: $GW_CONN}") && bad "terminating nothing succeeded: $out" ||
        ok "terminate with no SA: charon's error reported: $(grep detail <<<"$out")"
out=$(run "$GW_VICI.nonexistent" "{operation: reload-settings}") && bad "no charon but success" ||
        ok "no charon on the socket: $(grep detail <<<"$out")"
testlib_end
