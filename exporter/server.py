"""A small threaded WSGI server: the exporter's only process, with a clean shutdown."""

from __future__ import annotations

import logging
import socket
import ssl
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger(__name__)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never blocks shutdown
    allow_reuse_address = True


class _IPv6ThreadingWSGIServer(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def serve(app: Any, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> WSGIServer:
    """Bind now (so errors surface at start-up) and return the server; call serve_forever()."""
    server_class = _IPv6ThreadingWSGIServer if ":" in host else _ThreadingWSGIServer
    server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    return server
