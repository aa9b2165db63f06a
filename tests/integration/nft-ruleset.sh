#!/usr/bin/env bash
# The firewall view against the real kernel: a network namespace of our own, rulesets loaded with
# `ip netns exec NS nft -f -`, and tests/tools/nft-view reading them back over netlink from the
# host (--netns: the socket is made inside the namespace). Cases and the verdicts expected for
# IKE packets sent to the gateway (udp/500, udp/4500, esp):
#
#   seeds' case: an unattended update tightened the policy: policy drop, ssh only → all dropped
#   accepts 500 but not 4500                      → 500 accept, 4500 and esp dropped
#   good: udp dport { 500, 4500 } + l4proto esp   → all accepted, IPv4 and IPv6
#   ip early/input (prio -10) accepts IKE, inet filter/input drops → dropped by the latter
#   inet filter accepts IKE, ip late/input (prio 10) drops 4500    → 4500 dropped by the latter
#   prerouting filter chain drops esp             → esp dropped in prerouting
#   udp dport 4500 reject before the accepts      → 4500 reject
#   jump into a regular chain holding the accepts → accepted there, named as such
#   a quota on 500                                → unknown, naming the rule and "quota"
#   generation and hash: equal hash after an identical reload (generation moves on), both change
#   when the ruleset changes, neither changes without a reload
#   the firewall check's mark_good (tests/tools/check-run): the snapshot written as the ruleset is
#   read, its hash and the restore's record slot; a new process loads it back (no drift), and a
#   table added since is drift
#
# Set IKEHEAL_CAPTURE_CORPUS=DIR to keep the raw netlink dumps (the fuzz corpus is
# tests/fuzz/corpus/nft-ruleset). Exit 0 pass, 1 fail, 77 skip.
set -u

build=${IKEHEAL_BUILD:-build-san}
tool=$build/tools/nft-view
[ -x "$tool" ] || tool=${IKEHEAL_BUILD_PLAIN:-build}/tools/nft-view

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
[ -x "$tool" ] || skip "no nft-view tool in $build/tools or ${IKEHEAL_BUILD_PLAIN:-build}/tools"
for b in /usr/sbin/nft /usr/sbin/ip; do
        [ -x "$b" ] || skip "missing $b"
done

id=$(printf '%s' "$$-$(date +%s%N)" | sha256sum | cut -c1-8)
NS=nftv-$id
capture=${IKEHEAL_CAPTURE_CORPUS:-}

cleanup() {
        ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

ip netns add "$NS" || skip "cannot create a network namespace"

load() { # ruleset text on stdin
        ip netns exec "$NS" nft -f - || { fail "nft -f refused the ruleset"; return 1; }
}

out=
view() { # case name
        local save=()
        [ -n "$capture" ] && { mkdir -p "$capture"; save=(--save-messages "$capture/$1.bin"); }
        out=$("$tool" --netns "$NS" --quiet "${save[@]}" 2>&1) || { fail "$1: nft-view failed: $out"; out=; }
}

# expect CASE FAMILY PROBE VERDICT [TEXT…]: the tool's line for FAMILY PROBE starts with VERDICT
# and contains every TEXT
expect() {
        local name=$1 fam=$2 probe=$3 verdict=$4 line t
        shift 4
        line=$(grep "^verdict $fam $probe " <<<"$out")
        if [[ $line != "verdict $fam $probe $verdict "* ]]; then
                fail "$name: $fam $probe: want $verdict, got: ${line:-nothing}"
                return
        fi
        for t in "$@"; do
                if ! grep -qF -- "$t" <<<"$line"; then
                        fail "$name: $fam $probe: want '$t' in: $line"
                        return
                fi
        done
        pass "$name: $fam $probe $verdict${*:+ ($*)}"
}

field() { # generation | hash
        sed -n "s/^$1 //p" <<<"$out"
}

TIGHT='flush ruleset
table inet filter {
        chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iifname "lo" accept
                tcp dport 22 accept
        }
}'

