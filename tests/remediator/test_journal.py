"""The SQLite journal: WAL and durable, append-only audit, memory across reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from remediator.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "j.db", "hub1")


def test_wal_and_full_sync(journal: Journal) -> None:
    assert journal.execute("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert journal.execute("PRAGMA synchronous")[0]["synchronous"] == 2  # FULL


def test_audit_is_append_only_even_for_raw_sql(journal: Journal, tmp_path: Path) -> None:
    journal.audit(1.0, "accepted", reason="x", data={"k": "v"}, job_id="j1")
    other = sqlite3.connect(tmp_path / "j.db")  # someone with the file and sqlite3
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        other.execute("UPDATE audit SET reason = 'forged'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        other.execute("DELETE FROM audit")
    other.close()
    [row] = journal.audit_log()
    assert (row["event"], row["reason"], row["data"], row["node"]) == (
        "accepted",
        "x",
        {"k": "v"},
        "hub1",
    )


def test_everything_survives_reopen(journal: Journal, tmp_path: Path) -> None:
    job = journal.create_job(
        created_at=1.0,
        rule="r",
        action="resource_cleanup",
        target="cfpgsql@hub2",
        alertname="A",
        fingerprint="f1",
        starts_at="s",
        labels={"a": "b"},
        dry_run=0,
        state="queued",
    )
    journal.record_episode("f1", "s", 1.0, job)
    journal.set_circuit("resource_cleanup", "t", is_open=True, now=2.0, reason="r", job_id=job)
    journal.observe_constraints({"sig": "cli-ban-x"}, 5.0)
    journal.close()
    again = Journal(tmp_path / "j.db", "hub1")
    assert again.job(job)["labels"] == {"a": "b"}  # type: ignore[index]
    assert again.episode("f1", "s")["job_id"] == job  # type: ignore[index]
    assert again.circuit("resource_cleanup", "t")["open"] == 1  # type: ignore[index]
    assert again.first_seen("sig") == 5.0
    assert again.first_seen("new") is None


def test_a_constraint_seen_gone_is_forgotten(journal: Journal) -> None:
    journal.observe_constraints({"a": "cli-ban-a", "b": "cli-ban-b"}, 5.0)
    journal.observe_constraints({"a": "cli-ban-a", "c": "cli-ban-c"}, 9.0)
    assert (journal.first_seen("a"), journal.first_seen("b"), journal.first_seen("c")) == (
        5.0,
        None,
        9.0,
    )
    assert journal.forget_constraint("cli-ban-a") == 1
    journal.observe_constraints({"a": "cli-ban-a"}, 20.0)
    assert journal.first_seen("a") == 20.0


def test_rejects_unknown_columns(journal: Journal) -> None:
    with pytest.raises(TypeError):
        journal.update_job("x", **{"state = 'x'; --": "1"})
    with pytest.raises(TypeError):
        journal.audit(1.0, "e", sneaky="x")
