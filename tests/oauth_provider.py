#!/usr/bin/python3
"""A local OAuth 2.0 provider for the tests (SPEC §9), plain http on
127.0.0.1: the authorization-code flow with PKCE (S256 only) and refresh
tokens, like Google's and Microsoft's endpoints in what smtp34 relies on.

  oauth_provider.py <state dir>

GET  /authorize   302 to redirect_uri with code and state (the admin "consents")
POST /token       grant_type=authorization_code (checks client, redirect_uri,
                  the PKCE verifier; a code works once) or refresh_token
Files in <state dir> steer it and record what it did:
  tokens          access tokens issued, "<token> <expires unix>" a line (the SMTP server reads it)
  requests        one line per token request: its grant type and outcome
  expires_in      seconds an access token lives (default 3600)
  rotate          if present, every refresh also issues a new refresh token and kills the old one
  revoke          if present, every refresh answers invalid_grant
Client id "client-1", secret "secret-1". Prints "READY <port>"."""

import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
LOCK = threading.Lock()
CODES = {}
REFRESH = set()


def path(name):
    return os.path.join(DIR, name)


def record(line):
    with open(path("requests"), "a") as f:
        f.write(line + "\n")


def issue_access():
    lifetime = int(open(path("expires_in")).read()) if os.path.exists(path("expires_in")) else 3600
    token = "at-" + secrets.token_urlsafe(16)
    with open(path("tokens"), "a") as f:
        f.write("%s %d\n" % (token, time.time() + lifetime))
    return token, lifetime


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path != "/authorize" or q.get("client_id") != "client-1" or q.get("code_challenge_method") != "S256":
            return self.answer(400, {"error": "invalid_request"})
        code = "code-" + secrets.token_urlsafe(12)
        with LOCK:
            CODES[code] = (q["code_challenge"], q["redirect_uri"])
        target = q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") + urllib.parse.urlencode({"code": code, "state": q["state"]})
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        grant = form.get("grant_type")
        if form.get("client_id") != "client-1" or form.get("client_secret") != "secret-1":
            record("%s invalid_client" % grant)
            return self.answer(401, {"error": "invalid_client"})
        with LOCK:
            if grant == "authorization_code":
                challenge, redirect_uri = CODES.pop(form.get("code", ""), (None, None))
                verifier = form.get("code_verifier", "")
                computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if challenge is None or redirect_uri != form.get("redirect_uri") or computed != challenge:
                    record("authorization_code invalid_grant")
                    return self.answer(400, {"error": "invalid_grant", "error_description": "bad code, redirect_uri or code_verifier"})
                refresh = "rt-" + secrets.token_urlsafe(16)
                REFRESH.add(refresh)
                access, lifetime = issue_access()
                record("authorization_code ok")
                return self.answer(200, {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "refresh_token": refresh})
            if grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if os.path.exists(path("revoke")) or refresh not in REFRESH:
                    record("refresh_token invalid_grant")
                    return self.answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
                access, lifetime = issue_access()
                body = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime}
                if os.path.exists(path("rotate")):
                    REFRESH.discard(refresh)
                    body["refresh_token"] = "rt-" + secrets.token_urlsafe(16)
                    REFRESH.add(body["refresh_token"])
                record("refresh_token ok" + (" rotated" if "refresh_token" in body else ""))
                return self.answer(200, body)
        record("%s unsupported" % grant)
        return self.answer(400, {"error": "unsupported_grant_type"})


def main():
    os.makedirs(DIR, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
