"""Short content digests that two hubs can compare in the alert rules.

A digest is published as a metric *value* (an integer below 2**48, exact in a float64), never as
a label, so a changed file is a changed value of the same series. It is the first 48 bits of
HMAC-SHA-256 with a configured key (empty by default): with a secret key, the digest of a file
that holds a secret (Mission Portal's database and LDAP passwords) gives away nothing a guess
could be checked against. Both hubs must use the same key for their digests to compare.
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

DIGEST_BITS = 48


class Digester:
    """Digests of bytes, files and directory trees, with one optional key."""

    def __init__(self, key: bytes = b"") -> None:
        self._key = key

    def new(self) -> hmac.HMAC:
        return hmac.new(self._key, digestmod="sha256")

    @staticmethod
    def value(h: hmac.HMAC) -> int:
        return int.from_bytes(h.digest()[: DIGEST_BITS // 8], "big")

    def of_bytes(self, data: bytes) -> int:
        h = self.new()
        h.update(data)
        return self.value(h)

    def of_tree(self, root: Path) -> tuple[int, int]:
        """Digest and file count of a directory tree: every regular file's relative path,
        executable bit and content, in sorted order (symlinks by their target). Raises OSError."""
        h = self.new()
        files = 0
        for path in sorted(_walk(root)):
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                h.update(b"L" + relative.encode() + b"\0" + os.readlink(path).encode() + b"\0")
                continue
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                continue
            executable = b"x" if mode & stat.S_IXUSR else b"-"
            content = path.read_bytes()
            h.update(b"F" + executable + relative.encode() + b"\0")
            h.update(len(content).to_bytes(8, "big") + content)
            files += 1
        return self.value(h), files


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        base = Path(dirpath)
        found += [base / name for name in filenames]
        found += [base / name for name in dirnames if (base / name).is_symlink()]
    return found


def _raise(error: OSError) -> None:
    raise error
