"""Logging of both services (the exporter and the remediator): one format, on stderr."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int | str) -> None:
    """Log records at `level` (a number, or a name such as "INFO") and above to stderr."""
    logging.basicConfig(level=level, stream=sys.stderr, format=LOG_FORMAT)
