#!/usr/bin/python3
"""A TCP proxy on 127.0.0.1 that holds back every chunk the server sends for
DELAY milliseconds: replies arrive as from a provider a round trip away.
Chunks in flight overlap (a reply sent in three writes arrives 20 ms after
each was sent, not 60 ms after the first).

  delay_proxy.py <listen-port> <server-port> <delay-ms>

Prints "READY <port>" once it listens (a listen port of 0 takes a free
one); runs until killed."""

import asyncio
import sys


async def pipe(reader, writer, delay):
    """Copies reader to writer, each chunk delivered `delay` after it
    arrived: chunks in flight overlap, as on a real link, rather than each
    waiting out the one before it."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        try:
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    delivering = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await queue.put((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    finally:
        await queue.put((0, None))
        await delivering


async def main(listen, upstream, delay):
    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(pipe(client_reader, server_writer, 0), pipe(server_reader, client_writer, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000))
