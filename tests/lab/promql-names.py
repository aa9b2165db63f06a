#!/usr/bin/env python3
"""Every metric name the shipped rules (etc/prometheus/ikeheal-rules.yml) and the Grafana
dashboard (contrib/grafana/ikeheal.json) use is one the rules file documents at its top (or
Prometheus' own `up`); with --exprs, prints the dashboard's expressions one a line instead, with
Grafana's variables replaced so Prometheus can evaluate them. Exit 0 when all are known."""
import json
import re
import sys

rules = open("etc/prometheus/ikeheal-rules.yml").read()
dash = json.load(open("contrib/grafana/ikeheal.json"))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
if "--exprs" in sys.argv:
    for e in exprs:
        print(e.replace("$__rate_interval", "1m").replace("$instance", ".*"))
    sys.exit(0)

documented = set(re.findall(r"^#\s+((?:ikeheal|process)_[a-z_]+)", rules, re.M))
documented |= set(re.findall(r"\b(process_[a-z_]+)", rules))
documented |= {n + s for n in list(documented) for s in ("_bucket", "_sum", "_count")}
documented.add("up")
words = {"by", "sum", "rate", "increase", "histogram_quantile", "and", "or", "vector", "without", "on"}
used = []
for e in exprs + re.findall(r"^\s+expr: (.*)$", rules, re.M):
    e = re.sub(r'"[^"]*"', '""', e).replace("$__rate_interval", "1m")  # no names in values
    e = re.sub(r"\{[^}]*\}", "", e)       # nor label matchers
    e = re.sub(r"by \([^)]*\)", "", e)
    used += [w for w in re.findall(r"\b[a-z_][a-z0-9_]*\b", e) if w not in words and ("_" in w or w == "up")]
unknown = sorted(set(u for u in used if u not in documented))
print(f"{len(exprs)} dashboard expressions, {len(set(used))} metric names used, {len(documented)} documented")
if unknown:
    print("not documented:", " ".join(unknown))
    sys.exit(1)
