"""A small threaded WSGI server: the exporter's only process, with a clean shutdown."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exporter.web.wsgi import WSGIApp

log = logging.getLogger(__name__)
TLS_TIMEOUT_SECONDS = 30.0


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never blocks shutdown
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # failed handshakes, timeouts, clients that hang up
            log.debug("connection from %s dropped: %s", client_address[0], error)
            return
        super().handle_error(request, client_address)


class _IPv6ThreadingWSGIServer(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _TLSHandler(_QuietHandler):
    """Runs the TLS handshake in the request's own thread, with a deadline.

    Wrapping the listening socket the default way would do every handshake inside accept(),
    on the one thread that serves the loop: a client that connects and stays silent would stop
    every scrape.
    """

    timeout = TLS_TIMEOUT_SECONDS

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()


def serve(
    app: WSGIApp, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> WSGIServer:
    """Bind now (so errors surface at start-up) and return the server; call serve_forever()."""
    server_class = _IPv6ThreadingWSGIServer if ":" in host else _ThreadingWSGIServer
    handler_class = _QuietHandler if ssl_context is None else _TLSHandler
    server = make_server(host, port, app, server_class=server_class, handler_class=handler_class)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    return server
