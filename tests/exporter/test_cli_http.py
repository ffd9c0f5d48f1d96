"""The exporter as users run it: config validation, --once, the HTTP endpoints."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.test import Client

from exporter.cli import main
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.config import ConfigError, load_config
from exporter.registry import metrics_registry
from exporter.scrape import ScheduledCollector, Scraper
from exporter.web.app import create_app
from exporter.web.wsgi import WSGIApp
from lab.loopback import free_port
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from tests.support.pgskip import newest_pg


@pytest.fixture(scope="module")
def pg() -> PgInstall:
    """One major: the command line and HTTP behaviour do not depend on it (the published series
    are compared across majors in test_pg_versions)."""
    return newest_pg()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfha.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_config_error_is_reported_at_once_with_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        web:
          listen_address: "nonsense"
        colectors: {}
        collectors:
          postgres:
            deadline_seconds: -1
            connect_timeout_seconds: 1
            unknown_key: true
        """,
    )
    with pytest.raises(ConfigError) as failure:
        load_config(path)
    assert failure.value.errors == [
        "colectors: not a setting here (known: cluster, node, web, collectors)",
        "web.listen_address: listen address 'nonsense' must look like host:port or :port",
        "collectors.postgres.unknown_key: not a setting here (known: enabled, deadline_seconds, "
        "conninfo, password_file, connect_timeout_seconds, statement_timeout_seconds, "
        "expected_standbys)",
        "collectors.postgres.deadline_seconds: must be greater than 0",
        "collectors.postgres.connect_timeout_seconds: must be at least 2",
    ]


def test_config_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "cluster: cfcluster\nnode: hub1\n")
    assert main(["--config.file", str(good), "--config.check"]) == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("collectors: [\n")
    assert main(["--config.file", str(bad), "--config.check"]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["--config.file", str(tmp_path / "missing.yml")]) == 2


def test_once_prints_metrics_that_promtool_accepts(pg_pair: PgPair, tmp_path: Path) -> None:
    config = write(
        tmp_path,
        f"""
        cluster: cfcluster
        node: hub1
        collectors:
          postgres:
            conninfo: "{pg_pair.primary.conninfo()}"
            expected_standbys: [hub2]
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(config), "--once"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b'cfha_pg_up{cluster="cfcluster",node="hub1"} 1.0' in done.stdout
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=done.stdout,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_once_fails_when_every_collector_fails(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        f"""
        collectors:
          postgres:
            conninfo: "host=127.0.0.1 port={free_port()} user=x dbname=x"
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(config), "--once"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert b"cfha_pg_up" in done.stdout  # still says what it knows: down
    assert b"failed (connect)" in done.stderr


@contextmanager
def app_for(conninfo: str) -> Iterator[WSGIApp]:
    collector = PostgresCollector(PostgresConfig(conninfo=conninfo), "hub1")
    scraper = Scraper([ScheduledCollector(collector, 5.0)], node="hub1", cluster="cfcluster")
    registry = metrics_registry(scraper)
    try:
        yield create_app(scraper, registry)
    finally:
        scraper.close()


def test_metrics_answers_200_when_the_database_is_unreachable() -> None:
    with app_for(f"host=127.0.0.1 port={free_port()} user=x dbname=x") as app:
        check_down_page(Client(app))


def check_down_page(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'cfha_pg_up{cluster="cfcluster",node="hub1"} 0.0' in body
    assert 'collector="postgres",state="connect"} 1.0' in body
    assert client.get("/healthz").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and b"connect" in page.data


def test_metrics_negotiates_openmetrics_and_gzip(pg_pair: PgPair) -> None:
    with app_for(pg_pair.primary.conninfo()) as app:
        check_negotiation(Client(app))


def check_negotiation(client: Client) -> None:
    om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.get_data(as_text=True).rstrip().endswith("# EOF")
    zipped = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("Content-Encoding") == "gzip"
    assert b"cfha_pg_up" in gzip.decompress(zipped.data)


def test_unknown_flag_is_rejected() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--collector.nonexistent"])
    assert exit_info.value.code == 2
