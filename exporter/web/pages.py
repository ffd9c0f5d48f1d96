"""The status page at `/` and the same as JSON at `/api/status`.

Both render the last scrape (the one Prometheus triggered) and collect anew only when it is
older than STALE_AFTER_SECONDS; the scraper is single-flight, so page views never add load on
the cluster beyond one scrape at a time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from exporter.scrape import Scrape

from .context import scraper_of
from .status_model import status_document

bp = Blueprint("pages", __name__)

STALE_AFTER_SECONDS = 15.0
REFRESH_SECONDS = 15


def _scrape() -> Scrape:
    scraper = scraper_of(current_app)
    last = scraper.last()
    if last is None or time.time() - last.started_at > STALE_AFTER_SECONDS:
        return scraper.scrape()
    return last


@bp.get("/")
def index() -> Response:
    document = status_document(_scrape(), time.time())
    html = render_template("status.html", s=document, refresh=REFRESH_SECONDS)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/status")
def api_status() -> Response:
    response = jsonify(status_document(_scrape(), time.time()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("ago")
def ago(seconds: float | None) -> str:
    """A duration in words, coarse enough to read at a glance: "45 s", "12 min", "3 h", "2 d"."""
    if seconds is None:
        return "unknown"
    s = int(seconds)
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{round(s / 60)} min"
    if s < 36 * 3600:
        return f"{round(s / 3600)} h"
    return f"{round(s / 86400)} d"


@bp.app_template_filter("utc")
def utc(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("size")
def size(value: Any) -> str:
    if value is None:
        return "unknown"
    number = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(number) < 1024 or unit == "GiB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return f"{number:.1f} GiB"
