"""Where the blueprints find the scraper of the app they serve."""

from __future__ import annotations

from flask import Flask

from exporter.scrape import Scraper

SCRAPER_KEY = "cfha.scraper"


def scraper_of(app: Flask) -> Scraper:
    scraper = app.extensions[SCRAPER_KEY]
    assert isinstance(scraper, Scraper)
    return scraper
