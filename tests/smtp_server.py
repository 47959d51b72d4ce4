#!/usr/bin/python3
"""A real SMTP server for smtp34's tests and demo, on 127.0.0.1.

Built on Debian's python3-aiosmtpd. Every letter received is saved to the
spool directory as N.eml (the DATA bytes exactly as received, dot-unstuffed)
and N.json (envelope sender, recipients, MAIL parameters, whether the session
was encrypted and who authenticated).

  smtp_server.py --spool DIR [--port N] [--tls none|starttls|implicit]
                 [--cert PEM --key PEM] [--auth USER:PASSWORD]
                 [--reject-rcpt SUBSTRING] [--silent]

Prints "READY <port>" on stdout once it accepts connections, then runs
until killed. --silent accepts TCP connections and never answers (for
timeout tests).
"""

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SpoolHandler:
    def __init__(self, spool, reject_rcpt):
        self.spool = spool
        self.reject_rcpt = reject_rcpt
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt and self.reject_rcpt in address:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        base = os.path.join(self.spool, "%d" % number)
        content = envelope.original_content
        if content is None:
            content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        with open(base + ".eml.part", "wb") as f:
            f.write(content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": session.ssl is not None,
            "login": session.login_data.decode() if isinstance(session.login_data, bytes) else session.login_data,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.part", base + ".eml")
        return "250 2.0.0 Ok: queued as smtp34test%d" % number


def authenticator_for(credentials):
    user, password = credentials.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    return authenticate


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_silent(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print("READY %d" % listener.getsockname()[1], flush=True)
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)  # never answered, closed only when we exit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.spool, exist_ok=True)
    port = args.port or free_port()
    if args.silent:
        run_silent(port)
        return

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    options = dict(
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp34-test",
        decode_data=False,
        enable_SMTPUTF8=True,
        ready_timeout=10,
    )
    server_kwargs = {}
    if args.auth:
        server_kwargs.update(
            authenticator=authenticator_for(args.auth),
            auth_required=True,
            auth_require_tls=args.tls != "none",
        )
    if args.tls == "implicit":
        options["ssl_context"] = context
    elif args.tls == "starttls":
        server_kwargs.update(tls_context=context, require_starttls=True)

    controller = Controller(SpoolHandler(args.spool, args.reject_rcpt), server_kwargs=server_kwargs, **options)
    if args.tls == "implicit":
        # The controller's readiness probe cannot speak implicit TLS on all
        # aiosmtpd versions; start it and wait for the port instead.
        controller._trigger_server = lambda: None
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
