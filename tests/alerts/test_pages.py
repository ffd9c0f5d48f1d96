"""Pages tell "fixed" from "no longer seen" (alerts/README.md, "Pages whose data vanish").

Every page (a critical alert for humans) whose rule reads cfha's facts needs two promtool tests:

- held: it fires while its facts are read, then every input series that feeds it vanishes
  (stale, or older than the lookback), and it is still expected firing once its
  keep_firing_for has run out since they vanished: only its rule's hold keeps it there. The
  same test expects CfHaPageFeedLost: the exporters or remediators that published the facts
  are down.
- resolved: it fires, then it is expected not firing at a time when a series that feeds it is
  read: the condition cleared, and the hold does not keep a fix away.

Both with the hold armed: the test has the `up` series the rule reads (without them the hold
would not apply, and a resolution would prove nothing). The series that feed a rule are the
metrics of its expression, followed through the recording rules; `up` and `ALERTS` are
Prometheus' own and do not vanish with an exporter.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab.product.promrules import AlertCase, Rule, cases_of, parse_duration, rules_of
from tests.alerts.test_rules import CASES, ENV, RULES, RULES_DIR, RUNBOOKS, TESTS_DIR, promtool
from tests.support.promql import metric_names
from tests.support.promseries import SeriesError, expand, metric_name, visible

FEED_LOST = "CfHaPageFeedLost"
OWN = frozenset({"up", "ALERTS"})  # Prometheus' own series
HELD, FEED_LOST_PAGES, RESOLVED = (
    "held while its series vanish",
    f"{FEED_LOST} while they are gone",
    "resolved when it clears",
)


def pages(rules: list[Rule]) -> list[Rule]:
    return [
        r
        for r in rules
        if r.kind == "alert" and not r.route and r.labels.get("severity") == "critical"
    ]


def feeding_metrics(rule: Rule, rules: list[Rule]) -> frozenset[str]:
    """The metrics `rule` is computed from, through the recording rules, without OWN."""
    recorded = {r.name: r.expr for r in rules if r.kind == "record"}
    found: set[str] = set()
    todo, followed = [rule.expr], set()
    while todo:
        for name in metric_names(todo.pop()):
            if name in recorded:
                if name not in followed:
                    followed.add(name)
                    todo.append(recorded[name])
            elif name not in OWN:
                found.add(name)
    return frozenset(found)


@dataclass(frozen=True)
class UnitTest:
    """One promtool test as one page sees it: the input series that feed the page."""

    file: str
    name: str
    interval: float
    feeds: tuple[str, ...]  # their values strings
    has_up: bool
    cases: tuple[AlertCase, ...]

    def seen(self, at: float) -> bool:
        return any(visible(values, self.interval, at) for values in self.feeds)

    def unseen_since(self, at: float) -> float | None:
        """When the feeding series last vanished, if none is seen at `at`."""
        if self.seen(at):
            return None
        start = at
        while start - self.interval >= 0 and not self.seen(start - self.interval):
            start -= self.interval
        return start

    def times(self, alertname: str, *, firing: bool) -> list[float]:
        """Eval times at which the humans' copy of `alertname` is expected firing, or not."""
        return sorted(
            parse_duration(c.eval_time)
            for c in self.cases
            if c.alertname == alertname and c.expects("") == firing
        )


def unit_tests_of(cases: list[AlertCase], metrics: frozenset[str]) -> list[UnitTest]:
    grouped: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[AlertCase]]
    grouped = defaultdict(list)
    for case in cases:
        grouped[(case.file, case.test, case.inputs)].append(case)
    out = []
    for (file, test, inputs), mine in grouped.items():
        feeds = tuple(v for series, v in inputs if metric_name(series) in metrics)
        if not feeds:
            continue
        if not mine[0].interval:
            raise SeriesError(f"{file}: {test!r} has input series but no interval")
        has_up = any(metric_name(series) == "up" for series, _ in inputs)
        interval = parse_duration(mine[0].interval)
        out.append(UnitTest(file, test, interval, feeds, has_up, tuple(mine)))
    return out


def held(test: UnitTest, page: Rule) -> tuple[bool, bool]:
    """(held past keep_firing_for after its series vanished, CfHaPageFeedLost meanwhile)."""
    keep = parse_duration(page.keep_firing_for or "0s")
    firing = test.times(page.name, firing=True)
    for later in firing:
        vanished = test.unseen_since(later)
        if vanished is None or later - vanished < keep:
            continue
        if any(t < vanished and test.seen(t) for t in firing):
            lost = test.times(FEED_LOST, firing=True)
            return True, any(t >= vanished for t in lost)
    return False, False


