"""Name this process as a CFEngine daemon (its comm in /proc, what `ps` and cfha read), for
the lab's stand-ins of cf-hub and cf-serverd."""

from __future__ import annotations

import ctypes

PR_SET_NAME = 15  # linux/prctl.h


def name_process(name: str) -> None:
    """Set this process's comm (the kernel keeps 15 bytes); never raises."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        return
