#!/usr/bin/env bash
# The test runner behind `make check`: every unit test binary of the sanitizer build, every fuzz
# target over its corpus (regression: the corpus must still run clean), then every integration
# script in tests/integration/. Exit code 0 = pass, 77 = skipped (with a reason), anything else =
# fail. Each test's output goes to $LOGDIR/NAME.log; a failure prints its tail.
# Ends with one line "N passed, N failed, N skipped" and exits non-zero on any failure.
# The unit tests run beside the integration scripts, one at a time; so do the fuzz targets, at
# the lowest CPU priority (the scripts mostly wait on charon, timers and the network): they take
# only the CPU the scripts leave idle.
# Integration scripts may run several at a time (TEST_JOBS), except those that must run alone.
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
# The tests' python3 is the distribution's (/usr/bin/python3, with the python3-yaml and
# python3-jsonschema that `make deps` installs), not whatever comes first on PATH: a version
# manager's shim there (a shell script that resolves the version on every call) costs ~17× the
# interpreter's own start, and the scripts start python3 in every poll of the agent.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
        mkdir -p "$san/test-bin" && ln -sfn /usr/bin/python3 "$san/test-bin/python3" &&
                export PATH=$san/test-bin:$PATH
fi
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

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
        0) echo "pass $name" >>"$RESULTS"; printf 'PASS %-40s %s\n' "$name" "$dt" ;;
        77) echo "skip $name" >>"$RESULTS"; printf 'SKIP %-40s %s (%s)\n' "$name" "$dt" "$(tail -n1 "$log")" ;;
        *) echo "fail $name" >>"$RESULTS"
           # one write, so a report is not interleaved with the other group's lines
           { printf 'FAIL %-40s %s (exit %d), its FAIL lines and last lines of %s:\n' "$name" "$dt" "$rc" "$log"
             grep -a '^FAIL ' "$log" | head -n 10 | cut -c1-400 | sed 's/^/    ! /'
             tail -n 25 "$log" | sed 's/^/    | /'; } | cat ;;
        esac
}

# The floors and circles rule of ARCHITECTURE.md, on the plain build's objects.
run "layout" python3 tests/layout/check.py "$plain/obj"
# The unit tests run one at a time beside the integration scripts (which mostly wait on charon,
# timers and the network), at normal priority: run before the scripts, their wall time (most of
# it waiting too: timeouts, fsyncs, a real agent's answers) held every script back. Each unit
# test has its own network namespace, files and sockets, as each lab has.
unit_all() {
        for t in "$san"/tests/test-*; do
                [ -x "$t" ] && run "unit/${t##*/}" "$t"
        done
}
unit_all &
units=$!
# The Debian package that systemd-package installs is built from this tree beside the tests too,
# at a lower priority (the package test is one of the last scripts; its own `make deb` would
# take minutes of the suite's time alone), unless the caller names one in IKEHEAL_DEB.
deb_build=
if [ -z "${IKEHEAL_DEB:-}" ] && [ -x tests/integration/systemd-package.sh ] &&
        { [ -z "$filter" ] || [[ integration/systemd-package == *"$filter"* ]]; }; then
        deb_dir=$san/deb-suite
        nice -n 10 make deb BUILD="$deb_dir" >"$LOGDIR/make-deb.log" 2>&1 </dev/null &
        deb_build=$!
fi
fuzz_all() {
        # The targets are built here, at the lowest priority beside the integration scripts, not
        # before the tests: a third compile of the whole library (clang, coverage, ASan), ~40 % of
        # the three builds' CPU, which the waiting scripts leave idle. Up to date: nothing to do.
        # A failed build fails the suite and replays no stale target.
        if [ -z "$filter" ] || [[ $filter == *fuzz* ]]; then
                filter= run "fuzz/build" nice -n 19 make -j"$(nproc 2>/dev/null || echo 2)" BUILD="${san#"$PWD"/}" fuzz
                grep -q '^fail fuzz/build$' "$RESULTS" && return
        fi
        for f in "$san"/fuzz/fuzz-*; do
                [ -x "$f" ] || continue
                corpus=tests/fuzz/corpus/${f##*/fuzz-}
                [ -d "$corpus" ] || { run "fuzz/${f##*/}" sh -c "echo no corpus $corpus; exit 1"; continue; }
                # Replay the corpus, then a short bounded fuzzing run on a copy (never grow the repo's).
                # libFuzzer's own exit code for a crash is 77, which means "skipped" here: make every
                # finding a plain failure.
                x="-error_exitcode=1 -timeout_exitcode=1"
                run "fuzz/${f##*/}" nice -n 19 sh -c "'$f' $x -runs=0 '$corpus' && w=\$(mktemp -d) && cp -r '$corpus'/. \"\$w\" && '$f' $x -max_total_time=${FUZZ_SECONDS:-8} -rss_limit_mb=2048 -artifact_prefix=$LOGDIR/ \"\$w\"; rc=\$?; rm -rf \"\$w\"; exit \$rc"
        done
}
fuzz_all &
fuzzing=$!
# Integration scripts run TEST_JOBS at a time (default 1; each lab has its own namespaces, files
# and sockets); a script with the line "# run: alone" (booted containers, valgrind, floods)
# runs with no other script beside it.
jobs_max=${TEST_JOBS:-1}
running=()
reap() { # until fewer than $1 scripts run
        local done_pid
        while [ ${#running[@]} -ge "$1" ]; do
                wait -n -p done_pid "${running[@]}"
                local left=() p
                for p in "${running[@]}"; do [ "$p" = "$done_pid" ] || left+=("$p"); done
                running=("${left[@]}")
        done
}
for s in tests/integration/*.sh; do
        [ -x "$s" ] || continue
        name=integration/$(basename "$s" .sh)
        [ -n "$filter" ] && [[ $name != *"$filter"* ]] && continue
        if grep -q '^# run: alone$' "$s"; then
                reap 1
                # alone: no unit test and no package build beside it either (only the fuzz lane,
                # at nice 19, as before)
                [ -n "$units" ] && { wait "$units"; units=; }
                if [ -n "$deb_build" ]; then
                        wait "$deb_build" && IKEHEAL_DEB=$(ls "$deb_dir"/deb/ikeheal_*.deb 2>/dev/null | head -1) &&
                                [ -n "$IKEHEAL_DEB" ] && export IKEHEAL_DEB ||
                                echo "make deb beside the tests failed (see $LOGDIR/make-deb.log): the package test builds its own"
                        deb_build=
                fi
                run "$name" "$s"
                continue
        fi
        reap "$jobs_max"
        run "$name" "$s" &
        running+=($!)
done
reap 1

[ -n "$units" ] && wait "$units"
[ -n "$deb_build" ] && wait "$deb_build"
wait "$fuzzing"
count() { grep -c "^$1 " "$RESULTS"; }
fail=$(count fail)
[ "$fail" -gt 0 ] && echo "failed: $(sed -n 's/^fail //p' "$RESULTS" | tr '\n' ' ')"
echo "$(count pass) passed, $fail failed, $(count skip) skipped"
[ "$fail" -eq 0 ]
