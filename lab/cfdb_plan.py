"""The deterministic cfdb seed plan: every row and the exact counts. Pure.

See `lab.cfdb` for the mix of hosts; `plan()` is what `lab.cfdb.seed()` writes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

BLUE_HOST_HORIZON_S = 900
CONNECTION_ERRORS = ("ServerNoReply", "InvalidData", "ServerAuthenticationError")
_ERROR_WEIGHTS = (70, 20, 10)
_CLIENT_NET = ipaddress.IPv4Address("172.16.0.0")


class CfdbError(RuntimeError):
    """Bad seed parameters or a database error while seeding."""


@dataclass(frozen=True)
class Hub:
    """A hub of the HA pair as ha_info.json names it."""

    name: str
    ip: str
    sha: str

    @property
    def hostkey(self) -> str:
        return f"SHA={self.sha}"


def ha_info_text(hubs: Sequence[Hub]) -> str:
    """masterfiles/cfe_internal/enterprise/ha/ha_info.json of these hubs, keyed by IP."""
    info = {h.ip: {"sha": h.sha, "internal_ip": h.ip, "is_in_cluster": True} for h in hubs}
    return json.dumps(info, indent=2) + "\n"


def hubs_from_ha_info(text: str, names: Sequence[str] = ()) -> list[Hub]:
    """Hubs from ha_info.json (keyed by IP); `names` gives their hostnames in file order."""
    try:
        info = json.loads(text)
        entries = [(ip, str(v["sha"])) for ip, v in info.items()]
    except (ValueError, AttributeError, KeyError, TypeError) as err:
        raise CfdbError(f"malformed ha_info.json: {err}") from err
    return [
        Hub(name=names[i] if i < len(names) else ip, ip=ip, sha=sha)
        for i, (ip, sha) in enumerate(entries)
    ]


@dataclass(frozen=True)
class SeedCounts:
    """Exact numbers a seeded cfdb holds (relative to the seed's `now`)."""

    hosts_total: int  # rows in __hosts, hubs included
    hosts_live: int  # deleted IS NULL
    hosts_fresh: int  # live, reported within BLUE_HOST_HORIZON_S of now (hubs included)
    hosts_stale: int  # live, last report older than the horizon
    hosts_never_collected: int  # live, lastreporttimestamp IS NULL
    hosts_deleted: int
    hostkey_collisions: int  # hosts with hostkeycollisions > 0
    call_collected: int
    agent_ok: int
    agent_fail: int
    status_rows: int
    status_consumed: int
    status_failedc: int
    connection_errors: dict[str, int] = field(default_factory=dict)
    lastseen_rows: int = 0
    hub_hostkeys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedPlan:
    hosts: list[tuple[Any, ...]]
    agentstatus: list[tuple[Any, ...]]
    status: list[tuple[Any, ...]]
    errors: list[tuple[Any, ...]]
    lastseen: list[tuple[Any, ...]]
    inventory: list[tuple[Any, ...]]
    counts: SeedCounts


def _share(total: int, percent: int) -> int:
    return 0 if total == 0 else max(1, total * percent // 100)


def _epoch(ts: datetime) -> int:
    return int(ts.timestamp())


@dataclass(frozen=True)
class _Assignment:
    """Which client host is in which category (indexes 0..hosts-1)."""

    category: dict[int, str]  # never | stale | deleted; absent = fresh
    fresh: list[int]
    agent_fail: set[int]
    collisions: set[int]
    call_collected: set[int]


def _assign(hosts: int, rng: random.Random) -> _Assignment:
    order = list(range(hosts))
    rng.shuffle(order)
    shares = [
        ("never", _share(hosts, 4)),
        ("stale", _share(hosts, 10)),
        ("deleted", _share(hosts, 2)),
    ]
    if sum(n for _, n in shares) > hosts:  # tiny data sets: one of each while hosts last
        shares = [(name, 1 if i < hosts else 0) for i, (name, _) in enumerate(shares)]
    category: dict[int, str] = {}
    cursor = 0
    for name, n in shares:
        category.update((idx, name) for idx in order[cursor : cursor + n])
        cursor += n
    fresh = sorted(order[cursor:])
    pick = rng.sample(fresh, len(fresh))
    n_fail = _share(len(fresh), 6)
    n_coll = min(len(pick) - n_fail, _share(len(fresh), 1))
    n_call = min(len(pick) - n_fail - n_coll, _share(len(fresh), 5))
    return _Assignment(
        category=category,
        fresh=fresh,
        agent_fail=set(pick[:n_fail]),
        collisions=set(pick[n_fail : n_fail + n_coll]),
        call_collected=set(pick[n_fail + n_coll : n_fail + n_coll + n_call]),
    )


def ha_inventory(name: str, active: bool, master_ip: str) -> dict[str, str]:
    """A hub's inventory as the enterprise agent reports it: its name and its HA state (the
    attribute names Mission Portal shows; the first hub of the seed is the active one)."""
    return {
        "Host name": name,
        "HA node state": "active" if active else "passive",
        "HA node state extended": "PRI" if active else "HS:async",
        "HA master IP": master_ip,
    }


def client_hostkey(rng_seed: int, index: int) -> str:
    """The host key of client `index` of a seed: a function of the seed and the index only, so
    the lab can render each client's key file (lab.cfengine_side) without the plan."""
    return "SHA=" + hashlib.sha256(f"cfha-lab-host-{rng_seed}-{index}".encode()).hexdigest()


class _Planner:
    """Accumulates the rows of a plan; every random draw comes from one seeded generator."""

    def __init__(self, rng: random.Random, now: datetime, active_hub: str | None) -> None:
        self.rng = rng
        self.now = now
        self.active_hub = active_hub
        self.hosts: list[tuple[Any, ...]] = []
        self.agent: list[tuple[Any, ...]] = []
        self.status: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.lastseen: list[tuple[Any, ...]] = []
        self.inventory: list[tuple[Any, ...]] = []
        self.messages: Counter[str] = Counter()

    def ago(self, low: int, high: int) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(low, high))

    def collection(self, key: str, when: datetime, ok: bool, kind: str) -> None:
        status = "CONSUMED" if ok else "FAILEDC"
        self.status.append((key, _epoch(when), status, None, kind, "cf-hub", None))
        if ok:
            return
        # The first three failures name each message once, so every kind is present.
        n = sum(self.messages.values())
        message = (
            CONNECTION_ERRORS[n]
            if n < len(CONNECTION_ERRORS)
            else self.rng.choices(CONNECTION_ERRORS, _ERROR_WEIGHTS)[0]
        )
        self.messages[message] += 1
        self.errors.append((key, when, message, kind))

    def last_report(self, key: str, kind: str) -> datetime | None:
        """Collection history of one client; returns its last successful report (or None)."""
        rng = self.rng
        if kind == "fresh":
            last = self.ago(5, 290)
            for back in range(rng.randint(1, 3) - 1, -1, -1):
                self.collection(key, last - timedelta(seconds=300 * back), True, "delta")
            return last
        if kind == "stale":
            last = self.ago(1200, 3 * 86400)
            self.collection(key, last, True, "delta")
            for _ in range(rng.randint(1, 2)):
                self.collection(key, self.ago(10, 600), False, "delta")
            return last
        if kind == "deleted":
            last = self.now - timedelta(days=rng.randint(3, 30))
            self.collection(key, last, True, "delta")
            return last
        self.collection(key, self.ago(10, 600), False, "rebase")
        return None

    def client(self, i: int, rng_seed: int, plan: _Assignment) -> None:
        rng = self.rng
        key = client_hostkey(rng_seed, i)
        ip = str(_CLIENT_NET + 1 + i)
        kind = plan.category.get(i, "fresh")
        first = self.now - timedelta(days=rng.randint(7, 400), seconds=rng.randint(0, 86399))
        last = self.last_report(key, kind)
        deleted = last + timedelta(days=1) if kind == "deleted" and last else None
        collisions = rng.randint(1, 3) if i in plan.collisions else 0
        self.hosts.append(
            (key, ip, last, first if last else None, i in plan.call_collected, collisions, deleted)
        )
        if last is not None:
            interval = rng.choice((300, 300, 300, 600))
            failed = i in plan.agent_fail
            ran = (
                self.now - timedelta(seconds=interval * rng.randint(4, 48))
                if failed
                else last - timedelta(seconds=rng.randint(0, 60))
            )
            self.agent.append((key, interval, ran, "FAIL" if failed else "OK"))
        if self.active_hub is not None:
            seen = last if last is not None else self.ago(60, 3600)
            self.lastseen.append((self.active_hub, "INCOMING", key, ip, seen, 300.0))
        self.inventory.append((key, json.dumps({"Host name": f"host{i:06d}.lab.test"})))

    def hub(self, n: int, hub: Hub, hubs: Sequence[Hub]) -> None:
        last = self.now - timedelta(seconds=30 + 30 * n)
        self.hosts.append(
            (hub.hostkey, hub.ip, last, self.now - timedelta(days=30), False, 0, None)
        )
        self.agent.append((hub.hostkey, 300, last - timedelta(seconds=10), "OK"))
        self.collection(hub.hostkey, last, True, "delta")
        self.inventory.append((hub.hostkey, json.dumps(ha_inventory(hub.name, n == 0, hubs[0].ip))))
        for peer in hubs:
            if peer is not hub:
                for direction in ("INCOMING", "OUTGOING"):
                    self.lastseen.append(
                        (hub.hostkey, direction, peer.hostkey, peer.ip, last, 300.0)
                    )


def plan(hosts: int, now: datetime, rng_seed: int, hubs: Sequence[Hub] = ()) -> SeedPlan:
    """Every row of the seed, and its counts. Pure and deterministic."""
    if hosts < 0 or hosts > 2_000_000:
        raise CfdbError(f"hosts must be 0..2000000, got {hosts}")
    if now.tzinfo is None:
        raise CfdbError("now must be timezone-aware")
    # Test data, not secrets: a seeded generator makes the data set reproducible.
    rng = random.Random(rng_seed)  # noqa: S311
    assignment = _assign(hosts, rng)
    planner = _Planner(rng, now, hubs[0].hostkey if hubs else None)
    for i in range(hosts):
        planner.client(i, rng_seed, assignment)
    for n, hub in enumerate(hubs):
        planner.hub(n, hub, hubs)
    kinds = Counter(assignment.category.values())
    consumed = sum(1 for r in planner.status if r[2] == "CONSUMED")
    counts = SeedCounts(
        hosts_total=hosts + len(hubs),
        hosts_live=hosts + len(hubs) - kinds["deleted"],
        hosts_fresh=len(assignment.fresh) + len(hubs),
        hosts_stale=kinds["stale"],
        hosts_never_collected=kinds["never"],
        hosts_deleted=kinds["deleted"],
        hostkey_collisions=len(assignment.collisions),
        call_collected=len(assignment.call_collected),
        agent_ok=len(planner.agent) - len(assignment.agent_fail),
        agent_fail=len(assignment.agent_fail),
        status_rows=len(planner.status),
        status_consumed=consumed,
        status_failedc=len(planner.status) - consumed,
        connection_errors={m: planner.messages[m] for m in CONNECTION_ERRORS},
        lastseen_rows=len(planner.lastseen),
        hub_hostkeys=tuple(h.hostkey for h in hubs),
    )
    return SeedPlan(
        planner.hosts,
        planner.agent,
        planner.status,
        planner.errors,
        planner.lastseen,
        planner.inventory,
        counts,
    )


def expected_counts(
    hosts: int, now: datetime, rng_seed: int, hubs: Sequence[Hub] = ()
) -> SeedCounts:
    return plan(hosts, now, rng_seed, hubs).counts
