#!/usr/bin/env bash
# The test runner behind `make check`: every unit test binary of the sanitizer build, every fuzz
# target over its corpus (regression: the corpus must still run clean), then every integration
# script in tests/integration/. Exit code 0 = pass, 77 = skipped (with a reason), anything else =
# fail. Each test's output goes to $LOGDIR/NAME.log; a failure prints its tail.
# Ends with one line "N passed, N failed, N skipped" and exits non-zero on any failure.
#
#   tests/run.sh SAN_BUILD PLAIN_BUILD [FILTER]     FILTER: a substring of test names to run
set -u
cd "$(dirname "$0")/.."
san=${1:-build-san}
plain=${2:-build}
filter=${3:-}
case $san in /*) ;; *) san=$PWD/$san ;; esac
case $plain in /*) ;; *) plain=$PWD/$plain ;; esac
export IKEHEAL_BUILD=$san IKEHEAL_BUILD_PLAIN=$plain
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LOGDIR=${LOGDIR:-$san/test-logs}
mkdir -p "$LOGDIR"
pass=0 fail=0 skip=0
failed=()

run() { # name, command…
        local name=$1; shift
        [ -n "$filter" ] && [[ $name != *"$filter"* ]] && return 0
        local log=$LOGDIR/${name//\//_}.log t0 t1 rc
        t0=$(date +%s.%N)
        "$@" >"$log" 2>&1 </dev/null
        rc=$?
        t1=$(date +%s.%N)
        local dt; dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1fs", b-a}')
        case $rc in
        0) pass=$((pass + 1)); printf 'PASS %-40s %s\n' "$name" "$dt" ;;
        77) skip=$((skip + 1)); printf 'SKIP %-40s %s (%s)\n' "$name" "$dt" "$(tail -n1 "$log")" ;;
        *) fail=$((fail + 1)); failed+=("$name")
           printf 'FAIL %-40s %s (exit %d), its FAIL lines and last lines of %s:\n' "$name" "$dt" "$rc" "$log"
           grep -a '^FAIL ' "$log" | head -n 10 | cut -c1-400 | sed 's/^/    ! /'
           tail -n 25 "$log" | sed 's/^/    | /' ;;
        esac
}

# The floors and circles rule of ARCHITECTURE.md, on the plain build's objects.
run "layout" python3 tests/layout/check.py "$plain/obj"
for t in "$san"/tests/test-*; do
        [ -x "$t" ] && run "unit/${t##*/}" "$t"
done
for f in "$san"/fuzz/fuzz-*; do
        [ -x "$f" ] || continue
        corpus=tests/fuzz/corpus/${f##*/fuzz-}
        [ -d "$corpus" ] || { run "fuzz/${f##*/}" sh -c "echo no corpus $corpus; exit 1"; continue; }
        # Replay the corpus, then a short bounded fuzzing run on a copy (never grow the repo's).
        # libFuzzer's own exit code for a crash is 77, which means "skipped" here: make every
        # finding a plain failure.
        x="-error_exitcode=1 -timeout_exitcode=1"
        run "fuzz/${f##*/}" sh -c "'$f' $x -runs=0 '$corpus' && w=\$(mktemp -d) && cp -r '$corpus'/. \"\$w\" && '$f' $x -max_total_time=${FUZZ_SECONDS:-8} -rss_limit_mb=2048 -artifact_prefix=$LOGDIR/ \"\$w\"; rc=\$?; rm -rf \"\$w\"; exit \$rc"
done
for s in tests/integration/*.sh; do
        [ -x "$s" ] && run "integration/$(basename "$s" .sh)" "$s"
done

[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
