#!/usr/bin/env python3
"""Ask ikeheald's control socket `status` (common/proto.h: one framed request on a fresh
connection, as ikehealctl does) every INTERVAL seconds for SECONDS, and print each round trip in
µs, or FAIL for a request not answered within 5 s. Measures the agent, not the start of an
ikehealctl process.

    ctl-latency.py SOCKET SECONDS [INTERVAL]"""
import socket
import struct
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
REQ = struct.pack(">IBBHi", 8, 0xA1, 1, 1, 0)  # length, magic/version, request, verb status, 0


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("closed")
        b += c
    return b


end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(REQ)
            (n,) = struct.unpack(">I", recv_exact(s, 4))
            hdr = recv_exact(s, n)
            if hdr[1] != 2 or struct.unpack(">i", hdr[4:8])[0] != 0:
                raise OSError("error response")
        print(int((time.monotonic() - t0) * 1e6), flush=True)
    except OSError:
        print("FAIL", flush=True)
    time.sleep(interval)
