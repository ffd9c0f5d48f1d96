"""Jinja2 templates of this package, HTML autoescaped, with the status page's filters.

Jinja2 is imported on the first render, not at start-up: Prometheus only ever asks for /metrics,
and the page's 2 MiB of resident memory need not be paid until someone opens it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .filters import FILTERS

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class Templates:
    def __init__(self, folder: Path = TEMPLATES_DIR) -> None:
        self._folder = folder
        self._environment: Environment | None = None
        self._lock = threading.Lock()

    def render(self, name: str, **context: Any) -> str:
        return self._env().get_template(name).render(**context)

    def _env(self) -> Environment:
        with self._lock:
            if self._environment is None:
                self._environment = _environment(self._folder)
            return self._environment


def _environment(folder: Path) -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: PLC0415

    environment = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,  # the templates ship with the package and never change under it
    )
    environment.filters.update(FILTERS)
    return environment
