"""Reading what the diagnosis needs on this hub: the server log since streaming last started,
pg_controldata, the data directory, and the replication handshake with the primary.

Read only when there is something to explain (this hub is not the primary and its standby does
not stream): a healthy scrape costs nothing here. Each source that cannot be read is a note, never
an exception: the diagnosis then rests on the others (and is `unknown` when none says anything).
Bounded: the log is read from its last `log_max_bytes`, pg_controldata has a timeout, the handshake
a connect timeout of its own.
"""

from __future__ import annotations

import os
import posixpath
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clusterstate.diagnosis import Diagnosis, DiagnosisInputs, clue_of, diagnose, needs_reading
from clusterstate.handshake import Handshake, HandshakeTarget, handshake_target
from clusterstate.handshake import replication_handshake as real_handshake
from clusterstate.host import DataDir, probe_data_dir
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.parsers.pg_controldata import ControlData, ControlDataError, parse_controldata
from clusterstate.parsers.pg_messages import (
    Clue,
    classify_message,
    log_records,
    newest_clue,
    shorten,
    since_streaming_started,
)
from clusterstate.postgres import PgFacts
from clusterstate.tools import CommandError, CommandRunner

RA_DEFAULT_PGCTL = "/usr/bin/pg_ctl"
RA_DEFAULT_PGDBA = "postgres"
# pg_controldata's complaints about the data directory itself (not about who asks).
_DAMAGED = ("No such file or directory", "CRC", "incorrect checksum", "invalid", "unexpected")

Handshaker = Callable[[HandshakeTarget], Handshake]


@dataclass(frozen=True)
class DiagnosisSettings:
    pg_bin_dir: str | None = None
    """Where pg_controldata is; default: the directory of the pgsql resource's `pgctl`."""
    password_file: Path | None = None
    """The replication user's password, for a handshake where the standby's own password
    sources (its primary_conninfo, its OS user's ~/.pgpass) cannot be read by cfha."""
    handshake_timeout_seconds: int = 2
    controldata_timeout_seconds: float = 3.0
    log_max_bytes: int = 256 * 1024


