"""How the live test reads deliveries (tests/alerts/livecheck.py), without the lab: the two
copies of a remediable alert are told apart, so a copy at the wrong receiver is unexpected."""

from __future__ import annotations

from typing import Any

from lab.product.promstack import Notification
from tests.alerts import livecheck

EXPECTS = (
    livecheck.expect("CfHaPgsqlLockStale", "hub1", "cfha-ticket", "cfha-remediator,cfha-ticket"),
)


def post(path: str, status: str = "firing", **labels: str) -> Notification:
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": "CfHaPgsqlLockStale", "node": "hub1", **labels},
    }
    return Notification(path=path, authorization="", received_at=0.0, body={"alerts": [alert]})


REQUEST = {"cfha_route": "remediator", "severity": "info"}


def test_the_expected_copies_at_their_receivers_are_all_wanted() -> None:
    got = livecheck.deliveries(
        [
            post("/shipped/cfha-ticket"),
            post("/nofencing/cfha-ticket"),
            post("/nofencing/cfha-remediator", **REQUEST),
        ]
    )
    assert got == livecheck.wanted_firing(EXPECTS)
    assert not livecheck.unexpected(got, EXPECTS)
    assert livecheck.unresolved(got, ()) == got


def test_a_copy_at_the_wrong_receiver_is_unexpected() -> None:
    wrong = [
        post("/nofencing/cfha-remediator"),  # the humans' copy at the remediator
        post("/nofencing/cfha-ticket", **REQUEST),  # a request at a human
        post("/shipped/cfha-remediator", **REQUEST),  # through the closed fencing gate
    ]
    for notification in wrong:
        got = livecheck.deliveries([notification])
        assert livecheck.unexpected(got, EXPECTS) == got, notification.path


def test_a_resolution_pairs_with_its_own_copy() -> None:
    got = livecheck.deliveries(
        [
            post("/nofencing/cfha-remediator", **REQUEST),
            post("/nofencing/cfha-ticket"),
            post("/nofencing/cfha-ticket", "resolved"),
        ]
    )
    (left,) = livecheck.unresolved(got, ())
    assert left[1] == "cfha-remediator"
    assert not livecheck.unexpected(got, EXPECTS)
