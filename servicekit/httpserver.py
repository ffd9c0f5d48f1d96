"""HTTP serving for both services: hypercorn's asyncio server running a WSGI app in a thread pool.

Why this server (figures in docs/operations.md, "The HTTP server"): connections live in the event
loop, not in threads, so an idle or slow client costs a file descriptor and a few KiB, never a
worker; TLS handshakes run in the loop under a deadline; a connection that sends no complete
request within IDLE_TIMEOUT of being accepted (or of its last answer) is closed; the listen backlog
is real. Threads only ever see complete requests, read in full by the loop (up to max_body_bytes).

The app's answer goes from its thread to the loop once, whole (`servicekit.wsgi_bridge`), not in a
blocking round trip per chunk as hypercorn's own WSGI wrapper does.

Stopping: SIGTERM or SIGINT (or `shutdown()` from another thread) closes the listener, calls
`on_stop` at once (so a service can abort what its in-flight requests wait for), and lets those
requests finish for at most GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets

from servicekit.wsgi_bridge import WholeResponseWSGI

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

BACKLOG = 1024  # the kernel caps it at net.core.somaxconn (4096 on current kernels)
IDLE_TIMEOUT_SECONDS = 5.0  # from accept, and between requests on a kept-alive connection
READ_TIMEOUT_SECONDS = 10  # no byte for this long in the middle of a request: closed
HANDSHAKE_TIMEOUT_SECONDS = 5.0
GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    threads: int = 16  # requests served at once; more wait in the loop, costing no thread
    max_body_bytes: int = 64 * 1024  # larger bodies are answered 400 before the app sees them
    name: str = "http"

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class _Config(Config):
    """hypercorn's settings, with a TLS context the caller built (and validated) itself."""

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        self._ssl_context = ssl_context

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    @property
    def ssl_enabled(self) -> bool:
        return self._ssl_context is not None


class HttpServer:
    """Binds at construction (so a taken port fails at start-up); `serve_forever(app)` serves."""

    def __init__(self, settings: ServerSettings) -> None:
        self._settings = settings
        context = settings.ssl_context
        if context is not None:
            context.set_alpn_protocols(["http/1.1"])
        config = _Config(context)
        config.bind = [settings.bind]
        config.backlog = BACKLOG
        config.keep_alive_timeout = IDLE_TIMEOUT_SECONDS
        config.read_timeout = READ_TIMEOUT_SECONDS
        config.ssl_handshake_timeout = HANDSHAKE_TIMEOUT_SECONDS
        config.graceful_timeout = GRACE_SECONDS
        config.wsgi_max_body_size = settings.max_body_bytes
        config.include_server_header = False
        config.accesslog = None
        config.errorlog = logging.getLogger(f"{settings.name}.server")
        self._config = config
        self._sockets: Sockets | None = config.create_sockets()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._serving: threading.Thread | None = None
        self._done = threading.Event()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._sockets is not None
        sockets = self._sockets.secure_sockets or self._sockets.insecure_sockets
        return int(sockets[0].getsockname()[1])

    def serve_forever(self, app: WSGIApp, on_stop: Callable[[], None] | None = None) -> None:
        """Serve `app` until a signal (in the main thread) or `shutdown()`; then call `on_stop`."""
        if self._sockets is None:
            raise RuntimeError("this server was closed")
        self._serving = threading.current_thread()
        loop = asyncio.new_event_loop()
        executor = ThreadPoolExecutor(self._settings.threads, thread_name_prefix="http")
        loop.set_default_executor(executor)
        stop = asyncio.Event()
        self._loop, self._stop = loop, stop
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._signalled, signum)

        async def stopped() -> None:
            if self._stop_requested.is_set():
                stop.set()
            await stop.wait()
            if on_stop is not None:
                on_stop()  # before the grace period: it may unblock the requests still running

        try:
            loop.run_until_complete(
                worker_serve(
                    WholeResponseWSGI(app, self._settings.max_body_bytes),
                    self._config,
                    sockets=self._sockets,
                    shutdown_trigger=stopped,
                )
            )
        finally:
            # Requests still running past the grace period are not waited for.
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()
            self._loop, self._serving = None, None
            self.server_close()
            self._done.set()

    def shutdown(self) -> None:
        """Stop serving and wait until serve_forever() returned (from another thread), as
        socketserver's shutdown() does; callable before serve_forever() runs too."""
        self._stop_requested.set()
        loop, stop, serving = self._loop, self._stop, self._serving
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        if serving is not None and serving is not threading.current_thread():
            self._done.wait(timeout=GRACE_SECONDS + 5.0)

    def server_close(self) -> None:
        """Release the listening socket (serve_forever() does it when it returns)."""
        if self._sockets is not None and self._serving is None:
            for sock in self._sockets.secure_sockets + self._sockets.insecure_sockets:
                sock.close()
            self._sockets = None

    def _signalled(self, signum: int) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        assert self._stop is not None
        self._stop.set()
