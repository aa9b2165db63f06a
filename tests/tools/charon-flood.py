#!/usr/bin/env python3
"""Write a flood of failed IKE_AUTH attempts to a charon file log, in charon's own line format
(as the lab's charon writes them with a PSK mismatch: tests/fixtures/charon-log/wrong-psk-gw.log).
Each attempt is four lines of one IKE_SA: "is initiating", "looking for peer configs matching",
"tried 1 shared key … MAC mismatched" and "generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]" —
two authentication failure lines. Peers cycle through PEERS identities and addresses in
198.18.0.0/15 (nothing is sent anywhere: these are lines in a file).

    charon-flood.py FILE RATE SECONDS PEERS

RATE: failure lines per second. Paced in 10 ms batches. Prints "lines=N failure_lines=N
seconds=S rate=R" at the end (R: failure lines per second achieved)."""
import os
import sys
import time

path, rate, seconds, peers = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
attempts_per_s = max(rate // 2, 1)
t0 = time.monotonic()
done = 0  # attempts
uid = 100000
lines = 0
while True:
    now = time.monotonic()
    if now - t0 >= seconds:
        break
    due = int((now - t0) * attempts_per_s)
    if due <= done:
        time.sleep(0.01)
        continue
    n = min(due - done, attempts_per_s // 10 + 1)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()) + ".%03d" % int((time.time() % 1) * 1000)
    out = []
    for i in range(n):
        k = (done + i) % peers
        uid += 1
        ip = "198.18.%d.%d" % (64 + k // 250 % 64, 1 + k % 250)
        pid = "peer%d.flood.test" % k
        out.append(
            f"{ts} 10[IKE0] <{uid}> {ip} is initiating an IKE_SA\n"
            f"{ts} 12[CFG1] <{uid}> looking for peer configs matching 198.18.0.1[gw.lab.test]...{ip}[{pid}]\n"
            f"{ts} 12[IKE1] <rw|{uid}> tried 1 shared key for 'gw.lab.test' - '{pid}', but MAC mismatched\n"
            f"{ts} 12[ENC1] <rw|{uid}> generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]\n")
    os.write(fd, "".join(out).encode())
    done += n
    lines += 4 * n
el = time.monotonic() - t0
os.close(fd)
print("lines=%d failure_lines=%d seconds=%.1f rate=%.0f" % (lines, 2 * done, el, 2 * done / max(el, 0.001)))
