"""Starting a lab (and a node's cluster stack on its own); `lab.teardown` stops it.

`up` records each thing in the state file *before* creating it; `down` reads that file and
undoes everything, in order: tracked processes, pacemakerd (it stops its resources), corosync,
then every other process left in the nodes' network namespaces, then the directory. Mounts,
links and namespaces need no explicit cleanup: they belong to the nodes' namespaces and vanish
with their last process.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from lab import cfdb, cfengine_side, pglayout, postgres, render, tracked
from lab.config import (
    MASTER_HUB_DAT,
    NODE_BIND_DIRS,
    OCF_SHELLFUNCS,
    PG_OS_USER,
    PG_PORT,
    PG_STATE_DIR,
    PG_TMPDIR,
    PGDATA,
    LabConfig,
    NodeSpec,
)
from lab.errors import LabError
from lab.node import NodeRunner
from lab.nodeinit import READY_FILE
from lab.nodes import LabNodes
from lab.offline.pginstall import pg_install
from lab.pglayout import LabPostgres
from lab.procs import (
    BASE_ENV,
    ProcError,
    ProcRef,
    is_alive,
    is_host_netns,
    launch_detached,
    netns_inode,
    parent_pid,
    pids_in_netns,
    wait_gone,
)
from lab.settle import wait_healthy
from lab.state import LabState, StateStore
from lab.teardown import DownReport, down

REPO = Path(__file__).resolve().parents[1]

log = logging.getLogger("lab")
REQUIRED_TOOLS = (
    "unshare",
    "nsenter",
    "setpriv",
    "ip",
    "corosync",
    "corosync-cfgtool",
    "pacemakerd",
    "crm_mon",
    "crm_resource",
    "crm_attribute",
)


def _owner(user: str, group: str) -> tuple[int, int]:
    return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid


def _mkdir(path: Path, mode: int, owner: tuple[int, int] | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if owner:
        os.chown(path, *owner)


def _write(path: Path, text: str, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if owner:
        os.chown(path, *owner)


def prepare_node_dirs(cfg: LabConfig, node: NodeSpec, pg: LabPostgres) -> None:
    hacluster = _owner("hacluster", "haclient")
    pg_owner = _owner(PG_OS_USER, PG_OS_USER)
    _mkdir(node.root, 0o755)
    for sub in NODE_BIND_DIRS:
        _mkdir(node.root / sub, 0o755)
    for sub in ("cib", "pengine", "blackbox", "cores"):
        _mkdir(node.root / "var-lib-pacemaker" / sub, 0o750, hacluster)
    _mkdir(node.root / "log-pacemaker", 0o770, hacluster)
    _mkdir(node.var_upper, 0o755)
    _mkdir(node.var_work, 0o755)
    _mkdir(node.logs, 0o755)
    _write(node.root / "etc-corosync/corosync.conf", render.corosync_conf(cfg))
    _write(
        node.root / "var-lib-pacemaker/cib/cib.xml",
        render.cib_xml(cfg, pg.bin_dir),
        0o600,
        hacluster,
    )
    _write(node.root / "ocf-shellfuncs", render.patched_ocf_shellfuncs(OCF_SHELLFUNCS.read_text()))
    _write(node.root / "hosts", render.etc_hosts(Path("/etc/hosts").read_text(), cfg))
    _mkdir(node.host_path(PG_STATE_DIR), 0o755, pg_owner)
    _mkdir(node.host_path(PG_TMPDIR), 0o700, pg_owner)
    cfengine_side.write_node(cfg, node)  # the client keys follow with cfdb's seed
    first = cfg.nodes[0]
    _write(node.host_path(MASTER_HUB_DAT), first.address + "\n")
    pglayout.install(pg.major, node)


def _save_node(lab: LabNodes, name: str, **changes: object) -> None:
    lab.store.update(lambda s: s.with_node(name, **changes))


def start_holder(lab: LabNodes, node: NodeSpec) -> NodeRunner:
    (node.root / READY_FILE).unlink(missing_ok=True)
    argv = [
        "unshare",
        "--net",
        "--mount",
        "--uts",
        "--ipc",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-m",
        "lab.nodeinit",
        "--name",
        node.name,
        "--root",
        str(node.root),
    ]
    ref = launch_detached(argv, log_path=node.logs / "holder.log", env=BASE_ENV)
    # Its namespaces are recorded only once it is ready: until unshare has run, it is still in
    # the host's namespaces.
    _save_node(lab, node.name, holder=ref)
    return NodeRunner(node.name, ref)


def wait_holders_ready(lab: LabNodes, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    for node in lab.config.nodes:
        holder = lab.load_state().node(node.name).holder
        if holder is None:
            raise ProcError(f"{node.name}: no holder process recorded")
        while not (node.root / READY_FILE).exists():
            if not is_alive(holder) or time.monotonic() >= deadline:
                log = (node.logs / "holder.log").read_text(errors="replace")[-1500:]
                raise ProcError(f"{node.name}: namespaces not ready:\n{log}")
            time.sleep(0.02)
        inode = netns_inode(holder.pid)
        if inode is None or is_host_netns(inode):
            raise ProcError(f"{node.name}: holder {holder.pid} has no network namespace of its own")
        _save_node(lab, node.name, netns_inode=inode)


def connect_nodes(lab: LabNodes) -> None:
    first, second = lab.config.nodes
    state = lab.load_state()
    h1, h2 = state.node(first.name).holder, state.node(second.name).holder
    assert h1 is not None and h2 is not None
    # Both ends are created directly inside the nodes' namespaces: the host's never sees them.
    lab.runner(first.name).run(
        [
            "ip",
            "link",
            "add",
            first.link,
            "netns",
            str(h1.pid),
            "type",
            "veth",
            "peer",
            "name",
            second.link,
            "netns",
            str(h2.pid),
        ],
        check=True,
    )
    for node in (first, second):
        runner = lab.runner(node.name)
        prefix = f"{node.address}/{lab.config.prefix_len}"
        runner.run(["ip", "addr", "add", prefix, "dev", node.link], check=True)
        runner.run(["ip", "link", "set", node.link, "up"], check=True)


# PostgreSQL is prepared by hand under this name while pacemaker already starts up (its probes
# look at /var/cfengine/state/pg/data and must find nothing running there), then renamed.
PREP_PGDATA = PGDATA.with_name("data.lab-init")


def setup_postgres(lab: LabNodes, seed_hosts: int, rng_seed: int) -> None:
    """hub1: initdb, cfdb and its seed; hub2: a base backup of it. Both stopped afterwards."""
    first, second = lab.config.nodes
    r1, r2 = lab.runner(first.name), lab.runner(second.name)
    pg = lab.postgres()
    for runner in (r1, r2):
        postgres.prepare_log(runner)
    postgres.initdb(r1, pg, first, lab.config, PREP_PGDATA)
    postgres.start(r1, pg, PREP_PGDATA)
    postgres.query(
        first,
        "CREATE DATABASE cfdb TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'",
        dbname="postgres",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    hubs = cfdb.hubs_from_ha_info(render.ha_info_json(lab.config), lab.node_names)
    postgres.query(first, "CREATE DATABASE cfsettings", dbname="postgres")
    with postgres.connect(first, "cfsettings") as conn:
        cfdb.create_settings(conn)
    with postgres.connect(first) as conn:
        cfdb.seed(conn, seed_hosts, now, rng_seed, hubs)
        conn.execute(
            "CREATE TABLE lab_writes (id bigserial PRIMARY KEY, node text NOT NULL,"
            " note text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())"
        )
    lab.store.update(
        lambda s: replace(s, seed_hosts=seed_hosts, seed_now=now.isoformat(), seed_rng=rng_seed)
    )
    postgres.basebackup(r2, pg, first, PREP_PGDATA)
    # The clean stop writes a shutdown checkpoint, so hub1 is strictly ahead of hub2 and the
    # agent promotes hub1 at first start.
    postgres.stop(r1, pg, pgdata=PREP_PGDATA)
    for node in (first, second):
        node.host_path(PREP_PGDATA).rename(node.pgdata_host)


CFHUB_INTERVAL_SECONDS = 60.0


def start_cfengine_daemons(lab: LabNodes, node: NodeSpec) -> None:
    """The stand-ins of cf-serverd and cf-hub in the node (lab/cfserverd.py, lab/cfhub.py:
    cf-hub collects only while its hub is active); `down` stops them."""
    for name, argv in (
        ("cf-serverd", ["-m", "lab.cfserverd"]),
        ("cf-hub", ["-m", "lab.cfhub", "--dsn", node.pg_dsn(),
                    "--interval", str(CFHUB_INTERVAL_SECONDS)]),
    ):  # fmt: skip
        tracked.spawn(
            lab,
            node.name,
            [sys.executable, *argv],
            env={"PYTHONPATH": str(REPO)},
            log_path=node.logs / f"{name}.log",
            user=None,
        )


def enable_postgres_resource(lab: LabNodes, timeout: float = 30.0) -> None:
    """Remove the seed CIB's target-role=Stopped (the guide also creates cfpgsql disabled)."""
    runner = lab.runner(lab.node_names[0])
    argv = [
        "crm_resource",
        "--resource",
        "mscfpgsql",
        "--meta",
        "--delete-parameter",
        "target-role",
    ]
    deadline = time.monotonic() + timeout
    while (done := runner.run(argv, timeout=15)).returncode != 0:
        if time.monotonic() >= deadline:
            raise ProcError(f"could not enable mscfpgsql: {done.stderr.strip()}")
        time.sleep(0.2)


