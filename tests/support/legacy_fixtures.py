"""The committed crm_mon documents of ``tests/fixtures/pacemaker/legacy-1.1``, and how to make them.

For every CFEngine-shaped state of ``cibstates``: ``<state>.output-as.xml`` is pacemaker 2.1.5's
``crm_mon`` with the exporter's argv (``CRM_MON_ARGV``); ``<state>.as-xml-1.1.xml`` is 2.1.5's
``crm_mon`` with the legacy argv (``LEGACY_CRM_MON_ARGV``) turned into pacemaker 1.1.23's output
by ``pacemaker11.as_pacemaker_11``. Both are made in ``PCMK_TZ``. ``last_update`` (crm_mon's own
clock) is pinned to ``PINNED_LAST_UPDATE`` so that a rebuild gives the same bytes.

Re-make them with ``.venv/bin/python tests/fixtures/pacemaker/legacy-1.1/make.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from clusterstate.pacemaker_cli import LEGACY_CRM_MON_ARGV
from lab.offline.cibstates import PCMK_TZ, CibStates, crm_mon_xml, run_tool
from tests.support.pacemaker11 import as_pacemaker_11

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "pacemaker" / "legacy-1.1"
PINNED_LAST_UPDATE = "Tue Jul 14 12:00:00 2026"
MODERN_SUFFIX = ".output-as.xml"
LEGACY_SUFFIX = ".as-xml-1.1.xml"

_LAST_UPDATE_RE = re.compile(rb'(<last_update time=")[^"]*(")')


def pin_last_update(xml: bytes) -> bytes:
    """``xml`` with crm_mon's wall-clock ``last_update`` replaced by ``PINNED_LAST_UPDATE``."""
    return _LAST_UPDATE_RE.sub(rb"\g<1>" + PINNED_LAST_UPDATE.encode() + rb"\g<2>", xml, count=1)


def legacy_11_xml(cib: Path) -> bytes:
    """What pacemaker 1.1.23's ``crm_mon`` (legacy argv) prints for the saved CIB ``cib``."""
    return as_pacemaker_11(run_tool(LEGACY_CRM_MON_ARGV, cib=cib), ZoneInfo(PCMK_TZ))


def render(states: CibStates) -> dict[str, bytes]:
    """Every fixture file by name, made now from ``states``."""
    files: dict[str, bytes] = {}
    for name, cib in states.all_states().items():
        files[name + MODERN_SUFFIX] = pin_last_update(crm_mon_xml(cib))
        files[name + LEGACY_SUFFIX] = pin_last_update(legacy_11_xml(cib))
    return files


def committed_states() -> list[str]:
    """The state names with both documents committed."""
    modern = {p.name.removesuffix(MODERN_SUFFIX) for p in FIXTURE_DIR.glob("*" + MODERN_SUFFIX)}
    legacy = {p.name.removesuffix(LEGACY_SUFFIX) for p in FIXTURE_DIR.glob("*" + LEGACY_SUFFIX)}
    return sorted(modern & legacy)
