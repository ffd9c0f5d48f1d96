"""Pacemaker's part of the cluster model: one typed `PacemakerState` per read, built by a pure
function from crm_mon's status and the CIB configuration.

Everything the exporter publishes, the verdict judges and the remediator checks about pacemaker is
a field or a method here, computed once: where the database is promoted and the floating IP runs,
each node's state (the parser's `Node`), the location constraints and their kinds, the pgsql
agent's view per node, the pgsql resource's parameters, the last promotion, cfha's own lock.
`None` is always "could not be read", never "no".
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clusterstate.parsers.cib_model import CibConfig, LocationConstraint
from clusterstate.parsers.crm_mon import ClusterStatus
from clusterstate.parsers.crm_mon_model import (
    Ban,
    Failure,
    FenceEvent,
    Node,
    NoQuorumPolicy,
    PacemakerdState,
    Primitive,
    ResourceHistory,
    ResourceInstance,
)
from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import (
    DEFAULT_PGSQL_TMPDIR,
    PgsqlAgentView,
    decode_pgsql_attributes,
)

LOCK_SET_ID = "cfha-remediation-lock"
"""The remediators' cluster-wide lock: a `cluster_property_set` of this id in crm_config."""
LOCK_NVPAIR_ID = "cfha-remediation-lock-holder"

