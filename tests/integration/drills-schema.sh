#!/usr/bin/env bash
# The shipped drills as common YAML tools read them: PyYAML (YAML 1.1) loads each one (and the
# example of drills/README.md) with every key a string, and each validates against
# drills/schema.json with python3-jsonschema. Then the schema and the agent's own parser agree
# on what is wrong: each broken copy of a shipped drill (an unknown top-level key, an unknown
# injector, an unknown class in expect, malformed durations, a `timeout` parameter, a tolerated
# class that is expect.class, no runbook with the default recovery) is refused by both the
# schema and `ikehealctl lint`, and the unbroken copy is accepted by both. No root, no lab.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
python3 -c 'import yaml, jsonschema' 2>/dev/null || { echo "FAIL needs python3-yaml and python3-jsonschema (make deps)"; exit 1; }
[ -x "$B/ikehealctl" ] || { echo "FAIL no $B/ikehealctl (make tests)"; exit 1; }
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
D=$(mktemp -d /tmp/ikh-drschema-XXXXXX)
trap 'rm -rf "$D"' EXIT

# validate FILE…: "GOOD file" or "BAD file: path: message" lines; exit 1 if any is bad
validate() {
        (cd "$top" && python3 - "$@" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open("drills/schema.json"))
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
    errs = list(keys(d)) + ["%s: %s" % ("/".join(map(str, e.path)) or "top", e.message) for e in v.iter_errors(d)]
    for e in errs:
        print("BAD %s: %s" % (f, e))
    bad += bool(errs)
    if not errs:
        print("GOOD %s" % f)
sys.exit(1 if bad else 0)
PY
)
}

# the README's example is a drill like the shipped ones
sed -n '/^## Example/,/^## /p' "$top/drills/README.md" | sed -n '/^```yaml$/,/^```$/p' | sed '1d;$d' >"$D/readme-example.yaml"
[ -s "$D/readme-example.yaml" ] || bad "no yaml example found in drills/README.md"
out=$(validate "$top"/drills/*.yaml "$D/readme-example.yaml"); rc=$?
n=$(grep -c "^GOOD $top/drills/" <<<"$out")
[ $rc = 0 ] && [ "$n" -ge 10 ] && ok "$n shipped drills and the README's example: PyYAML reads every key as a string, each valid against drills/schema.json" \
        || bad "schema/YAML 1.1: $(grep '^BAD' <<<"$out" | head -5)"
# (the example shares a shipped drill's name: a set of its own)
chmod 0644 "$D/readme-example.yaml"
res=$("$B/ikehealctl" lint "$top"/drills/*.yaml 2>&1); rc=$?
res2=$("$B/ikehealctl" lint "$D/readme-example.yaml" 2>&1); rc2=$?
[ $rc = 0 ] && [ "$(grep -c ': OK$' <<<"$res")" = "$n" ] && [ $rc2 = 0 ] && ok "lint accepts the same $n drills and the example" \
        || bad "lint of the shipped drills: rc=$rc: $res; of the example: rc=$rc2: $res2"

# broken copies of a shipped drill: refused by the schema and by the agent's parser alike
base=$top/drills/firewall-drop-4500.yaml
cp "$base" "$D/base.yaml" && chmod 0644 "$D/base.yaml"
out=$(validate "$D/base.yaml"); rc=$?
res=$("$B/ikehealctl" lint "$D/base.yaml" 2>&1); rc2=$?
[ $rc = 0 ] && [ $rc2 = 0 ] && ok "the unbroken copy: valid for the schema and lint" || bad "the unbroken copy: schema rc=$rc $out; lint rc=$rc2 $res"

# case NAME SED-SCRIPT SCHEMA-MESSAGE LINT-MESSAGE (both extended regular expressions)
case_() {
        local name=$1 script=$2 want_schema=$3 want_lint=$4 f=$D/$1.yaml out res rc
        sed -E "$script" "$base" >"$f"
        chmod 0644 "$f"
        if cmp -s "$base" "$f"; then
                bad "$name: the edit changed nothing"
                return
        fi
        out=$(validate "$f"); rc=$?
        if [ $rc != 0 ] && grep -Eq "^BAD $f: $want_schema" <<<"$out"; then
                ok "$name: the schema refuses it ($(grep '^BAD' <<<"$out" | head -1 | sed "s|^BAD $f: ||" | cut -c1-120))"
        else
                bad "$name: the schema: rc=$rc: $out"
        fi
        res=$("$B/ikehealctl" lint "$f" 2>&1); rc=$?
        if [ $rc != 0 ] && grep -Eq "^$f:[0-9]+:[0-9]+: .*$want_lint" <<<"$res"; then
                ok "$name: lint refuses it ($(grep -E "$want_lint" <<<"$res" | head -1 | sed "s|^$D/||" | cut -c1-120))"
        else
                bad "$name: lint: rc=$rc: $res"
        fi
}
case_ unknown-key '$a retries: 3' \
        "top: Additional properties .*'retries'" "unknown key 'retries'"
case_ bad-injector 's/^  kind: nft_drop$/  kind: nft_reject/' \
        "fault/kind: 'nft_reject' is not one of" "unknown injector 'nft_reject'"
case_ bad-expect-class 's/^  class: firewall$/  class: firewal/' \
        "expect/class: 'firewal' is not one of" "expect.class: unknown class 'firewal'"
case_ duration-no-unit 's/^  expires_in: 10m$/  expires_in: 10/' \
        "fault/expires_in: 10 is not of type 'string'" "expected a duration with a unit"
case_ duration-bad-unit 's/^  detect_within: 30s$/  detect_within: 30sec/' \
        "expect/detect_within: '30sec' does not match" "expected a duration with a unit.*'30sec'"
case_ duration-blank 's/^  after: 5m$/  after: 5 m/' \
        "abort/after: '5 m' does not match" "expected a duration with a unit.*'5 m'"
case_ params-timeout 's/^  params: \{udp_ports: \[4500\]\}$/  params: {udp_ports: [4500], timeout: 5m}/' \
        "fault/params: Additional properties .*'timeout'" "fault.params.timeout is set by the drill"
case_ tolerate-itself 's/^  runbook: firewall-restore$/&\n  tolerate: [reachability, firewall]/' \
        "expect/tolerate/1: .*should not be valid" "expect.tolerate: 'firewall' is expect.class itself"
case_ no-runbook '/^  runbook: firewall-restore$/d' \
        "expect: 'runbook' is a required property" "expect.runbook is required with recovery: runbook"
echo "$fails failed"
[ $fails = 0 ]
