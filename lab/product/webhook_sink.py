"""A webhook sink on 127.0.0.1: a tiny HTTP server that records every JSON POST it gets.

Alertmanager's receivers point at `sink.url("<name>")`; tests read `sink.received()` (the v4
payloads with their path and Authorization header) or wait for a condition on them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab.loopback import LOOPBACK
from lab.product.waiting import wait_until


@dataclass(frozen=True)
class Notification:
    """One POST the sink received: Alertmanager's v4 payload, where it went, and when."""

    path: str
    authorization: str
    received_at: float
    body: dict[str, Any]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        alerts = self.body.get("alerts")
        return alerts if isinstance(alerts, list) else []

    def episodes(self) -> list[tuple[str, str]]:
        """(alertname, status) of every alert in the payload (status per alert, not per group)."""
        return [(a["labels"].get("alertname", ""), a.get("status", "")) for a in self.alerts]


class WebhookSink:
    """A tiny HTTP server on 127.0.0.1 that records every JSON POST and answers 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                sink._record(
                    Notification(
                        path=self.path,
                        authorization=self.headers.get("Authorization", ""),
                        received_at=time.time(),
                        body=body if isinstance(body, dict) else {"raw": body},
                    )
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}/{path.lstrip('/')}"

    def _record(self, notification: Notification) -> None:
        with self._lock:
            self._received.append(notification)

    def received(self, path: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self._received if path is None or n.path == path]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def wait_for(
        self, check: Callable[[list[Notification]], bool], timeout: float, what: str
    ) -> list[Notification]:
        result: list[Notification] = wait_until(
            lambda: self.received() if check(self.received()) else None, timeout, what
        )
        return result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
