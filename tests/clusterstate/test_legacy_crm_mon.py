"""A pacemaker 1.1 hub: crm_mon without `--output-as` is detected once per binary and read
through its legacy `--as-xml`, and every fact both services use is the same as from 2.x's XML.

Pacemaker 1.1 cannot run here: `tests/support/pacemaker-1.1/crm_mon` stands in for it (it refuses
every option 1.1.23 does not know as 1.1 does, and answers `--as-xml` with 1.1's schema made from
the real crm_mon's legacy output).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from lab.offline.cibstates import PCMK_TZ, CibStates
from remediator.config import config_from_mapping
from remediator.live import cluster_reader
from servicekit.metrics import MetricWriter, exposition_text
from tests.support.metrics_text import sample_value
from tests.support.runners import OfflineRunner

from .test_one_reading import NoPostgres, exporter_text, published_facts, snapshot_facts

STAND_IN = Path(__file__).resolve().parents[1] / "support" / "pacemaker-1.1" / "crm_mon"


@pytest.fixture(autouse=True)
def zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", PCMK_TZ)


@pytest.mark.parametrize("state", CibStates.NAMES)
def test_the_remediator_on_pacemaker_11_reads_what_the_exporter_on_2x_publishes(
    state: str, cib_states: CibStates, tmp_path: Path
) -> None:
    copy = tmp_path / "cib.xml"
    shutil.copyfile(getattr(cib_states, state)(), copy)
    modern = published_facts(exporter_text(OfflineRunner(copy), "hub2"))
    config = config_from_mapping(
        {"cluster": "cfcluster", "node": "hub2", "tools": {"crm_mon": str(STAND_IN)}}
    )
    runner = OfflineRunner(copy)
    legacy = snapshot_facts(cluster_reader(config, runner, NoPostgres()).read())
    assert legacy == modern
    assert any("--as-xml" in call for call in runner.calls)


def test_the_format_is_detected_once_said_in_a_metric_and_read_from_then_on(
    cib_states: CibStates, tmp_path: Path
) -> None:
    copy = tmp_path / "cib.xml"
    shutil.copyfile(cib_states.healthy(), copy)
    runner = OfflineRunner(copy)
    config = PacemakerConfig(crm_mon_path=str(STAND_IN), time_zone=PCMK_TZ)
    collector = PacemakerCollector(config, "hub1", runner)
    for _ in range(3):
        out = MetricWriter()
        state = collector.collect(out)
        assert state.up and state.database is not None
        assert state.database.promoted_nodes == ("hub1",)
    text = exposition_text(out, "cfcluster")
    format_of = "cfha_pacemaker_crm_mon_format"
    assert sample_value(text, format_of, node="hub1", state="as_xml") == 1
    assert sample_value(text, format_of, node="hub1", state="output_as") == 0
    assert sample_value(text, "cfha_pacemaker_up", node="hub1") == 1
    asked = [call for call in runner.calls if call[1:] == ("--help-all",)]
    assert len(asked) == 1, "detected once per binary, not on every scrape"
    refused = [call for call in runner.calls if "--output-as=xml" in call]
    assert len(refused) == 1, "the modern call is tried once, then the legacy one is used"


def test_a_modern_crm_mon_costs_no_detection(cib_states: CibStates, tmp_path: Path) -> None:
    copy = tmp_path / "cib.xml"
    shutil.copyfile(cib_states.healthy(), copy)
    runner = OfflineRunner(copy)
    collector = PacemakerCollector(PacemakerConfig(time_zone=PCMK_TZ), "hub1", runner)
    out = MetricWriter()
    collector.collect(out)
    assert not [call for call in runner.calls if "--help-all" in call]
    text = exposition_text(out, "cfcluster")
    assert sample_value(text, "cfha_pacemaker_crm_mon_format", node="hub1", state="output_as") == 1
