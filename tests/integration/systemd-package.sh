#!/usr/bin/env bash
# run: alone
# The Debian package installed, run and removed in the booted container: see tests/systemd/package.sh.
exec "$(dirname "$0")/../systemd/package.sh" "$@"
