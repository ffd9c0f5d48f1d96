"""Reading exposition text in tests: find one sample by name and a subset of its labels."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from exporter.scrape import Scrape


class _Fixed:
    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from self.scrape.families()


def scrape_text(scrape: Scrape) -> str:
    registry = CollectorRegistry()
    registry.register(_Fixed(scrape))
    return generate_latest(registry).decode()


def samples(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                found.append((dict(sample.labels), float(sample.value)))
    return found


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the only sample matching; None when absent; error when ambiguous."""
    found = samples(text, name, **labels)
    if not found:
        return None
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} samples: {found}")
    return found[0][1]
