#!/usr/bin/env bash
# The log classifier against what the real charon writes. For each fault of the seeds the lab
# can make — IKE proposal mismatch, ESP proposal mismatch, traffic selector mismatch, wrong PSK,
# gateway certificate expired / not yet valid / chain incomplete — a client tries to connect;
# the lines both charons wrote meanwhile are classified (tools/log-classify) and the expected
# class must be among them; and the `logs` check, fed by the gateway's VICI log events, must
# report the gateway side's class with the client's address as the failing peer.
#
# With IKEHEAL_CAPTURE_DIR set, the captured lines are saved there as <fault>-gw.log and
# <fault>-client.log (that is how tests/fixtures/charon-log/ was made: captured, not typed).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-checklogs-XXXXXX)
CR=
cleanup() {
        [ -n "$CR" ] && kill "$CR" 2>/dev/null && wait "$CR" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null && lab_disconnect "$D/lab" 1 >/dev/null || bad "baseline connect"

# fault NAME GW_CLASS CLIENT_CLASS INJECT… -- RESTORE…
fault() {
        local name=$1 gw_class=$2 cl_class=$3; shift 3
        local inject=() restore=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do inject+=("$1"); shift; done
        shift
        restore=("$@")
        local gw_mark cl_mark out
        gw_mark=$(wc -l <"$GW_LOG")
        cl_mark=$(wc -l <"$CL_LOG")
        "${inject[@]}" >/dev/null 2>&1 || bad "$name: could not inject the fault"
        # the check listens from here: a slow injection (new certificates at high load) must not
        # eat its watch; check-run says when charon has answered its subscriptions
        "$B/tools/check-run" --vici "$GW_VICI" --watch 120 logs >"$D/$name.check" 2>&1 &
        CR=$!
        local i
        for i in $(seq 250); do
                grep -q '^check-run: subscribed' "$D/$name.check" && break
                sleep 0.02
        done
        grep -q '^check-run: subscribed' "$D/$name.check" || bad "$name: check-run did not subscribe within 5 s"
        lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "$name: the client connected despite the fault"
        local tried; tried=$(date +%s%N)
        sleep 0.3
        tail -n +"$((gw_mark + 1))" "$GW_LOG" >"$D/$name-gw.log"
        tail -n +"$((cl_mark + 1))" "$CL_LOG" >"$D/$name-client.log"
        if [ -n "${IKEHEAL_CAPTURE_DIR:-}" ]; then
                for side in gw client; do
                        { echo "# captured by tests/integration/check-logs.sh from the lab's charon ($side side): $name"
                          cat "$D/$name-$side.log"; } >"$IKEHEAL_CAPTURE_DIR/$name-$side.log"
                done
        fi
        out=$("$B/tools/log-classify" "$D/$name-gw.log")
        grep -q "^class $gw_class " <<<"$out" && ok "$name: gateway lines classified $gw_class" \
                || bad "$name: gateway lines: $out"
        out=$("$B/tools/log-classify" "$D/$name-client.log")
        grep -q "^class $cl_class " <<<"$out" && ok "$name: client lines classified $cl_class" \
                || bad "$name: client lines: $out"
        # The check's finding is awaited, until 6 s after the failed attempt ended: charon has
        # logged the failure by then, and its log events reach a subscriber within that. (The
        # bound counts from the attempt, not from check-run's start: on a loaded machine the
        # attempt itself can take longer than 6 s.) check-run's own 120 s is only a backstop.
        seen() { grep -q "^fact class=$gw_class" "$D/$name.check" && grep -q "^fact peers=.*$CL_IP_1" "$D/$name.check"; }
        while kill -0 "$CR" 2>/dev/null && ! seen && [ $((($(date +%s%N) - tried) / 1000000)) -lt 6000 ]; do
                sleep 0.05
        done
        kill "$CR" 2>/dev/null
        wait "$CR"
        CR=
        if seen; then
                ok "$name: logs check over VICI: $(grep '^summary: charon reports' "$D/$name.check" | tail -1 | cut -c10-)"
        else
                bad "$name: logs check: $(grep -E '^(summary|fact)' "$D/$name.check" | tail -8 | tr '\n' ' ')"
        fi
        "${restore[@]}" >/dev/null 2>&1 || bad "$name: could not restore"
        lab_connect "$D/lab" 1 >/dev/null 2>&1 && lab_disconnect "$D/lab" 1 >/dev/null 2>&1 \
                || bad "$name: no recovery after restoring"
}

P=$LAB_IKE_PROPOSALS
fault ike-proposal proposal proposal lab_set_proposals "$D/lab" gw aes128-sha256-modp3072 \
        -- lab_set_proposals "$D/lab" gw "$P"
fault esp-proposal proposal proposal lab_set_proposals "$D/lab" gw "$P" aes128-sha1-modp2048 \
        -- lab_set_proposals "$D/lab" gw "$P" "$LAB_ESP_PROPOSALS"
fault ts-mismatch traffic_selectors traffic_selectors lab_set_ts "$D/lab" gw 198.18.9.9/32 \
        -- lab_set_ts "$D/lab" gw "$LAB_LAN_IP/32"
fault cert-expired authentication certificate lab_gw_cert "$D/lab" expired -- lab_gw_cert "$D/lab" valid
fault cert-notyet authentication certificate lab_gw_cert "$D/lab" notyet -- lab_gw_cert "$D/lab" valid
fault chain-incomplete authentication certificate lab_gw_cert "$D/lab" chain-incomplete -- lab_gw_cert "$D/lab" valid
lab_set_psk "$D/lab" gw right >/dev/null && lab_set_psk "$D/lab" 1 right >/dev/null || bad "PSK mode"
lab_connect "$D/lab" 1 >/dev/null && lab_disconnect "$D/lab" 1 >/dev/null && ok "PSK mode connects" || bad "PSK mode connect"
fault wrong-psk authentication authentication lab_set_psk "$D/lab" 1 wrong -- lab_set_psk "$D/lab" 1 right

testlib_end
