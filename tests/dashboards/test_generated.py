"""The committed dashboards are exactly what dashboards/build.py generates, and they follow the
rules every cfha dashboard keeps: stable uids, unique panel ids, the datasource variable on
every panel and target, the cluster variable in every query, a description on every panel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dashboards import build  # needs grafana-foundation-sdk: pip install -e '.[dashboards]'
from tests.conftest import REPO
from tests.dashboards import boards as data
from tests.dashboards.expected import EXPECTED, STATES

# Links and bookmarks use these: a uid never changes, and the file is named after it.
UIDS = (
    "cfha-ha-overview",
    "cfha-pacemaker",
    "cfha-hub-reporting",
    "cfha-readiness",
    "cfha-remediation",
)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
BOARDS = data.boards()


def test_regenerating_changes_nothing() -> None:
    """The drift test: run `make dashboards` and commit the JSON when this fails."""
    rendered = build.rendered()
    assert sorted(p.name for p in rendered) == sorted(p.name for p in data.files())
    assert build.stale(rendered) == []


def test_rendering_is_deterministic() -> None:
    assert build.rendered() == build.rendered()


def test_the_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    """`python -m dashboards.build --check` fails on a file that differs, and on a missing one."""
    rendered = build.rendered()
    first, second = sorted(rendered)[:2]
    changed = {tmp_path / first.name: rendered[first], tmp_path / second.name: rendered[second]}
    (tmp_path / first.name).write_text(rendered[first].replace("HA", "Ha", 1))
    assert build.stale(changed) == [tmp_path / first.name, tmp_path / second.name]
    assert build.main(["--check"]) == 0


def test_uids_are_the_stable_ones_and_name_the_files() -> None:
    assert sorted(BOARDS) == sorted(UIDS)
    for path in data.files():
        assert data.load(path)["uid"] == path.stem


@pytest.mark.parametrize("uid", UIDS)
def test_panel_ids_are_unique(uid: str) -> None:
    ids = [panel["id"] for panel in data.panels(BOARDS[uid])]
    assert all(isinstance(i, int) and i > 0 for i in ids)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("uid", UIDS)
def test_variables_are_datasource_and_cluster(uid: str) -> None:
    variables = {v["name"]: v for v in BOARDS[uid]["templating"]["list"]}
    assert list(variables) == ["datasource", "cluster"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    cluster = variables["cluster"]
    assert cluster["type"] == "query" and cluster["datasource"] == DATASOURCE
    assert re.fullmatch(r"label_values\(cfha_\w+, cluster\)", cluster["query"])


@pytest.mark.parametrize("uid", UIDS)
def test_every_panel_and_target_uses_the_datasource_variable(uid: str) -> None:
    for panel in data.panels(BOARDS[uid]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])


@pytest.mark.parametrize("uid", UIDS)
def test_every_panel_says_what_to_do(uid: str) -> None:
    """A description long enough to say what the panel shows and what to do about it."""
    for panel in data.panels(BOARDS[uid]):
        if panel["type"] == "row":
            continue
        words = panel.get("description", "").split()
        assert len(words) >= 15, panel["title"]


@pytest.mark.parametrize("uid", UIDS)
def test_titles_are_unique(uid: str) -> None:
    titles = [p["title"] for p in data.panels(BOARDS[uid]) if p["type"] != "row"]
    assert len(titles) == len(set(titles))


def test_every_query_is_scoped_to_the_cluster_variable() -> None:
    """Every selector filters on `cluster="$cluster"`: one pair per view, never two mixed."""
    for target in data.targets():
        selectors = re.findall(r"\b[a-zA-Z_:][\w:]*\{[^}]*\}", target.expr)
        assert selectors, target.key
        for selector in selectors:
            assert 'cluster="$cluster"' in selector, (target.key, selector)


def test_timestamps_are_shown_as_dates_and_only_they_are_scaled() -> None:
    """Grafana's date units take milliseconds: a `_timestamp_seconds` series shown as a date is
    multiplied by 1000, and every query multiplied by 1000 is shown as a date."""
    for uid, board in BOARDS.items():
        for panel in data.panels(board):
            if panel["type"] == "row":
                continue
            units = {panel["fieldConfig"]["defaults"].get("unit")}
            for override in panel["fieldConfig"]["overrides"]:
                units |= {p["value"] for p in override["properties"] if p["id"] == "unit"}
            for target in panel["targets"]:
                if target["expr"].endswith(") * 1000"):
                    assert "dateTimeFromNow" in units, (uid, panel["title"])
                    assert "_timestamp_seconds" in target["expr"], (uid, panel["title"])


def test_every_panel_has_its_live_expectation() -> None:
    """tests/dashboards/expected.py lists each panel with the lab states it must show data in."""
    panels = {
        (uid, panel["title"])
        for uid, board in BOARDS.items()
        for panel in data.panels(board)
        if panel["type"] != "row"
    }
    assert set(EXPECTED) == panels
    assert all(states and states <= set(STATES) for states in EXPECTED.values())


def test_provisioning_loads_the_datasource_and_the_dashboards() -> None:
    """The files Grafana reads at start: a Prometheus datasource whose uid is the datasource
    variable's default, and a file provider for the JSON."""
    folder = data.FOLDER / "provisioning"
    sources = yaml.safe_load((folder / "datasources" / "cfha.yml").read_text())
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert source["url"].startswith("http://")
    for board in BOARDS.values():
        variable = board["templating"]["list"][0]
        assert variable["current"]["value"] == source["uid"]
        assert variable["current"]["text"] == source["name"]
    providers = yaml.safe_load((folder / "dashboards" / "cfha.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    assert provider["options"]["path"].startswith("/")


def test_the_docs_list_every_panel_under_its_dashboard() -> None:
    """docs/dashboards.md has a section per dashboard with each row and panel in it."""
    text = (REPO / "docs" / "dashboards.md").read_text()
    for board in BOARDS.values():
        heading = f"### {board['title']}\n"
        assert heading in text, heading
        section = text.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        for panel in data.panels(board):
            marker = f"**{panel['title']}**" if panel["type"] == "row" else f"*{panel['title']}*"
            assert marker in section, (board["title"], panel["title"])
