"""A small HTTP/1.1 load generator on asyncio: open loop (a fixed offered rate, every request sent
on schedule whatever the replies) and closed loop (N senders, each sending as soon as its last
reply came back). Loopback only; each request opens its own connection (`Connection: close`).

Open-loop latency is measured from the request's *scheduled* send time to the last byte of the
reply, so a server that falls behind shows it in the latency (no coordinated omission); how late
the generator itself sent is recorded too (`send_lag`), to show that it kept its schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}",
                 "Connection: close", f"Content-Length: {len(self.body)}"]  # fmt: skip
        if self.body:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Reply:
    status: int
    body: bytes
    latency: float
    send_lag: float = 0.0


@dataclass
class Run:
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def latencies(self) -> list[float]:
        return [r.latency for r in self.replies]

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for reply in self.replies:
            counts[reply.status] = counts.get(reply.status, 0) + 1
        return counts


async def exchange(host: str, port: int, raw: bytes, timeout: float) -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)  # until the server closes
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


async def _open_loop(
    host: str, port: int, make: Callable[[int], Request], *, rate: float, count: int,
    timeout: float,
) -> Run:  # fmt: skip
    run = Run()
    loop = asyncio.get_running_loop()
    requests = [make(i).encode(host, port) for i in range(count)]  # built before the clock runs
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        raw = requests[i]
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        sent = loop.time()
        try:
            status, body = await exchange(host, port, raw, timeout)
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            run.errors.append(f"{type(exc).__name__}: {exc}")
            return
        done = loop.time()
        run.replies.append(Reply(status, body, done - scheduled, sent - scheduled))

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    run.seconds = time.perf_counter() - began
    return run


async def _closed_loop(
    host: str, port: int, make: Callable[[int], Request], *, senders: int, seconds: float,
    limit: int | None, timeout: float,
) -> Run:  # fmt: skip
    run = Run()
    counter = iter(range(limit if limit is not None else 10**9))
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        while time.perf_counter() < deadline:
            i = next(counter, None)
            if i is None:
                return
            raw = make(i).encode(host, port)
            began = time.perf_counter()
            try:
                status, body = await exchange(host, port, raw, timeout)
            except (OSError, TimeoutError, ValueError, IndexError) as exc:
                run.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            run.replies.append(Reply(status, body, time.perf_counter() - began))

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    run.seconds = time.perf_counter() - began
    return run


def open_loop(
    host: str, port: int, make: Callable[[int], Request], *, rate: float, count: int,
    timeout: float = 10.0,
) -> Run:  # fmt: skip
    """Send `count` requests at `rate` per second, on schedule."""
    return asyncio.run(_open_loop(host, port, make, rate=rate, count=count, timeout=timeout))


def closed_loop(
    host: str, port: int, make: Callable[[int], Request], *, senders: int, seconds: float,
    limit: int | None = None, timeout: float = 10.0,
) -> Run:  # fmt: skip
    """`senders` concurrent senders, back to back, for `seconds` or `limit` requests in all."""
    return asyncio.run(
        _closed_loop(host, port, make, senders=senders, seconds=seconds, limit=limit,
                     timeout=timeout)
    )  # fmt: skip
