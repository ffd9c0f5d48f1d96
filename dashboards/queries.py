"""PromQL building blocks for the dashboards: the cluster filter and the read-once patterns.

Every selector filters on the dashboard's `$cluster` variable. Three kinds of series need three
ways of reading them (docs/dashboards.md, docs/pacemaker.md):

- cluster-wide pacemaker facts, published by both hubs: `dc_view` (the designated controller's
  copy, for "where is X?") or `either` (1 if either hub sees it, for alarms and flags);
- the CFEngine hub database (cfdb), which each hub reads from its own replicated copy:
  `active_copy` (the primary's copy, which is the current one);
- local facts (each hub's own PostgreSQL, PGSQL.lock, corosync view): `per_hub`, one copy per
  hub, aggregated to `node` so that `instance` and `job` never split a line.

Pure functions from names to strings; the strings are what the JSON contains.
"""

from __future__ import annotations

from collections.abc import Sequence

CLUSTER_MATCHER = 'cluster="$cluster"'
DC_FILTER = f"cfha_pacemaker_local_is_dc{{{CLUSTER_MATCHER}}} == 1"
PRIMARY_FILTER = f'cfha_pg_role{{{CLUSTER_MATCHER}, state="primary"}} == 1'


def sel(metric: str, *raw: str, **equal: str) -> str:
    """`metric{cluster="$cluster", k="v", <raw matchers>}`, matchers in the order given."""
    matchers = [CLUSTER_MATCHER, *(f'{k}="{v}"' for k, v in equal.items()), *raw]
    return f"{metric}{{{', '.join(matchers)}}}"


def _by(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def dc_view(metric: str, by: Sequence[str], *raw: str, **equal: str) -> str:
    """The DC's copy of a cluster-wide pacemaker series (one answer even in a partition); both
    hubs' copies merged while no DC's exporter answers (a restart, or no DC at all)."""
    series = sel(metric, *raw, **equal)
    labels = _by(by)
    # In parentheses: `or` binds looser than anything a caller appends (`== 1`, `2 - ...`).
    return (
        f"(max by ({labels}) ({series} and on (cluster, instance) ({DC_FILTER}))"
        f" or max by ({labels}) ({series}))"
    )


def either(metric: str, by: Sequence[str], *raw: str, **equal: str) -> str:
    """Both hubs' copies merged: 1 if either hub says so (flags, counts, alarms)."""
    return f"max by ({_by(by)}) ({sel(metric, *raw, **equal)})"


def both(metric: str, by: Sequence[str], *raw: str, **equal: str) -> str:
    """Both hubs' copies merged the other way: 1 only if both say so (quorum, membership)."""
    return f"min by ({_by(by)}) ({sel(metric, *raw, **equal)})"


def per_hub(metric: str, by: Sequence[str] = ("node",), *raw: str, **equal: str) -> str:
    """A local fact: one copy per hub, `instance`/`job` dropped."""
    return f"max by ({_by(by)}) ({sel(metric, *raw, **equal)})"


def active_copy(metric: str, by: Sequence[str], *raw: str, **equal: str) -> str:
    """cfdb as the primary hub's copy has it; without a primary, the freshest copy."""
    series = sel(metric, *raw, **equal)
    labels = _by(by)
    return (
        f"(max by ({labels}) ({series} and on (cluster, instance) ({PRIMARY_FILTER}))"
        f" or max by ({labels}) ({series}))"
    )


def with_node(expr: str, info: str) -> str:
    """Series without `node` (a process's own metrics) get it from the process's info series."""
    return f"{expr} * on (instance) group_left (node) {sel(info)}"


def is_one(expr: str) -> str:
    """Only the series at 1: the states that hold, for tables of state sets."""
    return f"{expr} == 1"


def as_ms(expr: str) -> str:
    """A Unix-time series in the milliseconds Grafana's date units expect."""
    return f"({expr}) * 1000"


def tagged(expr: str, label: str, value: str) -> str:
    """`expr` with a constant label added, to put several answers into one table."""
    return f'label_replace({expr}, "{label}", "{value}", "", "")'
