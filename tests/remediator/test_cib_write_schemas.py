"""Every CIB write of the remediator is valid in every CIB schema pacemaker 1.1 to 2.1 uses.

The writes: the remediation lock (a `cluster_property_set` in crm_config), the resync hold (an
`rsc_location` with a rule and a `date_expression`, as `crm_resource --ban --lifetime` writes),
and a ban as `crm_resource --ban` writes it (what `clear_cli_constraints` deletes). A CIB says
which schema it follows (`validate-with`): pacemaker 1.1 clusters run pacemaker-1.2 to
pacemaker-2.10, 2.0/2.1 up to pacemaker-3.9. Each write is validated with the RELAX NG schemas
pacemaker ships (/usr/share/pacemaker), and applied with the real cibadmin to CIB files that say
pacemaker-1.2 and pacemaker-2.10: cibadmin refuses any update its CIB's schema rejects.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from clusterstate.tools import SubprocessRunner
from lab.offline.cibstates import run_tool
from remediator.actions.resync_plan import hold_xml
from remediator.actions.resync_target import PgTarget
from remediator.lock import ClusterLock, lock_set_xml
from remediator.simulate import location_constraint_xpath
from tests.support.pacemaker_tools import require_pacemaker_tools

SCHEMAS = Path("/usr/share/pacemaker")
TARGET = PgTarget(
    rsc="cfpgsql",
    clone="mscfpgsql",
    node="hub2",
    pgdata="/var/cfengine/state/pg/data",
    tmpdir="/var/cfengine/state/pg/tmp",
    user="cfpostgres",
    uid=1000,
    gid=1000,
    home="/var/cfengine",
    bin_dir="/var/cfengine/bin",
    host="192.168.100.100",
    port=5432,
    repuser="cfpostgres",
    database="cfdb",
)
HOLD = hold_xml(TARGET, 1_784_030_400)
LOCK = lock_set_xml("owner=hub1;job=job-1;acquired=1784016000;expires=1784019600")
# as pacemaker 2.1.5's crm_resource --ban writes it (test_ban_is_what_crm_resource_writes)
BAN = (
    '<rsc_location id="cli-ban-mscfpgsql-on-hub2" rsc="mscfpgsql" role="Started" node="hub2" '
    'score="-INFINITY"/>'
)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def installed() -> list[str]:
    found = (re.fullmatch(r"pacemaker-([0-9.]+)\.rng", p.name) for p in SCHEMAS.glob("*.rng"))
    return sorted((m.group(1) for m in found if m), key=version_key)


VERSIONS = installed()
# the schemas a pacemaker 1.1 or 2.x cluster's CIB may say (1.0 is pacemaker 1.0's own)
USED = [v for v in VERSIONS if version_key("1.2") <= version_key(v)]


@cache
def schema(version: str) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / f"pacemaker-{version}.rng")))


def cib(version: str, *, constraints: str = "", crm_config: str = "") -> str:
    """The smallest CIB of the CFEngine resources (referenced ids must exist) in ``version``."""
    node_type = ' type="normal"' if version == "1.0" else ""  # required by 1.0 only
    return (
        f'<cib validate-with="pacemaker-{version}" admin_epoch="0" epoch="1" num_updates="0">'
        f"<configuration><crm_config>{crm_config}</crm_config><nodes>"
        f'<node id="1" uname="hub1"{node_type}/><node id="2" uname="hub2"{node_type}/></nodes>'
        '<resources><clone id="mscfpgsql"><primitive id="cfpgsql" class="ocf" '
        'provider="heartbeat" type="pgsql"/></clone><group id="cfengine"><primitive '
        'id="cfvirtip" class="ocf" provider="heartbeat" type="IPaddr2"/></group></resources>'
        f"<constraints>{constraints}</constraints></configuration><status/></cib>"
    )


def valid(version: str, document: str) -> bool:
    return bool(schema(version).validate(etree.fromstring(document)))


def oldest_valid(**write: str) -> str | None:
    return next((v for v in VERSIONS if valid(v, cib(v, **write))), None)


@pytest.fixture(autouse=True)
def _schemas_installed() -> None:
    if not USED:
        pytest.skip("pacemaker's RELAX NG schemas are not installed (scripts/ensure-debs)")


@pytest.mark.parametrize("version", USED)
def test_every_write_is_valid(version: str) -> None:
    assert valid(version, cib(version))
    assert valid(version, cib(version, crm_config=LOCK))
    assert valid(version, cib(version, constraints=HOLD))
    assert valid(version, cib(version, constraints=BAN))


def test_the_schema_each_write_requires() -> None:
    assert oldest_valid(crm_config=LOCK) == "1.0"
    assert oldest_valid(constraints=HOLD) == "1.2"  # `role` on rsc_location came with 1.2
    assert oldest_valid(constraints=BAN) == "1.2"
    # the validation sees role names: pacemaker 2.1's spelling would break every 1.1 cluster
    promoted = HOLD.replace('role="Started"', 'role="Promoted"')
    assert oldest_valid(constraints=promoted) == "3.7"
    assert not valid("2.10", cib("2.10", constraints=promoted))


def write_cib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> Path:
    path = tmp_path / f"cib-{version}.xml"
    path.write_text(cib(version))
    monkeypatch.setenv("CIB_file", str(path))
    return path


@pytest.mark.parametrize("version", ["1.2", "2.10"])
def test_cibadmin_takes_every_write_on_a_pacemaker_11_cib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    require_pacemaker_tools()
    path = write_cib(tmp_path, monkeypatch, version)
    lock = ClusterLock(SubprocessRunner(), "cibadmin", "hub1", timeout=30)
    assert lock.acquire("job-1", 1_784_016_000, 3600).acquired
    hold = ["cibadmin", "--modify", "--allow-create", "--scope", "constraints", "--xml-text", HOLD]
    run_tool(hold, cib=path)
    run_tool(["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub1"], cib=path)
    text = path.read_text()
    assert f'validate-with="pacemaker-{version}"' in text
    for written in ("cfha-remediation-lock", TARGET.hold_id, "cli-ban-mscfpgsql-on-hub1"):
        assert written in text, written
    # the remediator's deletes, for real: the lock, the hold and the ban are gone again
    assert lock.release("job-1")
    for constraint in (TARGET.hold_id, "cli-ban-mscfpgsql-on-hub1"):
        run_tool(
            ["cibadmin", "--delete", "--xpath", location_constraint_xpath(constraint)], cib=path
        )
    assert "<constraints/>" in path.read_text()


def test_cibadmin_refuses_what_the_cib_schema_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_pacemaker_tools()
    path = write_cib(tmp_path, monkeypatch, "2.10")
    promoted = HOLD.replace('role="Started"', 'role="Promoted"')
    with pytest.raises(RuntimeError, match="exited 78"):
        run_tool(["cibadmin", "--modify", "--allow-create", "--scope", "constraints",
                  "--xml-text", promoted], cib=path)  # fmt: skip


def test_ban_is_what_crm_resource_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_pacemaker_tools()
    path = write_cib(tmp_path, monkeypatch, "3.9")
    run_tool(["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub2"], cib=path)
    [written] = etree.fromstring(path.read_bytes()).iter("rsc_location")
    assert dict(written.items()) == dict(etree.fromstring(BAN).items())
