"""CFEngine HA files: the pure parsers, and the collector on real files in temporary directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterstate.parsers.cfengine_files import (
    CfengineFileError,
    local_addresses_from_proc,
    parse_ha_info,
    parse_master_hub,
)
from exporter.collectors.cfengine import (
    HA_ENABLED,
    HA_INFO,
    MASTER_HUB,
    CfengineCollector,
    CfengineConfig,
    CfengineFiles,
)
from exporter.collectors.verdict_model import Thresholds
from exporter.collectors.verdict_rules import evaluate
from exporter.scrape import CollectorError, ScheduledCollector, Scraper
from servicekit.metrics import MetricWriter
from tests.exporter.verdict_facts import healthy, pg_primary
from tests.support.metrics_text import sample_value, scrape_text

SHA1, SHA2 = "1f" * 32, "2e" * 32
HA_INFO_TEXT = json.dumps(
    {
        "10.250.5.1": {"sha": SHA1, "internal_ip": "10.250.5.1", "is_in_cluster": True},
        "10.250.5.2": {"sha": SHA2, "internal_ip": "10.250.5.2"},
        "10.250.5.3": {"sha": "SHA=" + "3d" * 32, "is_in_cluster": False},
    }
)


# -- parsers -----------------------------------------------------------------------------------
def test_ha_info_hubs_in_file_order() -> None:
    hubs = parse_ha_info(HA_INFO_TEXT)
    assert [h.ip for h in hubs] == ["10.250.5.1", "10.250.5.2", "10.250.5.3"]
    assert hubs[0].hostkey == f"SHA={SHA1}"
    assert hubs[1].is_in_cluster  # the documented default
    assert not hubs[2].is_in_cluster and hubs[2].internal_ip is None
    assert hubs[2].sha == "3d" * 32  # a pasted "SHA=" prefix is tolerated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "object keyed by hub IP"),
        ("{}", "lists no hubs"),
        ('{"hub1": {"sha": "' + SHA1 + '"}}', "'hub1' is not an IP address"),
        ('{"10.0.0.1": "x"}', "must be an object"),
        ('{"10.0.0.1": {}}', "sha is missing"),
        ('{"10.0.0.1": {"sha": "PLACE KEY HERE"}}', "'PLACE KEY HERE' is not a key hash"),
        ('{"10.0.0.1": {"sha": "' + SHA1 + '", "is_in_cluster": "yes"}}', "true or false"),
        ('{"10.0.0.1": {"sha": "' + SHA1 + '", "internal_ip": "nope"}}', "not an IP address"),
    ],
)
def test_malformed_ha_info_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CfengineFileError, match=message):
        parse_ha_info(text)


def test_master_hub() -> None:
    assert parse_master_hub("10.250.5.2\n") == "10.250.5.2"
    assert parse_master_hub(" fd00::2 ") == "fd00::2"
    with pytest.raises(CfengineFileError, match="empty"):
        parse_master_hub("\n")
    with pytest.raises(CfengineFileError, match="not an IP address"):
        parse_master_hub("hub1.example.com")


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.250.5.0/24 2 0 2
        |-- 10.250.5.0
           /32 link BROADCAST
           /24 link UNICAST
        |-- 10.250.5.1
           /32 host LOCAL
        |-- 10.250.5.100
           /32 host LOCAL
        |-- 10.250.5.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 127.0.0.1
        /32 host LOCAL
"""
IF_INET6 = (
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "fd000000000000000000000000000002 04 40 00 82     eth0\n"
    "garbage\n"
)


def test_local_addresses_from_proc() -> None:
    found = local_addresses_from_proc(FIB_TRIE, IF_INET6)
    assert found == {"10.250.5.1", "10.250.5.100", "127.0.0.1", "::1", "fd00::2"}
    assert local_addresses_from_proc("", "") == frozenset()


# -- collector ---------------------------------------------------------------------------------
def workdir(tmp_path: Path, ha_info: str | None = HA_INFO_TEXT, master: str | None = "10.250.5.1\n",
            enabled: bool = True) -> Path:  # fmt: skip
    for relative, text in (
        (HA_INFO, ha_info),
        (MASTER_HUB, master),
        (HA_ENABLED, "" if enabled else None),
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text)
    return tmp_path


def collect(work: Path, local: str = "10.250.5.1") -> tuple[CfengineFiles, str, bool]:
    collector = CfengineCollector(
        CfengineConfig(workdir=work), "hub1", local_addresses=lambda: frozenset({local})
    )
    scraper = Scraper([ScheduledCollector(collector, 5.0)], node="hub1", cluster="cfcluster")
    scrape = scraper.scrape()
    scraper.close()
    facts = scrape.facts("cfengine", CfengineFiles)
    assert facts is not None
    return facts, scrape_text(scrape), scrape.results["cfengine"].ok


