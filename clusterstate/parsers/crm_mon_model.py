"""Typed view of one ``crm_mon --output-as=xml`` document (see ``crm_mon.parse_crm_mon``).

Everything is normalised across pacemaker 2.0, 2.1 and 3.0: roles (Master/Slave are
Promoted/Unpromoted), agents (``ocf:provider:type``), ``orphaned``/``removed``,
``stonith-enabled``/``fencing-enabled``. Timestamps are Unix times (float seconds), durations
are seconds, scores and fail counts are floats with pacemaker's INFINITY as ``math.inf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clusterstate.parsers.described import DescribedEnum
from clusterstate.parsers.pcmk_values import Role, is_cli_constraint

__all__ = [
    "Ban",
    "Bundle",
    "BundleReplica",
    "Clone",
    "ClusterOptions",
    "ClusterSummary",
    "CurrentDc",
    "Failure",
    "FenceEvent",
    "FenceStatus",
    "Group",
    "NoQuorumPolicy",
    "Node",
    "NodeAttributes",
    "NodeHealth",
    "NodeType",
    "Operation",
    "PacemakerdState",
    "Primitive",
    "Resource",
    "ResourceHistory",
    "ResourceInstance",
    "ResultStatus",
    "Role",
    "Ticket",
]


class NodeType(DescribedEnum):
    """What kind of member a node is."""

    MEMBER = "member", "A full cluster node running corosync and pacemaker."
    REMOTE = "remote", "A pacemaker_remote node or a guest/bundle node."
    PING = "ping", "A quorum-only node that runs no resources."
    UNKNOWN = "unknown", "Pacemaker does not know the node's type."


class NodeHealth(DescribedEnum):
    """Pacemaker's node-health colour (only meaningful with a node-health-strategy)."""

    GREEN = "green", "Healthy."
    YELLOW = "yellow", "Degraded."
    RED = "red", "Unhealthy: resources are moved away."


class NoQuorumPolicy(DescribedEnum):
    """What pacemaker does in a partition without quorum."""

    STOP = "stop", "Stop all resources in the partition (the default)."
    FREEZE = "freeze", "Keep running resources, start nothing new."
    IGNORE = "ignore", "Carry on as if quorate (two-node clusters that rely on fencing)."
    DEMOTE = "demote", "Demote promoted instances and stop everything else."
    FENCE = "fence", "Fence all nodes of the partition ('suicide' before pacemaker 3.0)."


class PacemakerdState(DescribedEnum):
    """State of the pacemakerd launcher (``<pacemakerd state>``, 2.1.6+ ``pacemakerd-state``)."""

    INIT = "init", "pacemakerd is initialising."
    STARTING_DAEMONS = "starting_daemons", "pacemakerd is starting the cluster daemons."
    WAIT_FOR_PING = "wait_for_ping", "Daemons started, waiting for the controller to report."
    RUNNING = "running", "All cluster daemons are running."
    SHUTTING_DOWN = "shutting_down", "pacemakerd is stopping the cluster daemons."
    SHUTDOWN_COMPLETE = "shutdown_complete", "The cluster daemons have stopped."
    REMOTE = "remote", "This is a pacemaker-remoted node."
    OTHER = "other", "A state unknown to this parser (or pacemaker's own 'invalid')."


class FenceStatus(DescribedEnum):
    """Outcome of a fencing action."""

    SUCCESS = "success", "The target was fenced."
    FAILED = "failed", "Fencing the target failed."
    PENDING = "pending", "The action is still in progress."


@dataclass(frozen=True, slots=True)
class CurrentDc:
    """The designated controller as crm_mon sees it (``summary/current_dc``)."""

    present: bool
    name: str | None
    id: str | None
    version: str | None
    with_quorum: bool | None
    """Whether the DC's partition has quorum (``None`` when there is no DC)."""
    mixed_version: bool | None


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """The cluster options crm_mon reports (``summary/cluster_options``)."""

    fencing_enabled: bool | None
    """``fencing-enabled`` (3.0.2+) or its old name ``stonith-enabled``."""
    symmetric_cluster: bool | None
    no_quorum_policy: NoQuorumPolicy | None
    maintenance_mode: bool | None
    stop_all_resources: bool | None
    fencing_timeout_seconds: float | None
    priority_fencing_delay_seconds: float | None


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """The ``<summary>`` section; absent parts are ``None``."""

    stack: str | None
    pacemakerd_state: PacemakerdState | None
    """``<pacemakerd state>`` (2.1.5) or ``stack@pacemakerd-state`` (2.1.6+)."""
    dc: CurrentDc | None
    last_update: float | None
    """When crm_mon produced the output (Unix time)."""
    last_change: float | None
    """When the CIB configuration last changed (``cib-last-written``, Unix time)."""
    last_change_user: str | None
    last_change_client: str | None
    last_change_origin: str | None
    nodes_configured: int | None
    resources_configured: int | None
    resources_disabled: int | None
    resources_blocked: int | None
    options: ClusterOptions | None


@dataclass(frozen=True, slots=True)
class Node:
    """One ``nodes/node`` entry with every state flag pacemaker publishes."""

    name: str
    id: str | None
    type: NodeType
    online: bool
    standby: bool
    standby_onfail: bool
    maintenance: bool
    pending: bool
    unclean: bool
    shutdown: bool
    expected_up: bool
    is_dc: bool
    resources_running: int | None
    health: NodeHealth | None
    feature_set: str | None
    id_as_resource: str | None

    @property
    def in_standby(self) -> bool:
        """The one standby rule: put in standby by hand, or by a failure (on-fail=standby)."""
        return self.standby or self.standby_onfail


