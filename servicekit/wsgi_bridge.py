"""How a WSGI app's answer reaches hypercorn's event loop: once, whole.

hypercorn's own WSGI wrapper hands the response to the loop chunk by chunk, each hand-over a
blocking round trip between the request thread and the loop thread (start, every body chunk):
two or more GIL hand-overs per request, measured as about 1 ms of CPU each on a 2-core hub. Both
services answer small, complete bodies (a metrics page, a JSON document), so the request thread
builds the whole answer and the loop sends it in one go. The request itself is read exactly as
hypercorn reads it (the body in full, up to `max_body_size`, before the app runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hypercorn.app_wrappers import InvalidPathError, WSGIWrapper, _build_environ
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope

Headers = list[tuple[bytes, bytes]]


class WholeResponseWSGI(WSGIWrapper):
    async def handle_http(
        self,
        scope: HTTPScope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        sync_spawn: Callable[..., Any],
        call_soon: Callable[..., Any],
    ) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))  # type: ignore[arg-type]
            if len(body) > self.max_body_size:
                await _answer(send, 400, [], b"")
                return
            if not message.get("more_body"):
                break
        try:
            environ = _build_environ(scope, bytes(body))
        except InvalidPathError:
            await _answer(send, 404, [], b"")
            return
        status, headers, content = await sync_spawn(self._respond, environ)
        await _answer(send, status, headers, content)

    def _respond(self, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
        """Run the app in a request thread; its status, headers and whole body."""
        started: list[tuple[int, Headers]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], None]:
            code = int(status.split(" ", 1)[0])
            encoded = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
            started[:] = [(code, encoded)]
            return _no_write

        chunks: Iterable[bytes] = self.app(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if not started:
            raise RuntimeError("the WSGI app did not call start_response")
        code, headers = started[0]
        return code, headers, content


def _no_write(data: bytes) -> None:
    raise RuntimeError("the write() callable of WSGI is not supported: return the body")


async def _answer(send: ASGISendCallable, status: int, headers: Headers, content: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
