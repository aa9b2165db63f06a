#!/usr/bin/env bash
# Every manual page renders without a single groff warning (groff -ww -z -man: unknown requests,
# bad escapes, characters outside the input encoding, control bytes such as a form feed left by
# an unescaped "\f"), and every command `ikehealctl --help` lists has an entry in ikehealctl(8).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
command -v groff >/dev/null || { echo "FAIL needs groff (make deps)"; exit 1; }
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

for p in "$top"/man/*.[1-8]; do
        out=$(groff -ww -z -man "$p" 2>&1)
        [ -z "$out" ] && ok "${p##*/}: groff -ww renders it without a warning" || bad "${p##*/}: $out"
        if LC_ALL=C grep -n '[[:cntrl:]]' "$p" | grep -qv $'\t'; then
                bad "${p##*/}: control bytes: $(LC_ALL=C grep -n '[[:cntrl:]]' "$p" | cat -A | head -3)"
        fi
done

# ikeheald(8) lists every MESSAGE_ID (common/log_ids.h) and every IKEHEAL_* journal field the agent
# writes (agent/engine/engine_base.c's are the exec action's environment, not journal fields)
for id in $(sed -n 's/^#define LOG_MID_[A-Z_]* LOG_MID("\([0-9a-f]*\)").*/\1/p' "$top/common/log_ids.h"); do
        grep -q "^$id" "$top/man/ikeheald.8" && ok "ikeheald(8) lists MESSAGE_ID $id" || bad "ikeheald(8) lacks MESSAGE_ID $id"
done
for f in $(grep -rhoE '"IKEHEAL_[A-Z_]+=' "$top/agent" --include=*.c --exclude=engine_base.c | tr -d '"=' | sort -u); do
        grep -q "$f" "$top/man/ikeheald.8" && ok "ikeheald(8) lists the journal field $f" || bad "ikeheald(8) lacks the journal field $f"
done

if [ -x "$B/ikehealctl" ]; then
        verbs=$("$B/ikehealctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && $1 != "Commands:" && /^  [a-z]/ {print $1}')
        for v in $verbs; do
                # an entry's tag: ".B verb", ".BR verb …", ".BR \"verb …\"", ".BI \"verb …\"" or "\fBverb\fR …"
                grep -Eq "^(\.B[RI]? \"?$v[ \"]|\.B[RI]? \"?$v\$|\\\\fB$v\\\\fR)" "$top/man/ikehealctl.8" &&
                        ok "ikehealctl(8) documents '$v'" || bad "ikehealctl(8) has no entry for '$v' (ikehealctl --help lists it)"
        done
else
        echo "     (no $B/ikehealctl: the command list is not compared)"
fi
echo "$fails failed"
[ $fails = 0 ]
