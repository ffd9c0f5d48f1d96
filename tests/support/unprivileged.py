"""Run a function as an unprivileged user, to meet a real "permission denied".

The suite runs as root, and root reads every file whatever its mode. `as_nobody` forks, drops to
`nobody` in the child (no supplementary groups) and returns what the function returned, pickled
through a pipe. The child already has every module the test imported, so it needs no access to
the checkout (which may sit under a 0700 directory such as /root). Run as another user, the call
is made directly: that user meets the file modes already.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def as_nobody(call: Callable[[], T]) -> T:
    if os.geteuid() != 0:
        return call()
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)
            os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)
            result: object = call()
            payload = pickle.dumps(("ok", result))
            status = 0
        except BaseException as exc:
            payload = pickle.dumps(("error", repr(exc)))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind != "ok":
        raise AssertionError(f"the call as nobody failed: {value}")
    return value  # type: ignore[no-any-return]


@contextmanager
def open_directory(prefix: str = "cfha-perm-") -> Iterator[Path]:
    """A directory everyone may traverse (pytest's tmp_path sits under a 0700 one)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)
