"""`python -m lab.daemon --log FILE [--cwd DIR] [--pass-fd N]... -- ARGV...`

Starts ARGV in a new session with its output appended to FILE, prints "PID STARTTIME" and exits
without waiting, so ARGV is reparented to init. Used by `lab.procs.launch_detached`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from lab.procs import ref_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.daemon")
    parser.add_argument("--log", required=True)
    parser.add_argument("--cwd", default="/")
    parser.add_argument("--pass-fd", type=int, action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    with open(args.log, "ab") as log:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=args.cwd,
            start_new_session=True,
            pass_fds=tuple(args.pass_fd),
        )
    ref = ref_of(child.pid)
    sys.stdout.write(f"{ref.pid} {ref.start}\n")
    sys.stdout.flush()
    # Leave without waiting for (or reaping) the child: it now belongs to init.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
