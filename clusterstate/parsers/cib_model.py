"""Typed view of a CIB's configuration (``cibadmin --query``), see ``cib.parse_cib``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clusterstate.parsers.pcmk_values import (
    ConstraintKind,
    Role,
    constraint_kind,
    is_cli_constraint,
    parse_bool,
)

__all__ = [
    "CibConfig",
    "CloneConfig",
    "ColocationConstraint",
    "GroupConfig",
    "LocationConstraint",
    "NodeConfig",
    "OperationConfig",
    "OrderConstraint",
    "PrimitiveConfig",
]


@dataclass(frozen=True, slots=True)
class OperationConfig:
    """A configured operation (``<op>``) of a primitive."""

    id: str | None
    name: str
    interval_seconds: float
    timeout_seconds: float | None
    role: Role | None
    on_fail: str | None


@dataclass(frozen=True, slots=True)
class PrimitiveConfig:
    """A configured primitive with its parameters and where it sits in the resource tree."""

    id: str
    agent: str
    """``class:provider:type`` (``class:type`` for classes without providers)."""
    clone_id: str | None
    group_id: str | None
    bundle_id: str | None
    instance_attributes: Mapping[str, str]
    """The agent's parameters (e.g. the pgsql agent's ``tmpdir``, ``pgdata``, ``rep_mode``)."""
    meta_attributes: Mapping[str, str]
    operations: tuple[OperationConfig, ...]


@dataclass(frozen=True, slots=True)
class CloneConfig:
    """A clone, promotable clone (``promotable=true`` or the legacy ``<master>``)."""

    id: str
    promotable: bool
    child_id: str | None
    meta_attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """A resource group and its members in order."""

    id: str
    members: tuple[str, ...]
    meta_attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A node of the ``<nodes>`` section with its permanent attributes."""

    id: str
    uname: str
    type: str | None
    attributes: Mapping[str, str]
    """Permanent node attributes (``crm_attribute -l forever``), e.g. ``<rsc>-data-status``."""


@dataclass(frozen=True, slots=True)
class LocationConstraint:
    """An ``rsc_location``, simple or rule-based.

    ``node``/``score``/``role`` come from the constraint or, for a rule-based one, from its
    single top-level rule (``#uname eq NODE``). ``expires_at`` is set for lifetime constraints
    (``crm_resource --lifetime``/``pcs ... lifetime=``: a rule with ``date_expression lt end``).
    """

    id: str
    resources: tuple[str, ...]
    resource_pattern: str | None
    node: str | None
    score: float | None
    score_attribute: str | None
    role: Role | None
    rule_based: bool
    expires_at: float | None

    @property
    def resource(self) -> str | None:
        """The constrained resource (the first one for a resource set)."""
        return self.resources[0] if self.resources else None

    @property
    def kind(self) -> ConstraintKind:
        """Who placed it: a leftover ``cli-ban-*``/``cli-prefer-*``, a cfha hold, or config."""
        return constraint_kind(self.id)

    @property
    def is_cli(self) -> bool:
        """Left by ``crm_resource --ban/--move`` or ``pcs resource ban/move``."""
        return is_cli_constraint(self.id)


@dataclass(frozen=True, slots=True)
class ColocationConstraint:
    """An ``rsc_colocation`` (sets are flattened into ``resources``)."""

    id: str
    rsc: str | None
    with_rsc: str | None
    score: float | None
    rsc_role: Role | None
    with_rsc_role: Role | None
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderConstraint:
    """An ``rsc_order`` (sets are flattened into ``resources``)."""

    id: str
    first: str | None
    then: str | None
    first_action: str | None
    then_action: str | None
    kind: str | None
    score: float | None
    symmetrical: bool | None
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CibConfig:
    """The configuration part of a CIB plus the header attributes of ``<cib>``."""

    validate_with: str | None
    epoch: int | None
    admin_epoch: int | None
    num_updates: int | None
    have_quorum: bool | None
    dc_uuid: str | None
    cib_last_written: str | None
    """Raw ctime() text (local time of the writer); see ``last_written``."""
    last_written: float | None
    """``cib_last_written`` as Unix time when a time zone was given to the parser."""
    properties: Mapping[str, str]
    """Cluster properties (``crm_config``), e.g. ``stonith-enabled``, ``maintenance-mode``."""
    property_set_ids: frozenset[str]
    """The ids of the ``cluster_property_set``s (cfha's remediation lock is one of its own)."""
    rsc_defaults: Mapping[str, str]
    op_defaults: Mapping[str, str]
    nodes: tuple[NodeConfig, ...]
    primitives: tuple[PrimitiveConfig, ...]
    clones: tuple[CloneConfig, ...]
    groups: tuple[GroupConfig, ...]
    bundles: tuple[str, ...]
    locations: tuple[LocationConstraint, ...]
    colocations: tuple[ColocationConstraint, ...]
    orders: tuple[OrderConstraint, ...]

    @property
    def fencing_enabled(self) -> bool | None:
        """``fencing-enabled`` (3.0.2+) or ``stonith-enabled``; ``None`` = pacemaker default."""
        value = self.properties.get("fencing-enabled", self.properties.get("stonith-enabled"))
        if value is None:
            return None
        try:
            return parse_bool(value)
        except ValueError:
            return None

    def primitive(self, resource_id: str) -> PrimitiveConfig | None:
        """The primitive ``resource_id``, if configured."""
        return next((p for p in self.primitives if p.id == resource_id), None)

    def node_attributes(self, uname: str) -> Mapping[str, str]:
        """Permanent attributes of node ``uname`` (empty when none)."""
        node = next((n for n in self.nodes if n.uname == uname), None)
        return node.attributes if node is not None else {}

    def cli_constraints(self) -> tuple[LocationConstraint, ...]:
        """Leftover ``cli-ban-*`` / ``cli-prefer-*`` location constraints."""
        return tuple(location for location in self.locations if location.is_cli)
