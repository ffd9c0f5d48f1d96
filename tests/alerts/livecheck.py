"""What the live alert test expects, and how it reads what arrived.

An `Expect` names one alert (alertname, and `node` when the alert is about one) and the
receivers each Alertmanager must deliver it to: `shipped` runs alerts/alertmanager.example.yml
as it is (the lab runs without fencing, so its fencing gate mutes every remediation request),
and `nofencing` the documented variant for clusters without fencing by design. An empty receiver
set for one Alertmanager means it mutes the alert (inhibition).

A remediable alert is two alerts of one name (alerts/README.md): `cfha-remediator` among the
receivers stands for its remediation request (`cfha_route="remediator"`), every other receiver
for the humans' copy; a delivery records the route, so a humans' copy at the remediator or a
request at a human is unexpected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.product.promrules import REQUEST_ROUTE, ROUTE_LABEL
from lab.product.promstack import Notification

AMS = ("shipped", "nofencing")
REMEDIATOR = "cfha-remediator"
Key = tuple[str, str]  # (alertname, node or "")
Delivery = tuple[str, str, str, str, str, str]  # (am, receiver, alertname, node, route, status)


@dataclass(frozen=True)
class Expect:
    alertname: str
    node: str = ""
    shipped: frozenset[str] = field(default_factory=frozenset)
    nofencing: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> Key:
        return (self.alertname, self.node)

    def receivers(self, am: str) -> frozenset[str]:
        return self.shipped if am == "shipped" else self.nofencing


def expect(alertname: str, node: str = "", shipped: str = "", nofencing: str = "") -> Expect:
    def split(text: str) -> frozenset[str]:
        return frozenset(r for r in text.split(",") if r)

    return Expect(alertname, node, split(shipped), split(nofencing))


BASELINE = (
    expect("CfHaWatchdog", shipped="cfha-heartbeat", nofencing="cfha-heartbeat"),
    expect("CfHaFencingDisabled", shipped="cfha-ticket", nofencing="cfha-ticket"),
)
# Info alerts reach no receiver; this one follows every CIB write (the pgsql agent's permanent
# data-status attribute included), so a scenario may or may not show it in Prometheus.
MAY_FIRE = frozenset({("CfHaConfigChanged", "")})


# The remediable alerts reach the humans through both Alertmanagers: the lab's missing fencing
# closes the shipped one's gate for the requests only.
def stop_standby(standby: str) -> tuple[Expect, ...]:
    return (
        expect("CfHaPgDown", standby, "cfha-ticket", "cfha-ticket"),
        expect("CfHaFailCountAtThreshold", standby, "cfha-ticket", "cfha-remediator,cfha-ticket"),
        expect("CfHaPgStandbyNotStreaming", standby, "cfha-pager", "cfha-remediator,cfha-pager"),
        expect("CfHaDegraded", "", "cfha-ticket", "cfha-ticket"),
    )


def kill_primary(primary: str, standby: str) -> tuple[Expect, ...]:
    return (
        expect("CfHaPgDown", primary, "cfha-ticket", "cfha-ticket"),
        # not CfHaFailCountAtThreshold nor CfHaPgStandbyNotStreaming for the old primary: its
        # stale lock leaves both to this alert
        expect("CfHaPgsqlLockStale", primary, "cfha-ticket", "cfha-remediator,cfha-ticket"),
        expect("CfHaPgFailoverHappened", standby, "cfha-ticket", "cfha-ticket"),
        expect("CfHaDegraded", "", "cfha-ticket", "cfha-ticket"),
    )


def deliveries(notifications: Iterable[Notification]) -> set[Delivery]:
    """Every alert of every POST as (am, receiver, alertname, node, route, status)."""
    out = set()
    for n in notifications:
        am, _, receiver = n.path.strip("/").partition("/")
        for a in n.alerts:
            labels = a.get("labels", {})
            name, node = labels.get("alertname", ""), labels.get("node", "")
            out.add((am, receiver, name, node, labels.get(ROUTE_LABEL, ""), a["status"]))
    return out


def wanted_firing(expects: Iterable[Expect]) -> set[Delivery]:
    return {
        (
            am,
            receiver,
            e.alertname,
            e.node,
            REQUEST_ROUTE if receiver == REMEDIATOR else "",
            "firing",
        )
        for e in expects
        for am in AMS
        for receiver in e.receivers(am)
    }


def unexpected(got: set[Delivery], allowed: Iterable[Expect]) -> set[Delivery]:
    """Deliveries of alerts, or to receivers, or of a copy, that the expectations do not allow."""
    ok = wanted_firing(allowed)
    ok |= {(*d[:5], "resolved") for d in ok}
    return {d for d in got if d not in ok}


def unresolved(got: set[Delivery], baseline: Iterable[Expect]) -> set[Delivery]:
    """Firing deliveries without their resolution (the baseline's alerts never resolve)."""
    keep = {e.key for e in baseline}
    return {
        d
        for d in got
        if d[5] == "firing" and (d[2], d[3]) not in keep and (*d[:5], "resolved") not in got
    }


def firing_keys(prometheus_alerts: Iterable[dict[str, object]]) -> set[Key]:
    out = set()
    for a in prometheus_alerts:
        labels = a.get("labels")
        if a.get("state") == "firing" and isinstance(labels, dict):
            out.add((str(labels.get("alertname", "")), str(labels.get("node", ""))))
    return out
