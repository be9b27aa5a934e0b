#!/usr/bin/env python3
"""An HTTP device for the HTTP connector tests, on Python's http.server (an independent peer).

Usage: device.py ROUTES_JSON [CERT KEY]  (with CERT and KEY: HTTPS)  — ROUTES_JSON maps a path to its answer:
  {"/path": {"status": 200, "body": <text or JSON>, "contentType": "...", "delay": seconds,
             "headers": {...}, "auth": "user:password", "bodies": [<answer per call, last repeats>]}}
A path not listed answers 200 with {}. A body "@hex:<hex digits>" answers those bytes. Prints "READY <port>" once listening, then one JSON line
per request: {"method", "path", "query", "headers", "body"} (body as text).
"""
import json
import sys
import threading
import time
import base64
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROUTES = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
CALLS = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with LOCK:
            print(json.dumps(record), flush=True)
            n = CALLS.get(parts.path, 0)
            CALLS[parts.path] = n + 1
        route = ROUTES.get(parts.path, {})
        if "bodies" in route:
            bodies = route["bodies"]
            route = dict(route, body=bodies[min(n, len(bodies) - 1)])
        status = route.get("status", 200)
        if "auth" in route:
            expected = "Basic " + base64.b64encode(route["auth"].encode()).decode()
            if self.headers.get("Authorization") != expected:
                status = 401
        if route.get("delay"):
            time.sleep(route["delay"])
        answer = route.get("body", {})
        if isinstance(answer, str) and answer.startswith("@hex:"):
            data = bytes.fromhex(answer[5:])
            ctype = route.get("contentType", "application/octet-stream")
        elif isinstance(answer, str):
            data = answer.encode()
            ctype = route.get("contentType", "text/plain")
        else:
            data = json.dumps(answer).encode()
            ctype = route.get("contentType", "application/json")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in route.get("headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) > 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print("READY %d" % server.server_address[1], flush=True)
server.serve_forever()
