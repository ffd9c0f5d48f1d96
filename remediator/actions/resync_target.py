"""`resync_standby`'s parameters and its target, resolved from the CIB's pgsql resource.

Every path and name comes from the pgsql primitive's instance attributes (`pgdata`, `tmpdir`,
`pgdba`, `pgctl`, `master_ip`, `pgport`, `repuser`), with explicit config overrides, and the
resource agent's own defaults for the optional ones. Never from alert labels.
"""

from __future__ import annotations

import posixpath
import pwd
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from clusterstate.parsers.pcmk_values import CFHA_HOLD_PREFIX
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from remediator import guard
from remediator.actions.base import Context
from remediator.config import NAME_PATTERN, StrictModel
from remediator.guard import Check

ConfigFile = Literal["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf"]
# The pgsql resource agent's defaults for parameters the CIB may leave unset.
RA_DEFAULT_PGDBA = "postgres"
RA_DEFAULT_PGCTL = "/usr/bin/pg_ctl"
RA_DEFAULT_PGPORT = 5432


class ResyncStandbyParams(StrictModel):
    hold_lifetime_seconds: float = Field(default=7200, ge=300)
    stop_timeout_seconds: float = Field(default=180, gt=0)
    rewind: bool = True
    basebackup: bool = True
    command_timeout_seconds: float = Field(default=60, gt=0)
    rewind_timeout_seconds: float = Field(default=1800, gt=0)
    basebackup_timeout_seconds: float = Field(default=7200, gt=0)
    verify_timeout_seconds: float = Field(default=900, gt=0)
    disk_headroom_factor: float = Field(default=1.2, ge=1)
    preserve_files: tuple[ConfigFile, ...] = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf")
    accepted_standby_status: tuple[PgsqlStatus, ...] = (
        PgsqlStatus.HS_SYNC,
        PgsqlStatus.HS_ASYNC,
        PgsqlStatus.HS_POTENTIAL,
    )

    @model_validator(mode="after")
    def _some_method(self) -> ResyncStandbyParams:
        if not (self.rewind or self.basebackup):
            raise ValueError("enable rewind, basebackup, or both")
        return self


@dataclass(frozen=True)
class PgTarget:
    """Everything the data commands need."""

    rsc: str
    clone: str
    node: str
    pgdata: str
    tmpdir: str
    user: str
    uid: int
    gid: int
    home: str
    bin_dir: str
    host: str
    port: int
    repuser: str
    database: str

    @property
    def hold_id(self) -> str:
        """Our own constraint id: not `cli-*`, so clear_cli_constraints never removes it."""
        return f"{CFHA_HOLD_PREFIX}{self.clone}-on-{self.node}"


def resolve(ctx: Context, node: str) -> PgTarget | Check:
    """The target's facts, or the failed check that explains why they cannot be known."""
    pgc = ctx.config.postgres
    p = ctx.snapshot.pacemaker.pgsql
    if p is None or p.clone is None:
        return Check(guard.TARGET_UNKNOWN, False, "no promotable pgsql resource in the CIB")
    if not p.pgdata or not p.tmpdir:
        return Check(guard.PGDATA_SANE, False, "pgdata/tmpdir not set on the pgsql resource")
    user = pgc.user or p.pgdba or RA_DEFAULT_PGDBA
    repuser = pgc.replication_user or p.repuser or user
    if not NAME_PATTERN.match(repuser) or not NAME_PATTERN.match(user):
        return Check(guard.PGDATA_SANE, False, "pgdba/repuser are not plain names")
    host = pgc.primary_host or p.master_ip
    if host is None or not NAME_PATTERN.match(host):
        return Check(guard.SINGLE_PRIMARY, False, "no usable master_ip on the pgsql resource")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return Check(guard.PGDATA_SANE, False, f"no OS user {user!r} on this hub")
    pgctl = p.pgctl or RA_DEFAULT_PGCTL
    return PgTarget(
        rsc=p.resource,
        clone=p.clone,
        node=node,
        pgdata=p.pgdata.rstrip("/"),
        tmpdir=p.tmpdir.rstrip("/"),
        user=user,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        home=entry.pw_dir,
        bin_dir=str(pgc.bin_dir) if pgc.bin_dir else posixpath.dirname(pgctl),
        host=host,
        port=pgc.port or p.pgport or RA_DEFAULT_PGPORT,
        repuser=repuser,
        database=pgc.database,
    )
