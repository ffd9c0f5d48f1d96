"""Flask app factory: `create_app(config, services)` builds everything, no module-level state."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from remediator.config import RemediatorConfig
from remediator.policy import Policy, load_policy
from remediator.service import Remediator
from remediator.services import Services
from remediator.web import api, health, metrics_view, webhook
from remediator.web.auth import TOKEN_KEY, load_token
from remediator.web.context import EXTENSION, core, error

log = logging.getLogger(__name__)


def create_app(
    config: RemediatorConfig,
    services: Services,
    *,
    policy: Policy | None = None,
    insecure_no_auth: bool = False,
    start_worker: bool = True,
) -> Flask:
    """Raises ConfigError (no usable token, invalid policy) before anything starts."""
    token = (
        None
        if insecure_no_auth
        else load_token(
            config.web.token_file, allow_insecure_file=config.web.allow_insecure_token_file
        )
    )
    if insecure_no_auth:
        log.warning(
            "!!! AUTHENTICATION DISABLED (--insecure-no-auth): anyone who can reach %s "
            "can make this service change the cluster !!!",
            config.web.listen_address,
        )
    policy = policy or load_policy(config.policy_file)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=config.web.max_body_bytes,
        CFHA_METRICS_AUTH=config.web.metrics_require_auth,
        CFHA_WORKER=start_worker,
    )
    app.config[TOKEN_KEY] = token
    app.extensions[EXTENSION] = Remediator(config, policy, services, start_worker=start_worker)
    for blueprint in (webhook.bp, api.bp, health.bp, metrics_view.bp):
        app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        # JSON for every HTTP error (404, 405, 413...), never an HTML page.
        return error(exc.code or 500, exc.description or exc.name)

    @app.after_request
    def count_and_warn(response: Response) -> Response:
        if request.path == "/webhook":
            core().requests.inc(response.status_code)
        if token is None:
            response.headers["X-Cfha-Warning"] = "authentication disabled"
        return response

    return app


def close_app(app: Flask) -> None:
    remediator = app.extensions.get(EXTENSION)
    if isinstance(remediator, Remediator):
        remediator.close()
