#!/usr/bin/python3
"""Sends REQUESTS FastCGI requests for SCRIPT to php-fpm at 127.0.0.1:PORT,
CONCURRENCY at a time (one request per letter, as page hits send), and
prints requests per second; with --latency, the 99th percentile and the
longest request time in milliseconds after it. A response that does not end
in "ok" stops it.

  fcgi_load.py <port> <script> <requests> <concurrency> [--latency]"""

import socket
import struct
import sys
import threading
import time


def record(kind, request_id, content=b""):
    return struct.pack("!BBHHBx", 1, kind, request_id, len(content), 0) + content


def pair(name, value):
    name, value = name.encode(), value.encode()
    return bytes([len(name)]) + bytes([len(value)]) + name + value if len(value) < 128 else (
        bytes([len(name)]) + struct.pack("!I", len(value) | 0x80000000) + name + value)


def request(port, script, number):
    params = b"".join(pair(k, v) for k, v in {
        "SCRIPT_FILENAME": script, "REQUEST_METHOD": "GET", "QUERY_STRING": "n=%d" % number,
        "SCRIPT_NAME": "/letter.php", "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1",
    }.items())
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(record(1, 1, struct.pack("!HB5x", 1, 0)) + record(4, 1, params) + record(4, 1) + record(5, 1))
        out = b""
        while True:
            header = conn.recv(8, socket.MSG_WAITALL)
            if len(header) < 8:
                break
            _, kind, _, length, padding = struct.unpack("!BBHHBx", header)
            body = conn.recv(length + padding, socket.MSG_WAITALL)[:length] if length + padding else b""
            if kind == 6:
                out += body
            if kind == 3:
                break
    if not out.rstrip().endswith(b"ok"):
        raise SystemExit("request %d: %r" % (number, out[-300:]))


def main():
    port, script, total, concurrency = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    counter = iter(range(total))
    lock = threading.Lock()
    times = []

    def worker():
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            begun = time.monotonic()
            request(port, script, number)
            with lock:
                times.append(time.monotonic() - begun)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = total / (time.monotonic() - started)
    if "--latency" in sys.argv[5:]:
        times.sort()
        print("%.1f %.1f %.1f" % (rate, times[int(len(times) * 0.99) - 1] * 1000 if len(times) >= 100 else times[-1] * 1000, times[-1] * 1000))
    else:
        print("%.1f" % rate)


if __name__ == "__main__":
    main()