def start_stack(lab: LabNodes, name: str) -> None:
    """Start corosync, wait until it answers, then pacemakerd, in the node."""
    node = lab.node(name)
    runner = lab.runner(name)
    corosync = runner.launch(["corosync", "-f"], log_path=node.logs / "corosync.out")
    _save_node(lab, name, corosync=corosync)
    deadline = time.monotonic() + 15
    while runner.run(["corosync-cfgtool", "-s"], timeout=5).returncode != 0:
        if not is_alive(corosync) or time.monotonic() >= deadline:
            raise ProcError(f"{name}: corosync did not come up; see {node.corosync_log_host}")
        time.sleep(0.05)
    pacemakerd = runner.launch(
        ["pacemakerd"],
        log_path=node.logs / "pacemakerd.out",
        env={"PCMK_logfile": "/var/log/pacemaker/pacemaker.log", "PCMK_logfacility": "none"},
    )
    _save_node(lab, name, pacemakerd=pacemakerd)


def stack_processes(lab: LabNodes, name: str) -> list[ProcRef]:
    """corosync, pacemakerd and pacemakerd's children (pacemaker-based, -controld, ...)."""
    node_state = lab.load_state().node(name)
    refs = [r for r in (node_state.pacemakerd, node_state.corosync) if r and is_alive(r)]
    if node_state.pacemakerd and node_state.netns_inode:
        refs += [
            r
            for r in pids_in_netns(node_state.netns_inode)
            if parent_pid(r.pid) == node_state.pacemakerd.pid
        ]
    return refs


