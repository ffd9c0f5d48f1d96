"""Configuration plumbing shared by both services (the exporter and the remediator).

YAML files are validated up front (the exporter: `servicekit.settings`; the remediator: pydantic);
unknown keys are errors, and every problem is reported at once as 'dotted.path: message' in one
`ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """The configuration is invalid; `errors` lists every problem as 'path: message'."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__(
            f"{source}: {len(errors)} error(s)\n" + "\n".join(f"  {e}" for e in errors)
        )
        self.source = source
        self.errors = errors


def read_yaml(path: Path) -> Any:
    """Load a YAML file or raise ConfigError (unreadable, not YAML)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from exc


def parse_listen_address(value: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' or ':port' (all interfaces) -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"listen address {value!r} must look like host:port or :port")
    return host.strip("[]") or "0.0.0.0", int(port_text)  # noqa: S104 - ':port' asks for it
