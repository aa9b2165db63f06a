#!/usr/bin/env python3
"""The standby gateway's health endpoint for the failover tests: listens on 127.0.0.1
(ephemeral port, written to PORTFILE); GET /healthz answers 200 when the standby's charon
answers a VICI request (swanctl --stats over its socket, 2 s at most), 503 when it does not.
It stands where the standby's own agent would answer. Loopback only.

    standby-health.py PORTFILE VICI_SOCKET STRONGSWAN_CONF SECONDS"""
import http.server
import os
import subprocess
import sys
import threading

port_file, vici, conf, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])


def healthy():
    try:
        r = subprocess.run(["swanctl", "--stats", "--uri", "unix://" + vici], env=dict(os.environ, STRONGSWAN_CONF=conf),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=2)
        return r.returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/healthz":
            status = 404
        else:
            status = 200 if healthy() else 503
        body = b"ok\n" if status == 200 else b"unhealthy\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
threading.Timer(seconds, srv.shutdown).start()
srv.serve_forever()
