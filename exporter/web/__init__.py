"""The exporter's HTTP face: /metrics, /healthz and the page at /."""
