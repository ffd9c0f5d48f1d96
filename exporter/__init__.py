"""cfha exporter: read-only Prometheus exporter for a CFEngine Enterprise HA hub."""

__version__ = "0.1.0"