ONLY500='flush ruleset
table inet filter {
        chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iifname "lo" accept
                tcp dport 22 accept
                udp dport 500 accept
        }
}'

GOOD='flush ruleset
table inet filter {
        chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iifname "lo" accept
                tcp dport 22 accept
                udp dport { 500, 4500 } accept
                meta l4proto esp accept
        }
}'

# --- the seeds' case ---
load <<<"$TIGHT"
view tightened
for p in udp/500 udp/4500 esp; do
        expect "tightened policy" ip "$p" drop 'chain="inet filter/input"' rule=policy 'policy drop'
done
expect "tightened policy" ip6 udp/4500 drop rule=policy

# --- 500 but not 4500 ---
load <<<"$ONLY500"
view only500
expect "500 only" ip udp/500 accept 'chain="inet filter/input"' rule_chain=input
expect "500 only" ip udp/4500 drop rule=policy
expect "500 only" ip esp drop rule=policy

# --- the good ruleset, then an identical reload ---
load <<<"$GOOD"
view good
for fam in ip ip6; do
        for p in udp/500 udp/4500 esp; do
                expect "good" "$fam" "$p" accept 'chain="inet filter/input"'
        done
done
gen1=$(field generation) hash1=$(field hash)
view good-again
gen_same=$(field generation) hash_same=$(field hash)
if [ -n "$gen1" ] && [ "$gen1" = "$gen_same" ] && [ "$hash1" = "$hash_same" ]; then
        pass "no reload: generation $gen1 and hash stay"
else
        fail "no reload: generation $gen1→$gen_same, hash $hash1→$hash_same"
fi
load <<<"$GOOD"
view good-reloaded
gen2=$(field generation) hash2=$(field hash)
if [ -n "$hash1" ] && [ "$hash1" = "$hash2" ] && [ "$gen1" != "$gen2" ]; then
        pass "identical reload: generation $gen1→$gen2, hash unchanged (${hash1:0:16}…)"
else
        fail "identical reload: generation $gen1→$gen2, hash ${hash1:0:16}→${hash2:0:16}"
fi
# the same ruleset written differently (set order, a named set instead of the anonymous one
# would be a different model; the element order is not)
load <<<"${GOOD/\{ 500, 4500 \}/\{ 4500, 500 \}}"
view good-reordered
if [ "$(field hash)" = "$hash1" ]; then
        pass "set elements in another order: same hash"
else
        fail "set elements in another order changed the hash"
fi
load <<<"$ONLY500"
view changed
gen3=$(field generation) hash3=$(field hash)
if [ -n "$hash3" ] && [ "$hash3" != "$hash1" ] && [ "$gen3" != "$gen2" ]; then
        pass "changed ruleset: generation $gen2→$gen3, hash changed"
else
        fail "changed ruleset: generation $gen2→$gen3, hash ${hash1:0:16}→${hash3:0:16}"
fi

# --- two base chains: an accept in one does not override a drop in another ---
load <<<"$TIGHT
table ip early {
        chain input {
                type filter hook input priority -10; policy accept;
                udp dport { 500, 4500 } accept
                meta l4proto esp accept
        }
}"
view two-chains-early-accept
for p in udp/500 udp/4500 esp; do
        expect "ip early accepts, inet filter drops" ip "$p" drop 'chain="inet filter/input"' rule=policy
done
expect "ip early accepts, inet filter drops" ip6 udp/500 drop 'chain="inet filter/input"'

load <<<"$GOOD
table ip late {
        chain input {
                type filter hook input priority 10; policy accept;
                udp dport 4500 counter drop
        }
}"
view two-chains-late-drop
expect "inet filter accepts, ip late drops" ip udp/500 accept 'chain="ip late/input"' rule=policy
expect "inet filter accepts, ip late drops" ip udp/4500 drop 'chain="ip late/input"' rule_chain=input
expect "inet filter accepts, ip late drops" ip6 udp/4500 accept

