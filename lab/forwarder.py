"""`python -m lab.forwarder --listen-fd N --to HOST:PORT`: a small TCP relay.

Started inside a node's network namespace with a listening socket inherited from the host's
namespace (bound on 127.0.0.1 there). A socket keeps the namespace it was created in, so it
accepts connections from the host on 127.0.0.1 while the outgoing connections it opens are
made inside the node. Nothing is added to the host's network namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _relay(
    client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, host: str, port: int
) -> None:
    try:
        upstream_r, upstream_w = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
        )
    except (OSError, TimeoutError) as err:
        print(f"forwarder: connect {host}:{port}: {err}", file=sys.stderr, flush=True)
        client_w.close()
        return
    try:
        await asyncio.gather(_pump(client_r, upstream_w), _pump(upstream_r, client_w))
    finally:
        for w in (client_w, upstream_w):
            w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()


async def serve(listener: socket.socket, host: str, port: int) -> None:
    server = await asyncio.start_server(lambda r, w: _relay(r, w, host, port), sock=listener)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def parse_target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"target must be HOST:PORT, got {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.forwarder")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--to", required=True, help="HOST:PORT to connect to")
    args = parser.parse_args(argv)
    try:
        host, port = parse_target(args.to)
    except ValueError as err:
        parser.error(str(err))
    listener = socket.socket(fileno=args.listen_fd)
    listener.setblocking(False)
    print(f"forwarder: {listener.getsockname()} -> {host}:{port}", flush=True)
    asyncio.run(serve(listener, host, port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
