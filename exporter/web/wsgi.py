"""Plain WSGI for the exporter's few pages: typed responses and a route table, no framework.

The exporter used Flask for four fixed URLs; Flask and Werkzeug cost about 7 MiB of resident
memory for that. The answers stay as Flask gave them: JSON compact with sorted keys and a final
newline, HEAD as GET without the body, OPTIONS with `Allow`, and the same 404/405/500 pages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Headers = tuple[tuple[str, str], ...]

ROUTE_METHODS = ("GET", "HEAD", "OPTIONS")
ALLOW = ", ".join(ROUTE_METHODS)


@dataclass(frozen=True)
class Response:
    status: HTTPStatus
    body: bytes
    content_type: str | None
    headers: Headers = ()

    def send(self, start_response: StartResponse, *, head: bool = False) -> list[bytes]:
        """Start the response; HEAD keeps the headers (Content-Length included), drops the body."""
        headers = [] if self.content_type is None else [("Content-Type", self.content_type)]
        headers += [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status.value} {self.status.phrase}", headers)
        return [] if head else [self.body]


Handler = Callable[[Environ], Response]


def json_response(value: Any, headers: Headers = ()) -> Response:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return Response(HTTPStatus.OK, f"{text}\n".encode(), "application/json", headers)


def html_response(text: str, headers: Headers = ()) -> Response:
    return Response(HTTPStatus.OK, text.encode(), "text/html; charset=utf-8", headers)


ERROR_TEXT = {
    HTTPStatus.NOT_FOUND: "The requested URL was not found on the server. If you entered the URL "
    "manually please check your spelling and try again.",
    HTTPStatus.METHOD_NOT_ALLOWED: "The method is not allowed for the requested URL.",
    HTTPStatus.INTERNAL_SERVER_ERROR: "The server encountered an internal error and was unable "
    "to complete your request. Either the server is overloaded or there is an error in the "
    "application.",
}


def error_response(status: HTTPStatus, headers: Headers = ()) -> Response:
    """The short HTML error page Flask answered with, word for word."""
    page = (
        f"<!doctype html>\n<html lang=en>\n<title>{status.value} {status.phrase}</title>\n"
        f"<h1>{status.phrase}</h1>\n<p>{ERROR_TEXT[status]}</p>\n"
    )
    return Response(status, page.encode(), "text/html; charset=utf-8", headers)


class Router:
    """Exact paths to handlers (GET and HEAD, OPTIONS answered here), and mounted WSGI apps.

    A mount takes its path and everything below it, with SCRIPT_NAME and PATH_INFO shifted as
    Werkzeug's DispatcherMiddleware did; it answers every method itself.
    """

    def __init__(self, routes: Mapping[str, Handler], mounts: Mapping[str, WSGIApp]) -> None:
        self._routes = dict(routes)
        self._mounts = dict(mounts)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app in self._mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                script_name = environ.get("SCRIPT_NAME", "") + prefix
                mounted = dict(environ, SCRIPT_NAME=script_name, PATH_INFO=path[len(prefix) :])
                return app(mounted, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        return self._answer(path, method, environ).send(start_response, head=method == "HEAD")

    def _answer(self, path: str, method: str, environ: Environ) -> Response:
        handler = self._routes.get(path)
        if handler is None:
            return error_response(HTTPStatus.NOT_FOUND)
        if method == "OPTIONS":
            return Response(HTTPStatus.OK, b"", None, (("Allow", ALLOW),))
        if method not in ROUTE_METHODS:
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, (("Allow", ALLOW),))
        try:
            return handler(environ)
        except Exception:
            # A bug in a page must not take the exporter down: log it, answer 500, serve on.
            log.exception("Exception on %s [%s]", path, method)
            return error_response(HTTPStatus.INTERNAL_SERVER_ERROR)
