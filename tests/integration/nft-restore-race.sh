#!/usr/bin/env bash
# run: alone
# nft_restore does no harm to a concurrent admin: real nftables in a network namespace of its own,
# an "admin" loop adding elements to a set of an unrelated table (inet admin) all the time, while
# a fault (a new table dropping UDP 4500, a rule dropping UDP 500 in the gateway's own chain) is
# put in and nft_restore (tests/tools/action-run) heals it — 20 times:
#
#   every element the admin added is still there after the restore (0 clobbers of 20)
#   the fault's table is gone and the chain is as last good; the admin's table is left alone and
#   reported as drift; verify passes although the ruleset changed meanwhile (outcome, not hash)
#   the revert (a rollback) re-installs neither the fault nor over the admin: it leaves the
#   restored objects (they would drop IKE again) and never touches inet admin
#   a revert after someone changed a restored chain stops (exit 1, "changed since") and leaves it
#   nft_open's revert stops at a tagged rule it did not make, deleting nothing
#
# Exit 0 pass, 1 fail, 77 skip.
set -u
build=${IKEHEAL_BUILD:-build-san}
# the 20 repetitions with the plain build when there is one (the sanitizer build runs the rest)
plain=${IKEHEAL_BUILD_PLAIN:-$build}
[ -x "$plain/tools/action-run" ] || plain=$build
run=$build/tools/action-run
view=$build/tools/nft-view
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
[ -x "$run" ] && [ -x "$view" ] || skip "no action-run/nft-view in $build/tools"
command -v nft >/dev/null && command -v ip >/dev/null || skip "needs nft and ip"

id=$(printf '%s' "$$-$(date +%s%N)" | sha256sum | cut -c1-8)
NS=nftrace-$id
D=$(mktemp -d /tmp/ikh-nftrace-XXXXXX)
ADMIN=
cleanup() {
        [ -n "$ADMIN" ] && kill "$ADMIN" 2>/dev/null && wait "$ADMIN" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
n() { ip netns exec "$NS" nft "$@"; }

ip netns add "$NS" || skip "cannot create a network namespace"
mkdir -p "$D/state/snapshots"
n -f - <<'NFT' || { echo "FAIL loading the ruleset"; exit 1; }
table inet filter {
        chain input {
                type filter hook input priority 0; policy accept;
                ct state established,related accept
                tcp dport { 22, 443 } accept comment "admin"
        }
}
table inet admin {
        set allowed { type ipv4_addr; }
        chain input {
                type filter hook input priority 10; policy accept;
                ip saddr @allowed tcp dport 8443 accept
        }
}
NFT
"$view" --netns "$NS" --quiet --save-messages "$D/state/snapshots/firewall.nft.bin" >/dev/null || { echo "FAIL snapshot"; exit 1; }
n list table inet filter >"$D/filter.good"
echo "netns: $NS" >"$D/p.yaml"
act() { "${RUN:-$run}" --state-dir "$D/state" nft_restore "$1" "$D/p.yaml"; }
RUN=$plain/tools/action-run

# the admin: a new element every few milliseconds, the last one confirmed written to a file
admin_loop() {
        local i=$1
        while :; do
                ip netns exec "$NS" nft add element inet admin allowed "{ 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256)) }" 2>/dev/null &&
                        echo "$i" >"$D/admin.tmp" && mv "$D/admin.tmp" "$D/admin.last"
                i=$((i + 1))
                sleep 0.02
        done
}

clobbers=0 healed=0 rollback_ok=0 next=1
t_total=0
for rep in $(seq 1 20); do
        admin_loop "$next" &
        ADMIN=$!
        sleep 0.02
        n -f - <<'NFT'
table inet vendor_hardening {
        chain input {
                type filter hook input priority -5; policy accept;
                udp dport 4500 drop
        }
}
NFT
        n add rule inet filter input udp dport 500 drop
        t0=$(date +%s%N)
        out=$(act apply 2>&1) && healed=$((healed + 1)) || echo "  rep $rep: apply failed: $(echo "$out" | grep detail)"
        t1=$(date +%s%N)
        t_total=$((t_total + (t1 - t0) / 1000000))
        echo "$out" | grep -q "drift left alone: .*inet admin" || echo "  rep $rep: no drift note: $(echo "$out" | grep detail)"
        vout=$(act verify 2>&1) || bad "rep $rep: verify failed while the admin edits: $(echo "$vout" | grep detail)"
        # the rollback a failed runbook does: must neither re-install the fault nor touch inet admin
        rout=$(act revert 2>&1)
        if echo "$rout" | grep -q "left as restored" && ! n list tables | grep -q vendor_hardening &&
                ! n list chain inet filter input | grep -q "udp dport 500 drop"; then
                rollback_ok=$((rollback_ok + 1))
        else
                echo "  rep $rep: revert: $(echo "$rout" | grep detail)"
        fi
        sleep 0.02
        kill "$ADMIN" 2>/dev/null
        wait "$ADMIN" 2>/dev/null
        ADMIN=
        last=$(cat "$D/admin.last" 2>/dev/null || echo 0)
        # (one more than confirmed: the loop may be stopped between its add and its note)
        have=$(n list set inet admin allowed | grep -o '10\.[0-9]*\.[0-9]*\.[0-9]*' | wc -l)
        [ "$have" -ge "$last" ] || { clobbers=$((clobbers + 1)); echo "  rep $rep: the admin had added $last elements, $have are left"; }
        next=$((have + 1))
        n list table inet filter | diff -q "$D/filter.good" - >/dev/null || bad "rep $rep: inet filter is not as last good"
done
[ $clobbers = 0 ] && ok "0 clobbers of the admin's concurrent edits in 20 restores" || bad "$clobbers of 20 restores clobbered the admin's edits"
[ $healed = 20 ] && ok "20 of 20 restores healed the fault while the admin edited" || bad "only $healed of 20 restores succeeded"
[ $rollback_ok = 20 ] && ok "20 of 20 rollbacks left the restored objects and never re-installed the fault" ||
        bad "only $rollback_ok of 20 rollbacks were harmless"
echo "figure: minimal restore during concurrent edits: $((t_total / 20)) ms per apply (action-run process, $plain)"

RUN=
# someone changes the restored chain after the restore: the revert stops, nothing touched
n add rule inet filter input udp dport 500 drop
act apply >/dev/null || bad "apply"
n add rule inet filter input tcp dport 25 accept
out=$(act revert 2>&1) && bad "revert went on over a changed chain: $out" ||
        { echo "$out" | grep -q "changed since the restore" && ok "revert over a changed chain stops and says so" || bad "revert: $out"; }
n list chain inet filter input | grep -q "tcp dport 25 accept" && ok "the newer change is left as it is" || bad "the newer change is gone"

# nft_open's revert: only the accept rules it made; a tagged rule that reads otherwise stops it
n add rule inet filter input udp dport 500 drop
"$run" nft_open apply "$D/p.yaml" >/dev/null || bad "nft_open apply"
n add rule inet filter input tcp dport 99 drop comment '"ikeheal-open"'
out=$("$run" nft_open revert "$D/p.yaml" 2>&1) && bad "nft_open revert went on over a changed tagged rule" ||
        { echo "$out" | grep -q "not an accept rule this action made" && ok "nft_open revert stops at a tagged rule it did not make" ||
                bad "nft_open revert: $out"; }
[ "$(n list chain inet filter input | grep -c ikeheal-open)" = 4 ] && ok "and deletes nothing" || bad "nft_open revert deleted rules"

[ $fails = 0 ] && echo "all passed" || echo "$fails failed"
[ $fails = 0 ]
