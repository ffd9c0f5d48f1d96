"""An exporter's web app over real HTTP on loopback, for the status-page tests (Chromium needs a
URL): the app of a scraper the test built, served on a thread, stopped and closed at the end."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from exporter.registry import metrics_registry
from exporter.scrape import Scraper
from exporter.server import bind
from exporter.web.app import create_app
from exporter.web.wsgi import WSGIApp
from lab.loopback import free_port


@contextlib.contextmanager
def serving(scraper: Scraper) -> Iterator[tuple[WSGIApp, str]]:
    """(the app, its base URL with a trailing slash); the scraper is closed afterwards."""
    app = create_app(scraper, metrics_registry(scraper))
    port = free_port()
    server = bind("127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, args=(app,), daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        scraper.close()
