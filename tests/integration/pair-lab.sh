#!/usr/bin/env bash
# The gateway pair of tests/lab/pair.sh on its own: two gateways with real keepalived and
# charon, the VIP on A (priority 150); a client connects to the VIP and lands on A; a weight of
# -100 in A's track_file moves the VIP to B, where the client connects again; weight 0 brings it
# back to A (preempt). Afterwards nothing of the pair is left: no namespace, no keepalived.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
[ -x /usr/sbin/keepalived ] || { echo "keepalived not installed (make deps)"; exit 77; }
. "$top/tests/lab/pair.sh"

D=$(mktemp -d /tmp/ikh-pair-XXXXXX)
trap 'pair_down "$D/p" >/dev/null 2>&1; rm -rf "$D"' EXIT
setw() { echo "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

pair_up "$D/p" --clients 1 || { echo "pair did not come up"; exit 1; }
. "$D/p/lab.env"; . "$D/p/pair.env"
[ "$(pair_role "$D/p" gw)" = MASTER ] && [ "$(pair_role "$D/p" gb)" = BACKUP ] && ok "A holds the VIP $VIP" ||
        bad "roles at start: A $(pair_role "$D/p" gw), B $(pair_role "$D/p" gb)"
lab_connect "$D/p" 1 && [ "$(lab_child_count "$D/p" gw)" = 1 ] && ok "client connects to the VIP and lands on A" ||
        bad "client on A: $(lab_child_count "$D/p" gw) CHILD_SA(s)"

t0=$(ms)
setw "$GW_WEIGHT" -100
pair_wait_role "$D/p" gb MASTER 15000 && [ "$(pair_role "$D/p" gw)" = BACKUP ] &&
        ok "A's weight -100: B holds the VIP" || bad "VIP did not move to B"
echo "figure: VIP on B $(($(ms) - t0)) ms after A's weight file changed"
lab_disconnect "$D/p" 1
lab_connect "$D/p" 1 && [ "$(pair_swanctl "$D/p" gb --list-sas | grep -c INSTALLED)" = 1 ] &&
        ok "the client connects again, now to B" || bad "client did not reach B"

t0=$(ms)
setw "$GW_WEIGHT" 0
pair_wait_role "$D/p" gw MASTER 15000 && [ "$(pair_role "$D/p" gb)" = BACKUP ] &&
        ok "A's weight 0: A takes the VIP back" || bad "VIP did not come back to A"
echo "figure: VIP back on A $(($(ms) - t0)) ms after the weight file changed"
[ -p "$GW_FIFO" ] && ok "keepalived made its notify FIFO" || bad "no FIFO at $GW_FIFO"

id=$(_lab_id "$D/p")
pair_down "$D/p"
[ -z "$(_lab_netns_of "$id")" ] && ok "pair_down removed every namespace" || bad "left: $(_lab_netns_of "$id")"
pgrep -f "$D/p/g[wb]/keepalived.conf" >/dev/null && bad "a keepalived of the pair survived" || ok "no keepalived left"
testlib_end
