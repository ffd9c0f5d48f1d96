"""gunicorn, embedded: one worker process (the journal and the job worker live in it), a few
request threads, no control socket, optional TLS. The app is built inside the worker process
(not preloaded), so the background job worker starts where it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # no stubs

from remediator.app import close_app
from remediator.config import RemediatorConfig, parse_listen_address

log = logging.getLogger(__name__)


def gunicorn_options(config: RemediatorConfig, listen: str | None = None) -> dict[str, Any]:
    host, port = parse_listen_address(listen or config.web.listen_address)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": [bind],
        "workers": 1,  # one process: one journal writer, one job worker, coherent state
        "worker_class": "gthread",
        "threads": config.web.threads,
        "preload_app": False,
        "timeout": 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "control_socket_disable": True,  # gunicorn >= 25 would open one by default
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "cfha-remediator",
        "chdir": "/",
    }
    if config.web.tls is not None:
        options["certfile"] = str(config.web.tls.certfile)
        options["keyfile"] = str(config.web.tls.keyfile)
    return options


class RemediatorServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, app_factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = app_factory
        self._options = options
        self._app: Flask | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Flask:
        self._app = self._factory()
        return self._app

    def _worker_exit(self, _server: object, _worker: object) -> None:
        if self._app is not None:
            log.info("stopping: the job in progress, if any, stops at its next step boundary")
            close_app(self._app)


def serve(app_factory: Callable[[], Flask], options: dict[str, Any]) -> None:
    RemediatorServer(app_factory, options).run()
