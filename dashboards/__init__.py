"""Grafana dashboards for cfha, generated with grafana-foundation-sdk (`make dashboards`)."""
