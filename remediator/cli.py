"""`cfha-remediator`: serve, plan, snapshot, jobs, audit, killswitch, circuit, check-config.

Everything but `serve` works without the service running: the kill switch is a file, and the
journal is an SQLite file the service shares (WAL allows readers and short writers beside it).
`plan` reads the live cluster and prints what would be done for a payload, changing nothing.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from clusterstate.errors import ReadError
from remediator import __version__
from remediator.config import ConfigError, RemediatorConfig, load_config
from remediator.journal import Journal, JournalError
from remediator.killswitch import KillSwitch
from remediator.models import PayloadError, parse_payload
from remediator.policy import load_policy
from remediator.services import Services
from servicekit.logsetup import setup_logging

log = logging.getLogger("cfha.remediator")
DEFAULT_CONFIG = Path("/etc/cfha/remediator.yml")
ServicesFactory = Callable[[RemediatorConfig], Services]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfha-remediator",
        description="Alert-driven, interlocked self-healing for a CFEngine Enterprise HA pair.",
    )
    parser.add_argument("--version", action="version", version=f"cfha-remediator {__version__}")
    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"YAML configuration (default {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook service (one process)")
    serve.add_argument("--web.listen-address", dest="listen_address", default=None)
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="accept requests without a bearer token (NEVER in production)",
    )
    plan = sub.add_parser("plan", help="what would be done now for an Alertmanager payload")
    plan.add_argument("payload", type=Path, help="webhook payload JSON file ('-' for stdin)")
    jobs = sub.add_parser("jobs", help="list jobs, or show one with its steps")
    jobs.add_argument("--id", dest="job_id")
    jobs.add_argument("--state")
    jobs.add_argument("--limit", type=int, default=20)
    audit = sub.add_parser("audit", help="the newest audit records")
    audit.add_argument("--limit", type=int, default=50)
    kill = sub.add_parser("killswitch", help="pause every action (works without the service)")
    kill.add_argument("state", choices=["on", "off", "status"])
    kill.add_argument("--reason", default="engaged from the command line")
    circuit = sub.add_parser("circuit", help="list circuits or reset one")
    circuit.add_argument("op", choices=["list", "reset"])
    circuit.add_argument("action", nargs="?")
    circuit.add_argument("target", nargs="?")
    sub.add_parser(
        "snapshot", help="read the live cluster as every decision does and print it (JSON)"
    )
    sub.add_parser("check-config", help="validate configuration, policy and token, then exit")
    return parser


def main(argv: Sequence[str] | None = None, services_factory: ServicesFactory | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level.upper())
    try:
        config = load_config(args.config_file)
        if args.command in ("serve", "plan", "check-config"):
            load_policy(config.policy_file)
    except ConfigError as exc:
        print(f"cfha-remediator: invalid configuration {exc}", file=sys.stderr)
        return 2
    factory = services_factory or _live_services
    commands: dict[str, Callable[[argparse.Namespace, RemediatorConfig], int]] = {
        "serve": lambda a, c: _serve(a, c, factory),
        "plan": lambda a, c: _plan(a, c, factory),
        "snapshot": lambda a, c: _snapshot(c, factory),
        "jobs": _jobs,
        "audit": _audit,
        "killswitch": _killswitch,
        "circuit": _circuit,
        "check-config": _check_config,
    }
    try:
        return commands[args.command](args, config)
    except (JournalError, ConfigError) as exc:
        print(f"cfha-remediator: {exc}", file=sys.stderr)
        return 1


def _live_services(config: RemediatorConfig) -> Services:
    from remediator.live import live_services  # noqa: PLC0415 - only serve/plan need the cluster

    return live_services(config)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _serve(args: argparse.Namespace, config: RemediatorConfig, factory: ServicesFactory) -> int:
    from remediator.app import create_app  # noqa: PLC0415 - Flask only when serving
    from remediator.server import bind, serve  # noqa: PLC0415

    if args.insecure_no_auth:
        print(
            "cfha-remediator: WARNING: --insecure-no-auth: the webhook accepts anyone",
            file=sys.stderr,
        )
    else:
        from remediator.web.auth import load_token  # noqa: PLC0415

        # fail now, before anything starts
        load_token(config.web.token_file, allow_insecure_file=config.web.allow_insecure_token_file)
    try:
        server = bind(config, args.listen_address)
    except ConfigError as exc:
        print(f"cfha-remediator: invalid configuration {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        listen = args.listen_address or config.web.listen_address
        print(f"cfha-remediator: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 1
    serve(
        server,
        lambda: create_app(config, factory(config), insecure_no_auth=args.insecure_no_auth),
    )
    return 0


def _plan(args: argparse.Namespace, config: RemediatorConfig, factory: ServicesFactory) -> int:
    from remediator.service import Remediator  # noqa: PLC0415

    try:
        text = sys.stdin.read() if str(args.payload) == "-" else args.payload.read_text()
        payload = parse_payload(json.loads(text))
    except (OSError, ValueError) as exc:
        print(f"cfha-remediator: cannot read {args.payload}: {exc}", file=sys.stderr)
        return 2
    except PayloadError as exc:
        print(f"cfha-remediator: not a v4 webhook payload: {exc}", file=sys.stderr)
        return 2
    remediator = Remediator(
        config, load_policy(config.policy_file), factory(config), start_worker=False, recover=False
    )
    try:
        _print({"node": config.node_name, "alerts": remediator.preview(payload)})
    finally:
        remediator.journal.close()
    return 0


def _snapshot(config: RemediatorConfig, factory: ServicesFactory) -> int:
    """What the remediator sees now: the same read every decision takes, summarised."""
    try:
        state = factory(config).reader.read()
    except ReadError as exc:
        print(f"cfha-remediator: cannot read the cluster: {exc.reason}: {exc}", file=sys.stderr)
        return 1
    _print(state.summary())
    return 0


def _journal(config: RemediatorConfig) -> Journal:
    return Journal(config.journal, config.node_name)


def _jobs(args: argparse.Namespace, config: RemediatorConfig) -> int:
    journal = _journal(config)
    if args.job_id:
        job = journal.job(args.job_id)
        if job is None:
            print(f"cfha-remediator: no job {args.job_id}", file=sys.stderr)
            return 1
        job["steps"] = journal.steps(args.job_id)
        _print(job)
        return 0
    for job in journal.jobs(limit=args.limit, state=args.state):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job["created_at"]))
        reason = job["refused_by"] or ""
        print(
            f"{job['id']}  {when}  {job['state']:<11} {job['action']:<21} {job['target']:<24} "
            f"{reason} {job['detail'] or ''}".rstrip()
        )
    return 0


def _audit(args: argparse.Namespace, config: RemediatorConfig) -> int:
    for row in reversed(_journal(config).audit_log(limit=args.limit)):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["at"]))
        fields = [row[k] or "" for k in ("event", "reason", "action", "target", "job_id")]
        print(when, *fields)
    return 0


def _killswitch(args: argparse.Namespace, config: RemediatorConfig) -> int:
    switch = KillSwitch(config.kill_switch_file)
    if args.state == "status":
        _print(switch.state())
        return 0
    by = f"cli:{getpass.getuser()}"
    if args.state == "on":
        switch.engage(time.time(), by, args.reason)
        event, reason = "kill_switch_engaged", args.reason
    else:
        switch.release()
        event, reason = "kill_switch_released", by
    try:  # the file is what counts; the audit record is best effort
        _journal(config).audit(time.time(), event, reason=reason, data={"by": by})
    except JournalError as exc:
        print(f"cfha-remediator: kill switch changed, but not audited: {exc}", file=sys.stderr)
    _print(switch.state())
    return 0


def _circuit(args: argparse.Namespace, config: RemediatorConfig) -> int:
    journal = _journal(config)
    if args.op == "list":
        _print(journal.circuits())
        return 0
    if not args.action or not args.target:
        print("cfha-remediator: circuit reset ACTION TARGET", file=sys.stderr)
        return 2
    circuit = journal.circuit(args.action, args.target)
    if circuit is None or not circuit["open"]:
        print(f"cfha-remediator: no open circuit for {args.action} {args.target}", file=sys.stderr)
        return 1
    by = f"cli:{getpass.getuser()}"
    now = time.time()
    with journal.transaction():
        journal.set_circuit(
            args.action, args.target, is_open=False, now=now, reason=f"reset by {by}", job_id=None
        )
        journal.audit(now, "circuit_reset", reason=by, action=args.action, target=args.target)
    print(f"circuit {args.action} {args.target} reset")
    return 0


def _check_config(_args: argparse.Namespace, config: RemediatorConfig) -> int:
    from remediator.web.auth import load_token  # noqa: PLC0415

    if config.web.token_file is not None:
        load_token(config.web.token_file, allow_insecure_file=config.web.allow_insecure_token_file)
    if config.web.tls is not None:
        from remediator.server import build_ssl_context  # noqa: PLC0415

        build_ssl_context(config.web.tls)
    policy = load_policy(config.policy_file)
    print(
        f"configuration valid: node {config.node_name}, cluster {config.cluster}, "
        f"{len(policy.rules)} rule(s): {', '.join(r.name for r in policy.rules)}"
    )
    return 0
