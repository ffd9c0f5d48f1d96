"""bench/loadgen.py against a tiny HTTP server on 127.0.0.1, and the percentiles that
bench/webhook_load.py reports from its runs.

The server runs in the generator's own event loop (the open loop's coroutine is awaited beside
it), so that a test can stall that loop as a busy CPU or a GC pause would stall the generator.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable

from bench import loadgen, webhook_load
from bench.loadgen import Reply, Request, Run
from lab.loopback import free_port

Handler = Callable[[bytes], Awaitable[None]]
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    """An HTTP/1.1 server on a free loopback port: reads one request, awaits `handler` with it,
    answers 200 "ok" and closes."""

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"Content-Length: (\d+)", head)
            body = await reader.readexactly(int(length[1])) if length else b""
            await handler(head + body)
            writer.write(REPLY)
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(one, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def get(_i: int) -> Request:
    return Request("GET", "/healthz")


def test_open_loop_keeps_its_schedule_and_shows_the_queue_of_a_slow_server() -> None:
    """A server that answers one request at a time, each in 40 ms, offered 50 requests/s: the
    generator must not wait for replies before sending (requests pile up at the server), and
    the waiting shows in the latencies (a closed loop would see 40 ms each: coordinated
    omission)."""
    service, rate, count = 0.040, 50.0, 10
    one_at_a_time = asyncio.Lock()
    waiting = 0
    most_waiting = 0

    async def slow(_request: bytes) -> None:
        nonlocal waiting, most_waiting
        waiting += 1
        most_waiting = max(most_waiting, waiting)
        async with one_at_a_time:
            await asyncio.sleep(service)
        waiting -= 1

    async def scenario() -> Run:
        server, port = await serve(slow)
        async with server:
            return await loadgen._open_loop("127.0.0.1", port, get, rate=rate, count=count,
                                            timeout=10)  # fmt: skip

    run = asyncio.run(scenario())
    assert run.errors == []
    assert run.statuses() == {200: count}
    assert all(reply.body == b"ok" for reply in run.replies)
    assert most_waiting >= 3  # sent on schedule, not after the previous reply
    # the last reply came after all 10 services, at least 0.4 s after the first send; it was
    # scheduled at most 0.18 s after it
    assert max(run.latencies) >= count * service - (count - 1) / rate
    assert min(run.latencies) >= service


def test_open_loop_latency_counts_from_the_scheduled_send_time() -> None:
    """The generator's loop stalls for 0.3 s (here: the server's first request blocks it). The
    requests scheduled during the stall go out late; their latency must include how late."""
    stall = 0.3
    stalled = False

    async def first_stalls(_request: bytes) -> None:
        nonlocal stalled
        if not stalled:
            stalled = True
            time.sleep(stall)  # blocks the whole event loop, the generator's too

    async def scenario() -> Run:
        server, port = await serve(first_stalls)
        async with server:
            return await loadgen._open_loop("127.0.0.1", port, get, rate=100.0, count=20,
                                            timeout=10)  # fmt: skip

    run = asyncio.run(scenario())
    assert run.errors == []
    assert len(run.replies) == 20
    late = [reply for reply in run.replies if reply.send_lag >= 0.1]
    assert late, "the stall delayed no send: the test proves nothing"
    for reply in run.replies:
        assert reply.latency >= reply.send_lag
    assert max(run.latencies) >= stall  # the first request's own, which caused it


def test_closed_loop_stops_at_its_limit() -> None:
    seen: list[bytes] = []

    async def record(request: bytes) -> None:
        seen.append(request)

    async def scenario() -> Run:
        server, port = await serve(record)
        async with server:
            body = b'{"alerts": []}'
            return await loadgen._closed_loop(
                "127.0.0.1", port, lambda i: Request("POST", f"/webhook?{i}", body),
                senders=3, seconds=30, limit=7, timeout=10,
            )  # fmt: skip

    run = asyncio.run(scenario())
    assert run.statuses() == {200: 7}
    assert sorted(int(r.split(b" ")[1].partition(b"?")[2]) for r in seen) == list(range(7))
    assert all(r.endswith(b"\r\n\r\n" + b'{"alerts": []}') for r in seen)
    assert all(reply.latency > 0 for reply in run.replies)


def test_refused_connections_are_errors_not_exceptions() -> None:
    port = free_port()  # nothing listens there any more
    run = loadgen.open_loop("127.0.0.1", port, get, rate=200.0, count=3, timeout=5)
    assert run.replies == []
    assert len(run.errors) == 3
    assert all(error.startswith("ConnectionRefusedError") for error in run.errors)
    closed = loadgen.closed_loop("127.0.0.1", port, get, senders=2, seconds=30, limit=4)
    assert len(closed.errors) == 4


def test_request_encoding() -> None:
    request = Request("POST", "/webhook", b'{"a": 1}', (("Authorization", "Bearer t"),))
    assert request.encode("127.0.0.1", 8080) == (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n"
        b"Content-Length: 8\r\nContent-Type: application/json\r\nAuthorization: Bearer t\r\n"
        b'\r\n{"a": 1}'
    )
    assert Request("GET", "/healthz").encode("h", 1).endswith(b"Content-Length: 0\r\n\r\n")


def test_webhook_stats_percentiles() -> None:
    """webhook_load's statistics of a run: nearest-rank percentiles of the latencies."""
    latencies = [ms / 1000 for ms in range(100, 0, -1)]  # 1..100 ms, in no helpful order
    replies = [Reply(202, b"{}", latency, send_lag=0.001 * (i % 3)) for i, latency in
               enumerate(latencies)]  # fmt: skip
    stats = webhook_load.stats(Run(replies=replies, errors=["OSError: x"], seconds=2.0))
    assert (stats["p50_seconds"], stats["p90_seconds"], stats["p99_seconds"]) == (
        0.050, 0.090, 0.099)  # fmt: skip
    assert stats["max_seconds"] == 0.100
    assert stats["max_send_lag_seconds"] == 0.002
    assert stats["requests_per_second"] == 50.0
    assert (stats["requests"], stats["errors"], stats["statuses"]) == (100, 1, {202: 100})


def test_webhook_p99_goal_allows_one_slow_reply_in_a_hundred() -> None:
    """99 replies within 5 ms and one of 30 ms: the p99 is 5 ms (the goal, p99 <= 20 ms, met)."""
    replies = [Reply(202, b"{}", 0.005)] * 99 + [Reply(202, b"{}", 0.030)]
    assert webhook_load.stats(Run(replies=replies, seconds=1.0))["p99_seconds"] == 0.005


def test_webhook_stats_of_a_run_without_replies() -> None:
    stats = webhook_load.stats(Run(errors=["ConnectionRefusedError: x"], seconds=1.0))
    assert math.isnan(stats["p99_seconds"])
    assert math.isnan(stats["max_seconds"])
    assert (stats["requests"], stats["errors"], stats["requests_per_second"]) == (0, 1, 0.0)
