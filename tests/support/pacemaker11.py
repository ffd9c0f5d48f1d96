"""Pacemaker 1.1's ``crm_mon --as-xml``, made from pacemaker 2.1's legacy output: a stand-in.

Pacemaker 1.1 (RHEL/CentOS 7) cannot run here. Pacemaker 2.1's own ``crm_mon --as-xml`` prints
the same legacy schema (root ``<crm_mon version=...>``) for every state a saved CIB can hold, so
``as_pacemaker_11`` turns that output into what 1.1.23 prints for the same state, following
1.1.23's ``tools/crm_mon.c`` and ``lib/pengine/{native,clone,group}.c``:

* roles and target roles ``Promoted``/``Unpromoted`` become ``Master``/``Slave``; agents are
  written ``class::provider:type``;
* attributes 1.1 does not print are removed: node ``health``/``feature_set``, DC
  ``mixed_version``, the options ``stop-all-resources``/``stonith-timeout-ms``/
  ``priority-fencing-delay-ms``, clone ``disabled``, group ``managed``/``disabled``, resource
  ``maintenance``/``locked_to``, ban ``promoted-only`` (1.1 says ``master_only``), fence event
  ``exit-reason``/``extended-status``;
* times 1.1 prints with ``ctime()`` (failure ``last-rc-change``, fence ``completed``, ticket
  ``last-granted``) are rewritten from 2.1's ISO form in the zone crm_mon ran in, and fence
  events say ``state`` where 2.1 says ``status``;
* the document starts with ``<?xml version="1.0"?>`` and the root says ``version="1.1.23"``.

``main`` is the stand-in ``crm_mon`` program (``tests/support/pacemaker-1.1/crm_mon``): it
refuses every option 1.1.23 does not know exactly as 1.1 does (usage on stderr, exit 1), prints
1.1.23's help and version, and answers ``--as-xml`` by running the real crm_mon and converting
its output (without a cluster: 1.1's plain-text error and exit 107). Standard library only: the
stand-in may run under any ``python3``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from lab.offline.ctime import ctime_text  # standard library only, like this module

PACEMAKER_11_VERSION = "1.1.23"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pacemaker" / "crm_mon-cli"
STANDIN_DIR = Path(__file__).resolve().parent / "pacemaker-1.1"
"""Put this directory first on PATH to have ``crm_mon`` be the 1.1 stand-in."""

_ROLES = {"Promoted": "Master", "Unpromoted": "Slave"}
_DROPPED = {
    "node": ("health", "feature_set"),
    "current_dc": ("mixed_version",),
    "cluster_options": ("stop-all-resources", "stonith-timeout-ms", "priority-fencing-delay-ms"),
    "clone": ("disabled", "maintenance"),
    "group": ("managed", "disabled", "maintenance"),
    "resource": ("maintenance", "locked_to"),
    "ban": ("promoted-only",),
    "fence_event": ("exit-reason", "extended-status"),
}
_CTIME_ATTRIBUTES = {
    "failure": ("last-rc-change",),
    "fence_event": ("completed",),
    "ticket": ("last-granted",),
}
_ISO_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)? ?(Z|[+-]\d{2}:?\d{2})")


def _ctime_of_iso(text: str, zone: tzinfo) -> str:
    match = _ISO_RE.fullmatch(text.strip())
    if match is None:
        return text  # already ctime() (or blank): 1.1 prints it the same way
    offset = match.group(3).replace("Z", "+00:00")
    when = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{offset}")
    return ctime_text(when.timestamp(), zone)


def local_zone() -> tzinfo:
    """The zone crm_mon prints in: ``$TZ`` when set, else the system's local zone."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return ZoneInfo(name)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def as_pacemaker_11(xml: bytes, zone: tzinfo, version: str = PACEMAKER_11_VERSION) -> bytes:
    """Pacemaker 2.1's ``crm_mon --as-xml`` document as pacemaker ``version`` prints it."""
    root = ET.fromstring(xml)
    if root.tag != "crm_mon":
        raise ValueError(f"not legacy crm_mon XML: <{root.tag}>")
    root.set("version", version)
    for element in root.iter():
        for name in _DROPPED.get(element.tag, ()):
            element.attrib.pop(name, None)
        for name in _CTIME_ATTRIBUTES.get(element.tag, ()):
            if name in element.attrib:
                element.set(name, _ctime_of_iso(element.attrib[name], zone))
        if element.tag == "resource":
            for name in ("role", "target_role"):
                if element.get(name) in _ROLES:
                    element.set(name, _ROLES[element.attrib[name]])
            agent = element.get("resource_agent", "").split(":")
            if len(agent) == 3:
                element.set("resource_agent", f"{agent[0]}::{agent[1]}:{agent[2]}")
        if element.tag == "clone" and element.get("target_role") in _ROLES:
            element.set("target_role", _ROLES[element.attrib["target_role"]])
        if element.tag == "fence_event" and "status" in element.attrib:
            _rename_attribute(element, "status", "state")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + body


