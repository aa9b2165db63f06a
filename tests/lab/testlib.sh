#!/usr/bin/env bash
# What every integration test script starts with: where the sources and the build are, the
# lab (and the agent helpers) loaded, "ok"/"FAIL" lines with a failure count, and the closing
# verdict. Source it first thing:
#
#   . "$(dirname "$0")/../lab/testlib.sh"
#   testlib_need_root
#   …
#   testlib_end      # prints "all passed" or "N failed" and returns the status
#
# Sets: top (the source tree), B (the sanitizer build: $IKEHEAL_BUILD, default build-san).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# Exit 77 (skip) without root: namespaces, nftables and charon need it.
testlib_need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }
testlib_end() {
        [ "$fails" = 0 ] && echo "all passed" || echo "$fails failed"
        [ "$fails" = 0 ]
}
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"

# A reference time server on loopback (tests/tools/sntp-server.py) for the clock tests, started
# once: its port in SNTP_PORT, its pid in SNTP_PID (the test's cleanup kills it); sntp_shift
# sets how far its time is off ours, at once, without a restart.
sntp_up() { # DIR
        SNTP_SHIFT_FILE=$1/sntp.shift
        echo 0 >"$SNTP_SHIFT_FILE"
        python3 "$top/tests/tools/sntp-server.py" 0 "@$SNTP_SHIFT_FILE" >"$1/sntp.port" &
        SNTP_PID=$!
        local i
        for i in $(seq 200); do [ -s "$1/sntp.port" ] && break; sleep 0.05; done
        SNTP_PORT=$(cat "$1/sntp.port")
        [ -n "$SNTP_PORT" ]
}
sntp_shift() { # SECONDS
        echo "$1" >"$SNTP_SHIFT_FILE.new" && mv -f "$SNTP_SHIFT_FILE.new" "$SNTP_SHIFT_FILE"
}
