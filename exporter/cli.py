"""`cfha-exporter`: flags in the Prometheus style, config validated before anything starts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from clusterstate.tools import SubprocessRunner
from exporter import __version__
from exporter.config import ConfigError, load_config, parse_listen_address
from exporter.registry import COLLECTORS, DERIVED, build_collectors, metrics_registry
from exporter.scrape import Scrape, Scraper
from exporter.server import bind
from exporter.web.app import create_app
from exporter.web.security import secure
from exporter.web.webconfig import load_web_config
from servicekit.logsetup import setup_logging

log = logging.getLogger("cfha.exporter")
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
# Scrapes arriving within this long of a collection's start share it (a burst of scrapes, two
# Prometheus servers in step): the observed systems see at most one collection a second.
DEFAULT_REUSE_SECONDS = 1.0
# SIGTERM: collectors are aborted at once; past this the process exits whatever still runs
# (it writes nothing, so nothing can be left half-done), well before systemd's SIGKILL.
STOP_DEADLINE_SECONDS = 1.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfha-exporter",
        description="Prometheus exporter for a CFEngine Enterprise HA hub (read-only).",
    )
    parser.add_argument("--version", action="version", version=f"cfha-exporter {__version__}")
    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        default=None,
        help="YAML configuration file (default: built-in defaults)",
    )
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration, report every error, and exit",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=None,
        help="address to listen on, host:port or :port (overrides the config)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        default=None,
        help="TLS and basic auth, in the exporter-toolkit format (default: plain HTTP, no auth)",
    )
    parser.add_argument(
        "--scrape.reuse-seconds",
        dest="reuse_seconds",
        type=float,
        default=DEFAULT_REUSE_SECONDS,
        help="scrapes within this long of a collection's start are served that collection "
        f"(default {DEFAULT_REUSE_SECONDS:g}; 0: every scrape collects, unless one is in flight)",
    )
    parser.add_argument("--log.level", dest="log_level", choices=sorted(LOG_LEVELS), default="info")
    parser.add_argument(
        "--once",
        action="store_true",
        help="collect once, print the exposition to stdout and exit "
        "(non-zero when every collector failed)",
    )
    group = parser.add_argument_group("collectors")
    for entry in COLLECTORS + DERIVED:
        group.add_argument(
            f"--collector.{entry.name}",
            dest=f"collector_{entry.name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{entry.description} (default: as configured, enabled)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # BooleanOptionalAction spells the negation --no-collector.X, as node_exporter does.
    args = parser.parse_args(argv)
    setup_logging(LOG_LEVELS[args.log_level])
    try:
        config = load_config(args.config_file)
        listen = args.listen_address or config.web.listen_address
        host, port = parse_listen_address(listen)
        web_security = load_web_config(args.web_config_file)
    except ConfigError as exc:
        print(f"cfha-exporter: invalid configuration {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"cfha-exporter: {exc}", file=sys.stderr)
        return 2
    if args.config_check:
        print(f"{args.config_file or '(defaults)'}: configuration is valid")
        if args.web_config_file is not None:
            print(f"{args.web_config_file}: web configuration is valid")
        return 0

    overrides = {e.name: getattr(args, f"collector_{e.name}") for e in COLLECTORS + DERIVED}
    runner = SubprocessRunner()
    scheduled, derived = build_collectors(config, overrides, runner)
    scraper = Scraper(
        scheduled,
        derived,
        node=config.node_name,
        cluster=config.cluster,
        reuse_seconds=0.0 if args.once else max(0.0, args.reuse_seconds),
    )
    if args.once:
        return _once(scraper)

    registry = metrics_registry(scraper)
    try:
        app = secure(create_app(scraper, registry), web_security)
        server = bind(host, port, web_security.ssl_context)
    except OSError as exc:
        print(f"cfha-exporter: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 1
    log.info(
        "listening on %s://%s (node %s, collectors: %s)",
        web_security.scheme,
        listen,
        config.node_name,
        ", ".join(scraper.collector_names) or "none",
    )

    def stop() -> None:
        # Kill the tools' process groups and cut database queries, so that the scrapes still
        # in flight are answered now; then make sure nothing keeps the process past the deadline.
        deadline = threading.Timer(STOP_DEADLINE_SECONDS, _exit_now)
        deadline.daemon = True  # a process that exits in time does not wait for it
        deadline.start()
        runner.stop()
        scraper.close()

    try:
        server.serve_forever(app, on_stop=stop)
    finally:
        server.server_close()
        runner.stop()
        scraper.close()
    log.info("stopped")
    return 0


def _exit_now() -> None:
    log.warning("still busy %gs after the stop signal; exiting anyway", STOP_DEADLINE_SECONDS)
    logging.shutdown()
    os._exit(0)


class _FixedScrape:
    def __init__(self, scrape: Scrape) -> None:
        self._scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from self._scrape.families()


def _once(scraper: Scraper) -> int:
    scrape = scraper.scrape()
    registry = CollectorRegistry()
    registry.register(_FixedScrape(scrape))
    sys.stdout.buffer.write(generate_latest(registry))
    sys.stdout.flush()
    for result in scrape.failed:
        print(
            f"cfha-exporter: collector {result.name} failed ({result.reason}): {result.message}",
            file=sys.stderr,
        )
    plain = [r for r in scrape.results.values() if r.name not in {d.name for d in DERIVED}]
    scraper.close()
    return 1 if plain and all(not r.ok for r in plain) else 0
