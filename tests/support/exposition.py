"""Render one collector's buffered samples as exposition text (for `sample_value`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from servicekit.metrics import MetricWriter


class _Writer:
    def __init__(self, writer: MetricWriter, cluster: str) -> None:
        self.writer = writer
        self.cluster = cluster

    def collect(self) -> Iterator[Metric]:
        yield from self.writer.families(self.cluster)


def writer_text(writer: MetricWriter, cluster: str = "cfcluster") -> str:
    registry = CollectorRegistry()
    registry.register(_Writer(writer, cluster))
    return generate_latest(registry).decode()
