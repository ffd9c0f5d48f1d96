"""The pgsql agent's node attributes decoded into closed state sets and numbers."""

from __future__ import annotations

import math

import pytest

from clusterstate.pacemaker_state import pgsql_params
from clusterstate.parsers.cib import parse_cib
from clusterstate.parsers.pgsql_ra import (
    DEFAULT_PGSQL_TMPDIR,
    PgsqlAttributeNames,
    PgsqlStatus,
    ReceiverStatus,
    ReplicationState,
    SyncState,
    decode_pgsql_attributes,
    parse_pgsql_lsn,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PRI", PgsqlStatus.PRI),
        ("HS:sync", PgsqlStatus.HS_SYNC),
        ("HS:async", PgsqlStatus.HS_ASYNC),
        ("HS:potential", PgsqlStatus.HS_POTENTIAL),
        ("HS:connected", PgsqlStatus.HS_CONNECTED),
        ("HS:alone", PgsqlStatus.HS_ALONE),
        ("STOP", PgsqlStatus.STOP),
        ("UNKNOWN", PgsqlStatus.UNKNOWN),
        ("HS:quorum", PgsqlStatus.OTHER),
        ("pri", PgsqlStatus.OTHER),
    ],
)
def test_status(value: str, expected: PgsqlStatus) -> None:
    view = decode_pgsql_attributes({"cfpgsql-status": value}, node="hub1")
    assert view.status is expected
    assert view.is_primary == (expected is PgsqlStatus.PRI)


@pytest.mark.parametrize(
    ("value", "state", "sync"),
    [
        ("LATEST", ReplicationState.LATEST, SyncState.NONE),
        ("STREAMING|SYNC", ReplicationState.STREAMING, SyncState.SYNC),
        ("STREAMING|ASYNC", ReplicationState.STREAMING, SyncState.ASYNC),
        ("STREAMING|POTENTIAL", ReplicationState.STREAMING, SyncState.POTENTIAL),
        ("CATCHUP|ASYNC", ReplicationState.CATCHUP, SyncState.ASYNC),
        ("STARTUP|ASYNC", ReplicationState.STARTUP, SyncState.ASYNC),
        ("BACKUP|ASYNC", ReplicationState.BACKUP, SyncState.ASYNC),
        ("STREAMING|QUORUM", ReplicationState.STREAMING, SyncState.QUORUM),
        ("DISCONNECT", ReplicationState.DISCONNECT, SyncState.NONE),
        ("WEIRD|NEW", ReplicationState.OTHER, SyncState.OTHER),
    ],
)
def test_data_status_splits_into_two_state_sets(
    value: str, state: ReplicationState, sync: SyncState
) -> None:
    view = decode_pgsql_attributes({"cfpgsql-data-status": value}, node="hub2")
    assert (view.replication_state, view.sync_state) == (state, sync)


@pytest.mark.parametrize(
    ("name", "value", "receiver", "score"),
    [
        ("cfpgsql-receiver-status", "normal", ReceiverStatus.NORMAL, None),
        ("cfpgsql-receiver-status", "normal (master)", ReceiverStatus.NORMAL_MASTER, None),
        ("cfpgsql-receiver-status", "ERROR", ReceiverStatus.ERROR, None),
        ("cfpgsql-receiver-status", "broken", ReceiverStatus.OTHER, None),
        ("master-cfpgsql", "1000", None, 1000.0),
        ("master-cfpgsql", "100", None, 100.0),
        ("master-cfpgsql", "-INFINITY", None, -math.inf),
        ("master-cfpgsql", "INFINITY", None, math.inf),
        ("master-cfpgsql", "lots", None, None),
    ],
)
def test_receiver_status_and_promotion_score(
    name: str, value: str, receiver: ReceiverStatus | None, score: float | None
) -> None:
    view = decode_pgsql_attributes({name: value}, node="hub1")
    assert (view.receiver_status, view.promotion_score) == (receiver, score)


def test_absent_attributes_are_unknown_not_zero() -> None:
    view = decode_pgsql_attributes({}, node="hub1")
    assert (
        view.status,
        view.replication_state,
        view.sync_state,
        view.receiver_status,
        view.promotion_score,
        view.master_baseline_lsn,
        view.xlog_location_lsn,
    ) == (None, None, None, None, None, None, None)


def test_lsns_are_numbers() -> None:
    assert parse_pgsql_lsn("0000000005000060") == 0x5000060
    assert parse_pgsql_lsn("00000001000000A8") == (1 << 32) + 0xA8
    assert parse_pgsql_lsn("1/A8") == (1 << 32) + 0xA8
    assert parse_pgsql_lsn("not-an-lsn") is None
    view = decode_pgsql_attributes(
        {"cfpgsql-master-baseline": "0000000005000060", "cfpgsql-xlog-loc": "0000000005000100"},
        node="hub2",
    )
    assert (view.master_baseline_lsn, view.xlog_location_lsn) == (0x5000060, 0x5000100)


def test_resource_name_is_configurable() -> None:
    names = PgsqlAttributeNames.for_resource("pgsql")
    assert (
        names.status,
        names.data_status,
        names.receiver_status,
        names.promotion_score,
        names.master_baseline,
        names.xlog_location,
    ) == (
        "pgsql-status",
        "pgsql-data-status",
        "pgsql-receiver-status",
        "master-pgsql",
        "pgsql-master-baseline",
        "pgsql-xlog-loc",
    )
    view = decode_pgsql_attributes(
        {"pgsql-status": "PRI", "cfpgsql-status": "STOP"}, node="hub1", resource="pgsql"
    )
    assert (view.resource, view.status) == ("pgsql", PgsqlStatus.PRI)


def test_every_state_is_documented() -> None:
    for enum in (PgsqlStatus, ReplicationState, SyncState, ReceiverStatus):
        for member in enum:
            assert member.description.endswith("."), member


def test_lock_path() -> None:
    cib = parse_cib(b"""<configuration><resources><primitive id="cfpgsql" class="ocf"
        provider="heartbeat" type="pgsql"><instance_attributes id="i"><nvpair id="t"
        name="tmpdir" value="/var/cfengine/state/pg/tmp"/></instance_attributes></primitive>
        <primitive id="other" class="ocf" provider="heartbeat" type="pgsql"/>
        </resources></configuration>""")
    params = pgsql_params(cib, "cfpgsql")
    assert params is not None and params.lock_path == "/var/cfengine/state/pg/tmp/PGSQL.lock"
    other = pgsql_params(cib, "other")
    assert other is not None and other.lock_path == f"{DEFAULT_PGSQL_TMPDIR}/PGSQL.lock"
    assert pgsql_params(None, "cfpgsql") is None