@dataclass(frozen=True, slots=True)
class Primitive:
    """One instance of a primitive resource as listed by crm_mon."""

    id: str
    agent: str
    """``class:provider:type`` (or ``class:type``)."""
    role: Role
    target_role: Role | None
    active: bool
    managed: bool
    failed: bool
    blocked: bool
    removed: bool
    """The resource is no longer configured (``orphaned`` before 3.0.2)."""
    failure_ignored: bool
    maintenance: bool | None
    pending: str | None
    """A pending task such as "Monitoring", when pacemaker reports one."""
    locked_to: str | None
    nodes: tuple[str, ...]
    """Every node the instance is active on; more than one means multi-active."""
    nodes_running_on: int

    @property
    def multi_active(self) -> bool:
        """Active on more than one node at once (split brain for a primitive)."""
        return max(self.nodes_running_on, len(self.nodes)) > 1


@dataclass(frozen=True, slots=True)
class Group:
    """A resource group (also a clone-of-group instance, id ``name:N``)."""

    id: str
    number_resources: int | None
    managed: bool | None
    """``None`` where crm_mon does not say (pacemaker 1.1 prints no group flags)."""
    disabled: bool | None
    maintenance: bool | None
    children: tuple[Primitive, ...]


@dataclass(frozen=True, slots=True)
class Clone:
    """A clone; ``promotable`` is crm_mon's ``multi_state`` (a promotable clone)."""

    id: str
    promotable: bool
    unique: bool
    managed: bool
    disabled: bool | None
    """``None`` where crm_mon does not say (pacemaker 1.1)."""
    failed: bool
    failure_ignored: bool
    target_role: Role | None
    maintenance: bool | None
    children: tuple[Primitive | Group, ...]


@dataclass(frozen=True, slots=True)
class BundleReplica:
    """One replica of a bundle: its container, IP, remote connection and inner resource."""

    id: str
    resources: tuple[Primitive, ...]


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle (container-based resource)."""

    id: str
    type: str | None
    image: str | None
    unique: bool
    managed: bool
    failed: bool
    maintenance: bool | None
    replicas: tuple[BundleReplica, ...]


Resource = Primitive | Group | Clone | Bundle


@dataclass(frozen=True, slots=True)
class ResourceInstance:
    """A primitive instance with its place in the tree (the flattened resource list)."""

    resource_id: str
    clone_id: str | None
    group_id: str | None
    """The group, without the ``:N`` instance suffix of a cloned group."""
    bundle_id: str | None
    replica_id: str | None
    primitive: Primitive

    @property
    def top_id(self) -> str:
        """The id of the top-level resource (clone, bundle, group, or the primitive)."""
        return self.clone_id or self.bundle_id or self.group_id or self.resource_id


@dataclass(frozen=True, slots=True)
class Operation:
    """One ``operation_history`` entry: the last result of an operation on a node."""

    call: int | None
    task: str
    interval_seconds: float
    rc: int
    rc_text: str | None
    last_rc_change: float | None
    last_run: float | None
    exec_time_seconds: float | None
    queue_time_seconds: float | None


@dataclass(frozen=True, slots=True)
class ResourceHistory:
    """Fail count, migration threshold and operations of one resource on one node."""

    node: str
    resource_id: str
    removed: bool
    migration_threshold: float | None
    """``math.inf`` for INFINITY (1000000)."""
    fail_count: float
    """0 when pacemaker shows none, ``math.inf`` for INFINITY."""
    last_failure: float | None
    operations: tuple[Operation, ...]

    @property
    def last_monitor(self) -> Operation | None:
        """The most recent monitor (highest call id): its rc and duration are the current
        health check of this resource on this node."""
        monitors = [op for op in self.operations if op.task == "monitor"]
        return max(monitors, key=lambda op: -1 if op.call is None else op.call, default=None)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed action (``failures/failure``)."""

    op_key: str
    resource_id: str
    task: str | None
    interval_seconds: float | None
    node: str | None
    exitcode: int
    exitstatus: str | None
    """Text of the exit code; wording changed in 3.0 (use ``exitcode``)."""
    exitreason: str | None
    """The agent's OCF exit reason; ``None`` when it gave none (crm_mon's ``"none"``)."""
    call: int | None
    status: str | None
    """Execution status text ("complete"/"Done", "Timed Out", ...)."""
    last_rc_change: float | None
    queued_seconds: float | None
    exec_seconds: float | None


@dataclass(frozen=True, slots=True)
class FenceEvent:
    """One fencing history entry (``fence_history/fence_event``)."""

    target: str
    action: str
    status: FenceStatus
    extended_status: str | None
    exit_reason: str | None
    delegate: str | None
    client: str | None
    origin: str | None
    completed: float | None


@dataclass(frozen=True, slots=True)
class Ban:
    """A negative location constraint as crm_mon lists it (``bans/ban``)."""

    id: str
    resource: str
    node: str
    weight: float
    promoted_only: bool

    @property
    def is_cli(self) -> bool:
        """Left by ``crm_resource --ban/--move`` or pcs (ids ``cli-ban-*``/``cli-prefer-*``)."""
        return is_cli_constraint(self.id)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A multi-site ticket."""

    id: str
    granted: bool
    standby: bool
    last_granted: float | None


@dataclass(frozen=True, slots=True)
class ResultStatus:
    """The trailing ``<status code message>`` of ``--output-as=xml`` with its error lines."""

    code: int
    message: str
    errors: tuple[str, ...]


NodeAttributes = Mapping[str, Mapping[str, str]]
"""Node name -> attribute name -> value (transient and permanent attributes)."""
