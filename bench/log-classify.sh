#!/usr/bin/env bash
# Benchmark of the charon log classifier (common/charon_log.c, through tests/tools/log-classify)
# against `grep -cE` of the same patterns on the same file: lines per second of each, the ratio,
# and the classifier's peak RSS. The input is a generated charon log of LINES lines (default
# 1,000,000) made from the lines the lab's charon wrote (tests/fixtures/charon-log/), timestamps
# and IKE_SA ids varied; most lines are noise, as on a real gateway, a few are failures.
#
#   bench/log-classify.sh [BUILD] [LINES]      (BUILD: a plain -O2 build, default build/)
#
# grep only counts matching lines; the classifier also parses each line (thread, group, IKE_SA),
# decides the class and event and extracts the peer — so the ratio is what that extra work costs
# (or saves) compared with the fastest text search a person would run by hand.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
N=${2:-1000000}
[ -x "$B/tools/log-classify" ] || { echo "build first: make BUILD=$B tests"; exit 1; }
T=$(mktemp -d /tmp/ikh-bench-log-XXXXXX)
trap 'rm -rf "$T"' EXIT

python3 - "$N" "$T/charon.log" "$top"/tests/fixtures/charon-log/*.log <<'PY'
import random, sys
n, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
lines = []
for f in files:
    for l in open(f):
        if l.startswith("#") or len(l) < 25:
            continue
        lines.append(l[24:].rstrip("\n"))   # drop "2026-11-22T15:45:31.872 "
random.seed(7)
with open(out, "w") as o:
    for i in range(n):
        l = random.choice(lines).replace("|1>", "|%d>" % random.randint(1, 9999))
        o.write("2026-11-22T%02d:%02d:%02d.%03d %s\n" % (i // 3600000 % 24, i // 60000 % 60, i // 1000 % 60, i % 1000, l))
PY
size=$(du -m "$T/charon.log" | cut -f1)

# the classifier's needles (common/charon_log.c), as one extended regular expression
re='no IKE config found|no matching peer config found|NO_PROPOSAL_CHOSEN|no acceptable proposal found|received proposals unacceptable|AUTHENTICATION_FAILED|N\(AUTH_FAILED\)|MAC mismatched|constraint check failed|signature validation failed|authentication of .*failed|TS_UNACCEPTABLE|traffic selectors .*unacceptable|certificate was revoked|fetching crl from .*failed|ocsp request to .*failed|no issuer certificate found|certificate invalid \(valid from|has expired|not valid before|no trusted .*public key found for|INVALID_SPI|TEMPORARY_FAILURE'

t0=$(date +%s%N)
out=$("$B/tools/log-classify" "$T/charon.log")
t1=$(date +%s%N)
g=$(LC_ALL=C grep -cE "$re" "$T/charon.log")
t2=$(date +%s%N)
ours_ms=$(((t1 - t0) / 1000000))
grep_ms=$(((t2 - t1) / 1000000))
classified=$(sed -n 's/.*classified=\([0-9]*\).*/\1/p' <<<"$out")
rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' <<<"$out")
python3 - "$N" "$size" "$ours_ms" "$grep_ms" "$classified" "$g" "$rss" <<'PY'
import sys
n, size, ours, grep, cls, g, rss = map(int, sys.argv[1:])
print(f"input: {n} lines, {size} MiB (generated from the lab's captured charon lines)")
print(f"ikeheal classifier : {ours:6d} ms  {n / max(ours, 1) * 1000:12,.0f} lines/s  ({cls} failure lines classified, peak RSS {rss} KiB)")
print(f"grep -cE (same set): {grep:6d} ms  {n / max(grep, 1) * 1000:12,.0f} lines/s  ({g} lines matched)")
print(f"ratio classifier/grep throughput: {grep / max(ours, 1):.2f}")
PY
