"""The cluster-wide single-writer lock, kept in the CIB itself so both hubs see the same one.

Both hubs run a remediator; a lock file on one hub would be invisible to the other. The CIB is
replicated and every update goes through the CIB manager one at a time, which gives us the two
atomic operations a lock needs:

* create: `cibadmin --create` of a `cluster_property_set` with a fixed id. IDs are unique in the
  CIB, so the create fails ("File exists", rc 108) when the lock is already there.
* compare-and-delete: `cibadmin --delete --xpath` matching the set *and* the exact holder value
  (owner, job, expiry). A holder that changed in between does not match and is left alone.

The holder value is `owner=<node>;job=<id>;acquired=<t>;expires=<t>` (Unix seconds). A lock is
only taken over once expired, and only by deleting exactly the expired value and then creating
our own: if two hubs race, both deletes target the same old value, and only one create can win.
cibadmin's delete exits 0 whether or not anything matched, so every acquire and release reads the
lock back to learn the outcome. The TTL covers the whole plan (every step at its timeout) plus a
margin, so a live job never loses its lock; a remediator that died leaves a lock that expires.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lxml import etree

from clusterstate.pacemaker_state import LOCK_NVPAIR_ID, LOCK_SET_ID, LockState, remediation_lock
from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.tools import CommandError, CommandRunner

log = logging.getLogger(__name__)

_VALUE = re.compile(r"^[A-Za-z0-9_.:;=-]+\Z")  # \Z: `$` also matches before a final newline


class LockError(Exception):
    """The CIB could not be read or written to learn or change the lock."""


def holder_value(node: str, job_id: str, acquired: float, expires: float) -> str:
    value = f"owner={node};job={job_id};acquired={int(acquired)};expires={int(expires)}"
    if not _VALUE.match(value):
        raise ValueError(f"unsafe lock value {value!r}")
    return value


def lock_set_xml(value: str) -> str:
    """The lock as written to crm_config (valid from CIB schema pacemaker-1.0 on)."""
    lock_set = etree.Element("cluster_property_set", id=LOCK_SET_ID)
    etree.SubElement(lock_set, "nvpair", id=LOCK_NVPAIR_ID, name=LOCK_NVPAIR_ID, value=value)
    return etree.tostring(lock_set, encoding="unicode")


def parse_lock(configuration_xml: bytes) -> LockState:
    """The lock found in a CIB or its configuration section, read by the shared CIB parser."""
    try:
        return remediation_lock(parse_cib(configuration_xml))
    except CibParseError as exc:
        raise LockError(f"unparseable CIB: {exc}") from exc


@dataclass(frozen=True)
class LockOutcome:
    acquired: bool
    state: LockState
    detail: str


class ClusterLock:
    def __init__(self, runner: CommandRunner, cibadmin: str, node: str, timeout: float) -> None:
        self._runner = runner
        self._cibadmin = cibadmin
        self._node = node
        self._timeout = timeout

    def read(self) -> LockState:
        argv = (self._cibadmin, "--query", "--scope", "configuration")
        try:
            result = self._runner.run(argv, timeout=self._timeout)
        except CommandError as exc:
            raise LockError(f"cannot read the CIB: {exc}") from exc
        if not result.ok:
            raise LockError(f"cibadmin --query failed: {result.stderr_tail()}")
        return parse_lock(result.stdout)

    def acquire(self, job_id: str, now: float, ttl: float) -> LockOutcome:
        state = self.read()
        if state.held:
            if state.job_id == job_id and state.owner_node == self._node:
                return LockOutcome(True, state, "already held by this job")
            if state.expires is None or state.expires >= now:
                return LockOutcome(False, state, f"held by {state.owner_node} ({state.job_id})")
            log.warning("taking over the expired remediation lock %s", state.raw)
            self._delete_exact(state.raw or "")
        value = holder_value(self._node, job_id, now, now + ttl)
        xml = lock_set_xml(value)
        argv = (self._cibadmin, "--create", "--scope", "crm_config", "--xml-text", xml)
        try:
            self._runner.run(argv, timeout=self._timeout)  # rc 108 when it exists: read back
        except CommandError as exc:
            raise LockError(f"cannot write the CIB: {exc}") from exc
        after = self.read()
        if after.raw == value:
            return LockOutcome(True, after, "acquired")
        return LockOutcome(False, after, f"lost the race to {after.owner_node} ({after.job_id})")

    def release(self, job_id: str) -> bool:
        """Delete the lock if (and only if) this job holds it. True when it is gone."""
        state = self.read()
        if not state.held:
            return True
        if state.job_id != job_id or state.owner_node != self._node:
            log.warning("not releasing a lock held by %s (%s)", state.owner_node, state.job_id)
            return False
        self._delete_exact(state.raw or "")
        return not self.read().held

    def _delete_exact(self, raw: str) -> None:
        if not _VALUE.match(raw):
            # A value we cannot quote safely in XPath was not written by us; leave it to humans.
            raise LockError(f"refusing to delete an unexpected lock value {raw!r}")
        xpath = (
            f"//crm_config/cluster_property_set[@id='{LOCK_SET_ID}']"
            f"[nvpair[@id='{LOCK_NVPAIR_ID}'][@value='{raw}']]"
        )
        try:
            result = self._runner.run(
                (self._cibadmin, "--delete", "--xpath", xpath), timeout=self._timeout
            )
        except CommandError as exc:
            raise LockError(f"cannot write the CIB: {exc}") from exc
        if not result.ok:
            raise LockError(f"cibadmin --delete failed: {result.stderr_tail()}")
