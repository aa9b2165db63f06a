#!/usr/bin/env bash
# run: alone
# The nftables transaction module under valgrind (plain build): every byte it sends to the kernel
# over netlink is initialised — padding of the batch buffer included. Runs the unit test
# test-nft-batch (real batches in a namespace of its own) under memcheck; any "uninitialised"
# report or memcheck error fails. Exit 0 pass, 1 fail, 77 skip.
set -u
plain=${IKEHEAL_BUILD_PLAIN:-build}
t=$plain/tests/test-nft-batch
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP: no valgrind"; exit 77; }
[ -x "$t" ] || { echo "SKIP: no $t (make tests in the plain build)"; exit 77; }
log=$(mktemp /tmp/ikh-nftb-vg-XXXXXX)
trap 'rm -f "$log"' EXIT
valgrind -q --error-exitcode=99 --log-file="$log" "$t"
rc=$?
cat "$log"
if grep -q "uninitialised" "$log"; then
        echo "FAIL uninitialised bytes reach the kernel"
        exit 1
fi
[ $rc = 0 ] && echo "ok   test-nft-batch clean under memcheck" || { echo "FAIL test-nft-batch under memcheck: exit $rc"; exit 1; }
