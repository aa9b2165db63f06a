#!/usr/bin/env bash
# nftables at real size: a gateway ruleset of 100, 1k, 10k and 50k rules (80 % in the input chain
# before the IKE accepts, 20 % in forward), in a network namespace of its own. For each size,
# side by side with the baseline in one run:
#
#   restore, minimal   a new table drops UDP 4500 → nft_restore deletes that table
#   restore, worst     a drop rule inserted at the top of the big input chain → nft_restore puts
#                      that chain back whole
#   (both as in the agent: the check had read the healthy ruleset and followed the fault from
#   the kernel's change notifications; "minimal, read whole": the same restore on a ruleset
#   read whole after the fault)
#   baseline           `nft -f` of the same ruleset (flush ruleset + load: what an operator does)
#   check, idle        CPU per firewall-check run, ruleset unchanged
#   check, change      CPU per run, each after a change elsewhere (a table added or removed),
#                      followed from the kernel's change notifications
#   check, input       the same after a change on the input path (a rule inserted at the top of
#                      the input chain, or deleted again)
#   baseline           CPU of a run that reads the ruleset whole (first run, lost notifications)
#   peak RSS           of the process doing the check's work, and the size of the raw dump
#   above start        that peak less the process's RSS before its first read (the program and its
#                      libraries), and that as a multiple of the dump: what the ruleset costs, with
#                      the kept dump itself (1x) in it
#   held               that process's RSS after the runs: the live and the last-good model (a build
#                      whose check keeps the dump until its snapshot is written: that released)
#
# The dump is the ruleset's netlink messages as the kernel sends them (NEWTABLE, NEWCHAIN,
# NEWSET, NEWSETELEM, NEWRULE), back to back: what the check writes to its snapshot (the
# snapshot file's size).
#
# The minimal restore runs NFT_SCALE_REPEAT times (default 5) and its median run is shown: on a
# shared machine one run is mostly the run queue and the disk of that moment.
#
# With NFT_SCALE_BEFORE=DIR (a build directory of the code to compare with, holding
# tools/nft-bench and tools/nft-view, e.g. main's build/), each size gets a second row, "before",
# measured the same way in the same run.
#
# The restores run in-process the way the agent runs them (tests/tools/nft-bench restore: the
# firewall check has read the faulty ruleset already, the snapshot was read for the plan); CPU
# and wall time of the apply alone. Figures are printed, nothing is asserted.
#
#   bench/nft-scale.sh [BUILD] [SIZES…]      (BUILD: plain build, default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
shift || true
SIZES=${*:-100 1000 10000 50000}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, nftables)"; exit 1; }
BEFORE=${NFT_SCALE_BEFORE:-}
REPEAT=${NFT_SCALE_REPEAT:-5}
for t in nft-bench nft-view; do
        [ -x "$B/tools/$t" ] || { echo "no $B/tools/$t (make tests)"; exit 1; }
        [ -z "$BEFORE" ] || [ -x "$BEFORE/tools/$t" ] || { echo "no $BEFORE/tools/$t"; exit 1; }
