"""What the verdict's rules share: is this hub's database known or down, and who is primary.

Public names on purpose: the PostgreSQL and pacemaker rules (`verdict_rules`) and the CFEngine
rules (`verdict_rules_cfengine`) both ask these questions, and must get one answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from .verdict_model import Status, VerdictInputs


def holds_if(details: Iterable[str]) -> tuple[Status, tuple[str, ...]]:
    found = tuple(details)
    return ("holds" if found else "clear"), found


def pg_down(i: VerdictInputs) -> bool:
    return i.pg is not None and not i.pg.up and i.pg_reason == "connect"


def pg_known(i: VerdictInputs) -> bool:
    return i.pg is not None and i.pg.up and i.pg.role is not None and i.pg_reason is None


def promoted(i: VerdictInputs) -> tuple[str, ...] | None:
    """Where pacemaker promoted the database (None: pacemaker or the resource not observed)."""
    database = i.pacemaker.database if i.pacemaker is not None else None
    return database.promoted_nodes if database is not None else None


def primary_node(i: VerdictInputs) -> str | None:
    """The single primary: pacemaker's promoted node, else this hub if its database is one."""
    nodes = promoted(i)
    if nodes is not None:
        return nodes[0] if len(nodes) == 1 else None
    if pg_known(i) and i.pg is not None and i.pg.role == "primary":
        return i.node
    return None


def streams_from_primary(i: VerdictInputs) -> bool:
    return (
        pg_known(i)
        and i.pg is not None
        and i.pg.role == "standby"
        and i.pg.receiver is not None
        and i.pg.receiver.status == "streaming"
    )


def primary_known_elsewhere(i: VerdictInputs) -> bool:
    """This hub knows it is not the primary: pacemaker promoted another hub, or its database is
    a standby (streaming or not), or it is down."""
    nodes = promoted(i)
    if nodes is not None:
        return i.node not in nodes
    return pg_down(i) or (pg_known(i) and i.pg is not None and i.pg.role == "standby")
