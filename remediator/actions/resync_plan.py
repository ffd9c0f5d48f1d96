"""The steps of `resync_standby` (see `resync_standby` for the procedure and why)."""

from __future__ import annotations

import time

from lxml import etree
from psycopg.conninfo import make_conninfo

from clusterstate.model import ClusterState
from clusterstate.parsers.pg_messages import Cause
from remediator import guard
from remediator.actions.base import Context, cleanup_argv
from remediator.actions.resync_target import PgTarget, ResyncStandbyParams
from remediator.guard import Check
from remediator.plan import Condition, Outcomes, Plan, Step, WaitCheck, after_ok, all_of
from remediator.simulate import location_constraint_xpath

HOLD_MARGIN_SECONDS = 600
NO_REWIND = "no rewind required"


def as_pg_user(ctx: Context, t: PgTarget, *argv: str) -> tuple[str, ...]:
    """Run as the PostgreSQL OS user, killed if the remediator dies (no orphaned rebuilds).

    setpriv sets the parent-death signal *after* changing credentials (a credential change
    clears it), and `env` keeps it across exec while giving the command a home and a cwd it may
    read.
    """
    return (
        ctx.config.tools.setpriv,
        f"--reuid={t.uid}",
        f"--regid={t.gid}",
        "--init-groups",
        "--pdeathsig",
        "KILL",
        "--",
        "env",
        "--chdir=/",
        f"HOME={t.home}",
        f"USER={t.user}",
        "PGCONNECT_TIMEOUT=10",
        *argv,
    )


def hold_xml(t: PgTarget, expires: float) -> str:
    """What `crm_resource --ban --lifetime` writes, under an id of our own.

    Valid from CIB schema pacemaker-1.2 on (`role` on rsc_location), so on pacemaker 1.1 too; the
    role is `Started` (every role), whose name no release changed.
    """
    hold = t.hold_id
    end = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(expires))
    location = etree.Element("rsc_location", id=hold, rsc=t.clone, role="Started")
    rule = etree.SubElement(
        location, "rule", {"id": f"{hold}-rule", "score": "-INFINITY", "boolean-op": "and"}
    )
    expression = {"id": f"{hold}-expr", "attribute": "#uname", "operation": "eq"}
    etree.SubElement(rule, "expression", {**expression, "value": t.node, "type": "string"})
    etree.SubElement(rule, "date_expression", id=f"{hold}-lifetime", operation="lt", end=end)
    return etree.tostring(location, encoding="unicode")


def rewind_trusted(outcomes: Outcomes) -> bool:
    """Whether pg_rewind's dry run is evidence enough to rewind rather than re-clone.

    pg_rewind finds divergence by comparing timelines. When the promotion kept the timeline (the
    pgsql agent's restart_on_promote=true promotes by a restart, not `pg_ctl promote`), it says
    "no rewind required" even for an old primary that wrote WAL the new primary never saw, and
    that node would then never stream. So "no rewind required" is only trusted for a target that
    last stopped as a standby (in recovery it cannot have written its own WAL); an old primary
    is re-cloned.
    """
    dry_run = outcomes.get("rewind_dry_run")
    if dry_run is None or not dry_run.ok:
        return False
    if NO_REWIND not in dry_run.output:
        return True
    control = outcomes.get("controldata")
    return bool(control and control.ok and "shut down in recovery" in control.output)


def _ok(outcomes: Outcomes, *names: str) -> bool:
    return any((o := outcomes.get(n)) is not None and o.ok for n in names)


def data_untouched(outcomes: Outcomes) -> bool:
    """Nothing of the data directory was changed: no copy moved in, and pg_rewind either did not
    run or found nothing to rewind (a rewind that failed half-way counts as a change)."""
    rewind = outcomes.get("rewind")
    no_op = rewind is not None and rewind.ok and NO_REWIND in rewind.output
    rewound = rewind is not None and not rewind.skipped and not no_op
    return not rewound and not _ok(outcomes, "set_aside", "swap_in")


