"""The cfha alert rules and their promtool tests as data, and the lab transformation of them.

- `load_rules(dir)`: every rule of every file (alert or record, with its group and file).
- `load_unit_tests(dir)`: every `alert_rule_test` case of the promtool test files, with its test's
  input series and their interval.
- `coverage_gaps(rules, cases)`: alerts that lack a firing or a non-firing case. The two copies
  of a remediable alert (the humans' one and the remediation request, `cfha_route`) share their
  name, so promtool lists both in one case; each copy needs an expected alert of its own.
- `scale_rules(doc, factor, offset)`: the lab copy of a rule file. Every duration d that
  measures time in the rules (`for`, `keep_firing_for`, range selectors `[10m]`, subquery
  ranges `[1d:5m]`, `offset 1h`, and the horizon of `predict_linear(v[range], seconds)`,
  written as a plain number) becomes `offset + d / factor` (whole seconds; 0 stays 0; a
  subquery step is only divided): the horizon scales with the window it extrapolates, or a
  12-minute slope would be stretched over 24 hours. Thresholds (`> 600`, the 'not reporting'
  horizon in seconds) are values, not durations, and stay as they are. The map is strictly
  increasing, so the order of the `for` durations, which the rules rely on (a gate before a
  remediable alert, a cleanup before a re-sync), is kept; `offset` keeps each one above the
  lab's own recovery times (a failover there takes a few seconds). The lab scrapes and
  evaluates every second.

Pure functions over parsed YAML; `RulesError` for malformed input.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The label that marks the remediation request copy of a remediable alert (alerts/README.md).
ROUTE_LABEL = "cfha_route"
REQUEST_ROUTE = "remediator"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|[smhdwy])")


class RulesError(ValueError):
    """A rule or test file that is not what promtool expects."""


@dataclass(frozen=True)
class Rule:
    file: str
    group: str
    kind: str  # "alert" or "record"
    name: str
    expr: str
    for_: str
    keep_firing_for: str
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def route(self) -> str:
        """`REQUEST_ROUTE` for a remediation request, "" for an alert for humans."""
        return self.labels.get(ROUTE_LABEL, "")

    @property
    def key(self) -> str:
        """Identifies one alert rule: its name, and its route for a request copy."""
        return f'{self.name}{{{ROUTE_LABEL}="{self.route}"}}' if self.route else self.name


@dataclass(frozen=True)
class AlertCase:
    """One `alert_rule_test` entry: the alert expected at `eval_time` (none = not firing).
    `inputs` are its test's input series as (series, values), sampled every `interval`."""

    file: str
    test: str
    alertname: str
    eval_time: str
    exp_alerts: tuple[dict[str, Any], ...]
    interval: str = ""
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def firing(self) -> bool:
        return bool(self.exp_alerts)

    def expects(self, route: str) -> bool:
        """Whether an alert of this route ("" for humans) is expected to fire."""
        return any(
            (alert.get("exp_labels") or {}).get(ROUTE_LABEL, "") == route
            for alert in self.exp_alerts
        )


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration ("1h30m", "15m", "500ms")."""
    if not text or _DURATION.sub("", text) != "":
        raise RulesError(f"not a duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def format_duration(seconds: float) -> str:
    """Prometheus notation, largest units first ("1m30s"); whole milliseconds."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RulesError(f"{where}: expected a map of strings")
    return dict(value)


def rules_of(doc: Any, file: str) -> list[Rule]:
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise RulesError(f"{file}: no groups")
    out = []
    for group in doc["groups"]:
        for raw in group.get("rules") or []:
            kind = "alert" if "alert" in raw else "record"
            name = raw.get(kind)
            if not isinstance(name, str) or not isinstance(raw.get("expr"), str):
                raise RulesError(f"{file}: rule without a name or an expr in {group.get('name')}")
            out.append(
                Rule(
                    file=file,
                    group=str(group.get("name")),
                    kind=kind,
                    name=name,
                    expr=raw["expr"],
                    for_=str(raw.get("for", "")),
                    keep_firing_for=str(raw.get("keep_firing_for", "")),
                    labels=_string_map(raw.get("labels"), f"{file}:{name} labels"),
                    annotations=_string_map(raw.get("annotations"), f"{file}:{name} annotations"),
                )
            )
    return out


def load_rules(directory: Path) -> list[Rule]:
    out: list[Rule] = []
    for path in sorted(directory.glob("*.yml")):
        out.extend(rules_of(yaml.safe_load(path.read_text()), path.name))
    return out


