#!/usr/bin/env python3
# A tiny SNTP server on 127.0.0.1 for the clock tests: answers every request with its own
# time shifted by SHIFT seconds (a skewed reference), stratum 2.
#   sntp-server.py PORT SHIFT
# PORT 0: the kernel picks a free port, printed on stdout once bound (a port the test picked
# may be someone else's on a busy machine). SHIFT "@FILE": the shift is read from FILE at
# every request, so a test changes the reference's time without restarting the server.
import socket, struct, sys, time
port, shift = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", port))
print(s.getsockname()[1], flush=True)
D = 2208988800
def ts(t):
    t += D; sec = int(t); frac = int((t - sec) * (1 << 32)); return struct.pack("!II", sec, frac)
def shift_now():
    if not shift.startswith("@"):
        return float(shift)
    with open(shift[1:]) as f:
        return float(f.read().strip() or 0)
while True:
    data, a = s.recvfrom(512)
    if len(data) < 48: continue
    now = time.time() + shift_now()
    pkt = bytes([(0 << 6) | (4 << 3) | 4, 2, 6, 0xec]) + b"\0" * 8 + b"LOCL" + ts(now) + data[40:48] + ts(now) + ts(now)
    s.sendto(pkt, a)
