#!/usr/bin/env bash
# The revocation check against real servers on loopback: a PKI made here with openssl (a CA, a
# gateway certificate whose CRL distribution point and OCSP responder are 127.0.0.1), the CRL
# served by python3's http.server, a real `openssl ocsp` responder. Cases: everything fresh and
# reachable → ok; the distribution point down with a fresh CRL cached in x509crl/ → a warning,
# crl_unreachable_cached, with the time left; nothing cached → crl_unreachable; a stale CRL file
# in x509crl/ → crl_stale; the served CRL stale → crl_stale;
# the OCSP responder gone → ocsp_unreachable; the certificate revoked → revoked. (`openssl ocsp
# -port` binds every address of this namespace: the test only ever talks to 127.0.0.1.)
set -u
. "$(dirname "$0")/../lab/testlib.sh"
command -v openssl >/dev/null || { echo "no openssl"; exit 77; }

D=$(mktemp -d /tmp/ikh-revoc-XXXXXX)
HTTP= OCSP=
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() { stop "$HTTP"; stop "$OCSP"; rm -rf "$D"; }
trap cleanup EXIT
P1=$((21000 + $$ % 10000)) P2=$((31000 + $$ % 10000))

cd "$D" || exit 1
mkdir -p sw/x509 sw/x509ca sw/x509crl sw/private www
cat >ca.cnf <<CNF
[ ca ]
default_ca = lab
[ lab ]
database = $D/index.txt
crlnumber = $D/crlnumber
certificate = $D/ca.pem
private_key = $D/ca.key
default_md = sha256
default_crl_days = 7
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_gw ]
basicConstraints = CA:false
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
crlDistributionPoints = URI:http://127.0.0.1:$P1/ca.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$P2
CNF
touch index.txt
echo 01 >crlnumber
q() { "$@" >/dev/null 2>&1 || { echo "setup failed: $*"; exit 1; }; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ikeheal test CA" -days 30 \
        -keyout ca.key -out ca.pem -config ca.cnf -extensions v3_ca
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=gw.test" -keyout gw.key -out gw.csr
q openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca.key -set_serial 0x1001 -days 20 -extfile ca.cnf -extensions v3_gw -out gw.pem
cp ca.pem sw/x509ca/ && cp gw.pem sw/x509/ && cp gw.key sw/private/
exp=$(date -u -d '+20 days' +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t1001\tunknown\t/CN=gw.test\n' "$exp" >index.txt
crl() { # fresh|stale
        if [ "$1" = fresh ]; then q openssl ca -gencrl -config ca.cnf -out www/ca.crl
        else q openssl ca -gencrl -config ca.cnf -crl_lastupdate 20260101000000Z -crl_nextupdate 20260102000000Z -out www/ca.crl
        fi
}
ocsp_start() {
        stop "$OCSP"
        openssl ocsp -index index.txt -port $P2 -rsigner ca.pem -rkey ca.key -CA ca.pem >ocsp.log 2>&1 &
        OCSP=$!
        # ready when it listens (a probing connection would be taken as a broken request)
        for ((i = 0; i < 50; i++)); do ss -ltn "sport = :$P2" | grep -q LISTEN && return; sleep 0.05; done
}
crl fresh
python3 -m http.server "$P1" --bind 127.0.0.1 --directory www >http.log 2>&1 &
HTTP=$!
ocsp_start
for ((i = 0; i < 50; i++)); do (echo >/dev/tcp/127.0.0.1/$P1) 2>/dev/null && break; sleep 0.05; done
printf 'swanctl_dir: %s/sw\nhttp_timeout: 2s\n' "$D" >p.yaml

run() { "$B/tools/check-run" revocation p.yaml >out 2>&1; }
expect() { # STATUS REASON LABEL
        run
        if grep -q "^finding 1 status=$1" out && { [ -z "$2" ] || { grep -q "^fact reason=$2\$" out &&
                grep -q "^fact class=revocation\$" out && grep -q "^fact scope=global\$" out; }; }; then
                ok "$3: $(grep '^summary' out | cut -c10-120)"
        else
                bad "$3: $(grep -E '^(finding|summary|fact reason|evidence)' out | tr '\n' ' ')"
        fi
}
expect ok "" "fresh CRL served, OCSP good"
grep -q "^fact ocsp_requests=1" out && grep -q "^fact crl_downloads=1" out && ok "one OCSP request, one CRL download" \
        || bad "requests: $(grep '^fact' out | tr '\n' ' ')"

# the distribution point down while the cached CRL (x509crl/) is fresh: charon still checks
# revocation with it — a warning with the time the cache has left, not a failure
cp www/ca.crl sw/x509crl/ca.crl
stop "$HTTP"
HTTP=
expect warn crl_unreachable_cached "distribution point down, cached CRL fresh"
left=$(sed -n 's/^fact cached_crl_left_s=//p' out)
# (the CRL says nextUpdate in 7 days: read within the second it was made, exactly 7d is left)
want_left=6d23h
[ "$left" = $((7 * 86400)) ] && want_left=7d
[ -n "$left" ] && [ "$left" -gt $((6 * 86400)) ] && [ "$left" -le $((7 * 86400)) ] && grep -q "^summary.*fresh for another $want_left" out &&
        ok "the warning says how long the cache has left: ${left}s ($(grep -o 'fresh for another [^ ]*' out))" ||
        bad "time left: '$left' $(grep '^summary' out)"
grep -q "^fact next_change_usec=" out && ok "its nextUpdate is armed as the next instant" || bad "no next_change_usec"
rm sw/x509crl/ca.crl
expect fail crl_unreachable "distribution point down, nothing cached"
python3 -m http.server "$P1" --bind 127.0.0.1 --directory www >http.log 2>&1 &
HTTP=$!
for ((i = 0; i < 50; i++)); do (echo >/dev/tcp/127.0.0.1/$P1) 2>/dev/null && break; sleep 0.05; done

crl stale
cp www/ca.crl sw/x509crl/ca.crl
crl fresh
expect fail crl_stale "stale CRL file in x509crl/"
rm sw/x509crl/ca.crl

crl stale
expect fail crl_stale "stale CRL at the distribution point"
crl fresh

stop "$OCSP"
OCSP=
expect fail ocsp_unreachable "OCSP responder down"

printf 'R\t%s\t%s\t1001\tunknown\t/CN=gw.test\n' "$exp" "$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)" >index.txt
ocsp_start
expect fail revoked "certificate revoked (OCSP)"

testlib_end