done
NS=nftscale-$$
D=$(mktemp -d /tmp/ikh-nftscale-XXXXXX)
cleanup() { ip netns del "$NS" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
ip netns add "$NS"
n() { ip netns exec "$NS" nft "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

gen() { # N: the ruleset
        awk -v n="$1" 'BEGIN {
          ni = int(n * 0.8); nf = n - ni;
          print "table inet filter {";
          print "  chain input {"; print "    type filter hook input priority 0; policy drop;";
          print "    ct state established,related accept"; print "    iif \"lo\" accept";
          for (i = 0; i < ni - 4; i++) printf "    ip saddr 10.%d.%d.%d tcp dport %d accept\n", int(i/65536)%256, int(i/256)%256, i%256, 1024 + i % 60000;
          print "    udp dport { 500, 4500 } accept"; print "    meta l4proto esp accept"; print "  }";
          print "  chain forward {"; print "    type filter hook forward priority 0; policy drop;";
          for (i = 0; i < nf; i++) printf "    ip daddr 10.%d.%d.%d tcp dport %d accept\n", int(i/65536)%256, int(i/256)%256, i%256, 1024 + i % 60000;
          print "  }";
          print "}";
        }'
}
fault_table_file() {
        cat <<'NFT'
table inet vendor_hardening {
        chain input {
                type filter hook input priority -5; policy accept;
                udp dport 4500 drop
        }
}
NFT
}
field() { sed -n "s/^$1 //p" "$2"; }
# The output of the run whose FIELD is the median of the files' (the lower middle one).
median_of() {
        local f=$1; shift
        local pick
        pick=$(for x in "$@"; do echo "$(field "$f" "$x") $x"; done | sort -n | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
        cat "$pick"
        # a failed run counts even when it is not the median
        for x in "$@"; do [ "$(field result "$x")" = 0 ] || { echo "result $(field result "$x")"; return; }; done
}

row_fmt='%-14s | %-26s | %-26s | %-22s | %-16s | %-9s | %-12s | %-12s | %-12s | %-12s | %-9s | %-17s | %-9s | %s\n'
# One row: the tools of build $2, labelled $1, on the ruleset in $D/r.nft (loaded); nft -f's
# figures ($nftf_ms, $nftf_cpu) are the size's.
measure() {
        local label=$1 T=$2 mw mc ww wc hw hc ratio rss base dumpk
        n flush ruleset
        n -f "$D/r.nft"
        rm -rf "$D/state" "$D"/min.*
        mkdir -p "$D/state/snapshots"
        "$T/tools/nft-view" --netns "$NS" --quiet --save-messages "$D/state/snapshots/firewall.nft.bin" >/dev/null
        # durable, as the firewall check writes it: a restore's own sync must not wait for it
        sync "$D/state/snapshots/firewall.nft.bin"
        # the minimal restore REPEAT times (the ruleset loaded again before each), its median
        for i in $(seq "$REPEAT"); do
                [ "$i" = 1 ] || { n flush ruleset; n -f "$D/r.nft"; }
                "$T/tools/nft-bench" restore "$NS" "$D/state" "$D/fault-min.nft" >"$D/min.$i" || true
        done
        median_of restore_wall_us "$D"/min.* >"$D/min"
        "$T/tools/nft-bench" restore "$NS" "$D/state" "$D/fault-worst.nft" >"$D/worst" || true
        n -f "$D/fault-min.nft"
        "$T/tools/nft-bench" restore "$NS" "$D/state" >"$D/whole" || true
        "$T/tools/nft-bench" check "$NS" 20 >"$D/check"
        mw=$(($(field restore_wall_us "$D/min") / 1000)) mc=$(($(field restore_us "$D/min") / 1000))
        ww=$(($(field restore_wall_us "$D/worst") / 1000)) wc=$(($(field restore_us "$D/worst") / 1000))
        [ "$(field result "$D/min")" = 0 ] || mw="FAIL($(field detail "$D/min" | cut -c1-40))"
        [ "$(field result "$D/worst")" = 0 ] || ww="FAIL($(field detail "$D/worst" | cut -c1-40))"
        [ "$(field followed "$D/min")$(field followed "$D/worst")" = yesyes ] || mw="$mw(not followed)"
        hw=$(($(field restore_wall_us "$D/whole") / 1000)) hc=$(($(field restore_us "$D/whole") / 1000))
        [ "$(field result "$D/whole")" = 0 ] || hw="FAIL($(field detail "$D/whole" | cut -c1-40))"
        ratio=$(awk -v a="$nftf_ms" -v b="$(field restore_wall_us "$D/min")" 'BEGIN { if (b > 0) printf "%.0fx", a * 1000 / b; else print "-" }')
        rss=$(field rss_kib "$D/check") base=$(field base_rss_kib "$D/check") dumpk=$(field dump_kib "$D/check")
        printf "$row_fmt" "$label" "$mw ($mc)" "$ww ($wc)" "$hw ($hc)" "$nftf_ms ($nftf_cpu)" "$ratio" \
                "$(field idle_us "$D/check") µs" "$(field change_us "$D/check") µs" "$(field input_change_us "$D/check") µs" \
                "$(field reread_us "$D/check") µs" "$((rss / 1024)) MiB" \
                "$(awk -v r="$rss" -v b="$base" -v d="$dumpk" 'BEGIN { printf "%.1f MiB %.1fx", (r - b) / 1024, (d > 0 ? (r - b) / d : 0) }')" \
                "$(($(field held_kib "$D/check") / 1024)) MiB" "$dumpk KiB"
}

fault_table_file >"$D/fault-min.nft"
echo "insert rule inet filter input udp dport 500 drop" >"$D/fault-worst.nft"
printf "$row_fmt" rules "restore minimal ms (CPU)" "restore worst ms (CPU)" "minimal, read whole" "nft -f ms (CPU)" ratio "check idle" "check change" "check input" "full re-read" "peak RSS" "above start (/dump)" "held" "dump"
for N in $SIZES; do
        gen "$N" >"$D/r.nft"
        n flush ruleset
        # the baseline: nft -f of the same rules, wall and CPU (children)
        t0=$(ms)
        cpu=$( { /usr/bin/time -f "%U %S" ip netns exec "$NS" sh -c "nft flush ruleset; nft -f '$D/r.nft'"; } 2>&1 | tail -1)
        t1=$(ms)
        nftf_ms=$((t1 - t0))
        nftf_cpu=$(echo "$cpu" | awk '{printf "%d", ($1 + $2) * 1000}')
        [ -z "$BEFORE" ] || measure "$N before" "$BEFORE"
        measure "$N" "$B"
done
echo "(restore: wall of the apply, CPU in brackets (minimal: the median of $REPEAT runs); ratio: nft -f wall / minimal restore wall; check: CPU per run;"
echo " check change/input: followed from notifications, full re-read: the same run reading the ruleset whole;"
echo " peak RSS of the check's process, above start: less its RSS before the first read ($(field base_rss_kib "$D/check") KiB at the last size), and that over the dump;"
echo " held: its RSS after the runs (both models, the dump released); dump: raw netlink bytes of the ruleset)"
echo "(held with the dump still kept, at the last size: $(($(field held_dump_kib "$D/check") / 1024)) MiB; the same as held when the check keeps no dump)"
echo "(expressions in the live model, and distinct ones the process holds once for every model, at the last size: $(field exprs "$D/check"))"
