#!/usr/bin/env bash
# ikehealctl as a new user meets it, without an agent: every command --help lists has a
# `help COMMAND` (the local ones too: lint, config, init, help), and `audit N` beyond what one
# answer carries is refused before connecting, naming the limit.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
C="$B/ikehealctl --socket /nonexistent/ikh-cli.sock"

cmds=$($C --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && $1 != "Commands:" && /^  [a-z]/ {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 20 ] && ok "--help lists $(echo "$cmds" | wc -w) commands" || bad "--help: $cmds"
for c in $cmds; do
        out=$($C help "$c" 2>&1); rc=$?
        [ $rc = 0 ] && echo "$out" | grep -q "^Usage: ikehealctl .*$c" && ! echo "$out" | grep -q "unknown command" &&
                ok "help $c" || bad "help $c: rc=$rc: $(echo "$out" | head -2)"
done
out=$($C help nosuchthing 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "unknown command 'nosuchthing'" && ok "help of an unknown command: exit 2" \
        || bad "help nosuchthing: rc=$rc: $out"

out=$($C audit 400 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "last 1 to 200 records" && ! echo "$out" | grep -q "cannot connect" &&
        ok "audit 400: refused locally, the limit named: $out" || bad "audit 400: rc=$rc: $out"
out=$($C audit 0 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "last 1 to 200" && ok "audit 0: refused, the limit named" || bad "audit 0: rc=$rc: $out"
out=$($C audit 200 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "cannot connect" && ok "audit 200: asked of the agent" || bad "audit 200: rc=$rc: $out"
echo "$fails failed"
[ $fails = 0 ]
