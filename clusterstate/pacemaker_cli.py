"""Which XML a ``crm_mon`` binary prints, found out once per binary.

Pacemaker 2.0.3 added ``--output-as=xml`` (and ``--include``); pacemaker 1.1 and 2.0.0-2.0.2 only
know the legacy ``--as-xml`` (root ``<crm_mon version=...>``). An argument crm_mon does not know
makes 1.1 print its usage and exit 1, so the exporter's one argv would publish no pacemaker
state at all there. ``CrmMonDetector.detect(path)`` asks the binary itself, once: it runs
``crm_mon --help-all`` and ``crm_mon --version`` and decides from the option list of the help
text (``crm_mon_flavour``), never from the version number, so a backport or a vendor build is
judged by what it accepts. 1.1 does not know ``--help-all`` either: it prints its whole usage to
stderr and exits 1, which is exactly the text to decide from.

The answer is kept per binary identity (resolved path, device, inode, size, mtime), so an
upgrade in place is noticed on the next call and an unchanged binary is never asked again. A
failed detection is not kept: the next scrape tries again. The reader runs ``result.argv`` (with
``CIB_file``/``TZ`` in the environment as before) and hands the output to ``parse_crm_mon``,
which reads both schemas.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from typing import Final

from clusterstate.parsers.crm_mon import CRM_MON_ARGV
from clusterstate.parsers.described import DescribedEnum
from clusterstate.tools import CommandError, CommandRunner

__all__ = [
    "LEGACY_CRM_MON_ARGV",
    "CrmMonCli",
    "CrmMonCliError",
    "CrmMonDetector",
    "CrmMonFlavour",
    "crm_mon_argv",
    "crm_mon_flavour",
    "pacemaker_version",
]

log = logging.getLogger(__name__)

# Pacemaker 1.1's --as-xml prints every section (its source: "XML output always prints
# everything"), so -A/-f/-o are not needed; --inactive lists stopped instances, and the hidden
# --pending shows pending tasks as 2.x does by default (2.1 accepts it as a no-op).
LEGACY_CRM_MON_ARGV: Final[tuple[str, ...]] = (
    "crm_mon",
    "--one-shot",
    "--inactive",
    "--pending",
    "--as-xml",
)

_OPTION_LINE = r"^[ \t]*(?:-\S,[ \t]+)?--{name}(?![\w-])"
_OUTPUT_AS_RE = re.compile(_OPTION_LINE.format(name="output-as"), re.MULTILINE)
_AS_XML_RE = re.compile(_OPTION_LINE.format(name="as-xml"), re.MULTILINE)
_VERSION_RE = re.compile(r"^Pacemaker ([0-9][0-9A-Za-z.+~_-]*)", re.MULTILINE)


class CrmMonFlavour(DescribedEnum):
    """Which XML option a crm_mon binary takes (the value is the proposed metric state)."""

    OUTPUT_AS = "output_as", "crm_mon takes --output-as=xml (pacemaker 2.0.3 and later)."
    AS_XML = "as_xml", "crm_mon only knows the legacy --as-xml (pacemaker 1.1, 2.0.0-2.0.2)."


class CrmMonCliError(Exception):
    """The binary's help text names neither XML option: not a crm_mon this reader knows."""

    reason = "parse"


@dataclass(frozen=True, slots=True)
class CrmMonCli:
    """What a crm_mon binary is and how to ask it for XML."""

    path: str
    """The binary as resolved on PATH (argv[0] of ``argv``)."""
    flavour: CrmMonFlavour
    version: str | None
    """``Pacemaker <version>`` of ``crm_mon --version`` (``None`` if it printed none)."""
    argv: tuple[str, ...]

    @property
    def legacy(self) -> bool:
        """Only the legacy ``--as-xml`` schema is available."""
        return self.flavour is CrmMonFlavour.AS_XML

    def describe(self) -> str:
        """The log line for this detection."""
        what = f"crm_mon {self.version or '(version unknown)'} at {self.path}"
        if self.legacy:
            return f"{what} has no --output-as: reading its legacy --as-xml output"
        return f"{what} takes --output-as=xml"


def crm_mon_flavour(help_text: str) -> CrmMonFlavour:
    """Decide from crm_mon's help text (stdout and stderr of ``--help-all``). Pure.

    An option is recognised on its own line of the option list (``  --output-as=FORMAT``,
    `` -X, --as-xml``), not in prose such as 2.x's "Use --output-as=xml instead".
    """
    if _OUTPUT_AS_RE.search(help_text):
        return CrmMonFlavour.OUTPUT_AS
    if _AS_XML_RE.search(help_text):
        return CrmMonFlavour.AS_XML
    raise CrmMonCliError("crm_mon's help lists neither --output-as nor --as-xml")


def pacemaker_version(version_text: str) -> str | None:
    """``2.1.5`` from ``crm_mon --version`` ("Pacemaker 2.1.5 ..."), ``None`` if absent. Pure."""
    match = _VERSION_RE.search(version_text)
    return match.group(1) if match else None


def crm_mon_argv(flavour: CrmMonFlavour, path: str = "crm_mon") -> tuple[str, ...]:
    """The one crm_mon call per scrape for ``flavour``, with ``path`` as argv[0]."""
    base = CRM_MON_ARGV if flavour is CrmMonFlavour.OUTPUT_AS else LEGACY_CRM_MON_ARGV
    return (path, *base[1:])


_Identity = tuple[str, int, int, int, int]


def _identity(path: str) -> _Identity:
    """The binary as a file: an upgrade (new inode, size or mtime) gives a new identity."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class CrmMonDetector:
    """Detects each crm_mon binary's flavour once; thread-safe, one instance per service."""

    def __init__(self, runner: CommandRunner, *, timeout: float = 5.0) -> None:
        self._runner = runner
        self._timeout = timeout
        self._known: dict[_Identity, CrmMonCli] = {}
        self._lock = threading.Lock()

    def detect(self, path: str = "crm_mon") -> CrmMonCli:
        """The flavour of the binary ``path`` (a name is looked up on PATH).

        Raises ``CommandError`` (reason ``unavailable``, ``permission``, ``timeout``) when the
        binary cannot be found or run, ``CrmMonCliError`` (reason ``parse``) when its help text
        names neither option. Neither outcome is remembered.
        """
        resolved = shutil.which(path) if os.sep not in path else path
        if resolved is None:
            raise CommandError("unavailable", (path,), f"not found on PATH: {path}")
        try:
            identity = _identity(resolved)
        except OSError as exc:
            raise CommandError("unavailable", (resolved,), f"cannot stat: {exc}") from exc
        with self._lock:
            known = self._known.get(identity)
            if known is not None:
                return known
            detected = self._ask(resolved)
            self._known = {k: v for k, v in self._known.items() if k[0] != identity[0]}
            self._known[identity] = detected
        log.info("%s", detected.describe())
        return detected

    def _ask(self, path: str) -> CrmMonCli:
        # exit codes say nothing here: 1.1 exits 1 after printing its usage for --help-all
        flavour = crm_mon_flavour(self._text(path, "--help-all"))
        version = pacemaker_version(self._text(path, "--version"))
        return CrmMonCli(path, flavour, version, crm_mon_argv(flavour, path))

    def _text(self, path: str, option: str) -> str:
        result = self._runner.run((path, option), timeout=self._timeout)
        return (result.stdout + result.stderr).decode("utf-8", "replace")
