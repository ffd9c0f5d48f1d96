"""The verdict's reasons above the database (issue 20): hub collection, ha.cfg, ha_info.json
drift, the HA inventory, keys, Mission Portal's files, the marker, the daemons, re-clone room.
Each holds, clears and is unknown on hand-made facts."""

from __future__ import annotations

import dataclasses

import pytest

from clusterstate.parsers.cfengine_files import HaCfg
from exporter.collectors.verdict_model import Thresholds, Verdict, VerdictInputs
from exporter.collectors.verdict_rules import evaluate
from tests.exporter.verdict_facts import (
    IP,
    NOW,
    cluster,
    daemons,
    files,
    healthy,
    hosts,
    hub_facts,
    member,
    mp_config,
    pg_standby,
    readiness,
)

DEFAULTS = Thresholds()  # the stale limit follows the hub's horizon


def judge(inputs: VerdictInputs) -> Verdict:
    return evaluate(inputs, DEFAULTS)


def finding(inputs: VerdictInputs, code: str) -> tuple[str, str]:
    f = judge(inputs).finding(code)
    return f.status, " | ".join(f.details)


# -- item 6: the active hub's collection stops -------------------------------------------------
def frozen_cf_hub(local: str, age: float = 1000.0) -> VerdictInputs:
    """cf-hub on hub1 (the active hub) frozen `age` seconds ago: nothing in cfdb moves any more.
    It had collected hub1 last and hub2 200 s earlier, so hub2's own report is the older one."""
    hub = dataclasses.replace(
        hub_facts(
            member("hub1", age, state="active", extended="PRI", master_ip=IP["hub1"]),
            member("hub2", age + 200, state="passive", extended="HS:async", master_ip=IP["hub1"]),
        ),
        hosts=hosts(newest_age=age),
    )
    return healthy(
        local, hub=hub, daemons=daemons(cf_hub="stopped" if local == "hub1" else "absent")
    )


@pytest.mark.parametrize("local", ["hub1", "hub2"])
def test_frozen_collection_is_named_once_and_the_passive_hub_is_not_blamed(local: str) -> None:
    verdict = judge(frozen_cf_hub(local))
    holding = {f.code: " | ".join(f.details) for f in verdict.holding}
    # Before: hub_reports_stale held with "hub2 last reported 1200 s ago", blaming the healthy
    # passive hub whose report simply aged first. Now the cause, once:
    assert list(holding) == ["hub_collection_stopped"]
    detail = holding["hub_collection_stopped"]
    assert detail.startswith("cf-hub on hub1, the active hub, is not collecting: ")
    assert "the newest report in cfdb is 1000 s old (horizon 900 s, configured)" in detail
    assert ("cf-hub on hub1 is stopped (frozen)" in detail) == (local == "hub1")


def test_the_active_hub_sees_its_own_cf_hub_stopped_before_the_horizon() -> None:
    assert finding(frozen_cf_hub("hub1", age=60), "hub_collection_stopped") == (
        "holds",
        "cf-hub on hub1, the active hub, is not collecting: cf-hub on hub1 is stopped (frozen)",
    )
    # The passive hub can only tell from cfdb, which is not old enough yet.
    assert finding(frozen_cf_hub("hub2", age=60), "hub_collection_stopped") == ("clear", "")


def test_collection_stopped_unknown_and_never_collected() -> None:
    no_cfdb = healthy("hub2", hub=dataclasses.replace(hub_facts(), up=False, hosts=None))
    assert finding(no_cfdb, "hub_collection_stopped")[0] == "unknown"
    never = healthy("hub2", hub=dataclasses.replace(hub_facts(), hosts=hosts(newest_age=None)))
    assert "no host has ever been collected" in finding(never, "hub_collection_stopped")[1]