def resolved(test: UnitTest, page: Rule) -> bool:
    firing = [t for t in test.times(page.name, firing=True) if test.seen(t)]
    quiet = [t for t in test.times(page.name, firing=False) if test.seen(t)]
    return any(f < q for f in firing for q in quiet)


def armed_tests(page: Rule, rules: list[Rule], cases: list[AlertCase]) -> list[UnitTest]:
    """The tests with series that feed `page`, and the `up` series its hold reads."""
    metrics = feeding_metrics(page, rules)
    return [
        t for t in unit_tests_of(cases, metrics) if t.has_up or "up" not in metric_names(page.expr)
    ]


def page_gaps(rules: list[Rule], cases: list[AlertCase]) -> dict[str, list[str]]:
    """Per page that reads facts, which of HELD, FEED_LOST_PAGES, RESOLVED no test shows."""
    gaps = {}
    for page in pages(rules):
        if not feeding_metrics(page, rules):
            continue
        armed = armed_tests(page, rules, cases)
        holds = [held(t, page) for t in armed]
        missing = []
        if not any(h for h, _ in holds):
            missing.append(HELD)
        elif not any(h and lost for h, lost in holds):
            missing.append(FEED_LOST_PAGES)
        if not any(resolved(t, page) for t in armed):
            missing.append(RESOLVED)
        if missing:
            gaps[page.name] = missing
    return gaps


# -- the shipped rules and tests -----------------------------------------------------------


def test_every_page_but_the_feed_lost_page_reads_facts() -> None:
    """The only page computed from nothing but Prometheus' own series is the one about lost
    feeds; every other page is checked below."""
    without = {p.name for p in pages(RULES) if not feeding_metrics(p, RULES)}
    assert without == {FEED_LOST}
    assert len(pages(RULES)) >= 10


def test_every_page_holds_while_unseen_and_resolves_when_fixed() -> None:
    assert page_gaps(RULES, CASES) == {}


DATA_PAGES = [p for p in pages(RULES) if p.name != FEED_LOST]


def held_case_file(page: Rule, rules_dir: Path, target: Path) -> Path:
    """A promtool test file of the first held case of `page` alone, reading `rules_dir`."""
    (test,) = [t for t in armed_tests(page, RULES, CASES) if held(t, page)[0]][:1]
    doc = yaml.safe_load((TESTS_DIR / test.file).read_text())
    (group,) = [g for g in doc["tests"] if g.get("name") == test.name]
    group["alert_rule_test"] = [c for c in group["alert_rule_test"] if c["alertname"] == page.name]
    doc["tests"] = [group]
    doc["rule_files"] = [str(rules_dir / Path(f).name) for f in doc["rule_files"]]
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def without_holds(text: str) -> str:
    """A rule file whose pages never see themselves firing: their hold branch never applies."""
    return re.sub(r'(ALERTS\{alertname="\w+", alertstate=)"firing"', r'\1"never"', text)


def test_without_its_hold_every_page_resolves_in_its_held_case(tmp_path: Path) -> None:
    """The ALERTS branch is what keeps each page of a held case firing: with the branch
    disabled every case fails on its own, with the shipped rules the same case files pass."""
    tool = promtool()

    def run(files: list[Path]) -> subprocess.CompletedProcess[str]:
        argv = [tool, "test", "rules", *map(str, files)]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=ENV, check=False
        )

    cases: dict[str, list[Path]] = {}
    for variant in ("shipped", "without"):
        rules = tmp_path / variant
        rules.mkdir()
        for path in RULES_DIR.glob("*.yml"):
            text = path.read_text()
            (rules / path.name).write_text(without_holds(text) if variant == "without" else text)
        cases[variant] = [
            held_case_file(page, rules, tmp_path / f"{page.name}-{variant}_test.yml")
            for page in DATA_PAGES
        ]
    assert without_holds((RULES_DIR / "cluster.yml").read_text()).count('"never"') >= 9
    shipped = run(cases["shipped"])
    assert shipped.returncode == 0, shipped.stdout[-3000:]
    for page, case in zip(DATA_PAGES, cases["without"], strict=True):
        assert run([case]).returncode != 0, f"{page.name} holds without its ALERTS branch"


@pytest.mark.parametrize("page", DATA_PAGES, ids=lambda r: r.name)
def test_the_runbook_of_a_page_says_what_happens_when_its_data_vanishes(page: Rule) -> None:
    text = (RUNBOOKS / f"{page.name}.md").read_text()
    assert f"({FEED_LOST}.md)" in text, f"{page.name}.md does not link {FEED_LOST}.md"