# When two instances of one primitive share a node (clone-node-max > 1), the node shows the
# "highest" role: what matters most for the HA pair comes first.
ROLE_PRIORITY = (
    Role.PROMOTED, Role.PROMOTING, Role.DEMOTING, Role.UNPROMOTED, Role.STARTED,
    Role.MIGRATING, Role.STARTING, Role.STOPPING, Role.UNKNOWN, Role.STOPPED,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResourcePlacement:
    """Where one resource (a primitive, or its clone/group) runs, as pacemaker says."""

    resource: str
    """The id asked for (primitive or its clone/group: both are accepted)."""
    primitive: str | None
    """The primitive's own id (`cfpgsql` for `mscfpgsql`); None when not configured."""
    clone: str | None
    group: str | None
    configured: bool
    """crm_mon lists the resource at all (False: misconfigured name or not created yet)."""
    active_nodes: tuple[str, ...]
    """Nodes where an instance is active, sorted (more than one: a primitive is multi-active)."""
    promoted_nodes: tuple[str, ...]
    """Nodes where an instance is promoted, sorted (an UNCLEAN node keeps its last role)."""
    failed_nodes: tuple[str, ...] = ()
    managed: bool = True
    """Every instance is managed (False in maintenance or with is-managed=false)."""
    blocked: bool = False
    node_roles: tuple[tuple[str, Role], ...] = ()
    """(node, role) for each node an instance is on, sorted by node: the highest role there."""

    def names(self, resource_id: str) -> bool:
        """Whether ``resource_id`` is this resource (its primitive, clone or group)."""
        return resource_id in (self.resource, self.primitive, self.clone, self.group)

    def role_on(self, node: str) -> Role:
        """The resource's role on ``node`` (stopped where no instance is)."""
        return dict(self.node_roles).get(node, Role.STOPPED)


@dataclass(frozen=True, slots=True)
class PgsqlParams:
    """The pgsql primitive's instance attributes from the CIB (never from labels or config)."""

    resource: str
    clone: str | None
    pgdata: str | None
    tmpdir: str | None
    pgdba: str | None
    pgctl: str | None
    psql: str | None
    master_ip: str | None
    repuser: str | None
    pgport: int | None
    socketdir: str | None
    logfile: str | None
    agent: str
    """``ocf:heartbeat:pgsql`` for both the stock agent and CFEngine's fork of it."""

    @property
    def lock_path(self) -> str:
        """Where the agent keeps ``PGSQL.lock``: ``<tmpdir>/PGSQL.lock`` (agent default tmpdir)."""
        return posixpath.join(self.tmpdir or DEFAULT_PGSQL_TMPDIR, "PGSQL.lock")


@dataclass(frozen=True, slots=True)
class LockState:
    """The cluster-wide remediation lock as stored in the CIB (None fields: not held)."""

    owner_node: str | None = None
    job_id: str | None = None
    expires: float | None = None
    raw: str | None = None

    @property
    def held(self) -> bool:
        return self.raw is not None


@dataclass(frozen=True, slots=True)
class PacemakerState:
    """Pacemaker on this hub at one moment. When ``up`` is False only the identity fields,
    ``down_reason``/``down_message``, ``pacemakerd_state`` and the last known ``cib`` are set;
    everything about the cluster is empty or ``None`` (unknown, never "fine")."""

    local_node: str
    up: bool
    down_reason: str | None
    """A read failure reason (`unavailable`, `timeout`, `parse`, ...) when not up."""
    down_message: str | None
    pacemakerd_state: PacemakerdState | None
    cluster_name: str | None
    dc: str | None
    """The designated controller's node name (None: no DC, or unknown)."""
    local_is_dc: bool
    quorate: bool | None
    """Pacemaker's view: the DC's partition has quorum (None without a DC)."""
    maintenance_mode: bool | None
    stop_all_resources: bool | None
    fencing_enabled: bool | None
    no_quorum_policy: NoQuorumPolicy | None
    last_change: float | None
    """When the configuration last changed (Unix time): crm_mon's word, the one source."""
    nodes: tuple[Node, ...]
    database: ResourcePlacement | None
    vip: ResourcePlacement | None
    resources: tuple[ResourcePlacement, ...]
    """Every primitive (all instances of a clone together), in crm_mon's order."""
    history: tuple[ResourceHistory, ...]
    """Fail count, migration threshold and operations per resource and node."""
    failed_actions: tuple[Failure, ...]
    fence_events: tuple[FenceEvent, ...]
    """The fencing history (crm_mon prints none when there is none, and none offline)."""
    location_constraints: tuple[LocationConstraint, ...]
    """From the CIB; from crm_mon's bans when no current CIB copy could be read."""
    agent_views: tuple[PgsqlAgentView, ...]
    """The pgsql agent's attributes per node: crm_mon's over the CIB's permanent ones."""
    pgsql: PgsqlParams | None
    """The database primitive's parameters (from the newest CIB copy, current or not)."""
    last_promotion: float | None
    """When the current primary was promoted (its newest promote, or first promoted monitor)."""
    lock: LockState | None
    """cfha's remediation lock; None when no current CIB copy was read."""
    status: ClusterStatus | None
    cib: CibConfig | None
    """The newest CIB configuration copy read (None if none yet)."""
    cib_current: bool
    """``cib`` matches the configuration crm_mon reports now."""
    cib_read_at: float | None
    cib_error: tuple[str, str] | None = field(default=None)
    """(reason, message) when the CIB could not be re-read although it may have changed."""
    config_digest: int | None = field(default=None)
    """The configuration's digest without cfha's and the pgsql agent's own writes
    (`parsers.cib_digest`); None without a current CIB copy."""

    # -- nodes -----------------------------------------------------------------------------------
    def node(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)

    @property
    def online_nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes if node.online)

    @property
    def unclean_nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes if node.unclean)

    # -- resources -------------------------------------------------------------------------------
    def resource(self, resource_id: str) -> ResourcePlacement | None:
        """The placement of the database, the floating IP, or a primitive (or its clone)."""
        for watched in (self.database, self.vip, *self.resources):
            if watched is not None and watched.configured and watched.names(resource_id):
                return watched
        return None

    def history_of(self, resource_id: str, node: str) -> ResourceHistory | None:
        ids = _ids(self, resource_id)
        return next((h for h in self.history if h.node == node and h.resource_id in ids), None)

    def fail_count(self, resource_id: str, node: str) -> float:
        history = self.history_of(resource_id, node)
        return history.fail_count if history is not None else 0.0

    def failures_of(self, resource_id: str, node: str) -> tuple[Failure, ...]:
        ids = _ids(self, resource_id)
        return tuple(f for f in self.failed_actions if f.node == node and f.resource_id in ids)

    # -- constraints and the agent ---------------------------------------------------------------
    def constraint(self, constraint_id: str) -> LocationConstraint | None:
        return next((c for c in self.location_constraints if c.id == constraint_id), None)

    @property
    def cli_constraints(self) -> tuple[LocationConstraint, ...]:
        """Leftover ``cli-ban-*`` / ``cli-prefer-*`` location constraints."""
        return tuple(c for c in self.location_constraints if c.is_cli)

    def agent_view(self, node: str) -> PgsqlAgentView | None:
        return next((view for view in self.agent_views if view.node == node), None)

    @property
    def agent_primaries(self) -> tuple[str, ...]:
        """Nodes the pgsql agent reports as primary (``<rsc>-status`` = PRI)."""
        return tuple(view.node for view in self.agent_views if view.is_primary)

    @classmethod
    def down(
        cls,
        *,
        local_node: str,
        reason: str,
        message: str,
        database_resource: str,
        pacemakerd_state: PacemakerdState | None = None,
        cib: CibConfig | None = None,
        cib_read_at: float | None = None,
    ) -> PacemakerState:
        """Pacemaker could not be observed on this hub."""
        return cls(
            local_node=local_node, up=False, down_reason=reason, down_message=message,
            pacemakerd_state=pacemakerd_state, cluster_name=_cluster_name(cib), dc=None,
            local_is_dc=False, quorate=None, maintenance_mode=None, stop_all_resources=None,
            fencing_enabled=None, no_quorum_policy=None, last_change=None, nodes=(),
            database=None, vip=None, resources=(), history=(), failed_actions=(),
            fence_events=(), location_constraints=(), agent_views=(),
            pgsql=pgsql_params(cib, database_resource), last_promotion=None, lock=None,
            status=None, cib=cib, cib_current=False, cib_read_at=cib_read_at,
        )  # fmt: skip


