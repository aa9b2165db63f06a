#!/usr/bin/env bash
# The shipped alert rules (etc/prometheus/ikeheal-rules.yml): `promtool check rules` accepts
# them, and `promtool test rules` (tests/fixtures/prometheus/ikeheal-rules.test.yml) sees each
# graded alert fire at its severity and time and stay quiet otherwise; the rules and the Grafana
# dashboard (contrib/grafana/ikeheal.json) name only metrics the rules file documents. Exit 0 pass, 1 fail,
# 77 skip (no promtool).
set -u
cd "$(dirname "$0")/../.."
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian package prometheus)"; exit 77; }
fails=0
if promtool check rules etc/prometheus/ikeheal-rules.yml; then echo "ok   promtool check rules"
else echo "FAIL promtool check rules"; fails=$((fails + 1)); fi
if promtool test rules tests/fixtures/prometheus/ikeheal-rules.test.yml; then echo "ok   promtool test rules"
else echo "FAIL promtool test rules"; fails=$((fails + 1)); fi
if python3 tests/lab/promql-names.py; then echo "ok   the rules and the Grafana dashboard use documented metric names only"
else echo "FAIL metric names"; fails=$((fails + 1)); fi
[ "$fails" -eq 0 ]
