#!/usr/bin/env bash
# The shipped runbooks as common YAML tools read them: PyYAML (YAML 1.1, like Ansible and
# yamllint) loads each one with no boolean where a key was meant (the old `notify.on` was read as
# `True`), and each validates against runbooks/schema.json with python3-jsonschema; the old key
# is still accepted by the agent's own parser, with a located deprecation warning from lint.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
python3 -c 'import yaml, jsonschema' 2>/dev/null || { echo "FAIL needs python3-yaml and python3-jsonschema (make deps)"; exit 1; }
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
D=$(mktemp -d /tmp/ikh-rbschema-XXXXXX)
trap 'rm -rf "$D"' EXIT

out=$(cd "$top" && python3 - runbooks/*.yaml runbooks/examples/*.yaml <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open("runbooks/schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
def keys(n, path=""):
    if isinstance(n, dict):
        for k, x in n.items():
            if not isinstance(k, str):
                yield "%s: key %r is not a string" % (path or "top", k)
            yield from keys(x, "%s.%s" % (path, k) if path else str(k))
    elif isinstance(n, list):
        for x in n:
            yield from keys(x, path)
bad = 0
for f in sys.argv[1:]:
    d = yaml.safe_load(open(f))
    errs = list(keys(d)) + ["%s: %s" % ("/".join(map(str, e.path)), e.message) for e in v.iter_errors(d)]
    for e in errs:
        print("BAD %s: %s" % (f, e))
    bad += bool(errs)
    if not errs:
        print("GOOD %s" % f)
sys.exit(1 if bad else 0)
PY
)
rc=$?
n=$(grep -c "^GOOD" <<<"$out")
[ $rc = 0 ] && [ "$n" -ge 9 ] && ok "$n shipped runbooks: PyYAML reads every key as a string, each valid against runbooks/schema.json" \
        || bad "schema/YAML 1.1: $(grep '^BAD' <<<"$out" | head -5)"

# the old key: still read, said once, located (file:line:col), counted by lint
sed 's/^  when: \[/  on: [/' "$top/runbooks/firewall-restore.yaml" >"$D/old.yaml"
chmod 0644 "$D/old.yaml"
line=$(grep -n '^  on: \[' "$D/old.yaml" | cut -d: -f1)
res=$("$B/ikehealctl" lint "$D/old.yaml" "$top/runbooks/firewall-open-ports.yaml" 2>&1); rc=$?
[ $rc = 0 ] && grep -q "^$D/old.yaml:$line:3: warning: notify.on is deprecated.*notify.when" <<<"$res" && grep -q "OK, 1 warning" <<<"$res" \
        && ok "lint: the old key accepted with a located warning" || bad "lint of notify.on: rc=$rc: $res"
# --check-config prints it and counts it
mkdir -m 0755 "$D/rb"
printf 'version: 1\nname: tell\nmatch: {class: firewall}\ngrade: observe\nsteps:\n  - name: tell\n    action: notify\n    params: {message: hi}\nnotify:\n  on: [failed]\n' >"$D/rb/tell.yaml"
chmod 0644 "$D/rb/tell.yaml"
printf 'agent:\n  state_dir: %s/state\n  runbook_dirs: [%s/rb]\ncontrol:\n  socket: %s/ctl.sock\ncharon:\n  unit: none\nchecks: []\n' "$D" "$D" "$D" >"$D/c.yaml"
chmod 0644 "$D/c.yaml"
res=$("$B/ikeheald" --check-config -c "$D/c.yaml" 2>&1); rc=$?
[ $rc = 0 ] && grep -q "^$D/rb/tell.yaml:10:3: warning: notify.on is deprecated" <<<"$res" && grep -q "configuration OK, 1 warning" <<<"$res" \
        && ok "--check-config: the old key's warning printed, located and counted" || bad "--check-config: rc=$rc: $res"
echo "$fails failed"
[ $fails = 0 ]
