"""Pacemaker value syntaxes: times across DST and zones, scores, durations, roles, agents."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from clusterstate.parsers.pcmk_values import (
    Role,
    is_cli_constraint,
    normalise_agent,
    parse_bool,
    parse_ctime,
    parse_interval_spec,
    parse_iso_time,
    parse_ms,
    parse_pcmk_time,
    parse_role,
    parse_score,
)
from lab.offline.cibstates import ctime_text

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*fields: int) -> float:
    """Unix time of the UTC date and time ``fields`` (year, month, day, hour, minute, second)."""
    year, month, day, hour, minute, second = fields
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


class TestCtime:
    def test_reads_local_time_not_utc(self) -> None:
        # ha_cluster_exporter reads this as UTC and is off by the zone's offset
        assert parse_ctime("Tue Nov 24 22:05:28 2026", BERLIN) == utc(2026, 11, 24, 21, 5, 28)
        assert parse_ctime("Tue Nov 24 22:05:28 2026", UTC) == utc(2026, 11, 24, 22, 5, 28)

    def test_half_hour_zone(self) -> None:
        assert parse_ctime("Wed Nov 25 03:35:28 2026", KOLKATA) == utc(2026, 11, 24, 22, 5, 28)

    def test_space_padded_day(self) -> None:
        assert parse_ctime("Tue May  5 12:04:36 2020", UTC) == utc(2020, 5, 5, 12, 4, 36)

    def test_summer_and_winter_offsets_come_from_the_date_not_from_now(self) -> None:
        assert parse_ctime("Tue Jul 14 10:00:00 2026", BERLIN) == utc(2026, 7, 14, 8, 0, 0)
        assert parse_ctime("Mon Jan 12 10:00:00 2026", BERLIN) == utc(2026, 1, 12, 9, 0, 0)

    def test_across_the_spring_dst_change(self) -> None:
        # Europe/Berlin jumps from 02:00 CET to 03:00 CEST on 2026-03-29
        before = parse_ctime("Sun Mar 29 01:59:59 2026", BERLIN)
        after = parse_ctime("Sun Mar 29 03:00:00 2026", BERLIN)
        assert after - before == 1.0
        assert after == utc(2026, 3, 29, 1, 0, 0)

    def test_across_the_autumn_dst_change(self) -> None:
        # America/New_York repeats 01:00-01:59 on 2026-11-01; the hour after it is EST
        assert parse_ctime("Sun Nov  1 00:59:59 2026", NEW_YORK) == utc(2026, 11, 1, 4, 59, 59)
        assert parse_ctime("Sun Nov  1 02:00:00 2026", NEW_YORK) == utc(2026, 11, 1, 7, 0, 0)
        # the repeated hour is ambiguous in ctime(); the earlier (EDT) instant is taken
        assert parse_ctime("Sun Nov  1 01:30:00 2026", NEW_YORK) == utc(2026, 11, 1, 5, 30, 0)

    @pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, KOLKATA, UTC])
    def test_round_trip_through_ctime_text_every_hour_of_a_dst_year(self, zone: ZoneInfo) -> None:
        start = int(utc(2026, 1, 1, 0, 0, 0))
        for epoch in range(start, start + 366 * 86400, 3600 * 7 + 59):
            text = ctime_text(epoch, zone)
            parsed = parse_ctime(text, zone)
            folded = datetime.fromtimestamp(epoch, zone).fold == 1
            # only the second pass through a repeated hour cannot be told apart
            assert parsed == epoch or (folded and parsed == epoch - 3600), text

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "Tue Nov 24 22:05:28",
            "Foo Nov 24 22:05:28 2026",
            "Tue Xyz 24 22:05:28 2026",
            "Tue Nov 31 22:05:28 2026",
            "Tue Nov 24 25:05:28 2026",
            "Tue Nov 24 22:05:28 0000",
        ],
    )
    def test_rejects_malformed(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_ctime(text, UTC)


class TestIsoTime:
    def test_offsets(self) -> None:
        expected = utc(2026, 11, 24, 22, 5, 28)
        assert parse_iso_time("2026-11-24 22:05:28Z", BERLIN) == expected
        assert parse_iso_time("2026-11-24 23:05:28 +01:00", UTC) == expected
        assert parse_iso_time("2026-11-24 17:05:28 -05:00", UTC) == expected
        assert parse_iso_time("2026-11-25 03:35:28 +05:30", UTC) == expected
        assert parse_iso_time("2026-11-24T23:05:28+0100", UTC) == expected

    def test_microseconds_of_fence_events(self) -> None:
        assert (
            parse_iso_time("2026-10-05 12:02:42.088147Z", UTC)
            == utc(2026, 10, 5, 12, 2, 42) + 0.088147
        )

    def test_without_offset_uses_the_given_zone(self) -> None:
        assert parse_iso_time("2026-07-14 10:00:00", BERLIN) == utc(2026, 7, 14, 8, 0, 0)
        assert parse_iso_time("2026-07-14", UTC) == utc(2026, 7, 14, 0, 0, 0)

    @pytest.mark.parametrize(
        "text",
        ["2026-13-01 00:00:00Z", "2026-11-24 22:05", "yesterday", "2026-11-24 22:05:28 +25:00"],
    )
    def test_rejects_malformed(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_iso_time(text, UTC)


def test_pcmk_time_dispatches_every_spelling() -> None:
    assert parse_pcmk_time("", UTC) is None
    assert parse_pcmk_time("  ", UTC) is None
    assert parse_pcmk_time("1795557928", BERLIN) == 1795557928.0
    assert parse_pcmk_time("Tue Nov 24 23:05:28 2026", BERLIN) == 1795557928.0
    assert parse_pcmk_time("2026-11-24 23:05:28 +01:00", UTC) == 1795557928.0


class TestScalars:
    def test_scores(self) -> None:
        assert parse_score("INFINITY") == math.inf
        assert parse_score("+INFINITY") == math.inf
        assert parse_score("-INFINITY") == -math.inf
        assert parse_score("1000000") == math.inf  # crm_mon prints INFINITY as the cap
        assert parse_score("-1000000") == -math.inf
        assert parse_score("100") == 100.0
        assert parse_score("-50") == -50.0
        with pytest.raises(ValueError):
            parse_score("lots")

    def test_booleans(self) -> None:
        for text in ("true", "TRUE", "yes", "on", "1", "y"):
            assert parse_bool(text) is True
        for text in ("false", "no", "off", "0", "n"):
            assert parse_bool(text) is False
        with pytest.raises(ValueError):
            parse_bool("maybe")

    def test_milliseconds(self) -> None:
        assert parse_ms("2044ms") == 2.044
        assert parse_ms("33") == 0.033
        with pytest.raises(ValueError):
            parse_ms("-5ms")

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("10s", 10.0),
            ("0s", 0.0),
            ("10", 10.0),
            ("500ms", 0.5),
            ("2min", 120.0),
            ("1h", 3600.0),
            ("PT10S", 10.0),
            ("PT1M30S", 90.0),
            ("P1DT1H", 90000.0),
        ],
    )
    def test_interval_specs(self, text: str, seconds: float) -> None:
        assert parse_interval_spec(text) == seconds

    @pytest.mark.parametrize("text", ["", "P", "PT", "10 fortnights", "-5s"])
    def test_bad_interval_specs(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_interval_spec(text)


def test_roles_are_normalised_across_versions() -> None:
    assert parse_role("Master") is Role.PROMOTED
    assert parse_role("Slave") is Role.UNPROMOTED
    assert parse_role("Promoted") is Role.PROMOTED
    assert parse_role("Unpromoted") is Role.UNPROMOTED
    assert parse_role("stopped") is Role.STOPPED  # target_role is printed as configured
    assert parse_role("Starting") is Role.STARTING
    assert parse_role("Frobnicating") is Role.UNKNOWN
    assert all(role.description for role in Role)


def test_agents_are_normalised() -> None:
    assert normalise_agent("ocf::heartbeat:pgsql") == "ocf:heartbeat:pgsql"  # pacemaker 2.0
    assert normalise_agent("ocf:heartbeat:pgsql") == "ocf:heartbeat:pgsql"
    assert normalise_agent("stonith:fence_xvm") == "stonith:fence_xvm"
    assert normalise_agent("lsb:dhcpd") == "lsb:dhcpd"


def test_cli_constraints_are_recognised() -> None:
    assert is_cli_constraint("cli-ban-mscfpgsql-on-hub2")
    assert is_cli_constraint("cli-ban-mscfpgsql-on-hub2-rule")  # lifetime bans list the rule
    assert is_cli_constraint("cli-prefer-cfengine")
    assert not is_cli_constraint("location-cfengine-hub1-50")
    assert not is_cli_constraint("not-on-cluster1")
