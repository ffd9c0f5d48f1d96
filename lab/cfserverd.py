"""A stand-in for cf-serverd on a lab hub: a process named `cf-serverd` that keeps
/var/cfengine/cf-serverd.pid while it runs, as cf-serverd does (`WritePID`, removed at exit).

The lab's clients and hubs copy nothing from it (there are no agents); what cfha checks is that
it runs, by its pid file and its process. Started on both hubs with the lab (`lab up`), stopped
with it. Run inside a lab node: `python -m lab.cfserverd`.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from lab.config import CF_SERVERD_PID
from lab.daemon_name import name_process


def main() -> int:
    name_process("cf-serverd")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    CF_SERVERD_PID.write_text(f"{os.getpid()}\n")
    try:
        stop.wait()
    finally:
        CF_SERVERD_PID.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