class DiagnosisReader:
    def __init__(
        self,
        settings: DiagnosisSettings,
        runner: CommandRunner,
        *,
        handshake: Handshaker = real_handshake,
        data_dir_probe: Callable[[str], DataDir] = probe_data_dir,
    ) -> None:
        self.settings = settings
        self._runner = runner
        self._handshake = handshake
        self._probe = data_dir_probe

    def read(
        self,
        node: str,
        params: PgsqlParams | None,
        promoted_nodes: tuple[str, ...] | None,
        local: PgFacts | None,
        data_dir: DataDir | None = None,
    ) -> Diagnosis | None:
        """The diagnosis of this hub's standby (None: nothing to explain)."""
        notes: list[str] = []
        inputs = DiagnosisInputs(node, promoted_nodes, local)
        if params is not None and needs_reading(node, promoted_nodes, local):
            running = local is not None and local.up
            if data_dir is None and params.pgdata:
                data_dir = self._probe(params.pgdata)
            control, failure = (None, None) if running else self._controldata(params, notes)
            inputs = DiagnosisInputs(
                node,
                promoted_nodes,
                local,
                data_dir=data_dir,
                controldata=control,
                controldata_failure=failure,
                log_clue=self._log_clue(params, local, notes),
                handshake=self._shake(params, local, notes),
                fresh_backup=_exists(params.pgdata, "backup_label"),
                notes=tuple(notes),
            )
        return diagnose(inputs)

    # -- the server log ----------------------------------------------------------------------
    def _log_clue(self, p: PgsqlParams, local: PgFacts | None, notes: list[str]) -> Clue | None:
        clues = []
        for path in log_files(p, local):
            try:
                lines = tail_lines(path, self.settings.log_max_bytes)
            except OSError as exc:
                notes.append(f"server log {path}: {exc.strerror or exc}")
                continue
            clues.append(newest_clue(since_streaming_started(log_records(lines))))
        return clue_of(clues)

    # -- the control file --------------------------------------------------------------------
    def _controldata(
        self, p: PgsqlParams, notes: list[str]
    ) -> tuple[ControlData | None, str | None]:
        if not p.pgdata:
            return None, None
        tool = posixpath.join(self.bin_dir(p), "pg_controldata")
        try:
            result = self._runner.run(
                [tool, "-D", p.pgdata], timeout=self.settings.controldata_timeout_seconds
            )
        except CommandError as exc:
            notes.append(f"pg_controldata: {exc}")
            return None, None
        output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()
        if result.ok and "CRC" not in output:
            try:
                return parse_controldata(output), None
            except ControlDataError as exc:
                output = str(exc)
        elif "Permission denied" not in output and any(w in output for w in _DAMAGED):
            return None, shorten(_first_line(output))
        notes.append(f"pg_controldata: {shorten(output)}")  # about cfha's access, not the data
        return None, None

    def bin_dir(self, p: PgsqlParams) -> str:
        return self.settings.pg_bin_dir or posixpath.dirname(p.pgctl or RA_DEFAULT_PGCTL)

    # -- the handshake -----------------------------------------------------------------------
    def _shake(self, p: PgsqlParams, local: PgFacts | None, notes: list[str]) -> Handshake | None:
        target = handshake_target(
            local.primary_conninfo if local is not None else None,
            master_ip=p.master_ip,
            port=p.pgport,
            user=p.repuser or p.pgdba,
            db_user_home=_home(p.pgdba or RA_DEFAULT_PGDBA),
            password_file=self.settings.password_file,
            timeout_seconds=self.settings.handshake_timeout_seconds,
        )
        if target is None:
            notes.append("handshake: no primary address (no primary_conninfo, no master_ip)")
            return None
        return self._handshake(target)


def log_files(p: PgsqlParams, local: PgFacts | None) -> list[str]:
    """The pgsql agent's logfile (the server's stderr) and PostgreSQL's own log, if it keeps one
    (the logging collector): the file `current_logfiles` names, or the newest in its log
    directory. (pg_current_logfile() is not for pg_monitor, and a statement that names a function
    its role may not call fails whole, even behind a CASE.)"""
    files = [p.logfile] if p.logfile else []
    own = _own_log(p, local)
    if own and own not in files:
        files.append(own)
    return files


def _own_log(p: PgsqlParams, local: PgFacts | None) -> str | None:
    data_dir = (local.data_directory if local else None) or p.pgdata
    if data_dir:  # the server writes the collector's file names here (readable by its user)
        try:
            for line in Path(data_dir, "current_logfiles").read_text().splitlines():
                kind, _, path = line.partition(" ")
                if kind == "stderr" and path:
                    return _under(data_dir, path)
        except OSError:
            pass
    directory = local.log_directory if local is not None else None
    if directory:
        return _newest(_under(data_dir, directory))
    return None


def _under(base: str | None, path: str) -> str:
    return path if posixpath.isabs(path) or not base else posixpath.join(base, path)


def _newest(directory: str) -> str | None:
    try:
        entries = [e for e in os.scandir(directory) if e.is_file()]
    except OSError:
        return None
    return max(entries, key=lambda e: e.stat().st_mtime).path if entries else None


def tail_lines(path: str, max_bytes: int) -> list[str]:
    """The last whole lines within the last `max_bytes` of a file."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        start = max(0, size - max_bytes)
        f.seek(start)
        data = f.read(max_bytes)
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if start > 0 else lines  # the first one may be cut


def _exists(directory: str | None, name: str) -> bool:
    if not directory:
        return False
    try:
        return os.path.exists(os.path.join(directory, name))
    except OSError:
        return False


def _home(user: str) -> str | None:
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if classify_message(line) is not None or "error" in line.lower():
            return line
    return text.splitlines()[0] if text else text