def test_the_horizon_in_use_is_mission_portals() -> None:
    hub = dataclasses.replace(
        hub_facts(member("hub1"), member("hub2", 1500)),
        horizon_seconds=2400,
        horizon_source="mission_portal",
        hosts=hosts(newest_age=1400),
    )
    assert finding(healthy("hub2", hub=hub), "hub_reports_stale") == ("clear", "")
    assert finding(healthy("hub2", hub=hub), "hub_collection_stopped") == ("clear", "")
    old = dataclasses.replace(hub, hosts=hosts(newest_age=2500))
    assert (
        "(horizon 2400 s, Mission Portal's blueHostHorizon)"
        in finding(healthy("hub2", hub=old), "hub_collection_stopped")[1]
    )
    verdict = judge(healthy("hub2", hub=hub))
    assert {h.node: h.stale for h in verdict.hubs} == {"hub1": False, "hub2": False}


# -- ha.cfg, ha_info.json ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "expected", "detail"),
    [
        ({"ha_cfg": None, "file_states": "missing"}, "holds", "ha.cfg: ha.cfg is missing"),
        (
            {
                "ha_cfg": HaCfg(
                    "PRI",
                    ("HS:async", "HS:sync", "HS:alone"),
                    "/usr/sbin/crm_attribute -l reboot -n pgsql-status -G -q",
                )
            },
            "holds",
            "cmd is '/usr/sbin/crm_attribute -l reboot -n pgsql-status -G -q'",
        ),
        (
            {
                "ha_cfg": HaCfg(
                    "PRI",
                    ("HS:async", "HS:sync"),
                    "/usr/sbin/crm_attribute  -l reboot -n cfpgsql-status -G -q",
                )
            },
            "holds",
            "cmp_slave is 'HS:async,HS:sync'",
        ),
        ({"ha_cfg": None, "file_states": "unreadable"}, "unknown", ""),
        ({}, "clear", ""),
    ],
)
def test_ha_cfg_invalid(changes: dict[str, object], expected: str, detail: str) -> None:
    state = changes.get("file_states")
    f = files(ha_cfg=str(state)) if state else files()
    cfg = {k: v for k, v in changes.items() if k != "file_states"}
    f = dataclasses.replace(f, **cfg)  # type: ignore[arg-type]
    got = finding(healthy(files=f), "ha_cfg_invalid")
    assert got[0] == expected and detail in got[1]


def test_ha_info_drift() -> None:
    drift = dataclasses.replace(files(), digests={"ha_info.json": 1, "masterfiles/ha_info.json": 2})
    assert finding(healthy(files=drift), "ha_info_drift")[0] == "holds"
    unknown = dataclasses.replace(files(), digests={"ha_info.json": 1})
    assert finding(healthy(files=unknown), "ha_info_drift")[0] == "unknown"


# -- the HA inventory --------------------------------------------------------------------------
def inventory(**hub2: str) -> VerdictInputs:
    fields = {"state": "passive", "extended": "HS:async", "master_ip": IP["hub1"], **hub2}
    hub2_member = member(
        "hub2",
        60,
        state=fields["state"],
        extended=fields["extended"],
        master_ip=fields["master_ip"],
    )
    return healthy(hub=hub_facts(member("hub1", state="active", extended="PRI"), hub2_member))


@pytest.mark.parametrize(
    ("hub2", "expected", "detail"),
    [
        ({}, "clear", ""),
        (
            {"state": "active"},
            "holds",
            "hub2 reports HA node state active, pacemaker promoted hub1",
        ),
        ({"extended": "PRI"}, "holds", "hub2 reports HA node state extended PRI"),
        ({"master_ip": "10.9.9.9"}, "holds", "hub2 reports HA master IP 10.9.9.9, not"),
        # HS:alone is a passive state: not a disagreement with pacemaker
        ({"extended": "HS:alone"}, "clear", ""),
    ],
)
def test_ha_inventory_mismatch(hub2: dict[str, str], expected: str, detail: str) -> None:
    got = finding(inventory(**hub2), "ha_inventory_mismatch")
    assert got[0] == expected and detail in got[1]