def _rename_attribute(element: ET.Element, old: str, new: str) -> None:
    items = [(new if key == old else key, value) for key, value in element.attrib.items()]
    element.attrib.clear()
    element.attrib.update(items)


# -- the stand-in program ---------------------------------------------------------------------

NOT_CONNECTED_11 = "\nError: cluster is not available on this node\n"
"""What 1.1.23's ``crm_mon --as-xml`` prints without a cluster, exiting 107 (ENOTCONN)."""
_ENOTCONN = 107
_NOT_CONNECTED_21 = 102  # CRM_EX_NOT_CONNECTED of pacemaker 2.x

_HIDDEN_LONG = {"pending": False, "xml-file": True, "snmp-traps": True, "snmp-community": True}
_OPTION_RE = re.compile(r"^ -(\S), --([a-z-]+)(\[=value\]|=value)?", re.MULTILINE)


def _options(help_text: str) -> tuple[dict[str, bool], dict[str, bool]]:
    """1.1.23's long and short options (name -> takes a value), read from its help text."""
    long_options = dict(_HIDDEN_LONG)
    short_options = {"j": False, "x": True}
    for short, name, value in _OPTION_RE.findall(help_text):
        long_options[name] = value == "=value"
        short_options[short] = value == "=value"
    return long_options, short_options


def _unknown(arg: str, long_options: dict[str, bool], short_options: dict[str, bool]) -> str | None:
    """glibc getopt_long's complaint about ``arg``, or None when 1.1.23 accepts it."""
    if arg.startswith("--"):
        name = arg[2:].partition("=")[0]
        return None if name in long_options else f"unrecognized option '{arg}'"
    if arg.startswith("-") and len(arg) > 1:
        for letter in arg[1:]:
            if letter not in short_options:
                return f"invalid option -- '{letter}'"
            if short_options[letter]:
                break  # the rest of this argument is the option's value
    return None


def _real_crm_mon() -> str:
    explicit = os.environ.get("CFHA_REAL_CRM_MON")
    if explicit:
        return explicit
    own = STANDIN_DIR.resolve()
    path = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != own
    )
    found = shutil.which("crm_mon", path=path)
    if found is None:
        raise SystemExit("crm_mon stand-in: no real crm_mon on PATH")
    return found


def main(argv: list[str]) -> int:
    """Behave as pacemaker 1.1.23's crm_mon would for ``argv`` (without argv[0])."""
    help_text = (FIXTURES / "1.1.23.help.stdout").read_text()
    long_options, short_options = _options(help_text)
    for arg in argv:
        if arg == "--":
            break
        complaint = _unknown(arg, long_options, short_options)
        if complaint is not None:
            sys.stderr.write(f"crm_mon: {complaint}\n{help_text}")
            return 1
    if "--help" in argv or "-?" in argv:
        sys.stdout.write(help_text)
        return 0
    if "--version" in argv or "-$" in argv:
        sys.stdout.write(f"Pacemaker {PACEMAKER_11_VERSION}\nWritten by Andrew Beekhof\n")
        return 0
    real = _real_crm_mon()
    if "--as-xml" not in argv and "-X" not in argv:
        os.execv(real, [real, *argv])  # text modes: the real crm_mon's own output
    done = subprocess.run([real, *argv], capture_output=True, check=False)
    if done.returncode == _NOT_CONNECTED_21:
        sys.stdout.write(NOT_CONNECTED_11)  # 1.1 prints no XML then (print_as, to stdout)
        return _ENOTCONN
    sys.stderr.buffer.write(done.stderr)
    stdout = done.stdout
    if stdout.lstrip().startswith(b"<crm_mon"):
        stdout = as_pacemaker_11(stdout, local_zone())
    sys.stdout.buffer.write(stdout)
    return done.returncode