def kill_stack(lab: LabNodes, name: str) -> list[int]:
    """SIGKILL corosync and every pacemaker daemon of the node (a crash of the cluster stack)."""
    refs = stack_processes(lab, name)
    for ref in refs:  # pacemakerd first, so it respawns nothing
        os.kill(ref.pid, signal.SIGKILL)
    left = wait_gone(refs, 10)
    if left:
        raise ProcError(f"{name}: cluster stack survived SIGKILL: {[r.pid for r in left]}")
    return [r.pid for r in refs]


def unavailable_reason(pg_major: int | None = None) -> str | None:
    """Why a lab on PostgreSQL `pg_major` (None: CFHA_LAB_PG or 15) cannot start on this machine
    (None when it can)."""
    if os.geteuid() != 0:
        return "the lab needs root (network and mount namespaces)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool, path=BASE_ENV["PATH"]) is None]
    if missing:
        return f"missing for the lab: {', '.join(missing)} (make deps)"
    major = pglayout.major_from_env() if pg_major is None else pg_major
    return pglayout.unavailable_reason(major)


def up(
    lab: LabNodes,
    timeout: float,
    *,
    seed_hosts: int,
    rng_seed: int,
    replace_existing: bool,
    pg_major: int,
    on_down: Callable[[DownReport], object] | None = None,
) -> float:
    """Start the lab on PostgreSQL `pg_major` and wait until it is healthy; returns the seconds
    that took.

    Whatever it tears down (an existing lab it replaces, itself after a failure) is reported to
    `on_down`."""
    started = time.monotonic()
    cfg = lab.config

    def tear_down() -> None:
        report = down(cfg, lab.store)
        if on_down is not None:
            on_down(report)

    reason = unavailable_reason(pg_major)
    if reason:
        raise LabError(reason)
    if replace_existing:
        tear_down()
    elif lab.store.exists():
        state = lab.load_state()
        if not (state.phase == "claimed" and state.owner_pid == os.getpid()):
            raise_exists(cfg, state)
    elif cfg.root.exists():
        raise LabError(
            f"{cfg.root} exists without a lab state; remove it: python -m lab down"
            f" --id {cfg.lab_id}"
        )

    def mark(name: str) -> None:
        log.info("lab %s up: %s at %.1fs", cfg.lab_id, name, time.monotonic() - started)

    try:
        cfg.root.mkdir(mode=0o755, exist_ok=True)
        cfg.root.chmod(0o755)
        version = pg_install(pg_major).version
        lab.store.save(
            LabState(
                cfg.lab_id,
                str(cfg.root),
                "starting",
                os.getpid(),
                pg_major=pg_major,
                pg_version=version,
            )
        )
        pg = lab.postgres()
        for node in cfg.nodes:
            prepare_node_dirs(cfg, node, pg)
        for node in cfg.nodes:
            start_holder(lab, node)
        wait_holders_ready(lab)
        connect_nodes(lab)
        mark("namespaces ready")
        for node in cfg.nodes:
            start_stack(lab, node.name)
        mark("cluster stack started")
        setup_postgres(lab, seed_hosts, rng_seed)
        mark("postgresql prepared")
        cfengine_side.write_all(lab)  # every client of the seed has its key on both hubs
        for node in cfg.nodes:
            start_cfengine_daemons(lab, node)
        enable_postgres_resource(lab)
        mark("mscfpgsql enabled")
        for node in cfg.nodes:
            tracked.forward(lab, node.name, PG_PORT)
        tracked.forward(lab, cfg.nodes[0].name, PG_PORT, target_host=cfg.vip)
        remaining = timeout - (time.monotonic() - started)
        wait_healthy(lab, max(remaining, 1.0))
        mark("healthy")
    except BaseException:
        # CFHA_LAB_KEEP_ON_FAILURE=1 leaves a failed lab in place to debug it (then `lab down`).
        if os.environ.get("CFHA_LAB_KEEP_ON_FAILURE") != "1":
            tear_down()
        raise
    seconds = time.monotonic() - started
    lab.store.update(lambda s: replace(s, phase="up", time_to_healthy_s=seconds))
    return seconds


def raise_exists(cfg: LabConfig, state: LabState) -> None:
    raise LabError(
        f"lab {cfg.lab_id} already exists ({cfg.state_file}, phase {state.phase},"
        f" started by pid {state.owner_pid}); stop it first: python -m lab down --id {cfg.lab_id}"
    )


def claim(cfg: LabConfig, store: StateStore) -> bool:
    """Reserve this lab id for the calling process (atomic); False if it is taken."""
    try:
        cfg.root.mkdir(mode=0o755)
    except FileExistsError:
        return False
    store.save(LabState(cfg.lab_id, str(cfg.root), "claimed", os.getpid()))
    return True
