"""Bearer-token authentication, compared in constant time.

The token comes from a file (Alertmanager's `http_config.authorization.credentials_file` holds the
same one). Without a token the service refuses to start unless told `--insecure-no-auth`, and
then every response says so in a header.
"""

from __future__ import annotations

import functools
import hmac
import logging
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app, request
from flask.typing import ResponseReturnValue

from remediator.config import ConfigError
from remediator.web.context import error

log = logging.getLogger(__name__)
TOKEN_KEY = "CFHA_TOKEN"  # noqa: S105 - the name of a Flask config key, not a secret
MIN_TOKEN_LENGTH = 16
F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def load_token(path: Path | None) -> bytes:
    """The bearer token from its file. Raises ConfigError when absent, unreadable or short."""
    if path is None:
        raise ConfigError(
            "web.token_file", ["no token file configured (or start with --insecure-no-auth)"]
        )
    try:
        mode = path.stat().st_mode
        token = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the token file: {exc.strerror}"]) from exc
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(str(path), [f"the token must be at least {MIN_TOKEN_LENGTH} bytes"])
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("token file %s is readable by group or others; chmod 600 it", path)
    return token


def authorized() -> bool:
    token: bytes | None = current_app.config[TOKEN_KEY]
    if token is None:
        return True  # --insecure-no-auth
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        presented = ""
    # compare_digest runs in time independent of where the strings differ.
    return hmac.compare_digest(presented.strip().encode("utf-8", "replace"), token)


def require_token(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if not authorized():
            response = error(401, "missing or invalid bearer token")
            return response
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