# -- the check itself can fail ---------------------------------------------------------------

SYNTHETIC_RULES = rules_of(
    {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"record": "cfha:x:max", "expr": "max by (cluster) (cfha_x)"},
                    {
                        "alert": "CfHaPage",
                        "expr": "cfha:x:max == 1 or (ALERTS and on (cluster) up)",
                        "keep_firing_for": "3m",
                        "labels": {"severity": "critical"},
                    },
                    {"alert": FEED_LOST, "expr": "ALERTS", "labels": {"severity": "critical"}},
                ],
            }
        ]
    },
    "synthetic.yml",
)
FIRING = [{"exp_labels": {"cluster": "c", "severity": "critical"}}]


def synthetic_cases(
    values: str, checks: list[tuple[str, str, bool]], up: bool = True
) -> list[AlertCase]:
    series = [{"series": 'cfha_x{cluster="c"}', "values": values}]
    if up:
        series.append({"series": 'up{cluster="c"}', "values": "1x40"})
    return cases_of(
        {
            "tests": [
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"alertname": name, "eval_time": at, "exp_alerts": FIRING if firing else []}
                        for name, at, firing in checks
                    ],
                }
            ]
        },
        "synthetic_test.yml",
    )


def test_the_page_check_wants_all_three() -> None:
    cases = synthetic_cases("1x30", [("CfHaPage", "5m", True), ("CfHaPage", "0m", False)])
    assert page_gaps(SYNTHETIC_RULES, cases) == {"CfHaPage": [HELD, RESOLVED]}


def test_the_page_check_is_satisfied_by_a_held_and_a_resolved_test() -> None:
    vanish = synthetic_cases(
        "1x9 stale", [("CfHaPage", "5m", True), ("CfHaPage", "20m", True), (FEED_LOST, "20m", True)]
    )
    fixed = synthetic_cases("1x9 0x20", [("CfHaPage", "5m", True), ("CfHaPage", "15m", False)])
    assert page_gaps(SYNTHETIC_RULES, vanish + fixed) == {}


def test_firing_within_keep_firing_for_is_not_held() -> None:
    """At 12m the series vanished 2m ago: keep_firing_for (3m) alone keeps the page firing."""
    cases = synthetic_cases(
        "1x9 stale", [("CfHaPage", "5m", True), ("CfHaPage", "12m", True), (FEED_LOST, "12m", True)]
    )
    assert HELD in page_gaps(SYNTHETIC_RULES, cases)["CfHaPage"]


def test_a_held_case_without_the_feed_lost_page_is_reported() -> None:
    cases = synthetic_cases("1x9 stale", [("CfHaPage", "5m", True), ("CfHaPage", "20m", True)])
    assert FEED_LOST_PAGES in page_gaps(SYNTHETIC_RULES, cases)["CfHaPage"]


def test_a_resolution_without_up_proves_nothing() -> None:
    """Without `up` the hold is not armed: the case does not count."""
    cases = synthetic_cases(
        "1x9 0x20", [("CfHaPage", "5m", True), ("CfHaPage", "15m", False)], up=False
    )
    assert RESOLVED in page_gaps(SYNTHETIC_RULES, cases)["CfHaPage"]


# -- promtool's series notation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ("1x2", "vvv"),
        ("+Inf+0x2 -Inf", "vvvv"),
        ("0+1x1 1-2x1 NaN 2e3", "vvvvvv"),
        ("1 _x3 stale _", "vmmmsm"),
    ],
)
def test_series_notation_expands(values: str, kinds: str) -> None:
    assert "".join(k[0] for k in expand(values)) == kinds


@pytest.mark.parametrize("bad", ["1y2", "x3", "stale1", "1+x2"])
def test_series_notation_refuses_what_it_cannot_read(bad: str) -> None:
    with pytest.raises(SeriesError):
        expand(bad)


@pytest.mark.parametrize(
    ("values", "at", "seen"),
    [
        ("1x2 stale", 120, True),
        ("1x2 stale", 180, False),  # a staleness marker
        ("1x2", 420, True),  # the last sample, 5m ago: within the lookback
        ("1x2", 421, False),
        ("_ 1", 0, False),
        ("1 _x3", 200, True),  # missing samples: the last value is still seen
    ],
)
def test_series_visibility(values: str, at: float, seen: bool) -> None:
    assert visible(values, 60, at) is seen


def test_series_names() -> None:
    assert metric_name('cfha_pg_up{node="hub1"}') == "cfha_pg_up"
    assert metric_name("cfha:x:max") == "cfha:x:max"
    with pytest.raises(SeriesError):
        metric_name('{__name__="x"}')
