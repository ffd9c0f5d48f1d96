"""The status page at `/` and the same as JSON at `/api/status`.

Both render the last scrape (the one Prometheus triggered) and collect anew only when it is
older than STALE_AFTER_SECONDS; the scraper is single-flight, so page views never add load on
the cluster beyond one scrape at a time.
"""

from __future__ import annotations

import time

from exporter.scrape import Scrape, Scraper

from .status_model import status_document
from .templating import Templates
from .wsgi import Environ, Response, html_response, json_response

STALE_AFTER_SECONDS = 15.0
REFRESH_SECONDS = 15
NO_STORE = (("Cache-Control", "no-store"),)


class StatusPages:
    def __init__(self, scraper: Scraper, templates: Templates) -> None:
        self._scraper = scraper
        self._templates = templates

    def index(self, _environ: Environ) -> Response:
        document = status_document(self._scrape(), time.time())
        html = self._templates.render("status.html", s=document, refresh=REFRESH_SECONDS)
        return html_response(html, NO_STORE)

    def api_status(self, _environ: Environ) -> Response:
        return json_response(status_document(self._scrape(), time.time()), NO_STORE)

    def _scrape(self) -> Scrape:
        last = self._scraper.last()
        if last is None or time.time() - last.started_at > STALE_AFTER_SECONDS:
            return self._scraper.scrape()
        return last
