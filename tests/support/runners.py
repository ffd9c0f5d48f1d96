"""Command runners for collector tests: the real one pointed at a saved CIB, and a scripted fake.

`CibFileRunner` is the real `SubprocessRunner` with `CIB_file` (and a time zone) in the
environment, so crm_mon and cibadmin read a saved CIB exactly as they would on a support case.
`ScriptedRunner` answers from canned outputs: only for what cannot be made real here (garbage
output, captured corosync outputs of states that need a second machine).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clusterstate.tools import CommandError, CommandResult, SubprocessRunner
from lab.offline.cibstates import PCMK_TZ


class CibFileRunner:
    """Runs the real tools with ``CIB_file=<cib>`` and ``TZ=<tz>``."""

    def __init__(self, cib: Path, tz: str = PCMK_TZ) -> None:
        self.cib = cib
        self.tz = tz
        self.calls: list[tuple[str, ...]] = []
        self._real = SubprocessRunner()

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        merged = {"CIB_file": str(self.cib), "TZ": self.tz, **(env or {})}
        return self._real.run(argv, timeout=timeout, env=merged, input_bytes=input_bytes)


COROSYNC_CAPTURES = Path(__file__).parents[1] / "fixtures" / "corosync"


class OfflineRunner:
    """A saved CIB read with the real pacemaker tools (``CIB_file``), or a saved crm_mon
    document; corosync answers with captured outputs of a real cluster (a saved CIB has no
    corosync, and quorum needs both views). ``corosync=None``: corosync is not running."""

    def __init__(
        self,
        cib: Path,
        *,
        crm_mon: bytes | None = None,
        corosync: str | None = "two-node-healthy.hub1",
        tz: str = PCMK_TZ,
    ) -> None:
        self.cib, self.crm_mon, self.tz = cib, crm_mon, tz
        self.calls: list[tuple[str, ...]] = []
        self._real = SubprocessRunner()
        self._corosync: dict[str, CommandResult] = {}
        if corosync is not None:
            for tool, capture in (("corosync-quorumtool", "quorumtool-ps"),
                                  ("corosync-cfgtool", "cfgtool-s")):  # fmt: skip
                text = (COROSYNC_CAPTURES / f"{corosync}.{capture}.txt").read_bytes()
                self._corosync[tool] = CommandResult((tool,), 0, text, b"", 0.0)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        tool = Path(argv[0]).name
        if tool.startswith("corosync-"):
            answer = self._corosync.get(tool)
            if answer is None:
                raise CommandError("unavailable", argv, "corosync is not running (offline)")
            return CommandResult(tuple(argv), 0, answer.stdout, b"", 0.0)
        if tool == "crm_mon" and self.crm_mon is not None:
            return CommandResult(tuple(argv), 0, self.crm_mon, b"", 0.0)
        merged = {"CIB_file": str(self.cib), "TZ": self.tz, **(env or {})}
        return self._real.run(argv, timeout=timeout, env=merged, input_bytes=input_bytes)


Answer = CommandResult | CommandError | Callable[[], CommandResult]


@dataclass
class ScriptedRunner:
    """Answers each command by the basename of its tool (``crm_mon``, ``corosync-cfgtool``...)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def set(
        self, tool: str, stdout: bytes | str = b"", returncode: int = 0, stderr: bytes | str = b""
    ) -> None:
        def encode(value: bytes | str) -> bytes:
            return value.encode() if isinstance(value, str) else value

        self.answers[tool] = CommandResult((tool,), returncode, encode(stdout), encode(stderr), 0.0)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        tool = Path(argv[0]).name
        answer = self.answers.get(tool)
        if answer is None:
            raise CommandError("unavailable", argv, f"not found: {argv[0]}")
        if isinstance(answer, CommandError):
            raise answer
        result = answer() if callable(answer) else answer
        return CommandResult(tuple(argv), result.returncode, result.stdout, result.stderr, 0.0)

    def count(self, tool: str) -> int:
        return sum(1 for call in self.calls if Path(call[0]).name == tool)
