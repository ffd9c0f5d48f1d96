"""cfha exporter: read-only Prometheus exporter for a CFEngine Enterprise HA hub."""

from servicekit import __version__

__all__ = ["__version__"]
