#!/usr/bin/python3
"""A real SMTP server for smtp34's tests and demo, on 127.0.0.1.

Built on Debian's python3-aiosmtpd. Every letter received is saved to the
spool directory as N.eml (the DATA bytes exactly as received, dot-unstuffed)
and N.json (envelope sender, recipients, MAIL parameters, whether the session
was encrypted and who authenticated).

  smtp_server.py --spool DIR [--port N] [--host ADDR] [--tls none|starttls|implicit]
                 [--cert PEM --key PEM] [--auth USER:PASSWORD]
                 [--auth-only PLAIN|LOGIN|XOAUTH2] [--xoauth2-tokens FILE] [--reject-rcpt SUBSTRING] [--silent]
                 [--greet-421] [--defer-rcpt SUBSTRING] [--reject-data]
                 [--drop-after-data] [--misbehave-while FILE] [--drip SECONDS]
                 [--no-smtputf8] [--pipelining] [--chunking] [--close-after-letter]
                 [--slow-data SECONDS] [--max-connections N]

Prints "READY <port>" on stdout once it accepts connections, then runs
until killed. --silent accepts TCP connections and never answers (for
timeout tests).

Misbehaviour on purpose, for the outbox tests: --greet-421 answers every
connection with 421 and hangs up; --defer-rcpt answers 451 to recipients
containing SUBSTRING; --reject-data answers 554 to DATA; --drop-after-data
reads the whole letter, then drops the connection without a reply (the
letter is not kept). With --misbehave-while FILE these apply only while
FILE exists: a test removes it to let the server recover. --drip sends
its greeting one byte every SECONDS and never more. --max-connections N
answers 421 to a connection past N open at once, as providers cap the
connections of one client.
"""

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class SpoolHandler:
    def __init__(self, spool, args):
        self.spool = spool
        self.args = args
        self.count = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.args.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        if self.args.chunking:
            responses.insert(len(responses) - 1, "250-CHUNKING")
        return responses

    async def auth_XOAUTH2(self, server, args):
        """RFC 7628-style XOAUTH2 (only with --xoauth2-tokens): the bearer token must be
        one the tests' OAuth provider issued (a line of that file) and unexpired."""
        import base64, json, time
        try:
            fields = dict(part.split("=", 1) for part in base64.b64decode(args[1]).decode().split("\x01") if part)
            user, token = fields["user"], fields["auth"].split(" ", 1)[1]
        except Exception:
            await server.push("501 5.5.2 Can't decode XOAUTH2")
            return AuthResult(success=False, handled=True)
        valid = False
        if self.args.xoauth2_tokens and os.path.exists(self.args.xoauth2_tokens):
            for line in open(self.args.xoauth2_tokens):
                issued, _, expires = line.strip().partition(" ")
                valid = valid or (issued == token and float(expires or 0) > time.time())
        if valid and user == self.args.xoauth2_user:
            return AuthResult(success=True, auth_data=user)
        # Gmail's way: a JSON error in a 334 challenge, then 535 after the client's empty line
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}))
        return AuthResult(success=False, handled=False)

    def misbehaving(self):
        flag = self.args.misbehave_while
        return flag is None or os.path.exists(flag)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.reject_rcpt and self.args.reject_rcpt in address:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if self.args.defer_rcpt and self.args.defer_rcpt in address and self.misbehaving():
            return "451 4.7.1 <%s>: Recipient address deferred: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.reject_data and self.misbehaving():
            return "554 5.7.1 Message rejected as spam"
        if self.args.drop_after_data and self.misbehaving():
            server.transport.abort()
            return "250 never seen"
        if self.args.slow_data and self.misbehaving():
            # a provider that takes its time over each letter (while the flag file exists, when there is one)
            await asyncio.sleep(self.args.slow_data)
        if self.args.close_after_letter:
            # like a provider that drops idle connections: this one ends after its letter
            asyncio.get_event_loop().call_later(0.05, server.transport.close)
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
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data if isinstance(session.auth_data, str) else None,
            # which connection brought it: the client's port
            "connection": session.peer[1] if isinstance(session.peer, tuple) else None,
            "bdat": getattr(envelope, "bdat", False),
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.part", base + ".eml")
        return "250 2.0.0 Ok: queued as smtp34test%d" % number


