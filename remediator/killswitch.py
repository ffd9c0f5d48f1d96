"""The kill switch: a file whose presence pauses every action.

A file, so that it works when the service cannot be reached (`touch` it, or
`cfha-remediator killswitch on`), and so that it survives restarts. The authenticated API writes
the same file. Only a path that is certainly absent is "not engaged": anything there (a file, a
directory, a dangling or looping symlink) engages it, and so does anything that prevents looking
(permissions, a path through a file, I/O errors). Unknown fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class KillSwitch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def engaged(self) -> bool:
        try:
            os.lstat(self.path)  # the link itself: `exists()` is False for a dangling one
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    def state(self) -> dict[str, Any]:
        if not self.engaged():
            return {"engaged": False, "file": str(self.path)}
        info: dict[str, Any] = {}
        try:
            loaded = json.loads(self.path.read_text() or "{}")
            if isinstance(loaded, dict):
                info = loaded
        except (OSError, ValueError):
            pass  # a bare `touch` (or unreadable content) still engages it
        return {
            "engaged": True,
            "file": str(self.path),
            "since": info.get("since"),
            "by": info.get("by"),
            "reason": info.get("reason"),
        }

    def engage(self, now: float, by: str, reason: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"since": now, "by": by, "reason": reason}) + "\n")
        tmp.replace(self.path)  # atomic: the switch is either fully there or not

    def release(self) -> bool:
        """Remove the file; True if it was engaged."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
