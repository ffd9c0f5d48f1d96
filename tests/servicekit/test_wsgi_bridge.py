"""servicekit.wsgi_bridge on the real server: a WSGI answer reaches the client whole and once."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from lab.polling import poll
from servicekit.httpserver import HttpServer, ServerSettings

Closed = list[str]


class Chunks:
    """A WSGI body in three chunks that records being closed (WSGI requires close())."""

    def __init__(self, closed: Closed) -> None:
        self.closed = closed

    def __iter__(self) -> Iterator[bytes]:
        yield from (b"one ", b"two ", b"three")

    def close(self) -> None:
        self.closed.append("closed")


def make_app(closed: Closed) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/raises":
            raise RuntimeError("a bug in the app")
        if path == "/never-started":
            return [b"no status"]
        if path == "/echo":
            body = environ["wsgi.input"].read()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]
        start_response("201 Created", [("X-Answer", "whole")])
        return Chunks(closed)

    return app


@pytest.fixture
def server() -> Iterator[tuple[int, Closed]]:
    closed: Closed = []
    http = HttpServer(ServerSettings("127.0.0.1", 0, threads=2, max_body_bytes=1024))
    thread = threading.Thread(target=http.serve_forever, args=(make_app(closed),), daemon=True)
    thread.start()
    try:
        # bound at construction, listening once serve_forever runs
        poll(lambda: request(http.port, "/echo", b""), timeout=10, what="the server")
        yield http.port, closed
    finally:
        http.shutdown()
        thread.join(timeout=10)


def request(port: int, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST" if body is not None else "GET", path, body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_chunks_arrive_joined_and_the_body_is_closed(server: tuple[int, Closed]) -> None:
    port, closed = server
    status, headers, body = request(port, "/chunks")
    assert (status, headers["x-answer"], body) == (201, "whole", b"one two three")
    assert closed == ["closed"]


def test_the_request_body_is_read_whole_and_bounded(server: tuple[int, Closed]) -> None:
    port, _ = server
    assert request(port, "/echo", b"x" * 1024)[::2] == (200, b"x" * 1024)
    assert request(port, "/echo", b"x" * 1025)[0] == 400


@pytest.mark.parametrize("path", ["/raises", "/never-started"])
def test_a_broken_app_is_a_500_and_the_server_goes_on(
    server: tuple[int, Closed], path: str
) -> None:
    port, _ = server
    assert request(port, path)[0] == 500
    assert request(port, "/chunks")[0] == 201
