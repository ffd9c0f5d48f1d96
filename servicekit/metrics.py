"""Metric declarations and the per-scrape sample buffer every collector writes into.

Collectors declare their metrics as `MetricSpec`s (the reference in docs/metrics.md is generated
from these declarations) and write samples into a `MetricWriter`. The writer checks each sample
against its declaration, keeps one value per label set (a duplicate can never break the page), and
turns the buffer into prometheus_client families only once the whole collector has succeeded, so a
collector that fails halfway leaves nothing half-built in the output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)


class Kind(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"
    STATESET = "stateset"  # exposed as a gauge with a `state` label, one series per declared state


@dataclass(frozen=True)
class MetricSpec:
    """One metric as a collector declares it.

    `labels` excludes the identity label `cluster`, which the framework adds to every series.
    A STATESET metric publishes one 0/1 series per entry of `states` (its label is `state`);
    `state_help` documents each state for humans, in the same order.
    """

    name: str
    help: str
    kind: Kind = Kind.GAUGE
    labels: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    state_help: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is Kind.COUNTER and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        if self.kind is Kind.INFO and not self.name.endswith("_info"):
            raise ValueError(f"info metric {self.name} must end in _info")
        if self.kind is Kind.STATESET:
            if not self.states:
                raise ValueError(f"state set {self.name} declares no states")
            if self.state_help and len(self.state_help) != len(self.states):
                raise ValueError(f"state set {self.name}: one help line per state")
            if "state" in self.labels:
                raise ValueError(f"state set {self.name}: `state` is added automatically")
        if "cluster" in self.labels:
            raise ValueError(f"{self.name}: `cluster` is added by the framework")

    @property
    def all_labels(self) -> tuple[str, ...]:
        """The label names of the exposed series, identity label first."""
        extra = ("state",) if self.kind is Kind.STATESET else ()
        return ("cluster", *self.labels, *extra)


LabelValues = tuple[str, ...]


@dataclass
class MetricWriter:
    """Buffers the samples of one collector run, validated against their declarations."""

    _samples: dict[MetricSpec, dict[LabelValues, float]] = field(default_factory=dict)

    def _key(self, spec: MetricSpec, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(spec.labels):
            raise ValueError(
                f"{spec.name}: labels {sorted(labels)} do not match declared {list(spec.labels)}"
            )
        return tuple(str(labels[name]) for name in spec.labels)

    def gauge(self, spec: MetricSpec, value: float | None, **labels: str) -> None:
        """Set a gauge; None (unknown) publishes nothing rather than a misleading number."""
        if spec.kind is not Kind.GAUGE:
            raise ValueError(f"{spec.name} is a {spec.kind.value}, not a gauge")
        if value is None:
            return
        self._samples.setdefault(spec, {})[self._key(spec, labels)] = float(value)

    def counter(self, spec: MetricSpec, value: float, **labels: str) -> None:
        if spec.kind is not Kind.COUNTER:
            raise ValueError(f"{spec.name} is a {spec.kind.value}, not a counter")
        self._samples.setdefault(spec, {})[self._key(spec, labels)] = float(value)

    def info(self, spec: MetricSpec, **labels: str) -> None:
        """An `_info` series: value 1, the facts carried in its (declared) labels."""
        if spec.kind is not Kind.INFO:
            raise ValueError(f"{spec.name} is a {spec.kind.value}, not info")
        self._samples.setdefault(spec, {})[self._key(spec, labels)] = 1.0

    def state(self, spec: MetricSpec, current: str | None, **labels: str) -> None:
        """Publish every declared state, 1 for `current` and 0 for the others.

        `current=None` publishes all zeros (no state applies). A value outside the declared set is
        a programming error: collectors map unknown inputs to a declared state themselves.
        """
        if spec.kind is not Kind.STATESET:
            raise ValueError(f"{spec.name} is a {spec.kind.value}, not a state set")
        if current is not None and current not in spec.states:
            raise ValueError(f"{spec.name}: state {current!r} not in {spec.states}")
        key = self._key(spec, labels)
        for name in spec.states:
            self._samples.setdefault(spec, {})[(*key, name)] = 1.0 if name == current else 0.0

    def flags(self, spec: MetricSpec, active: Iterable[str], **labels: str) -> None:
        """Like `state`, but several states may hold at once (e.g. a node online and DC)."""
        if spec.kind is not Kind.STATESET:
            raise ValueError(f"{spec.name} is a {spec.kind.value}, not a state set")
        on = set(active)
        unknown = on - set(spec.states)
        if unknown:
            raise ValueError(f"{spec.name}: states {sorted(unknown)} not in {spec.states}")
        key = self._key(spec, labels)
        for name in spec.states:
            self._samples.setdefault(spec, {})[(*key, name)] = 1.0 if name in on else 0.0

    def value(self, spec: MetricSpec, **labels: str) -> float | None:
        """Read a buffered gauge or counter back (used by derived collectors and tests)."""
        return self._samples.get(spec, {}).get(self._key(spec, labels))

    def merge(self, other: MetricWriter) -> None:
        for spec, samples in other._samples.items():
            self._samples.setdefault(spec, {}).update(samples)

    def families(self, cluster: str) -> Iterator[Metric]:
        """Build prometheus_client families, adding the identity label `cluster`."""
        for spec, samples in self._samples.items():
            yield _family(spec, cluster, samples)


def exposition_text(writer: MetricWriter, cluster: str) -> str:
    """The writer's samples alone as the Prometheus text format (tests and benchmarks)."""

    class _Families:
        def collect(self) -> Iterator[Metric]:
            yield from writer.families(cluster)

    registry = CollectorRegistry()
    registry.register(_Families())
    return generate_latest(registry).decode()


def described(spec: MetricSpec) -> Metric:
    """The family of a declared metric, without samples: what a registry needs to know its
    names (prometheus_client's `name[]` filter selects collectors by them)."""
    return _family(spec, "", {})


def _family(spec: MetricSpec, cluster: str, samples: Mapping[LabelValues, float]) -> Metric:
    labels = list(spec.all_labels)
    if spec.kind is Kind.INFO:
        info = InfoMetricFamily(spec.name.removesuffix("_info"), spec.help, labels=labels)
        for key in samples:
            info.add_metric([cluster, *key], {})
        return info
    family: GaugeMetricFamily | CounterMetricFamily
    if spec.kind is Kind.COUNTER:
        family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=labels)
    else:
        family = GaugeMetricFamily(spec.name, spec.help, labels=labels)
    for key, value in samples.items():
        family.add_metric([cluster, *key], value)
    return family


def seconds_or_none(value: float | None) -> float | None:
    """Normalise an optional duration coming from SQL or a parser (NaN stays unknown)."""
    if value is None or math.isnan(value):
        return None
    return float(value)
