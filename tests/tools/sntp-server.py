#!/usr/bin/env python3
# A tiny SNTP server on 127.0.0.1 for the clock tests: answers every request with its own
# time shifted by SHIFT seconds (a skewed reference), stratum 2.
#   sntp-server.py PORT SHIFT
import socket, struct, sys, time
port, shift = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", port))
D = 2208988800
def ts(t):
    t += D; sec = int(t); frac = int((t - sec) * (1 << 32)); return struct.pack("!II", sec, frac)
while True:
    data, a = s.recvfrom(512)
    if len(data) < 48: continue
    now = time.time() + shift
    pkt = bytes([(0 << 6) | (4 << 3) | 4, 2, 6, 0xec]) + b"\0" * 8 + b"LOCL" + ts(now) + data[40:48] + ts(now) + ts(now)
    s.sendto(pkt, a)