def _ids(state: PacemakerState, resource_id: str) -> set[str]:
    found = state.resource(resource_id)
    return {resource_id} | ({found.primitive} if found and found.primitive else set())


def pacemaker_state(
    status: ClusterStatus,
    cib: CibConfig | None,
    *,
    local_node: str,
    database_resource: str,
    vip_resource: str,
    cib_current: bool = True,
    cib_read_at: float | None = None,
    cib_error: tuple[str, str] | None = None,
    config_digest: int | None = None,
) -> PacemakerState:
    """Summarise a parsed crm_mon status and the CIB configuration (if any; ``cib_current``
    says whether it matches the status). Pure."""
    current = cib if cib_current else None
    summary = status.summary
    dc = summary.dc if summary is not None else None
    options = summary.options if summary is not None else None
    dc_name = dc.name if dc is not None and dc.present else None
    if dc_name is None:
        dc_name = next((node.name for node in status.nodes if node.is_dc), None)
    database = placement(status, database_resource)
    return PacemakerState(
        local_node=local_node,
        up=True,
        down_reason=None,
        down_message=None,
        pacemakerd_state=summary.pacemakerd_state if summary is not None else None,
        cluster_name=_cluster_name(cib),
        dc=dc_name,
        local_is_dc=dc_name == local_node,
        quorate=dc.with_quorum if dc is not None and dc.present else None,
        maintenance_mode=options.maintenance_mode if options else None,
        stop_all_resources=options.stop_all_resources if options else None,
        fencing_enabled=options.fencing_enabled if options else None,
        no_quorum_policy=options.no_quorum_policy if options else None,
        last_change=summary.last_change if summary is not None else None,
        nodes=status.nodes,
        database=database,
        vip=placement(status, vip_resource),
        resources=primitive_placements(status),
        history=status.history,
        failed_actions=status.failures,
        fence_events=status.fence_events,
        location_constraints=(
            current.locations
            if current is not None
            else tuple(_ban_as_constraint(b) for b in status.bans)
        ),
        agent_views=agent_views(status, current, database.primitive or database_resource),
        pgsql=pgsql_params(cib, database_resource),
        last_promotion=last_promotion(status, database),
        lock=remediation_lock(current) if current is not None else None,
        status=status,
        cib=cib,
        cib_current=current is not None,
        cib_read_at=cib_read_at if cib is not None else None,
        cib_error=cib_error,
        config_digest=config_digest if current is not None else None,
    )


def placement(status: ClusterStatus, resource: str) -> ResourcePlacement:
    """Where ``resource`` (a primitive, or its clone, group or bundle) runs."""
    return _placement(resource, status.instances_of(resource))


def primitive_placements(status: ClusterStatus) -> tuple[ResourcePlacement, ...]:
    """Every primitive's placement, its instances grouped in one pass (clusters with hundreds
    of resources are scraped every few seconds)."""
    grouped: dict[str, list[ResourceInstance]] = {}
    for instance in status.instances:
        grouped.setdefault(instance.resource_id, []).append(instance)
    return tuple(_placement(rid, instances) for rid, instances in grouped.items())


def _placement(resource: str, instances: Sequence[ResourceInstance]) -> ResourcePlacement:
    primitives = [i.primitive for i in instances]
    return ResourcePlacement(
        resource=resource,
        primitive=instances[0].resource_id if instances else None,
        clone=instances[0].clone_id if instances else None,
        group=instances[0].group_id if instances else None,
        configured=bool(instances),
        active_nodes=tuple(sorted({n for p in primitives if p.active for n in p.nodes})),
        promoted_nodes=tuple(
            sorted({n for p in primitives if p.role is Role.PROMOTED for n in p.nodes})
        ),
        failed_nodes=tuple(sorted({n for p in primitives if p.failed for n in p.nodes})),
        managed=all(p.managed for p in primitives),
        blocked=any(p.blocked for p in primitives),
        node_roles=node_roles(primitives),
    )


