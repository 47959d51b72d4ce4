#!/usr/bin/python3
"""Verifies a letter's DKIM signatures with Debian's python3-dkim (dkimpy),
an implementation independent of ours, answering DNS from a JSON file of
{"<selector>._domainkey.<domain>": "<TXT value>"} instead of the network.

  dkim_verify.py <letter file> <records.json>

Prints "pass d=<domain> s=<selector>" for each signature, or "fail ..." and
exits 1 when one does not verify (or the letter has none)."""

import json
import sys

import dkim


def main():
    message = open(sys.argv[1], "rb").read()
    records = json.load(open(sys.argv[2]))

    def dns(name, timeout=5):
        key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        value = records.get(key)
        return value.encode() if value is not None else None

    verifier = dkim.DKIM(message)
    count = message.split(b"\r\n\r\n", 1)[0].lower().count(b"\ndkim-signature:") + message.lower().startswith(b"dkim-signature:")
    if count == 0:
        print("fail: no DKIM-Signature")
        return 1
    for index in range(count):
        try:
            ok = verifier.verify(idx=index, dnsfunc=dns)
        except dkim.DKIMException as e:
            print("fail: %s" % e)
            return 1
        domain = verifier.domain.decode() if verifier.domain else "?"
        selector = verifier.selector.decode() if verifier.selector else "?"
        print("%s d=%s s=%s" % ("pass" if ok else "fail", domain, selector))
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
