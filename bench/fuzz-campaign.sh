#!/usr/bin/env bash
# Fuzz campaign: every libFuzzer target of a sanitizer build (make BUILD=build-san fuzz) run for
# RUNS executions (default 10,000,000) from a copy of its corpus; prints one line per target —
# executions, seconds, executions per second, coverage (cov/ft) at the start and the end, corpus
# size, and the outcome (ok, or the crash artifact kept under OUT). Not part of make check.
# MAX_SECONDS caps each target's run (libFuzzer's -max_total_time) for the slow targets.
#
#   bench/fuzz-campaign.sh [BUILD_SAN] [RUNS] [FILTER]      (OUT=dir keeps logs and artifacts)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build-san}" && pwd)
RUNS=${2:-10000000}
FILTER=${3:-}
SKIP=${SKIP:-} # space-separated target names already campaigned
OUT=${OUT:-$(mktemp -d /tmp/ikeheal-fuzz.XXXXXX)}
mkdir -p "$OUT"
printf '%-28s %12s %8s %8s %14s %14s %7s  %s\n' target execs seconds exec/s "cov/ft start" "cov/ft end" corpus outcome
fail=0
for f in "$B"/fuzz/fuzz-*; do
        name=${f##*/}
        [ -n "$FILTER" ] && [[ $name != *"$FILTER"* ]] && continue
        [[ " $SKIP " == *" $name "* ]] && continue
        corpus=$top/tests/fuzz/corpus/${name#fuzz-}
        work=$(mktemp -d "$OUT/$name.corpus.XXXXXX")
        [ -d "$corpus" ] && cp -r "$corpus"/. "$work"
        log=$OUT/$name.log
        start=$(date +%s.%N)
        "$f" -runs="$RUNS" ${MAX_SECONDS:+-max_total_time=$MAX_SECONDS} -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
                "$work" >"$log" 2>&1
        rc=$?
        secs=$(echo "$(date +%s.%N) - $start" | bc)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        first=$(grep -m1 -E '#[0-9]+\s+(INITED|pulse)' "$log" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1\/\2/p')
        last=$(grep -E '#[0-9]+\s+(NEW|REDUCE|pulse|DONE)' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1\/\2/p')
        n=$(ls "$work" | wc -l)
        if [ $rc = 0 ]; then outcome=ok; else outcome="FAILED rc=$rc (log $log)"; fail=1; fi
        rate=$(echo "${execs:-0} / $secs" | bc)
        printf '%-28s %12s %8.0f %8s %14s %14s %7s  %s\n' "$name" "${execs:-?}" "$secs" "$rate" "${first:-?}" "${last:-?}" "$n" "$outcome"
        rm -rf "$work"
done
echo "logs: $OUT"
exit $fail
