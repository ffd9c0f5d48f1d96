"""Liveness: 200 while the process serves requests, whatever the observed cluster looks like."""

from __future__ import annotations

from .wsgi import Environ, Response, json_response


def healthz(_environ: Environ) -> Response:
    return json_response({"status": "ok"})
