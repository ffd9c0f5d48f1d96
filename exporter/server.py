"""The exporter's HTTP server: servicekit's hypercorn server, sized for a few scrapers.

Idle connections live in the event loop and are closed after a few seconds, so no number of
them can keep a scrape waiting (docs/operations.md, "The HTTP server").
"""

from __future__ import annotations

import ssl

from servicekit.httpserver import HttpServer, ServerSettings

# Scrapes that wait together share one collection (exporter.scrape): a thread each, so that a
# burst of scrapes all join the collection in flight instead of queueing behind it.
THREADS = 32
# The exporter's pages take no body; a request with one is answered 400 past this size.
MAX_BODY_BYTES = 16 * 1024


def bind(host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> HttpServer:
    """Bind now (so errors surface at start-up) and return the server; serve_forever(app)."""
    return HttpServer(
        ServerSettings(
            host=host,
            port=port,
            ssl_context=ssl_context,
            threads=THREADS,
            max_body_bytes=MAX_BODY_BYTES,
            name="cfha.exporter",
        ),
    )