def test_inventory_older_than_the_last_promotion_is_not_judged() -> None:
    """A disagreeing report collected within 5 minutes of the promotion may predate it; an
    agreeing one is fine at any age."""
    for changes, expected in (({"state": "active"}, "unknown"), ({}, "clear")):
        inputs = inventory(**changes)
        assert inputs.pacemaker is not None
        late = dataclasses.replace(inputs.pacemaker, last_promotion=NOW - 100)
        got = finding(dataclasses.replace(inputs, pacemaker=late), "ha_inventory_mismatch")
        assert got == (expected, "")
    no_inventory = healthy(hub=hub_facts(member("hub1"), member("hub2")))
    assert finding(no_inventory, "ha_inventory_mismatch")[0] == "unknown"


# -- failover readiness ------------------------------------------------------------------------
def test_hub_keys_missing() -> None:
    assert finding(healthy(readiness=readiness(hub_key="missing")), "hub_keys_missing") == (
        "holds",
        "10.250.5.2's key is missing in ppkeys_hubs",
    )
    wrong = finding(healthy(readiness=readiness(hub_key="wrong_size")), "hub_keys_missing")
    assert wrong == ("holds", "10.250.5.2's key is wrong size in ppkeys_hubs")
    clients = finding(healthy("hub2", readiness=readiness(missing_clients=7)), "hub_keys_missing")
    assert clients == ("holds", "7 of cfdb's hosts have no key in hub2's ppkeys")
    assert finding(healthy(readiness=None), "hub_keys_missing")[0] == "unknown"


def test_mission_portal_config_missing() -> None:
    got = finding(
        healthy(mission_portal_config=mp_config(**{"config.php": "missing"})),
        "mission_portal_config",
    )
    assert got == ("holds", "config.php is missing")
    # notification_scripts need not exist (the rules compare the hubs)
    scripts = mp_config(notification_scripts="missing")
    assert finding(healthy(mission_portal_config=scripts), "mission_portal_config")[0] == "clear"
    unreadable = mp_config(**{"appsettings.php": "unreadable"})
    assert finding(healthy(mission_portal_config=unreadable), "mission_portal_config")[0] == (
        "unknown"
    )


def test_policy_hub_marker_missing() -> None:
    assert finding(healthy(files=files(am_policy_hub="missing")), "policy_hub_marker_missing") == (
        "holds",
        "state/am_policy_hub does not exist on hub1",
    )
    assert (
        finding(healthy(files=files(am_policy_hub="unreadable")), "policy_hub_marker_missing")[0]
        == "unknown"
    )


def test_cf_hub_on_the_passive_hub() -> None:
    both = healthy("hub2", daemons=daemons(cf_hub="running"))
    assert finding(both, "cf_hub_on_passive") == (
        "holds",
        "cf-hub runs on hub2, which is not the active hub",
    )
    assert finding(healthy("hub2"), "cf_hub_on_passive") == ("clear", "")
    # On the active hub cf-hub belongs there; its absence is a collection problem.
    assert finding(healthy("hub1"), "cf_hub_on_passive") == ("clear", "")
    no_primary = healthy(
        "hub2",
        cluster=cluster(promoted=()),
        pg=pg_standby(receiver="stopped"),
        daemons=daemons(cf_hub="running"),
    )
    assert finding(no_primary, "cf_hub_on_passive")[0] == "holds"  # promoted elsewhere: not here


def test_cf_serverd_down() -> None:
    assert finding(healthy(daemons=daemons(cf_serverd="absent")), "cf_serverd_down") == (
        "holds",
        "cf-serverd on hub1: absent",
    )
    assert finding(healthy(daemons=daemons(cf_serverd="unreadable")), "cf_serverd_down")[0] == (
        "unknown"
    )


def test_reclone_would_not_fit_on_the_standby() -> None:
    got = finding(healthy("hub2", readiness=readiness(fits=False)), "reclone_would_not_fit")
    assert got == (
        "holds",
        "1.0 GiB free beside the data directory on hub2, a re-clone needs at least 10.0 GiB",
    )
    # The primary is the source of a re-clone, never its target.
    assert finding(healthy("hub1", readiness=readiness(fits=False)), "reclone_would_not_fit") == (
        "clear",
        "",
    )
    unknown = healthy("hub2", readiness=readiness(fits=None))
    assert finding(unknown, "reclone_would_not_fit")[0] == "unknown"
