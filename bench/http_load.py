#!/usr/bin/python3
"""Page hits through a web server: REQUESTS GET requests for PATH?n=<i> (PATH may carry a query of its own) to
127.0.0.1:PORT, CONCURRENCY at a time (one letter per request, a new
connection each, as visitors come), and prints requests per second; with
--latency, the 99th percentile and the longest request time in milliseconds
after it. --rate R starts at most R requests a second, so a load lasts a
known time. A response that is not 200 or does not end in "ok" stops it.

  http_load.py <port> <path> <requests> <concurrency> [--latency] [--rate R]"""

import http.client
import sys
import threading
import time


def request(port, path, number):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "%s%sn=%d" % (path, "&" if "?" in path else "?", number))
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or not body.rstrip().endswith(b"ok"):
        raise SystemExit("request %d: %d %r" % (number, response.status, body[-300:]))


def main():
    port, path, total, concurrency = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    options = sys.argv[5:]
    rate = float(options[options.index("--rate") + 1]) if "--rate" in options else 0.0
    counter = iter(range(total))
    lock = threading.Lock()
    times = []
    failed = []
    started = time.monotonic()

    def worker():
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            if rate:
                time.sleep(max(0.0, started + number / rate - time.monotonic()))
            begun = time.monotonic()
            try:
                request(port, path, number)
            except BaseException as problem:  # SystemExit included: reported once all threads ended
                failed.append(str(problem))
                return
            with lock:
                times.append(time.monotonic() - begun)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise SystemExit(failed[0])
    per_second = total / (time.monotonic() - started)
    if "--latency" in options:
        times.sort()
        p99 = times[int(len(times) * 0.99) - 1] if len(times) >= 100 else times[-1]
        print("%.1f %.1f %.1f" % (per_second, p99 * 1000, times[-1] * 1000))
    else:
        print("%.1f" % per_second)


if __name__ == "__main__":
    main()
