"""Running commands inside a lab node (its network, UTS, IPC and mount namespaces)."""

from __future__ import annotations

import pwd
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from clusterstate.tools import CommandResult, SubprocessRunner
from lab.procs import BASE_ENV, ProcError, ProcRef, launch_detached


class NodeCommandError(RuntimeError):
    """A command inside a node failed (with `check=True`) or timed out."""

    def __init__(self, node: str, argv: Sequence[str], detail: str) -> None:
        super().__init__(f"{node}: {' '.join(argv)}: {detail}")
        self.node = node
        self.argv = tuple(argv)


def enter_argv(holder_pid: int, *, net_only: bool = False) -> list[str]:
    """The nsenter prefix that puts a command into the node's namespaces."""
    if net_only:
        return ["nsenter", "-t", str(holder_pid), "-n", "--"]
    return ["nsenter", "-t", str(holder_pid), "-n", "-m", "-u", "-i", "--wdns=/", "--"]


def user_argv(user: str | None) -> list[str]:
    """setpriv prefix to run as `user` (with its groups); empty for root."""
    if user is None or user == "root":
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def user_env(user: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(BASE_ENV)
    if user is not None and user != "root":
        entry = pwd.getpwnam(user)
        env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    else:
        env.update(HOME="/root", USER="root", LOGNAME="root")
    env.update(extra or {})
    return env


class NodeRunner:
    """Runs commands in one node, identified by its holder process."""

    def __init__(self, name: str, holder: ProcRef) -> None:
        self.name = name
        self.holder = holder

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        input: str | None = None,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        full = [*enter_argv(self.holder.pid), *user_argv(user), *argv]
        try:
            done = subprocess.run(
                full,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=user_env(user, env),
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise NodeCommandError(self.name, argv, f"timed out after {timeout:.0f}s") from err
        if check and done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()[-800:]
            raise NodeCommandError(self.name, argv, f"rc={done.returncode}: {detail}")
        return done

    def tools(self) -> NodeTools:
        """This node as the product's readers' command runner."""
        return NodeTools(self.holder.pid)

    def launch(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        net_only: bool = False,
        pass_fds: Sequence[int] = (),
    ) -> ProcRef:
        """Start a long-running process in the node, detached; returns its reference.

        nsenter and setpriv exec the command in place, so the PID is the command's own.
        """
        full = [*enter_argv(self.holder.pid, net_only=net_only), *user_argv(user), *argv]
        try:
            return launch_detached(
                full, log_path=log_path, env=user_env(user, env), pass_fds=pass_fds
            )
        except ProcError as err:
            raise NodeCommandError(self.name, argv, str(err)) from err


class NodeTools:
    """A node as `clusterstate.tools.CommandRunner`: the product's readers (crm_mon, cibadmin)
    run in it exactly as on a hub, with the product's timeouts, C locale and process-tree kill."""

    def __init__(self, holder_pid: int) -> None:
        self._enter = enter_argv(holder_pid)
        self._runner = SubprocessRunner()

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        done = self._runner.run(
            [*self._enter, *argv], timeout=timeout, env=env, input_bytes=input_bytes
        )
        return replace(done, argv=tuple(argv))
