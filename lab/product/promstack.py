"""Prometheus + Alertmanager + a webhook sink on 127.0.0.1: the demo's stack and the tests' harness.

    with PromStack(tmp_path) as stack:
        sink = stack.sink                                   # records every POST it gets
        am = stack.alertmanager(am_config_dict)             # real prometheus-alertmanager
        prom = stack.prometheus(scrape_configs=[...], rule_files=[...], alertmanagers=[am])
        prom.wait_targets_up()
        sink.wait_for(lambda n: ..., timeout=120)

Everything binds to 127.0.0.1 on a free port, keeps its data and logs under the given
directory, and is stopped by its PID (SIGTERM, then SIGKILL) when the stack closes, also when
the test fails. Alertmanager runs with `--cluster.listen-address=` (no gossip port) and
Prometheus with `--rules.alert.resend-delay=1s` (lab-feasibility 5: otherwise the first
notification waits a minute). Readiness is polled with deadlines, never slept for.

Binaries: PROMETHEUS_BIN / ALERTMANAGER_BIN (Debian 12's by default); `missing_binaries()`
tells a test what to skip on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.loopback import LOOPBACK, free_port
from lab.product.waiting import StackError, wait_until
from lab.product.webhook_sink import Notification, WebhookSink

__all__ = [
    "LOOPBACK",
    "Alertmanager",
    "Notification",
    "PromStack",
    "Prometheus",
    "StackError",
    "WebhookSink",
    "free_port",
    "http_get_bytes",
    "http_json",
    "missing_binaries",
    "wait_until",
]

PROMETHEUS_BIN = os.environ.get("CFHA_PROMETHEUS_BIN", "/usr/bin/prometheus")
ALERTMANAGER_BIN = os.environ.get("CFHA_ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")


class DaemonExited(RuntimeError):
    """The daemon exited while we waited for it (not retried by `wait_until`)."""


def missing_binaries() -> list[str]:
    return [b for b in (PROMETHEUS_BIN, ALERTMANAGER_BIN) if shutil.which(b) is None]


def http_get_bytes(request: urllib.request.Request | str, timeout: float = 10.0) -> bytes:
    """The body of a 2xx answer; StackError (with the connection closed) for anything else."""
    url = request if isinstance(request, str) else request.full_url
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise StackError(f"refusing a non-loopback URL: {url}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only, checked above
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open response; never leave it to the GC
        raise StackError(f"{url}: HTTP {exc.code}") from None


def http_json(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http_get_bytes refuses all but loopback
    if data is not None:
        request.add_header("Content-Type", "application/json")
    raw = http_get_bytes(request, timeout)
    return json.loads(raw) if raw else None


# -- daemons -------------------------------------------------------------------------------


@dataclass
class Daemon:
    """A process we started, stopped by its PID."""

    name: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def launch(self, argv: Sequence[str], ready_timeout: float = 30.0) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise DaemonExited(f"{self.name} exited {self.process.returncode}")
            http_get_bytes(f"{self.base_url}/-/ready", timeout=2)
            return True

        try:
            wait_until(ready, ready_timeout, f"{self.name} ready")
        except (StackError, DaemonExited) as exc:
            self.stop()
            raise StackError(f"{exc}\n--- {self.log_path} ---\n{self.log_tail()}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


class Alertmanager(Daemon):
    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        http_json("POST", f"{self.base_url}/api/v2/alerts", alerts)

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's view: each alert with status.state active|suppressed and inhibitedBy."""
        result: list[dict[str, Any]] = http_json("GET", f"{self.base_url}/api/v2/alerts")
        return result

    def add_silence(self, matchers: dict[str, str], seconds: float = 3600) -> str:
        now = time.time()
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": _iso(now - 1),
            "endsAt": _iso(now + seconds),
            "createdBy": "cfha tests",
            "comment": "test",
        }
        answer = http_json("POST", f"{self.base_url}/api/v2/silences", body)
        return str(answer["silenceID"])


class Prometheus(Daemon):
    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        answer = http_json("GET", url)
        if answer.get("status") != "success":
            raise StackError(f"query {expr!r}: {answer}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts: labels, annotations, state, activeAt, value."""
        result: list[dict[str, Any]] = http_json("GET", f"{self.base_url}/api/v1/alerts")["data"][
            "alerts"
        ]
        return result

    def firing(self) -> set[tuple[str, ...]]:
        return {
            tuple(sorted(f"{k}={v}" for k, v in a["labels"].items()))
            for a in self.alerts()
            if a["state"] == "firing"
        }

    def targets_up(self) -> dict[str, bool]:
        answer = http_json("GET", f"{self.base_url}/api/v1/targets?state=active")
        return {t["scrapeUrl"]: t["health"] == "up" for t in answer["data"]["activeTargets"]}

    def wait_targets_up(self, timeout: float = 60.0) -> None:
        def all_up() -> bool:
            up = self.targets_up()
            return bool(up) and all(up.values())

        wait_until(all_up, timeout, "every scrape target up")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class PromStack:
    """Owns a sink and the daemons started through it; `close()` stops them all by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sink = WebhookSink()
        self.daemons: list[Daemon] = []

    def __enter__(self) -> PromStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for daemon in reversed(self.daemons):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                daemon.stop()
        self.sink.close()

    def _start(
        self, kind: type[Daemon], name: str, argv_for: Callable[[int, Path], list[str]]
    ) -> Any:
        workdir = self.workdir / name
        workdir.mkdir(parents=True, exist_ok=True)
        last: StackError | None = None
        for _attempt in range(3):
            daemon = kind(name=name, port=free_port(), workdir=workdir)
            self.daemons.append(daemon)
            try:
                daemon.launch(argv_for(daemon.port, workdir))
                return daemon
            except StackError as exc:
                self.daemons.remove(daemon)
                last = exc
                # Retry only when the free port was taken between free_port() and the bind.
                if "address already in use" not in str(exc):
                    break
        raise StackError(f"{name} did not start: {last}")

    def alertmanager(self, config: dict[str, Any], name: str = "alertmanager") -> Alertmanager:
        path = self.workdir / f"{name}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        am: Alertmanager = self._start(
            Alertmanager,
            name,
            lambda port, wd: [
                ALERTMANAGER_BIN,
                f"--config.file={path}",
                f"--storage.path={wd / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
        )
        return am

    def prometheus(
        self,
        *,
        scrape_configs: list[dict[str, Any]],
        rule_files: Sequence[Path] = (),
        alertmanagers: Sequence[Alertmanager] = (),
        interval: str = "1s",
        external_labels: dict[str, str] | None = None,
        name: str = "prometheus",
    ) -> Prometheus:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
                "external_labels": external_labels or {},
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": scrape_configs,
        }
        if alertmanagers:
            config["alerting"] = {
                "alertmanagers": [
                    {
                        "static_configs": [
                            {"targets": [f"{LOOPBACK}:{am.port}" for am in alertmanagers]}
                        ]
                    }
                ]
            }
        path = self.workdir / f"{name}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        prom: Prometheus = self._start(
            Prometheus,
            name,
            lambda port, wd: [
                PROMETHEUS_BIN,
                f"--config.file={path}",
                f"--storage.tsdb.path={wd / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--rules.alert.resend-delay=1s",
                "--log.level=info",
            ],
        )
        return prom


@contextlib.contextmanager
def promstack(workdir: Path) -> Iterator[PromStack]:
    stack = PromStack(workdir)
    try:
        yield stack
    finally:
        stack.close()