class ResyncPlanner:
    def __init__(self, ctx: Context, t: PgTarget, params: ResyncStandbyParams) -> None:
        self.ctx, self.t, self.params = ctx, t, params
        short = ctx.job_id[:12]
        self.new_dir = f"{t.pgdata}.cfha-new-{short}"
        self.old_dir = f"{t.pgdata}.cfha-old-{short}"
        self.keep_dir = f"{t.pgdata}.cfha-keep-{short}"
        data = ctx.snapshot.data_dir
        self.keep = [f for f in params.preserve_files if data and f in data.config_files]
        self.has_data = bool(data and data.has_version)
        diagnosis = ctx.snapshot.diagnosis
        self.wal_removed = diagnosis is not None and diagnosis.cause is Cause.WAL_REMOVED
        """pg_rewind cannot bring back WAL the primary removed (and says "no rewind required"
        on a standby): a fresh copy is the cure."""
        local = ctx.snapshot.postgres
        self.was_running = local is not None and local.in_recovery is True
        """It ran as a standby when the job decided: a failure that touched no data restarts it."""

    def plan(self) -> Plan:
        steps = [*self._hold(), *self._keep(), *self._rewind(), *self._basebackup()]
        steps += [*self._restore(), *self._rejoin()]
        return Plan(
            "resync_standby",
            self.t.node,
            tuple(steps),
            tuple(self._on_failure()),
            recovery_guard=self._not_primary_now,
        )

    def _not_primary_now(self, s: ClusterState) -> Check:
        """The hold bans the target: never once it is (or may be) the primary, e.g. after the
        other hub went away during the rebuild and pacemaker promoted this one."""
        return guard.target_not_primary(s, self.t.node, self.ctx.config.guard.vip_resource)

    def _cmd(
        self,
        name: str,
        why: str,
        argv: tuple[str, ...],
        *,
        timeout: float | None = None,
        destructive: bool = False,
        when: Condition | None = None,
        tolerate_failure: bool = False,
        preconditions: tuple[WaitCheck, ...] = (),
    ) -> Step:
        return Step(
            name,
            why,
            timeout or self.params.command_timeout_seconds,
            self.ctx.local_node,
            argv=argv,
            destructive=destructive,
            when=when,
            tolerate_failure=tolerate_failure,
            preconditions=preconditions,
        )

    def _place_hold(self) -> tuple[str, ...]:
        """Create the hold, or renew it in place (one atomic CIB update either way)."""
        p = self.params
        worst_case = (
            p.stop_timeout_seconds
            + 2 * p.rewind_timeout_seconds
            + p.basebackup_timeout_seconds
            + p.verify_timeout_seconds
            + 14 * p.command_timeout_seconds
        )
        # Never shorter than this job can take: it must not expire under a running rebuild.
        lifetime = max(p.hold_lifetime_seconds, worst_case + HOLD_MARGIN_SECONDS)
        xml = hold_xml(self.t, self.ctx.snapshot.taken_at + lifetime)
        cibadmin = self.ctx.config.tools.cibadmin
        return (cibadmin, "--modify", "--allow-create", "--scope", "constraints", "--xml-text", xml)

    def _hold(self) -> list[Step]:
        t = self.t
        return [
            self._cmd(
                "hold",
                "keep pacemaker from starting PostgreSQL here while it is rebuilt",
                self._place_hold(),
                destructive=True,
                # right before the standby is stopped: the cause is still one a re-sync cures,
                # and the primary accepts the replication user (a running standby is never
                # stopped to find out)
                preconditions=(
                    lambda s: guard.cured_by_resync(s, t.node, t.hold_id),
                    guard.replication_handshake,
                ),
            ),
            Step(
                "wait_stopped",
                "the data directory must be still before it is touched",
                self.params.stop_timeout_seconds,
                self.ctx.local_node,
                wait_for=stopped(t),
                wait_description=f"{t.rsc} stopped on {t.node} and no postmaster running",
            ),
        ]

    def _keep(self) -> list[Step]:
        if not self.keep:
            return []
        files = tuple(f"{self.t.pgdata}/{f}" for f in self.keep)
        return [
            self._cmd(
                "keep_config_dir",
                "a place for this node's own configuration files",
                ("install", "-d", "-m", "0700", "--", self.keep_dir),
            ),
            self._cmd(
                "keep_config",
                "pg_rewind and pg_basebackup bring the primary's configuration files",
                ("cp", "-p", "-t", self.keep_dir, "--", *files),
            ),
        ]

    def _rewind(self) -> list[Step]:
        if not (self.params.rewind and self.has_data) or self.wal_removed:
            return []
        t = self.t
        source = make_conninfo(
            host=t.host, port=t.port, user=t.repuser, dbname=t.database, connect_timeout=10
        )
        rewind = (
            f"{t.bin_dir}/pg_rewind",
            f"--target-pgdata={t.pgdata}",
            f"--source-server={source}",
        )
        timeout = self.params.rewind_timeout_seconds
        return [
            self._cmd(
                "controldata",
                "how the target last stopped: as a primary, or as a standby in recovery",
                as_pg_user(self.ctx, t, f"{t.bin_dir}/pg_controldata", "-D", t.pgdata),
                tolerate_failure=True,
            ),
            self._cmd(
                "rewind_dry_run",
                "find out whether pg_rewind can resynchronise in place",
                as_pg_user(self.ctx, t, *rewind, "--dry-run"),
                timeout=timeout,
                tolerate_failure=True,
            ),
            self._cmd(
                "rewind",
                "rewind the data directory onto the primary's timeline",
                as_pg_user(self.ctx, t, *rewind),
                timeout=timeout,
                destructive=True,
                when=Condition(
                    "the dry run succeeded and proves the target is not diverged",
                    lambda o, _s: rewind_trusted(o),
                ),
                tolerate_failure=self.params.basebackup,
            ),
        ]

    def _basebackup(self) -> list[Step]:
        if not self.params.basebackup:
            return []
        t = self.t
        not_rewound = Condition("pg_rewind did not succeed", lambda o, _s: not _ok(o, "rewind"))
        copied = after_ok("basebackup")
        exists = Condition("pgdata exists", lambda _o, s: bool(s.data_dir and s.data_dir.exists))
        owner = ("-o", str(t.uid), "-g", str(t.gid))
        basebackup = (
            f"{t.bin_dir}/pg_basebackup",
            "-h",
            t.host,
            "-p",
            str(t.port),
            "-U",
            t.repuser,
        )
        return [
            self._cmd(
                "prepare_new",
                "an empty directory for a fresh copy, beside pgdata (same filesystem)",
                ("install", "-d", "-m", "0700", *owner, "--", self.new_dir),
                when=not_rewound,
            ),
            self._cmd(
                "basebackup",
                "copy the primary into the fresh directory",
                as_pg_user(
                    self.ctx, t, *basebackup, "-D", self.new_dir, "-X", "stream", "-c", "fast", "-w"
                ),
                timeout=self.params.basebackup_timeout_seconds,
                when=all_of(not_rewound, after_ok("prepare_new")),
            ),
            self._cmd(
                "set_aside",
                "keep the old data directory for forensics; it is never deleted here",
                ("mv", "-T", "--", t.pgdata, self.old_dir),
                destructive=True,
                when=all_of(copied, exists),
            ),
            self._cmd(
                "swap_in",
                "the fresh copy becomes pgdata",
                ("mv", "-T", "--", self.new_dir, t.pgdata),
                destructive=True,
                when=copied,
            ),
        ]

    def _restore(self) -> list[Step]:
        if not self.keep:
            return []
        rebuilt = Condition(
            "rewind or swap_in succeeded", lambda o, _s: _ok(o, "rewind", "swap_in")
        )
        files = tuple(f"{self.keep_dir}/{f}" for f in self.keep)
        return [
            self._cmd(
                "restore_config",
                "put this node's own configuration files back",
                ("cp", "-p", "-t", self.t.pgdata, "--", *files),
                destructive=True,
                when=rebuilt,
            )
        ]

    def _release_argv(self) -> tuple[str, ...]:
        xpath = location_constraint_xpath(self.t.hold_id)
        return (self.ctx.config.tools.cibadmin, "--delete", "--xpath", xpath)

    def _rejoin(self) -> list[Step]:
        t = self.t
        return [
            self._cmd(
                "remove_lock",
                "the agent refuses to start while PGSQL.lock exists; this hub's lock only",
                ("rm", "-f", "--", f"{t.tmpdir}/PGSQL.lock"),
                destructive=True,
            ),
            self._cmd(
                "release_hold",
                "let pacemaker start PostgreSQL here again",
                self._release_argv(),
                destructive=True,
            ),
            self._cmd(
                "cleanup",
                f"forget {t.rsc}'s failures on {t.node}",
                cleanup_argv(self.ctx.config, t.rsc, t.node),
                destructive=True,
            ),
            Step(
                "verify",
                "the standby streams from the primary on the same timeline",
                self.params.verify_timeout_seconds,
                self.ctx.local_node,
                wait_for=streaming(t, self.params),
                wait_description=f"{t.node} HS:*, streaming on the primary, same timeline",
            ),
        ]

    def _on_failure(self) -> list[Step]:
        steps: list[Step] = []
        if self.params.basebackup:
            partial = Condition(
                "the copy was started but not moved in",
                lambda o, _s: _ok(o, "prepare_new") and not _ok(o, "swap_in"),
            )
            steps.append(
                self._cmd(
                    "remove_partial_copy",
                    "an unfinished copy is useless and fills the disk",
                    ("rm", "-rf", "--one-file-system", "--", self.new_dir),
                    when=partial,
                )
            )
        t = self.t
        as_found = Condition(
            "it was a running standby and its data were not touched",
            lambda o, _s: self.was_running and data_untouched(o),
        )
        changed = Condition(
            "its data were changed, or it was not running before (it cannot be trusted)",
            lambda o, _s: not (self.was_running and data_untouched(o)),
        )
        left_as_found = "left as found: running, its data untouched (not held stopped for hours)"
        steps += [
            self._cmd(
                "release_hold_as_found",
                left_as_found,
                self._release_argv(),
                when=as_found,
                destructive=True,  # the recovery guard: never on a node that is primary now
            ),
            self._cmd(
                "restart_as_found",
                f"pacemaker starts {t.rsc} on {t.node} again",
                cleanup_argv(self.ctx.config, t.rsc, t.node),
                when=as_found,
                destructive=True,
            ),
            self._cmd(
                "reassert_hold",
                "held: a failed rebuild that changed the data (or of a node that was not running) "
                "stays banned until a human has looked",
                self._place_hold(),
                when=changed,
                destructive=True,
            ),
        ]
        return steps


