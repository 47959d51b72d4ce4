#!/usr/bin/python3
"""A webhook receiver for the alert tests: every POST's path, Content-Type and
body go to FILE as one JSON line; it answers STATUS (200 unless told).

  webhook_server.py FILE [--status 500] [--hang]

Prints "READY <port>" when it listens on 127.0.0.1."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--hang", action="store_true", help="never answer (the sender's timeout must end the wait)")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(args.file, "a") as f:
                f.write(json.dumps({"path": self.path, "type": self.headers.get("Content-Type"), "body": body.decode()}) + "\n")
            if args.hang:
                time.sleep(3600)
            self.send_response(args.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print("READY", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
