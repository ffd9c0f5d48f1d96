"""Command line of the lab: `python -m lab up|status|down|inject|restore|run|forward`.

The lab id comes from `--id` or the environment variable CFHA_LAB_ID (default 0). The PostgreSQL
major of a new lab from `up --pg` or CFHA_LAB_PG (default 15); later commands use the lab's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from lab import pglayout, scenarios, teardown
from lab.cluster import Lab
from lab.config import LabConfigError, lab_id_from_env
from lab.errors import LabError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("--id", type=int, default=None, help="lab instance id 0..20")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the two-hub cluster and wait until it is healthy")
    up.add_argument("--timeout", type=float, default=120.0)
    up.add_argument("--hosts", type=int, default=50, help="client hosts seeded into cfdb")
    up.add_argument("--replace", action="store_true", help="tear down an existing lab first")
    up.add_argument(
        "--pg",
        type=int,
        choices=pglayout.MAJORS,
        default=None,
        help="PostgreSQL major of the hubs (default: CFHA_LAB_PG, else 15); 18 is laid out as"
        " CFEngine does, under /var/cfengine",
    )
    st = sub.add_parser("status", help="crm_mon, agent attributes, replication, VIP, ports")
    st.add_argument("--json", action="store_true", help="the typed status as JSON")
    sub.add_parser("down", help="stop everything, remove every trace (idempotent)")
    inj = sub.add_parser("inject", help="inject a failure scenario")
    inj.add_argument("scenario")
    inj.add_argument("--node", default=None)
    rs = sub.add_parser(
        "restore", help="bring the lab back to healthy by hand (what it did is printed)"
    )
    rs.add_argument("--timeout", type=float, default=90.0)
    run = sub.add_parser("run", help="run a command inside a node: run hub1 -- crm_mon -1")
    run.add_argument("node")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    fwd = sub.add_parser("forward", help="make NODE's PORT reachable on 127.0.0.1")
    fwd.add_argument("node")
    fwd.add_argument("port", type=int)
    fwd.add_argument("--target-host", default="127.0.0.1")
    fwd.add_argument("--local-port", type=int, default=0)
    sub.add_parser("scenarios", help="list the scenarios")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        lab = Lab(args.id if args.id is not None else lab_id_from_env())
        return _dispatch(lab, args)
    except (LabError, LabConfigError, pglayout.LabPgError) as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1


def _up(lab: Lab, args: argparse.Namespace) -> int:
    seconds = lab.up(args.timeout, seed_hosts=args.hosts, replace=args.replace, pg_major=args.pg)
    print(f"lab {lab.lab_id} healthy after {seconds:.1f}s")
    print(lab.status_text(), end="")
    return 0


def _status(lab: Lab, args: argparse.Namespace) -> int:
    if not lab.exists():
        print(f"lab {lab.lab_id} is not up")
        return 3
    if args.json:
        pg = lab.postgres()
        postgres = {"major": pg.major, "version": pg.version, "bin_dir": str(pg.bin_dir)}
        shown = {**asdict(lab.status()), "postgres": postgres}
        print(json.dumps(_jsonable(shown), indent=2, default=str))
    else:
        print(lab.status_text(), end="")
    return 0


def _jsonable(value: Any) -> Any:
    """JSON keys must be strings: (node, resource) keys become "node/resource"."""
    if isinstance(value, dict):
        return {
            "/".join(k) if isinstance(k, tuple) else str(k): _jsonable(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _down(lab: Lab, _args: argparse.Namespace) -> int:
    report = lab.down()
    if not report.existed:
        print(f"lab {lab.lab_id} was not up")
        return 0
    left = teardown.leftovers(report)
    print(
        f"lab {lab.lab_id} down in {report.seconds:.1f}s; "
        + ("left behind: " + "; ".join(left) if left else "nothing left behind")
    )
    return 1 if left else 0


def _inject(lab: Lab, args: argparse.Namespace) -> int:
    print(lab.inject(args.scenario, args.node).describe())
    return 0


def _restore(lab: Lab, args: argparse.Namespace) -> int:
    report = lab.restore_healthy(args.timeout)
    print(report.describe(lab.lab_id), file=sys.stderr if report.rebuilt else sys.stdout)
    return 0


def _run(lab: Lab, args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        print("lab: run NODE -- COMMAND...", file=sys.stderr)
        return 2
    done = lab.run(args.node, argv, timeout=300)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def _forward(lab: Lab, args: argparse.Namespace) -> int:
    port = lab.forward(args.node, args.port, args.target_host, args.local_port)
    print(f"127.0.0.1:{port} -> {args.node} {args.target_host}:{args.port}")
    return 0


def _scenarios(_lab: Lab, _args: argparse.Namespace) -> int:
    for name, func in scenarios.SCENARIOS.items():
        first = (func.__doc__ or "").strip().splitlines()[0]
        print(f"{name:14} {first}")
    return 0


_COMMANDS = {
    "up": _up,
    "status": _status,
    "down": _down,
    "inject": _inject,
    "restore": _restore,
    "run": _run,
    "forward": _forward,
    "scenarios": _scenarios,
}


def _dispatch(lab: Lab, args: argparse.Namespace) -> int:
    return _COMMANDS[args.command](lab, args)