# --- a prerouting filter chain that drops esp ---
load <<<"$GOOD
table ip raw {
        chain pre {
                type filter hook prerouting priority -300; policy accept;
                meta l4proto esp drop
        }
}"
view prerouting-drop
expect "prerouting drops esp" ip esp drop 'chain="ip raw/pre"'
expect "prerouting drops esp" ip udp/500 accept
expect "prerouting drops esp" ip6 esp accept

# --- reject ---
load <<<'flush ruleset
table inet filter {
        chain input {
                type filter hook input priority 0; policy drop;
                udp dport 4500 reject
                udp dport { 500, 4500 } accept
                meta l4proto esp accept
        }
}'
view reject
expect "reject" ip udp/4500 reject 'chain="inet filter/input"'
expect "reject" ip udp/500 accept

# --- jump into a regular chain ---
load <<<'flush ruleset
table inet filter {
        chain ike {
                udp dport 500 accept
                udp dport 4500 accept
                return
        }
        chain input {
                type filter hook input priority 0; policy drop;
                meta l4proto udp jump ike
                meta l4proto esp accept
        }
}'
view jump
expect "jump" ip udp/500 accept rule_chain=ike
expect "jump" ip udp/4500 accept rule_chain=ike
expect "jump" ip esp accept rule_chain=input

# --- something the evaluator does not understand ---
load <<<'flush ruleset
table inet filter {
        chain input {
                type filter hook input priority 0; policy accept;
                udp dport 500 quota over 10 mbytes drop
        }
}'
view unknown
expect "quota" ip udp/500 unknown 'uses quota' 'chain="inet filter/input"'
expect "quota" ip udp/4500 accept

# --- the firewall check's last-good snapshot: written as it is read, loaded back message by message ---
crun=$build/tools/check-run
[ -x "$crun" ] || crun=${IKEHEAL_BUILD_PLAIN:-build}/tools/check-run
if [ -x "$crun" ]; then
        SD=$(mktemp -d /tmp/ikh-nftv-state-XXXXXX)
        mkdir -p "$SD/snapshots" # as the agent makes its state directory
        echo "netns: $NS" >"$SD/p.yaml"
        load <<<"$GOOD"
        "$crun" --state-dir "$SD" --mark-good firewall "$SD/p.yaml" >"$SD/out1" 2>&1
        [ -s "$SD/snapshots/firewall.nft.bin" ] && [ -s "$SD/snapshots/firewall.nft.hash" ] && [ -s "$SD/snapshots/firewall.nft.restore" ] &&
                pass "mark_good: the snapshot, its hash and the restore's record slot" || fail "mark_good wrote: $(ls "$SD/snapshots" 2>&1)"
        "$tool" --netns "$NS" --quiet --save-messages "$SD/dump.bin" >/dev/null 2>&1
        [ "$(stat -c %s "$SD/snapshots/firewall.nft.bin")" = "$(stat -c %s "$SD/dump.bin")" ] &&
                pass "the snapshot is a whole dump of the ruleset (as long as nft-view's)" || fail "the snapshot's size is not a dump's"
        "$crun" --state-dir "$SD" firewall "$SD/p.yaml" >"$SD/out2" 2>&1
        grep -q "fact drift=no" "$SD/out2" && pass "a new process loads it: no drift" || fail "reload: $(grep -E 'drift|summary' "$SD/out2")"
        ip netns exec "$NS" nft add table inet drifted
        "$crun" --state-dir "$SD" firewall "$SD/p.yaml" >"$SD/out3" 2>&1
        grep -q "fact drift=yes" "$SD/out3" && pass "and sees a table added since as drift" || fail "drift: $(grep -E 'drift|summary' "$SD/out3")"
        rm -rf "$SD"
fi

# --- the tool in a namespace that does not exist ---
if "$tool" --netns "$NS-missing" --quiet >/dev/null 2>&1; then
        fail "a missing namespace must be an error"
else
        pass "a missing namespace is an error"
fi

[ "$fails" = 0 ] && { echo "all passed"; exit 0; }
echo "$fails failed"
exit 1
