"""Reading pacemaker: one crm_mon call, plus the CIB configuration (cibadmin) when it may have
changed, into one `PacemakerState`. The exporter and the remediator both read pacemaker here.
A crm_mon without `--output-as` (pacemaker 1.1) is detected once and read through `--as-xml`.

The tools' exit-code policy lives here too: crm_mon exits non-zero for some warnings while still
printing the whole document, so its output is parsed first and the exit code only explains a
document that cannot be used; output that comes with a fatal assertion on stderr is never
trusted (a truncated saved CIB makes crm_mon print a plausible but partial document). Like
pacemaker's own tools, crm_mon and cibadmin honour `CIB_file` in the environment: with it a saved
CIB is read offline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clusterstate.errors import ReadError, Unreadable
from clusterstate.pacemaker_cli import CrmMonCli, CrmMonCliError, CrmMonDetector, CrmMonFlavour
from clusterstate.pacemaker_state import LOCK_SET_ID, PacemakerState, pacemaker_state, pgsql_params
from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.cib_digest import config_digest
from clusterstate.parsers.cib_model import CibConfig
from clusterstate.parsers.crm_mon import (
    CRM_MON_ARGV,
    ClusterStatus,
    ClusterUnavailableError,
    CrmMonParseError,
    parse_crm_mon,
)
from clusterstate.parsers.crm_mon_model import PacemakerdState
from clusterstate.timezone import local_zone, tool_env
from clusterstate.tools import CommandError, CommandResult, CommandRunner

# crm_exit_t codes crm_mon and cibadmin exit with, mapped to read failure reasons.
EXIT_REASONS = {
    4: "permission",  # CRM_EX_INSUFFICIENT_PRIV
    77: "permission",  # CRM_EX_NOPERM
    69: "unavailable",  # CRM_EX_UNAVAILABLE
    102: "unavailable",  # CRM_EX_DISCONNECT: "Not connected" (cluster not running here)
    124: "timeout",  # CRM_EX_TIMEOUT
}
# What pacemaker's libraries print when an internal assertion fails: the output that follows
# may be cut short, and must not be read as the cluster's state.
FATAL_MARKERS = ("Triggered fatal assertion", "Triggered assert")
# The sections the argv asks for that crm_mon prints whenever the cluster answers (even empty:
# `<nodes/>`; `<resources>` is left out when none is configured): a document without them was
# cut short.
REQUIRED_SECTIONS = frozenset({"summary", "nodes"})


class PacemakerDown(Unreadable[PacemakerState]):
    """Pacemaker could not be observed; `state` is the down state (published as such)."""


@dataclass(frozen=True)
class PacemakerSettings:
    database_resource: str = "cfpgsql"
    vip_resource: str = "cfvirtip"
    crm_mon_path: str = "crm_mon"
    cibadmin_path: str = "cibadmin"
    crm_mon_timeout_seconds: float = 3.0
    cibadmin_timeout_seconds: float = 1.5
    cib_max_age_seconds: float = 60.0
    """Re-read the CIB at least this often; 0: on every read (what the remediator does)."""
    time_zone: str | None = None
    """IANA zone (or zone file) the tools print local times in; default $TZ, /etc/localtime."""


@dataclass(frozen=True)
class _CachedCib:
    config: CibConfig
    read_at: float  # Unix time
    read_monotonic: float
    change_key: object
    digest: int | None = None


class PacemakerReader:
    """Reads `PacemakerState`; keeps the last CIB configuration copy between reads."""

    def __init__(
        self,
        settings: PacemakerSettings,
        local_node: str,
        runner: CommandRunner,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._node = local_node
        self._runner = runner
        self._clock = clock
        self._zone = local_zone(settings.time_zone)
        self._env = tool_env(settings.time_zone)
        self._cib: _CachedCib | None = None
        self._detector = CrmMonDetector(runner, timeout=settings.crm_mon_timeout_seconds)
        self._legacy_seen = False
        self.last_format: CrmMonFlavour | None = None
        """Which XML the last crm_mon call asked for (None before the first call)."""

    def read(self) -> PacemakerState:
        """Raises `PacemakerDown` when crm_mon gives no usable status. A CIB that could not be
        re-read is not an exception: the state says so (`cib_current`, `cib_error`)."""
        status = self._status()
        current, cib_error = self._configuration(status)
        cached = self._cib
        return pacemaker_state(
            status,
            cached.config if cached else None,
            local_node=self._node,
            database_resource=self.settings.database_resource,
            vip_resource=self.settings.vip_resource,
            cib_current=current,
            cib_read_at=cached.read_at if cached else None,
            cib_error=(cib_error.reason, str(cib_error)) if cib_error else None,
            config_digest=cached.digest if cached else None,
        )

    # -- crm_mon -----------------------------------------------------------------------------
    def _status(self) -> ClusterStatus:
        """One crm_mon call. A crm_mon that refuses `--output-as` (pacemaker 1.1, 2.0.0-2.0.2)
        is detected once per binary (`pacemaker_cli`) and read through `--as-xml` from then on:
        the modern call costs nothing extra where it works."""
        legacy = self._legacy_cli()
        result = self._run_crm_mon(legacy.argv if legacy else self._modern_argv())
        if legacy is None and not result.ok and not result.stdout.strip():
            legacy = self._detect_legacy()
            if legacy is not None:
                result = self._run_crm_mon(legacy.argv)
        return self._parse(result)

    def _modern_argv(self) -> list[str]:
        return [self.settings.crm_mon_path, *CRM_MON_ARGV[1:]]

    def _legacy_cli(self) -> CrmMonCli | None:
        """The legacy reading, if this binary was found to need it (an upgrade is noticed)."""
        if not self._legacy_seen:
            return None
        try:
            cli = self._detector.detect(self.settings.crm_mon_path)
        except (CommandError, CrmMonCliError) as exc:
            raise self._down(exc.reason, f"crm_mon: {exc}") from exc
        return cli if cli.legacy else None

    def _detect_legacy(self) -> CrmMonCli | None:
        try:
            cli = self._detector.detect(self.settings.crm_mon_path)
        except (CommandError, CrmMonCliError):
            return None  # not a refused option: the first answer's failure is reported
        self._legacy_seen = cli.legacy
        return cli if cli.legacy else None

    def _run_crm_mon(self, argv: Sequence[str]) -> CommandResult:
        try:
            result = self._runner.run(
                argv, timeout=self.settings.crm_mon_timeout_seconds, env=self._env
            )
        except CommandError as exc:
            raise self._down(exc.reason, str(exc)) from exc
        self.last_format = CrmMonFlavour.AS_XML if "--as-xml" in argv else CrmMonFlavour.OUTPUT_AS
        return result

    def _parse(self, result: CommandResult) -> ClusterStatus:
        stderr = result.stderr.decode("utf-8", "replace")
        if any(marker in stderr for marker in FATAL_MARKERS):
            raise self._down("parse", f"crm_mon: {result.stderr_tail(300)}")
        try:
            status = parse_crm_mon(result.stdout, local_tz=self._zone)
        except ClusterUnavailableError as exc:
            raise self._down(
                "unavailable", f"crm_mon: {exc}", pacemakerd_state=exc.pacemakerd_state
            ) from exc
        except CrmMonParseError as exc:
            if result.ok:
                raise self._down("parse", f"crm_mon output: {exc}") from exc
            raise self._down(*failed_command(result)) from exc
        missing = REQUIRED_SECTIONS - status.sections
        if missing and not status.legacy:
            raise self._down("parse", f"crm_mon output lacks {', '.join(sorted(missing))}")
        return status

    def _down(
        self, reason: str, message: str, *, pacemakerd_state: PacemakerdState | None = None
    ) -> PacemakerDown:
        cached = self._cib
        state = PacemakerState.down(
            local_node=self._node,
            reason=reason,
            message=message,
            database_resource=self.settings.database_resource,
            pacemakerd_state=pacemakerd_state,
            cib=cached.config if cached else None,
            cib_read_at=cached.read_at if cached else None,
        )
        return PacemakerDown(reason, message, state)

    # -- CIB configuration -------------------------------------------------------------------
    def _configuration(self, status: ClusterStatus) -> tuple[bool, ReadError | None]:
        """Refresh the cached CIB configuration when it may have changed; say whether the cache
        matches the configuration crm_mon reports, and why a refresh failed.

        Why a cache: the configuration changes rarely, and every cibadmin call is one more
        round-trip to the CIB manager plus a full parse. crm_mon's last-change summary (who/when,
        to the second) tells when it changed; the age bound catches what that cannot show.
        """
        summary = status.summary
        change_key = (
            (summary.last_change, summary.last_change_origin, summary.last_change_client)
            if summary is not None and summary.last_change is not None
            else None
        )
        cached = self._cib
        if (
            cached is not None
            and cached.change_key == change_key
            and time.monotonic() - cached.read_monotonic < self.settings.cib_max_age_seconds
        ):
            return True, None
        try:
            config, digest = self._read_cib()
        except ReadError as exc:
            # When crm_mon reports no change since the cached copy, only the age-bound refresh
            # failed: the copy still matches the configuration.
            still_current = (
                cached is not None and change_key is not None and cached.change_key == change_key
            )
            return still_current, exc
        self._cib = _CachedCib(config, self._clock(), time.monotonic(), change_key, digest)
        return True, None

    def _read_cib(self) -> tuple[CibConfig, int]:
        s = self.settings
        argv = [s.cibadmin_path, "--query", "--scope", "configuration"]
        try:
            result = self._runner.run(argv, timeout=s.cibadmin_timeout_seconds, env=self._env)
        except CommandError as exc:
            raise ReadError(exc.reason, f"CIB configuration: {exc}") from exc
        if not result.ok:
            reason, message = failed_command(result)
            raise ReadError(reason, f"CIB configuration: {message}")
        try:
            config = parse_cib(result.stdout, local_tz=self._zone)
            params = pgsql_params(config, s.database_resource)
            # the agent's permanent attribute, named after its primitive
            agent = [f"{params.resource}-data-status"] if params is not None else []
            digest = config_digest(
                result.stdout, agent_attributes=agent, own_property_sets=(LOCK_SET_ID,)
            )
        except (CibParseError, ValueError) as exc:
            raise ReadError("parse", f"CIB configuration: {exc}") from exc
        return config, digest


def failed_command(result: CommandResult) -> tuple[str, str]:
    """Reason and message for a pacemaker tool that exited non-zero without usable output."""
    reason = EXIT_REASONS.get(result.returncode, "command")
    tool = os.path.basename(result.argv[0]) if result.argv else "command"
    detail = result.stderr_tail() or "no output"
    return reason, f"{tool} exited {result.returncode}: {detail}"