def node_roles(primitives: Sequence[Primitive]) -> tuple[tuple[str, Role], ...]:
    """(node, highest role there) for the instances of one primitive, sorted by node."""
    roles: dict[str, Role] = {}
    for primitive in primitives:
        for node in primitive.nodes:
            current = roles.get(node, Role.STOPPED)
            if ROLE_PRIORITY.index(primitive.role) < ROLE_PRIORITY.index(current):
                roles[node] = primitive.role
    return tuple(sorted(roles.items()))


def agent_views(
    status: ClusterStatus, cib: CibConfig | None, resource: str
) -> tuple[PgsqlAgentView, ...]:
    """One decoded view per node: crm_mon's attributes win over the CIB's permanent ones
    (crm_mon lists none for an offline node)."""
    names = {node.name for node in status.nodes} | set(status.node_attributes)
    if cib is not None:
        names |= {node.uname for node in cib.nodes if node.attributes}
    views = []
    for name in sorted(names):
        attributes = dict(cib.node_attributes(name)) if cib is not None else {}
        attributes.update(status.attributes_of(name))
        views.append(decode_pgsql_attributes(attributes, node=name, resource=resource))
    return tuple(views)


def last_promotion(status: ClusterStatus, database: ResourcePlacement) -> float | None:
    """When the current primary became primary, from the live operation history: the newest
    `promote`, or the first promoted monitor result (rc 8) when history was cleaned since."""
    if database.primitive is None or not database.promoted_nodes:
        return None
    times = [
        op.last_rc_change
        for h in status.history
        if h.resource_id == database.primitive and h.node in database.promoted_nodes
        for op in h.operations
        if op.last_rc_change is not None
        and (op.task == "promote" or (op.task == "monitor" and op.rc == 8))
    ]
    return max(times, default=None)


def pgsql_params(cib: CibConfig | None, resource: str) -> PgsqlParams | None:
    """The database primitive's parameters (``resource`` may name its clone)."""
    if cib is None:
        return None
    primitive = cib.primitive(resource) or next(
        (p for p in cib.primitives if p.clone_id == resource), None
    )
    if primitive is None:
        return None
    attrs = primitive.instance_attributes
    port = attrs.get("pgport", "")
    return PgsqlParams(
        resource=primitive.id,
        clone=primitive.clone_id,
        pgdata=attrs.get("pgdata"),
        tmpdir=attrs.get("tmpdir"),
        pgdba=attrs.get("pgdba"),
        pgctl=attrs.get("pgctl"),
        psql=attrs.get("psql"),
        master_ip=attrs.get("master_ip"),
        repuser=attrs.get("repuser"),
        pgport=int(port) if port.isdigit() else None,
        socketdir=attrs.get("socketdir"),
        logfile=attrs.get("logfile"),
        agent=primitive.agent,
    )


def remediation_lock(cib: CibConfig) -> LockState:
    """The lock as the CIB holds it. A malformed value never expires by itself (a human
    removes it), and a lock set without its value is still held."""
    if LOCK_SET_ID not in cib.property_set_ids:
        return LockState()
    raw = cib.properties.get(LOCK_NVPAIR_ID, "")
    fields: Mapping[str, str] = dict(
        part.partition("=")[::2] for part in raw.split(";") if "=" in part
    )
    try:
        expires: float | None = float(fields["expires"])
    except (KeyError, ValueError):
        expires = None
    if expires is not None and not math.isfinite(expires):
        expires = None
    return LockState(
        owner_node=fields.get("owner"), job_id=fields.get("job"), expires=expires, raw=raw
    )


def _ban_as_constraint(ban: Ban) -> LocationConstraint:
    return LocationConstraint(
        id=ban.id,
        resources=(ban.resource,),
        resource_pattern=None,
        node=ban.node,
        score=ban.weight,
        score_attribute=None,
        role=Role.PROMOTED if ban.promoted_only else None,
        rule_based=False,
        expires_at=None,
    )


def _cluster_name(cib: CibConfig | None) -> str | None:
    return (cib.properties.get("cluster-name") or None) if cib is not None else None
