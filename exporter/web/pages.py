"""The landing page at `/`: what this exporter is, its collectors' state, links."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from exporter import __version__

from .context import scraper_of

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    scraper = scraper_of(current_app)
    scrape = scraper.last() or scraper.scrape()
    return render_template(
        "landing.html",
        version=__version__,
        scrape=scrape,
        results=sorted(scrape.results.values(), key=lambda r: r.name),
    )
