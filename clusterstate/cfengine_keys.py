"""The trust keys on this hub: who may talk to it after a failover.

- `ppkeys/`: every host this hub trusts, one `root-SHA=<hex>.pub` per host (and `localhost.*`,
  its own pair). A client whose key is missing on the hub it fails over to cannot authenticate.
- `ppkeys_hubs/`: the hubs' public keys (exactly 426 bytes each), which clients copy to trust
  the standby hub (`ha_share_hub_keys` in ha_update.cf).

Only names and sizes are read, never a key (the private key `localhost.priv` lives beside the
public ones). A hub has one file per client, so a listing is kept until the directory changes:
a scrape costs one stat() while nothing was added or removed (see `KeyDirectoryReader`).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clusterstate.parsers.cfengine_files import hostkey_of_key_file

PPKEYS = "ppkeys"
PPKEYS_HUBS = "ppkeys_hubs"
RACY_SECONDS = 2.0
"""A listing taken within this long of the directory's last change may miss a file added in the
same clock tick, so it is not reused (git's "racily clean" rule)."""


@dataclass(frozen=True)
class KeyDirectory:
    """One key directory: the host keys of its `<user>-<hostkey>.pub` files, with their sizes."""

    path: str
    present: bool | None  # None: could not be listed (see error)
    hostkeys: frozenset[str] = frozenset()
    sizes: Mapping[str, int] = field(default_factory=dict)  # host key -> bytes, when asked for
    error: str | None = None
    error_reason: str | None = None  # `permission` or `unavailable`


@dataclass(frozen=True)
class TrustKeys:
    """This hub's two key directories."""

    ppkeys: KeyDirectory
    ppkeys_hubs: KeyDirectory


class KeyDirectoryReader:
    """Lists one key directory, reusing the last listing while the directory is unchanged.

    Adding or removing a file changes the directory's mtime; the listing is reused while
    (inode, mtime) are the same and the change is older than RACY_SECONDS. Thread-safe.
    """

    def __init__(self, path: Path, *, sizes: bool, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._sizes = sizes  # stat() every file (a few hub keys), or not (thousands of clients)
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._last: KeyDirectory | None = None
        self.listings = 0  # how many times the directory was actually listed (tests, bench)

    def read(self) -> KeyDirectory:
        with self._lock:
            try:
                info = os.stat(self._path)
            except OSError as exc:
                self._stamp = self._last = None
                return self._failed(exc)
            stamp = (info.st_ino, info.st_mtime_ns)
            if stamp == self._stamp and self._last is not None:
                return self._last
            try:
                listing = self._list()
            except OSError as exc:
                self._stamp = self._last = None
                return self._failed(exc)
            settled = self._clock() - info.st_mtime > RACY_SECONDS
            self._stamp, self._last = (stamp if settled else None), listing
            return listing

    def _list(self) -> KeyDirectory:
        keys: set[str] = set()
        sizes: dict[str, int] = {}
        with os.scandir(self._path) as entries:
            for entry in entries:
                hostkey = hostkey_of_key_file(entry.name)
                if hostkey is None:
                    continue
                if self._sizes:
                    try:
                        sizes[hostkey] = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # removed while listing
                keys.add(hostkey)
        self.listings += 1
        return KeyDirectory(str(self._path), True, frozenset(keys), sizes)

    def _failed(self, exc: OSError) -> KeyDirectory:
        path = str(self._path)
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return KeyDirectory(path, False, error=f"{path} does not exist")
        reason = "permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unavailable"
        return KeyDirectory(path, None, error=f"{path}: {exc.strerror or exc}", error_reason=reason)


class TrustKeysReader:
    """Both key directories under a CFEngine work directory."""

    def __init__(self, workdir: Path, clock: Callable[[], float] = time.time) -> None:
        self.ppkeys = KeyDirectoryReader(workdir / PPKEYS, sizes=False, clock=clock)
        self.ppkeys_hubs = KeyDirectoryReader(workdir / PPKEYS_HUBS, sizes=True, clock=clock)

    def read(self) -> TrustKeys:
        return TrustKeys(ppkeys=self.ppkeys.read(), ppkeys_hubs=self.ppkeys_hubs.read())