class ChunkingSMTP(SMTP):
    """aiosmtpd with BDAT (RFC 3030), which it lacks: chunks of exact size,
    the last one handed to the handler as DATA would be."""

    async def smtp_BDAT(self, arg):
        parts = (arg or "").split()
        if not parts or not parts[0].isdigit() or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() != "LAST"):
            await self.push("501 5.5.4 Syntax: BDAT <size> [LAST]")
            return
        chunk = await self._reader.readexactly(int(parts[0]))
        if self.envelope.mail_from is None:
            await self.push("503 5.5.1 Error: need MAIL command")
            return
        if not self.envelope.rcpt_tos:
            await self.push("554 5.5.1 Error: no valid recipients")
            return
        chunks = getattr(self.envelope, "chunks", b"") + chunk
        self.envelope.chunks = chunks
        if len(parts) == 1:
            await self.push("250 2.0.0 %d octets received" % len(chunk))
            return
        self.envelope.original_content = self.envelope.content = chunks
        self.envelope.bdat = True
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


class Refuse421(asyncio.Protocol):
    """A server too busy to talk: 421 at connect, then it hangs up."""

    def connection_made(self, transport):
        transport.write(b"421 4.3.2 smtp34-test: too busy, try again later\r\n")
        transport.close()


def authenticator_for(credentials):
    user, password = credentials.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            ok = login == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=login if ok else None)
        return AuthResult(success=False, handled=False)

    return authenticate


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
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


def run_drip(port, interval):
    import time

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print("READY %d" % listener.getsockname()[1], flush=True)

    def drip(conn):
        try:
            for byte in b"220 smtp34-test ready, one byte at a time, for as long as you wait\r\n":
                conn.sendall(bytes([byte]))
                time.sleep(interval)
        except OSError:
            pass

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=drip, args=(conn,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (::1 for IPv6)")
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--auth-only", help="offer just this AUTH mechanism (PLAIN, LOGIN or XOAUTH2)")
    parser.add_argument("--xoauth2-tokens", help="offer AUTH XOAUTH2, accepting the tokens listed in this file ('<token> <expires unix>')")
    parser.add_argument("--xoauth2-user", default="shop@site.ru", help="the mailbox XOAUTH2 logs in as")
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--greet-421", action="store_true")
    parser.add_argument("--max-connections", type=int, help="answer 421 and hang up on connections past this many open at once")
    parser.add_argument("--defer-rcpt")
    parser.add_argument("--reject-data", action="store_true")
    parser.add_argument("--drop-after-data", action="store_true")
    parser.add_argument("--misbehave-while")
    parser.add_argument("--drip", type=float)
    parser.add_argument("--no-smtputf8", action="store_true")
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--close-after-letter", action="store_true")
    parser.add_argument("--chunking", action="store_true", help="offer CHUNKING (BDAT, RFC 3030)")
    parser.add_argument("--slow-data", type=float, help="wait this many seconds before answering a letter's data")
    args = parser.parse_args()

    os.makedirs(args.spool, exist_ok=True)
    port = args.port or free_port(args.host)
    if args.silent:
        run_silent(port)
        return
    if args.drip:
        run_drip(port, args.drip)
        return

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    smtp_options = dict(hostname="smtp34-test", decode_data=False, enable_SMTPUTF8=not args.no_smtputf8)
    if args.auth:
        smtp_options.update(
            authenticator=authenticator_for(args.auth),
            auth_required=True,
            # aiosmtpd counts only STARTTLS as TLS; an implicit-TLS session is encrypted already
            auth_require_tls=args.tls == "starttls",
        )
    excluded = [] if args.xoauth2_tokens else ["XOAUTH2"]
    if args.auth_only:
        excluded += [m for m in ("PLAIN", "LOGIN", "XOAUTH2") if m != args.auth_only]
    smtp_options["auth_exclude_mechanism"] = excluded
    if args.tls == "starttls":
        smtp_options.update(tls_context=context, require_starttls=True)

    # aiosmtpd's SMTP protocol on our own loop: its Controller cannot probe
    # an implicit-TLS listener on every version, and we need nothing else of it.
    handler = SpoolHandler(args.spool, args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    open_connections = [0]

    def counted(cls):
        class Counted(cls):
            def connection_made(self, transport):
                open_connections[0] += 1
                super().connection_made(transport)

            def connection_lost(self, exc):
                open_connections[0] -= 1
                super().connection_lost(exc)

        return Counted

    def protocol():
        if args.greet_421 and handler.misbehaving():
            return Refuse421()
        if args.max_connections and open_connections[0] >= args.max_connections:
            # a provider's cap on connections from one client
            return Refuse421()
        return counted(ChunkingSMTP if args.chunking else SMTP)(handler, **smtp_options)

    server = loop.run_until_complete(
        loop.create_server(
            protocol,
            host=args.host,
            port=port,
            ssl=context if args.tls == "implicit" else None,
        )
    )
    print("READY %d" % port, flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
