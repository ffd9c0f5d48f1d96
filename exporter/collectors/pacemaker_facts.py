"""The typed facts the `pacemaker` collector returns each scrape: an API for derived collectors.

`PacemakerFacts` is what the `pgsql_agent` collector and the HA verdict read (through
`Scrape.facts("pacemaker", PacemakerFacts)` or the `results` of a derived collector). Every
field is computed once here, by the pure `pacemaker_facts()`, from the parsed crm_mon status and
the CIB configuration; nothing in it is re-read from the cluster. The parsed documents stay
available (`status`, `cib`) for anything the summary fields do not cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusterstate.parsers.cib_model import CibConfig, LocationConstraint
from clusterstate.parsers.crm_mon import ClusterStatus
from clusterstate.parsers.crm_mon_model import Ban, Failure, Node, NoQuorumPolicy, PacemakerdState
from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import PgsqlAgentView, decode_pgsql_attributes


@dataclass(frozen=True, slots=True)
class ResourcePlacement:
    """Where one watched resource (the database or the floating IP) runs, as pacemaker says."""

    resource: str
    """The configured id (primitive or its clone/group: both are accepted)."""
    configured: bool
    """crm_mon lists the resource at all (False: misconfigured name or not created yet)."""
    active_nodes: tuple[str, ...]
    """Nodes where an instance is active, sorted (more than one: a primitive is multi-active)."""
    promoted_nodes: tuple[str, ...]
    """Nodes where an instance is promoted, sorted (an UNCLEAN node keeps its last role)."""


@dataclass(frozen=True, slots=True)
class PacemakerFacts:
    """One scrape of pacemaker on this hub. When ``up`` is False only the identity fields,
    ``down_reason``/``down_message``, ``pacemakerd_state`` and the last known ``cib`` are set;
    everything about the cluster is empty or ``None`` (unknown, never "fine")."""

    local_node: str
    up: bool
    down_reason: str | None
    """A collector failure reason (`unavailable`, `timeout`, `parse`, ...) when not up."""
    down_message: str | None
    pacemakerd_state: PacemakerdState | None
    """This hub's pacemakerd launcher, when crm_mon reports it (never for a saved CIB)."""
    cluster_name: str | None
    """The CIB's ``cluster-name`` property."""
    dc: str | None
    """The designated controller's node name (None: no DC, or unknown)."""
    local_is_dc: bool
    quorate: bool | None
    """The DC's partition has quorum (None without a DC)."""
    maintenance_mode: bool | None
    stop_all_resources: bool | None
    fencing_enabled: bool | None
    no_quorum_policy: NoQuorumPolicy | None
    last_change: float | None
    """When the configuration last changed (Unix time)."""
    nodes: tuple[Node, ...]
    database: ResourcePlacement | None
    vip: ResourcePlacement | None
    failed_actions: tuple[Failure, ...]
    location_constraints: tuple[LocationConstraint, ...]
    """From the CIB; from crm_mon's bans when no current CIB copy could be read (then without
    ``cli-prefer-*``, which are not bans)."""
    agent_views: tuple[PgsqlAgentView, ...]
    """The pgsql agent's attributes of the database resource, per node: crm_mon's attributes
    over the current CIB's permanent ones (crm_mon lists none for an offline node)."""
    status: ClusterStatus | None
    cib: CibConfig | None
    """The newest CIB configuration copy this exporter has read (None if none yet)."""
    cib_current: bool
    """``cib`` matches the configuration crm_mon reports now. False when cibadmin failed after
    a change, or pacemaker is down: then it is only the last known configuration (still good for
    resource parameters such as the pgsql ``tmpdir``)."""
    cib_read_at: float | None
    """When ``cib`` was read (Unix time)."""

    def node(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)

    @property
    def online_nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes if node.online)

    @property
    def unclean_nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes if node.unclean)

    @property
    def cli_constraints(self) -> tuple[LocationConstraint, ...]:
        """Leftover ``cli-ban-*`` / ``cli-prefer-*`` location constraints."""
        return tuple(c for c in self.location_constraints if c.is_cli)

    def agent_view(self, node: str) -> PgsqlAgentView | None:
        return next((view for view in self.agent_views if view.node == node), None)

    @classmethod
    def down(
        cls,
        *,
        local_node: str,
        reason: str,
        message: str,
        pacemakerd_state: PacemakerdState | None = None,
        cib: CibConfig | None = None,
        cib_read_at: float | None = None,
    ) -> PacemakerFacts:
        """Pacemaker could not be observed on this hub."""
        return cls(
            local_node=local_node,
            up=False,
            down_reason=reason,
            down_message=message,
            pacemakerd_state=pacemakerd_state,
            cluster_name=_cluster_name(cib),
            dc=None,
            local_is_dc=False,
            quorate=None,
            maintenance_mode=None,
            stop_all_resources=None,
            fencing_enabled=None,
            no_quorum_policy=None,
            last_change=None,
            nodes=(),
            database=None,
            vip=None,
            failed_actions=(),
            location_constraints=(),
            agent_views=(),
            status=None,
            cib=cib,
            cib_current=False,
            cib_read_at=cib_read_at,
        )


def pacemaker_facts(
    status: ClusterStatus,
    cib: CibConfig | None,
    *,
    local_node: str,
    database_resource: str,
    vip_resource: str,
    cib_current: bool = True,
    cib_read_at: float | None = None,
) -> PacemakerFacts:
    """Summarise a parsed crm_mon status and the CIB configuration (if any; ``cib_current``
    says whether it matches the status). Pure."""
    current = cib if cib_current else None
    summary = status.summary
    dc = summary.dc if summary is not None else None
    options = summary.options if summary is not None else None
    dc_name = dc.name if dc is not None and dc.present else None
    if dc_name is None:
        dc_name = next((node.name for node in status.nodes if node.is_dc), None)
    return PacemakerFacts(
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
        database=placement(status, database_resource),
        vip=placement(status, vip_resource),
        failed_actions=status.failures,
        location_constraints=(
            current.locations
            if current is not None
            else tuple(_ban_as_constraint(b) for b in status.bans)
        ),
        agent_views=agent_views(status, current, database_resource),
        status=status,
        cib=cib,
        cib_current=current is not None,
        cib_read_at=cib_read_at if cib is not None else None,
    )


def placement(status: ClusterStatus, resource: str) -> ResourcePlacement:
    return ResourcePlacement(
        resource=resource,
        configured=bool(status.instances_of(resource)),
        active_nodes=status.active_nodes(resource),
        promoted_nodes=status.promoted_nodes(resource),
    )


def agent_views(
    status: ClusterStatus, cib: CibConfig | None, resource: str
) -> tuple[PgsqlAgentView, ...]:
    """One decoded view per node: crm_mon's attributes win over the CIB's permanent ones."""
    names = {node.name for node in status.nodes} | set(status.node_attributes)
    if cib is not None:
        names |= {node.uname for node in cib.nodes if node.attributes}
    views = []
    for name in sorted(names):
        attributes = dict(cib.node_attributes(name)) if cib is not None else {}
        attributes.update(status.attributes_of(name))
        views.append(decode_pgsql_attributes(attributes, node=name, resource=resource))
    return tuple(views)


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
