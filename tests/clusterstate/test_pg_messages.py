"""The classifiers of `clusterstate.parsers.pg_messages` and `pg_controldata` on what real
PostgreSQL 15 and 18 servers said (captured by `tests/support/pgcapture.py`, never hand-typed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterstate.parsers.pg_controldata import ControlDataError, parse_controldata
from clusterstate.parsers.pg_messages import (
    Cause,
    classify_connection_error,
    classify_message,
    log_records,
    newest_clue,
    since_streaming_started,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pg_messages"
MAJORS = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").is_file())
CASES = [
    (major, name, expected)
    for major in MAJORS
    for name, expected in sorted(
        json.loads((FIXTURES / major / "manifest.json").read_text())["faults"].items()
    )
]


def ids(case: tuple[str, str, dict[str, object]]) -> str:
    return f"{case[0]}-{case[1]}"


def captured(major: str, name: str, kind: str) -> str:
    return (FIXTURES / major / f"{name}.{kind}").read_text()


def test_both_majors_are_captured() -> None:
    assert MAJORS == ["pg15", "pg18"]
    for major in MAJORS:
        version = json.loads((FIXTURES / major / "manifest.json").read_text())["version"]
        assert f"(PostgreSQL) {major[2:]}." in version


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_standby_log_names_the_cause(case: tuple[str, str, dict[str, object]]) -> None:
    major, name, expected = case
    records = log_records(captured(major, name, "log").splitlines())
    clue = newest_clue(since_streaming_started(records))
    assert (clue.cause.value if clue else "none") == expected["log"], clue


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_handshake_error_names_the_cause(case: tuple[str, str, dict[str, object]]) -> None:
    major, name, expected = case
    text = captured(major, name, "handshake").strip()
    if expected["handshake"] == "ok":
        assert text.startswith("ok ") and "IDENTIFY_SYSTEM answered" in text
    else:
        assert classify_connection_error(text).value == expected["handshake"], text


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_control_file_as_pg_controldata_prints_it(
    case: tuple[str, str, dict[str, object]],
) -> None:
    major, name, _expected = case
    text = captured(major, name, "controldata")
    if name == "control_file_lost":
        with pytest.raises(ControlDataError):
            parse_controldata(text)
        assert classify_message(text) is Cause.DATA_MISSING_OR_CORRUPT
        return
    control = parse_controldata(text)
    assert control.system_identifier.isdigit()
    if name == "control_file_damaged":
        assert "CRC" in text  # the reader treats it as damaged, whatever the fields say
    elif name == "former_primary_stopped":
        assert control.last_ran_as_primary and control.cluster_state == "shut down"
    elif name in ("standby_stopped", "pg_version_lost"):
        assert control.cluster_state == "shut down in recovery" and control.last_ran_as_standby
    else:  # running, or killed, in recovery
        assert control.cluster_state == "in archive recovery" and control.last_ran_as_standby
    if name == "timeline_ahead":
        assert control.timeline == 2


@pytest.mark.parametrize("major", MAJORS)
def test_libpq_errors_continue_on_indented_lines(major: str) -> None:
    records = log_records(captured(major, "primary_stopped", "log").splitlines())
    refused = [r for r in records if "Connection refused" in r.text or "closed" in r.text]
    assert refused
    record = refused[-1]
    assert record.severity == "FATAL" and record.at is not None
    assert "\n" not in record.text and "\t" not in record.text


@pytest.mark.parametrize("major", MAJORS)
def test_lines_before_streaming_restarted_explain_nothing(major: str) -> None:
    """The log of a standby that was rejected and then streamed again names no cause."""
    rejected = captured(major, "pg_hba_rejects", "log").splitlines()
    restarted = [
        line for line in captured(major, "wal_removed", "log").splitlines() if "started" in line
    ]
    assert any("started streaming WAL" in line for line in restarted)
    later = [line for line in restarted if "started streaming WAL" in line][-1:]
    assert newest_clue(since_streaming_started(log_records(rejected))) is not None
    assert newest_clue(since_streaming_started(log_records(rejected + later))) is None


@pytest.mark.parametrize("major", MAJORS)
def test_a_password_cfha_could_not_read_is_no_proof(major: str) -> None:
    text = captured(major, "no_password", "handshake")
    assert classify_connection_error(text) is Cause.AUTH_REJECTED
    assert classify_connection_error(text, password_source_known=False) is Cause.UNKNOWN
    other = captured(major, "password_changed", "handshake")
    assert classify_connection_error(other, password_source_known=False) is Cause.AUTH_REJECTED


def test_the_time_of_a_line_is_read_only_from_an_unambiguous_zone() -> None:
    [utc] = log_records(["2026-12-06 13:27:14.924 UTC [11499] FATAL:  x"])
    [offset] = log_records(["2026-12-06 14:27:14.924 +01 [11499] FATAL:  x"])
    [named] = log_records(["2026-12-06 14:27:14.924 CET [11499] FATAL:  x"])
    assert utc.at == offset.at == pytest.approx(1796563634.924)
    assert named.at is None and named.severity == "FATAL"
