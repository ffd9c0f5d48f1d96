"""The exporter's web app: the status pages and /healthz, prometheus_client's WSGI app at /metrics.

Plain WSGI (see wsgi.py): the exporter imports no web framework.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter.scrape import Scraper

from .health import healthz
from .metrics_page import MetricsPage
from .pages import StatusPages
from .templating import Templates
from .wsgi import Router, WSGIApp


def create_app(scraper: Scraper, registry: CollectorRegistry) -> WSGIApp:
    pages = StatusPages(scraper, Templates())
    return Router(
        routes={
            "/": pages.index,
            "/api/status": pages.api_status,
            "/healthz": healthz,
            # prometheus_client brings gzip, OpenMetrics negotiation and `name[]` filtering.
            "/metrics": MetricsPage(registry),
        },
        mounts={},
    )
