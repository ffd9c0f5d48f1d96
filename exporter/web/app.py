"""Flask app factory: blueprints for the pages, prometheus_client's WSGI app at /metrics."""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from exporter.scrape import Scraper

from . import health, pages
from .context import SCRAPER_KEY


def create_app(scraper: Scraper, registry: CollectorRegistry) -> Flask:
    app = Flask(__name__)
    app.extensions[SCRAPER_KEY] = scraper
    app.register_blueprint(pages.bp)
    app.register_blueprint(health.bp)
    # prometheus_client brings gzip, OpenMetrics negotiation and `name[]` filtering.
    metrics_app = make_wsgi_app(registry)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_app})  # type: ignore[method-assign]
    return app
