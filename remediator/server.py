"""The remediator's HTTP server: servicekit's hypercorn server, in this one process.

One process: one journal writer, one job worker, coherent state. Requests run in a few threads;
idle, slow or silent connections (and TLS handshakes) live in the event loop, so none of them
can keep /webhook or /healthz waiting (docs/operations.md, "The HTTP server"). TLS can require
client certificates (`web.tls.client_ca_file`). Listening beyond loopback without TLS is allowed
but warned about loudly: the bearer token would cross the network in clear.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Callable

from flask import Flask

from remediator.app import close_app
from remediator.config import ConfigError, RemediatorConfig, TlsConfig, parse_listen_address
from servicekit.httpserver import HttpServer, ServerSettings

log = logging.getLogger(__name__)
# Bodies are read by the event loop before the app sees them; Flask answers 413 above
# web.max_body_bytes, this cap (answered 400) only bounds what is read to find that out.
BODY_SLACK_BYTES = 64 * 1024


def build_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """Raises ConfigError when a certificate, key or CA cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile)
        if tls.client_ca_file is not None:
            context.load_verify_locations(cafile=tls.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("web.tls", [f"cannot use the certificate, key or CA: {exc}"]) from exc
    return context


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(config: RemediatorConfig, listen: str | None = None) -> HttpServer:
    """Check TLS and bind now, so that a bad certificate or a taken port fails at start-up."""
    host, port = parse_listen_address(listen or config.web.listen_address)
    tls = config.web.tls
    context = build_ssl_context(tls) if tls is not None else None
    if context is None and not is_loopback(host):
        log.warning(
            "!!! LISTENING ON %s:%d WITHOUT TLS: the bearer token and every payload cross the "
            "network in clear; configure web.tls (and bind to the management address) !!!",
            host,
            port,
        )
    settings = ServerSettings(
        host=host,
        port=port,
        ssl_context=context,
        threads=config.web.threads,
        max_body_bytes=config.web.max_body_bytes + BODY_SLACK_BYTES,
        name="cfha.remediator",
    )
    return HttpServer(settings)


def serve(server: HttpServer, app_factory: Callable[[], Flask]) -> None:
    """Build the app (which starts the job worker), serve until SIGTERM, then stop the worker:
    the job in progress, if any, stops at its next step boundary."""
    app = app_factory()
    try:
        server.serve_forever(app)
    finally:
        log.info("stopping: the job in progress, if any, stops at its next step boundary")
        close_app(app)