def stopped(t: PgTarget) -> WaitCheck:
    def check(s: ClusterState) -> Check:
        rsc = s.pacemaker.resource(t.rsc)
        if rsc is None or t.node in rsc.active_nodes:
            return Check("wait_stopped", False, f"{t.rsc} still active on {t.node} (or unknown)")
        if s.data_dir is None or s.data_dir.postmaster_running is not False:
            return Check("wait_stopped", False, "a postmaster may still be running")
        return Check("wait_stopped", True, "stopped")

    return check


def streaming(t: PgTarget, params: ResyncStandbyParams) -> WaitCheck:
    """HS:* per the agent, a streaming walsender on the primary, and the same timeline."""

    def check(s: ClusterState) -> Check:
        view = s.pacemaker.agent_view(t.node)
        status = view.status if view is not None else None
        primary, local = s.primary, s.postgres
        problem = None
        if status not in params.accepted_standby_status:
            problem = f"{t.rsc}-status on {t.node} is {status}"
        elif primary is None or primary.in_recovery is not False:
            problem = "the primary cannot be read"
        elif t.node not in primary.streaming_to:
            problem = f"the primary has no streaming walsender for {t.node}"
        elif local is None or local.in_recovery is not True:
            problem = "the local server is not a running standby"
        elif primary.timeline is None or (local.received_timeline or local.timeline) != (
            primary.timeline
        ):
            problem = f"timeline {local.received_timeline} here, {primary.timeline} on primary"
        if problem:
            return Check("verify", False, problem)
        return Check(
            "verify", True, f"{status}, streaming, timeline {primary and primary.timeline}"
        )

    return check
