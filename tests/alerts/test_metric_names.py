"""Every metric a rule uses exists: declared by cfha, recorded by a rule, or named as external.

The names come from the rule expressions (and the `query` calls of their annotations) through
the PromQL tokenizer, never from a hand-made list. Label matchers are checked too: a matcher on
a state set's `state` (or another closed label set) must name a declared value, and every label
a selector matches on must be one the metric has. This is the check that catches a renamed
metric or state that would make a rule silently never fire. The live test (test_live.py)
checks the same names against the exporters' real output on the lab.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from exporter.registry import all_metric_specs
from lab.product.promrules import Rule, load_rules
from tests.conftest import REPO
from tests.support.promql import Selector, metric_names, selectors, template_queries

RULES = load_rules(REPO / "alerts" / "rules")
RECORDED = {r.name for r in RULES if r.kind == "record"}
EXTERNAL: dict[str, str] = yaml.safe_load((REPO / "alerts" / "external_metrics.yml").read_text())
# Labels Prometheus adds at scrape time (the scrape contract in alerts/README.md).
TARGET_LABELS = frozenset({"cluster", "node", "instance", "job"})


@dataclass(frozen=True)
class Declared:
    labels: frozenset[str]
    values: dict[str, frozenset[str]]  # closed label sets: label -> allowed values


def exporter_metrics() -> dict[str, Declared]:
    out = {}
    for _collector, specs in all_metric_specs():
        for spec in specs:
            labels = set(spec.labels) | ({"state"} if spec.states else set())
            values = {"state": frozenset(spec.states)} if spec.states else {}
            out[spec.name] = Declared(frozenset(labels), values)
    return out


def remediator_metrics() -> dict[str, Declared] | None:
    try:
        metrics = importlib.import_module("remediator.metrics")
    except ImportError:
        return None
    values = {"result": frozenset(metrics.RESULTS)}
    return {
        doc.name: Declared(
            frozenset(doc.labels), {k: v for k, v in values.items() if k in doc.labels}
        )
        for doc in metrics.METRICS
    }


def expressions(rule: Rule) -> Iterator[str]:
    yield rule.expr
    for text in rule.annotations.values():
        yield from template_queries(text)


def used_selectors() -> list[tuple[str, Selector]]:
    return [(rule.name, s) for rule in RULES for expr in expressions(rule) for s in selectors(expr)]


def test_every_selector_names_a_metric() -> None:
    assert all(s.name for _, s in used_selectors()), "a selector without a metric name"


def test_external_metrics_are_documented_and_not_cfha() -> None:
    assert EXTERNAL, "alerts/external_metrics.yml is empty"
    for name, source in EXTERNAL.items():
        assert not name.startswith("cfha"), name
        assert isinstance(source, str) and source.strip(), name


def test_every_recording_rule_used_is_defined() -> None:
    used = {s.name for _, s in used_selectors() if s.name.startswith("cfha:")}
    assert used <= RECORDED, used - RECORDED


def test_exporter_metrics_in_rules_are_declared_with_their_labels() -> None:
    declared = exporter_metrics()
    problems = []
    for rule, sel in used_selectors():
        if not sel.name.startswith("cfha_") or sel.name.startswith("cfha_remediation_"):
            continue
        spec = declared.get(sel.name)
        if spec is None:
            problems.append(f"{rule}: {sel.name} is not declared by the exporter")
            continue
        problems.extend(label_problems(rule, sel, spec))
    assert not problems, "\n".join(problems)


def test_remediator_metrics_in_rules_are_declared_with_their_labels() -> None:
    declared = remediator_metrics()
    if declared is None:
        pytest.skip("the remediator package is not in this tree yet")
    problems = []
    for rule, sel in used_selectors():
        if not sel.name.startswith("cfha_remediation_"):
            continue
        spec = declared.get(sel.name)
        if spec is None:
            problems.append(f"{rule}: {sel.name} is not declared by the remediator")
            continue
        problems.extend(label_problems(rule, sel, spec))
    assert not problems, "\n".join(problems)


def test_every_other_metric_is_external() -> None:
    others = {s.name for _, s in used_selectors() if not s.name.startswith(("cfha_", "cfha:"))}
    assert others <= set(EXTERNAL), others - set(EXTERNAL)


def label_problems(rule: str, sel: Selector, spec: Declared) -> list[str]:
    problems = []
    for matcher in sel.matchers:
        if matcher.label not in spec.labels | TARGET_LABELS:
            problems.append(f"{rule}: {sel.name} has no label {matcher.label!r}")
    for label, allowed in spec.values.items():
        unknown = set(sel.matcher_values(label)) - allowed
        if unknown:
            problems.append(f"{rule}: {sel.name}{{{label}}} has no value(s) {sorted(unknown)}")
    return problems


# -- the tokenizer itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        ('max by (cluster, node) (cfha_pg_up{state="x"}) == 0', {"cfha_pg_up"}),
        (
            "a * on (instance) group_left (node) b unless ignoring (x) c",
            {"a", "b", "c"},
        ),
        ("sum without (instance) (rate(x_total[5m] offset 1h))", {"x_total"}),
        ("max_over_time(cfha:x:max[15m:1m]) > bool 2 and d", {"cfha:x:max", "d"}),
        ('label_replace(m, "node", "$1", "standby", "(.+)")', {"m"}),
        ('{__name__="by_name", job="j"} + Inf - nan', {"by_name"}),
        ("count(up) by (cluster) # by (comment)", {"up"}),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))", {"h_bucket"}),
    ],
)
def test_tokenizer_finds_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_template_queries_are_found() -> None:
    text = (
        '{{ range query (printf "cfha:a:max{cluster=%q} == 1" $labels.cluster) }}x{{ end }}'
        '{{ with query "up == 0" }}y{{ end }}'
    )
    assert template_queries(text) == ['cfha:a:max{cluster="x"} == 1', "up == 0"]


def test_label_check_reports_a_renamed_state() -> None:
    """The state check can fail: `streamin` is not a declared state of the metric."""
    (sel,) = selectors('cfha_pg_standby_state{state="streamin", standbyy="hub2"}')
    spec = Declared(frozenset({"node", "standby", "state"}), {"state": frozenset({"streaming"})})
    problems = label_problems("CfHaX", sel, spec)
    assert len(problems) == 2 and "streamin" in problems[1] and "standbyy" in problems[0]
