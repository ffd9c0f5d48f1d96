"""The alert rules on the live lab: a real Prometheus (the lab copy of the rules, see
alerts/README.md) scrapes cfha-exporter in both hubs, two real Alertmanagers deliver to a webhook
sink. For `stop-standby` and `kill-primary`, the expected alerts arrive at the expected
receivers and no others, and they resolve after the lab is restored. (`ban` ran here too; its
100 s went to the suite's 45-minute budget: the e2e matrix fires and delivers the same rule from
the same exporters, and tests/alerts/test_inhibition.py routes it through the shipped
configuration in a real Alertmanager.) The lab runs without fencing: the shipped configuration
keeps every remediation request away from the remediator while the humans get the remediable
alerts all the same (tests/alerts/livecheck.py). Also: every metric the rules use appears in the
exporters' real output.

It runs on the session's shared lab (`lab_cluster`), restores it before each scenario and after
the last one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lab.cfhub import collect_once
from lab.cluster import Lab
from lab.product import amconfig
from lab.product.promrules import write_lab_copy
from lab.product.promstack import (
    Prometheus,
    PromStack,
    StackError,
    http_get_bytes,
    missing_binaries,
    wait_until,
)
from tests.alerts import livecheck
from tests.alerts.livecheck import BASELINE, MAY_FIRE, Expect
from tests.alerts.test_metric_names import RECORDED, used_selectors
from tests.conftest import REPO

pytestmark = pytest.mark.lab

EXPORTER_PORT = 9732
TOKEN = "live-test-token-0123456789"
ARRIVE_TIMEOUT = 180.0
RESOLVE_TIMEOUT = 150.0


@dataclass
class Live:
    lab: Lab
    stack: PromStack
    prom: Prometheus
    exporter_urls: dict[str, str]
    seen_metrics: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)

    def scrape_names(self) -> None:
        """Remember every metric name the exporters publish right now."""
        for url in self.exporter_urls.values():
            text = http_get_bytes(f"{url}/metrics").decode()
            for family in text_string_to_metric_families(text):
                self.seen_metrics.update(sample.name for sample in family.samples)


def refresh_cfdb(lab: Lab) -> None:
    """One round of the lab's cf-hub stand-in: the seeded reports move forward to now, as if
    cf-hub had collected them (nothing else refreshes cfdb in the lab, and its hub reports would
    age past the 'not reporting' horizon during a long session)."""
    collect_once(lab.node(lab.primary()).pg_dsn_host())


def exporter_config(lab: Lab, node: str) -> dict[str, Any]:
    """The hub's exporter as a deployment would configure it (defaults for CFEngine's paths)."""
    return {
        "cluster": "cfcluster",
        "node": node,
        "web": {"listen_address": f"127.0.0.1:{EXPORTER_PORT}"},
        "collectors": {
            "postgres": {
                "conninfo": lab.node(node).pg_dsn("cfdb"),
                "expected_standbys": [lab.other(node)],
            },
        },
    }


@pytest.fixture(scope="module")
def live(lab_cluster: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    lab = lab_cluster
    workdir = tmp_path_factory.mktemp("live-alerts")
    started = time.monotonic()
    lab.restore_healthy()
    refresh_cfdb(lab)
    pids = []
    urls = {}
    stack = PromStack(workdir)
    try:
        for node in lab.node_names:
            exporter_file = workdir / f"exporter-{node}.yml"
            exporter_file.write_text(yaml.safe_dump(exporter_config(lab, node)))
            pids.append(
                lab.spawn(
                    node,
                    [sys.executable, "-m", "exporter", "--config.file", str(exporter_file)],
                    env={"PYTHONPATH": str(REPO)},  # the exporter of the tree under test
                    log_path=workdir / f"exporter-{node}.log",
                )
            )
            urls[node] = f"http://127.0.0.1:{lab.forward(node, EXPORTER_PORT)}"
        token = workdir / "token"
        token.write_text(TOKEN)
        am_config = amconfig.load_example()
        ams = [
            stack.alertmanager(
                amconfig.for_loopback(am_config, stack.sink.url("shipped"), token),
                name="am-shipped",
            ),
            stack.alertmanager(
                amconfig.for_loopback(
                    amconfig.without_inhibit_source(am_config, "CfHaFencingDisabled"),
                    stack.sink.url("nofencing"),
                    token,
                ),
                name="am-nofencing",
            ),
        ]
        rules = write_lab_copy(REPO / "alerts" / "rules", workdir / "rules")
        targets = [
            {
                "targets": [url.removeprefix("http://")],
                "labels": {"cluster": "cfcluster", "node": node},
            }
            for node, url in urls.items()
        ]
        prom = stack.prometheus(
            scrape_configs=[{"job_name": "cfha", "honor_labels": True, "static_configs": targets}],
            rule_files=rules,
            alertmanagers=ams,
            external_labels={"cfha_runbook_base": f"file://{REPO / 'alerts' / 'runbooks'}"},
        )
        prom.wait_targets_up()
        live = Live(lab, stack, prom, urls)
        live.timings["setup"] = time.monotonic() - started
        yield live
    finally:
        stack.close()
        for pid in pids:
            lab.stop_spawned(pid)


def allowed_in_prometheus(expects: tuple[Expect, ...]) -> set[livecheck.Key]:
    return {e.key for e in BASELINE + expects} | MAY_FIRE


def watch(
    live: Live,
    until: Any,
    timeout: float,
    what: str,
    allowed: set[livecheck.Key],
    *,
    seen: set[livecheck.Key] | None = None,
) -> None:
    """Poll until `until()` holds; every alert firing in Prometheus meanwhile must be allowed.
    `seen` collects the alerts seen firing."""
    seen = set() if seen is None else seen

    def check() -> bool:
        firing = livecheck.firing_keys(live.prom.alerts())
        seen.update(firing)
        extra = seen - allowed
        assert not extra, f"unexpected alerts firing in Prometheus: {sorted(extra)}"
        return bool(until())

    wait_until(check, timeout, what, interval=0.5)


def baseline_reached(live: Live) -> bool:
    keys = livecheck.firing_keys(live.prom.alerts())
    return keys - MAY_FIRE == {e.key for e in BASELINE}


def run_scenario(live: Live, name: str, expects: tuple[Expect, ...], inject: Any) -> None:
    allowed = allowed_in_prometheus(expects)
    watch(live, lambda: baseline_reached(live), 120, "the healthy baseline", allowed)
    live.stack.sink.clear()
    refresh_cfdb(live.lab)
    started = time.monotonic()
    inject()
    wanted = livecheck.wanted_firing(expects)

    seen: set[livecheck.Key] = set()  # each expected alert must fire, not all at once

    def arrived() -> bool:
        got = livecheck.deliveries(live.stack.sink.received())
        return wanted <= got and {e.key for e in expects} <= seen

    try:
        try:
            watch(live, arrived, ARRIVE_TIMEOUT, f"{name}: the expected alerts", allowed, seen=seen)
        except StackError as exc:
            got = livecheck.deliveries(live.stack.sink.received())
            raise AssertionError(
                f"{exc}\nnot delivered: {sorted(wanted - got)}\n"
                f"never fired: {sorted({e.key for e in expects} - seen)}\n"
                f"fired: {sorted(seen)}"
            ) from None
        live.scrape_names()
        live.timings[f"{name}: arrived"] = time.monotonic() - started
    finally:
        restored = time.monotonic()
        live.lab.restore_healthy()
    got = livecheck.deliveries(live.stack.sink.received())
    assert not livecheck.unexpected(got, BASELINE + expects), "unexpected deliveries"

    def resolved() -> bool:
        now = livecheck.deliveries(live.stack.sink.received())
        return not livecheck.unresolved(now, BASELINE) and baseline_reached(live)

    try:
        watch(live, resolved, RESOLVE_TIMEOUT, f"{name}: every alert resolved", allowed)
    except StackError as exc:
        now = livecheck.deliveries(live.stack.sink.received())
        raise AssertionError(
            f"{exc}\nunresolved: {sorted(livecheck.unresolved(now, BASELINE))}\n"
            f"firing: {sorted(livecheck.firing_keys(live.prom.alerts()))}"
        ) from None
    got = livecheck.deliveries(live.stack.sink.received())
    assert not livecheck.unexpected(got, BASELINE + expects), "unexpected deliveries"
    # the lab runs without fencing: the shipped configuration never lets a request through (the
    # humans' copies did arrive there: `wanted` above)
    assert not {d for d in got if d[:2] == ("shipped", livecheck.REMEDIATOR)}
    live.timings[f"{name}: resolved after restore"] = time.monotonic() - restored


def test_baseline_is_the_watchdog_and_fencing_disabled(live: Live) -> None:
    watch(
        live,
        lambda: baseline_reached(live),
        120,
        "the healthy baseline",
        allowed_in_prometheus(()),
    )
    wanted = livecheck.wanted_firing(BASELINE)
    live.stack.sink.wait_for(
        lambda got: wanted <= livecheck.deliveries(got), 60, "the baseline notifications"
    )
    live.scrape_names()


def test_stop_standby(live: Live) -> None:
    standby = live.lab.standby()
    run_scenario(
        live,
        "stop-standby",
        livecheck.stop_standby(standby),
        lambda: live.lab.inject("stop-standby"),
    )


def test_kill_primary(live: Live) -> None:
    primary, standby = live.lab.primary(), live.lab.standby()
    run_scenario(
        live,
        "kill-primary",
        livecheck.kill_primary(primary, standby),
        lambda: live.lab.inject("kill-primary"),
    )


def test_every_metric_the_rules_use_is_in_the_real_output(live: Live) -> None:
    """What the exporters published in the baseline and at each scenario's height (recorded by
    the tests above, which run first), plus two states the scenarios do not reach: a
    replication slot and a ban with a lifetime."""
    lab = live.lab
    primary, standby = lab.primary(), lab.standby()
    # reserved at once, so that it retains WAL like a slot a standby used
    lab.psql(primary, "SELECT pg_create_physical_replication_slot('cfha_alerts_live', true)")
    try:
        lab.run(
            primary,
            [
                "crm_resource",
                "--ban",
                "--resource",
                "cfvirtip",
                "--node",
                standby,
                "--lifetime",
                "PT1H",
            ],
            check=True,
        )

        def both_seen() -> bool:
            live.scrape_names()
            return {
                "cfha_pacemaker_location_constraint_expiry_timestamp_seconds",
                "cfha_pg_slot_active",
                "cfha_pg_slot_retained_wal_bytes",
            } <= live.seen_metrics

        wait_until(both_seen, 30, "the slot and the constraint in the exporters' output")
    finally:
        lab.psql(primary, "SELECT pg_drop_replication_slot('cfha_alerts_live')")
        lab.run(primary, ["crm_resource", "--clear", "--resource", "cfvirtip"], check=True)
        lab.restore_healthy()
    used = {
        s.name
        for _, s in used_selectors()
        if s.name.startswith("cfha_") and not s.name.startswith("cfha_remediation_")
    }
    assert used - RECORDED - live.seen_metrics == set()
    print("timings:", {k: round(v, 1) for k, v in live.timings.items()})
