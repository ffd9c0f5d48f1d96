"""The dashboards' PromQL: every expression parses (promtool), every metric it names is declared
by cfha (or recorded by an alert rule, or listed as external) with the labels and states it
matches on, and the read-once patterns read one copy of what both hubs publish."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dashboards import queries
from exporter.registry import all_metric_specs
from lab.product.promrules import load_rules
from tests.conftest import REPO
from tests.dashboards import boards as data
from tests.support.promql import Selector, selectors

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}
TARGETS = data.targets()
EXTERNAL: dict[str, str] = yaml.safe_load(
    (REPO / "dashboards" / "external_metrics.yml").read_text()
)
RECORDED = {r.name for r in load_rules(REPO / "alerts" / "rules") if r.kind == "record"}
# Labels the scrape adds (alerts/README.md: job, instance, and the target's cluster and node).
TARGET_LABELS = frozenset({"cluster", "node", "instance", "job"})


@dataclass(frozen=True)
class Declared:
    labels: frozenset[str]
    states: frozenset[str]  # empty: not a state set


def promtool() -> str:
    path = shutil.which("promtool", path=ENV["PATH"])
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/ensure-debs)")
    return path


def declared() -> dict[str, Declared]:
    out = {}
    for _collector, specs in all_metric_specs():
        for spec in specs:
            labels = set(spec.labels) | ({"state"} if spec.states else set())
            out[spec.name] = Declared(frozenset(labels), frozenset(spec.states))
    remediator = importlib.import_module("remediator.metrics")
    for doc in remediator.METRICS:
        out[doc.name] = Declared(frozenset(doc.labels), frozenset())
    return out


def check_rules(promtool: str, exprs: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on the expressions written as recording rules."""
    rules = [{"record": f"cfha_dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = folder / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )


def test_there_are_queries() -> None:
    assert len(TARGETS) >= 60
    assert len({t.key for t in TARGETS}) == len(TARGETS)


def test_every_expression_parses(tmp_path: Path) -> None:
    """The promtool trick: each query, variables substituted, as a recording rule."""
    exprs = [data.substitute(t.expr, "cfcluster") for t in TARGETS]
    done = check_rules(promtool(), exprs, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(exprs)} rules found" in done.stdout


def test_the_parse_check_can_fail(tmp_path: Path) -> None:
    done = check_rules(promtool(), ['max by (node (cfha_pg_up{cluster="c"})'], tmp_path)
    assert done.returncode != 0


def used() -> list[tuple[str, Selector]]:
    return [(t.key, s) for t in TARGETS for s in selectors(t.expr)]


def test_every_metric_is_declared_recorded_or_external() -> None:
    known = declared()
    unknown = {
        f"{key}: {s.name}"
        for key, s in used()
        if s.name not in known and s.name not in RECORDED and s.name not in EXTERNAL
    }
    assert not unknown, "\n".join(sorted(unknown))


def test_external_metrics_are_documented_and_not_cfha() -> None:
    for name, source in EXTERNAL.items():
        assert not name.startswith("cfha"), name
        assert isinstance(source, str) and source.strip(), name


def test_label_matchers_name_declared_labels_and_states() -> None:
    """A renamed label or state would make a panel silently empty."""
    known = declared()
    problems = []
    for key, sel in used():
        spec = known.get(sel.name)
        if spec is None:
            continue
        for matcher in sel.matchers:
            if matcher.label not in spec.labels | TARGET_LABELS:
                problems.append(f"{key}: {sel.name} has no label {matcher.label!r}")
        unknown = set(sel.matcher_values("state")) - spec.states
        if unknown:
            problems.append(f"{key}: {sel.name} has no state(s) {sorted(unknown)}")
    assert not problems, "\n".join(problems)


def test_the_cluster_variable_reads_a_declared_metric() -> None:
    for board in data.boards().values():
        (variable,) = [v for v in board["templating"]["list"] if v["name"] == "cluster"]
        metric = variable["query"].removeprefix("label_values(").split(",")[0]
        assert metric in declared(), metric


# -- the read-once patterns, on two hubs whose copies disagree -------------------------------


def series(name: str, hub: str, values: str, **labels: str) -> dict[str, str]:
    pairs = {"cluster": "c", **labels, "instance": f"{hub}:9732", "job": "cfha"}
    return {"series": name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items()) + "}",
            "values": values}  # fmt: skip


def expect(expr: str, minute: int, *samples: tuple[str, float]) -> dict[str, object]:
    return {
        "expr": data.substitute(expr, "c"),
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
    }


def test_read_once_patterns(tmp_path: Path) -> None:
    """Minute 0: hub1 is DC and primary. Minute 1: hub2 took over both (failover); hub1's stale
    copies still say otherwise. Minute 2: no DC answers. Each pattern answers once per node, from
    the right copy."""
    inputs = [
        series("cfha_pacemaker_local_is_dc", "hub1", "1 0 0", node="hub1"),
        series("cfha_pacemaker_local_is_dc", "hub2", "0 1 0", node="hub2"),
        # hub1's view never changes (it is cut off); hub2's follows the failover
        series("cfha_pacemaker_database_promoted", "hub1", "1 1 1", node="hub1", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub1", "0 0 0", node="hub2", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub2", "1 0 0", node="hub1", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub2", "0 1 1", node="hub2", resource="db"),
        series("cfha_pg_role", "hub1", "1 0", node="hub1", state="primary"),
        series("cfha_pg_role", "hub2", "0 1", node="hub2", state="primary"),
        # each hub's cfdb copy: the primary's is the current one
        series("cfha_hub_hosts", "hub1", "50 50", node="hub1"),
        series("cfha_hub_hosts", "hub2", "49 51", node="hub2"),
        series("cfha_exporter_build_info", "hub1", "1 1", node="hub1", version="0.1.0"),
        series("cfha_exporter_build_info", "hub2", "1 1", node="hub2", version="0.1.0"),
        series("cfha_exporter_collector_success", "hub1", "1 0", collector="postgres"),
        series("cfha_exporter_collector_success", "hub2", "1 1", collector="postgres"),
    ]
    promoted = queries.dc_view("cfha_pacemaker_database_promoted", ("node",))
    hosts = queries.active_copy("cfha_hub_hosts", ("cluster",))
    success = queries.with_node(
        queries.sel("cfha_exporter_collector_success"), "cfha_exporter_build_info"
    )
    tests = [
        expect(promoted, 0, ('{node="hub1"}', 1), ('{node="hub2"}', 0)),
        expect(promoted, 1, ('{node="hub1"}', 0), ('{node="hub2"}', 1)),
        expect(promoted, 2, ('{node="hub1"}', 1), ('{node="hub2"}', 1)),  # no DC: either hub
        # a filter appended to a read-once pattern applies to the whole of it
        expect(queries.is_one(promoted), 1, ('{node="hub2"}', 1)),
        expect(f"2 - {promoted}", 0, ('{node="hub1"}', 1), ('{node="hub2"}', 2)),
        expect(
            queries.either("cfha_pacemaker_database_promoted", ("node",)),
            1,
            ('{node="hub1"}', 1),
            ('{node="hub2"}', 1),
        ),
        expect(hosts, 0, ('{cluster="c"}', 50)),
        expect(hosts, 1, ('{cluster="c"}', 51)),
        expect(
            f"max by (node, collector) ({success})",
            1,
            ('{collector="postgres",node="hub1"}', 0),
            ('{collector="postgres",node="hub2"}', 1),
        ),
    ]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": []}))
    spec = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [promtool(), "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
