"""GET /metrics: prometheus_client's exposition (text or OpenMetrics, gzip, `name[]`), as a route.

Served through the Router like every other page, so that it answers as they do: exactly
`/metrics` (below it is 404), HEAD with GET's headers and no body, OPTIONS with `Allow`, other
methods 405. An Accept header prometheus_client cannot parse (it raises on
`application/openmetrics-text; version=garbage`) gets the text format, never a 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import choose_encoder

from .wsgi import Environ, Response

log = logging.getLogger(__name__)


class MetricsPage:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._app = make_wsgi_app(registry)

    def __call__(self, environ: Environ) -> Response:
        environ = dict(environ, REQUEST_METHOD="GET")  # HEAD: the Router drops the body
        accept = environ.get("HTTP_ACCEPT")
        if accept is not None and not _acceptable(accept):
            log.debug("unparseable Accept header %r: serving the text format", accept)
            del environ["HTTP_ACCEPT"]
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started.update(status=int(status.split(" ", 1)[0]), headers=tuple(headers))

        body = b"".join(self._app(environ, start_response))
        return Response(HTTPStatus(started["status"]), body, None, started["headers"])


def _acceptable(accept: str) -> bool:
    try:
        choose_encoder(accept)
    except Exception:  # any error of prometheus_client's parser means "cannot use this header"
        return False
    return True
