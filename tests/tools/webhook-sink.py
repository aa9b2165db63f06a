#!/usr/bin/env python3
"""A webhook receiver for the lab tests: listens on 127.0.0.1 (ephemeral port, written to
PORTFILE), appends every POST body as one line to OUTFILE, answers 200 — or 500 to the first
FAIL_FIRST requests, so retries can be seen. Loopback only."""
import http.server
import sys

port_file, out_file = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        seen += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 500 if seen <= fail_first else 200
        if status == 200:
            with open(out_file, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