def cases_of(doc: Any, file: str) -> list[AlertCase]:
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        raise RulesError(f"{file}: no tests")
    out = []
    for number, test in enumerate(doc["tests"]):
        name = str(test.get("name") or f"test #{number}")
        inputs = tuple(
            (str(series.get("series")), str(series.get("values")))
            for series in test.get("input_series") or []
        )
        for case in test.get("alert_rule_test") or []:
            out.append(
                AlertCase(
                    file=file,
                    test=name,
                    alertname=str(case.get("alertname")),
                    eval_time=str(case.get("eval_time")),
                    exp_alerts=tuple(case.get("exp_alerts") or ()),
                    interval=str(test.get("interval") or ""),
                    inputs=inputs,
                )
            )
    return out


def load_unit_tests(directory: Path) -> list[AlertCase]:
    out: list[AlertCase] = []
    for path in sorted(directory.glob("*.yml")):
        out.extend(cases_of(yaml.safe_load(path.read_text()), path.name))
    return out


def coverage_gaps(rules: list[Rule], cases: list[AlertCase]) -> dict[str, list[str]]:
    """Per alert rule (`Rule.key`), what it lacks: "firing" and/or "not firing" cases (a case of
    its name that expects, or does not expect, an alert of its route); empty when covered."""
    gaps: dict[str, list[str]] = {}
    for rule in rules:
        if rule.kind != "alert":
            continue
        mine = [c for c in cases if c.alertname == rule.name]
        missing = []
        if not any(c.expects(rule.route) for c in mine):
            missing.append("firing")
        if not any(not c.expects(rule.route) for c in mine):
            missing.append("not firing")
        if missing:
            gaps[rule.key] = missing
    return gaps


# -- the lab transformation ----------------------------------------------------------------


LAB_FACTOR = 30.0
LAB_OFFSET = 15.0


def scale_duration(text: str, factor: float, offset: float) -> str:
    seconds = parse_duration(text)
    if seconds == 0:
        return text
    return format_duration(round(offset + seconds / factor))


_RANGE = re.compile(r"\[(?P<range>[0-9a-z]+)(?::(?P<step>[0-9a-z]*))?\]")
_OFFSET = re.compile(r"\boffset\s+(?P<d>[0-9a-z]+)")
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`")
# predict_linear(<selector>[range], <seconds>): the selector has no parentheses of its own
_PREDICT = re.compile(
    r"(?P<head>predict_linear\([^()]*\[[0-9a-z:]+\]\s*,\s*)(?P<h>\d+)(?P<tail>\s*\))"
)


def scale_expr(expr: str, factor: float, offset: float) -> str:
    """`expr` with its range, subquery and offset durations scaled; strings untouched."""

    def ranges(match: re.Match[str]) -> str:
        scaled = scale_duration(match.group("range"), factor, offset)
        step = match.group("step")
        if step is None:
            return f"[{scaled}]"
        if step == "":
            return f"[{scaled}:]"
        return f"[{scaled}:{format_duration(max(1, round(parse_duration(step) / factor)))}]"

    def offsets(match: re.Match[str]) -> str:
        return f"offset {scale_duration(match.group('d'), factor, offset)}"

    def horizons(match: re.Match[str]) -> str:
        seconds = int(match.group("h"))
        scaled = round(offset + seconds / factor) if seconds else 0
        return f"{match.group('head')}{scaled}{match.group('tail')}"

    def code(text: str) -> str:
        return _OFFSET.sub(offsets, _RANGE.sub(ranges, _PREDICT.sub(horizons, text)))

    pieces = []
    last = 0
    for string in _STRING.finditer(expr):
        pieces.append(code(expr[last : string.start()]))
        pieces.append(string.group())
        last = string.end()
    pieces.append(code(expr[last:]))
    return "".join(pieces)


def scale_rules(doc: Any, factor: float = LAB_FACTOR, offset: float = LAB_OFFSET) -> Any:
    """A copy of a parsed rule file with every rule's durations scaled (see the module doc)."""
    if factor < 1 or offset < 0:
        raise RulesError("factor must be >= 1 and offset >= 0")
    out = copy.deepcopy(doc)
    for group in out.get("groups") or []:
        for rule in group.get("rules") or []:
            rule["expr"] = scale_expr(rule["expr"], factor, offset)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = scale_duration(str(rule[key]), factor, offset)
    return out


def write_lab_copy(source: Path, target: Path) -> list[Path]:
    """The lab copy of every rule file of `source` into `target` (created); returns the files."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("*.yml")):
        doc = scale_rules(yaml.safe_load(path.read_text()))
        out = target / path.name
        out.write_text(yaml.safe_dump(doc, sort_keys=False))
        written.append(out)
    return written