def test_healthy_files(tmp_path: Path) -> None:
    facts, text, ok = collect(workdir(tmp_path))
    assert ok and facts.ha_enabled
    assert facts.local_hub is not None and facts.local_hub.ip == "10.250.5.1"
    assert [h.ip for h in facts.cluster_hubs] == ["10.250.5.1", "10.250.5.2"]
    assert sample_value(text, "cfha_cfengine_ha_enabled", node="hub1") == 1
    for name in ("ha_info.json", "master_hub.dat", "ha_enabled"):
        assert sample_value(text, "cfha_cfengine_file_state", file=name, state="ok") == 1
        assert (
            sample_value(text, "cfha_cfengine_file_mtime_timestamp_seconds", file=name) or 0
        ) > 0
    assert sample_value(text, "cfha_cfengine_ha_hubs") == 3
    assert sample_value(text, "cfha_cfengine_ha_hub_in_cluster", hub_ip="10.250.5.3") == 0
    assert sample_value(text, "cfha_cfengine_ha_hub_local", hub_ip="10.250.5.1") == 1
    assert sample_value(text, "cfha_cfengine_ha_hub_local", hub_ip="10.250.5.2") == 0
    assert sample_value(text, "cfha_cfengine_ha_hub_info", hostkey=f"SHA={SHA2}") == 1
    assert sample_value(text, "cfha_cfengine_master_hub_info", ip="10.250.5.1") == 1
    assert sample_value(text, "cfha_cfengine_master_hub_is_local") == 1
    assert sample_value(text, "cfha_cfengine_master_hub_listed") == 1


def test_missing_files_are_states_not_failures(tmp_path: Path) -> None:
    facts, text, ok = collect(workdir(tmp_path, ha_info=None, master=None, enabled=False))
    assert ok and not facts.ha_enabled and facts.hubs is None and facts.master_hub_ip is None
    assert sample_value(text, "cfha_cfengine_ha_enabled") == 0
    for name in ("ha_info.json", "master_hub.dat", "ha_enabled"):
        assert sample_value(text, "cfha_cfengine_file_state", file=name, state="missing") == 1
        assert sample_value(text, "cfha_cfengine_file_mtime_timestamp_seconds", file=name) is None
    assert sample_value(text, "cfha_cfengine_ha_hubs") is None
    assert sample_value(text, "cfha_cfengine_master_hub_is_local") is None
    verdict = evaluate(healthy("hub1", files=facts), Thresholds())
    assert verdict.finding("cfengine_ha_config").status == "holds"
    assert "ha_enabled" in " ".join(verdict.finding("cfengine_ha_config").details)


def test_malformed_json_is_invalid(tmp_path: Path) -> None:
    facts, text, ok = collect(workdir(tmp_path, ha_info='{"10.0.0.1": {"sha": "PLACE KEY HERE"}'))
    assert ok and facts.hubs is None
    assert "not valid JSON" in facts.errors["ha_info.json"]
    assert sample_value(text, "cfha_cfengine_file_state", file="ha_info.json", state="invalid") == 1
    assert sample_value(text, "cfha_cfengine_master_hub_listed") is None  # cannot tell
    garbage, text, _ = collect(workdir(tmp_path, master="clients follow me\n"))
    assert garbage.master_hub_ip is None
    assert (
        sample_value(text, "cfha_cfengine_file_state", file="master_hub.dat", state="invalid") == 1
    )


def test_master_hub_pointing_to_the_non_primary(tmp_path: Path) -> None:
    facts, text, ok = collect(workdir(tmp_path, master="10.250.5.2\n"))
    assert ok and facts.master_hub_ip == "10.250.5.2"
    assert sample_value(text, "cfha_cfengine_master_hub_is_local") == 0
    assert sample_value(text, "cfha_cfengine_master_hub_listed") == 1
    # hub1 runs the primary database: clients following hub2 is a reason.
    verdict = evaluate(healthy("hub1", files=facts, cluster=None, pg=pg_primary()), Thresholds())
    finding = verdict.finding("master_hub_not_primary")
    assert finding.status == "holds" and verdict.degraded
    assert "names 10.250.5.2, the primary is this hub (hub1)" in finding.details[0]
    _, text, _ = collect(workdir(tmp_path, master="192.0.2.99\n"))
    assert sample_value(text, "cfha_cfengine_master_hub_listed") == 0


def test_unreadable_file_fails_with_partial_metrics(tmp_path: Path) -> None:
    work = workdir(tmp_path, master=None)
    (work / MASTER_HUB).mkdir()  # a directory where the file should be: reading it fails
    collector = CfengineCollector(CfengineConfig(workdir=work), "hub1", frozenset)
    out = MetricWriter()
    with pytest.raises(CollectorError) as failure:
        collector.collect(out)
    assert failure.value.reason == "permission"
    assert "master_hub.dat" in str(failure.value)
    facts = failure.value.facts
    assert isinstance(facts, CfengineFiles) and facts.file_states["master_hub.dat"] == "unreadable"
    assert facts.hubs is not None  # the rest is still read and published
    _, text, ok = collect(work)
    assert not ok
    assert (
        sample_value(text, "cfha_cfengine_file_state", file="master_hub.dat", state="unreadable")
        == 1
    )
    assert sample_value(text, "cfha_cfengine_ha_hubs") == 3


def test_no_cfengine_installed_is_unavailable(tmp_path: Path) -> None:
    _, text, ok = collect(tmp_path / "nothing-here")
    assert not ok
    assert (
        sample_value(text, "cfha_exporter_collector_failure_reason", collector="cfengine",
                     state="unavailable") == 1
    )  # fmt: skip
