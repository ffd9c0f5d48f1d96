"""Bearer-token authentication, compared in constant time.

The token comes from a file (Alertmanager's `http_config.authorization.credentials_file` holds the
same one). Without a token the service refuses to start unless told `--insecure-no-auth`, and
then every response says so in a header.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import re
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
# What a client can send in an Authorization header and we can compare byte for byte: printable
# ASCII without spaces. A token with an inner newline or a non-ASCII byte would never match.
TOKEN_PATTERN = re.compile(rb"[\x21-\x7e]+")
F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def load_token(path: Path | None, *, allow_insecure_file: bool = False) -> bytes:
    """The bearer token from its file. Raises ConfigError, with every problem, when it is absent,
    unreadable, short, not printable ASCII, or (unless allowed) readable by group or others or
    owned by another user than the service's."""
    if path is None:
        raise ConfigError(
            "web.token_file", ["no token file configured (or start with --insecure-no-auth)"]
        )
    try:
        info = path.stat()
        token = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the token file: {exc.strerror}"]) from exc
    problems = []
    if len(token) < MIN_TOKEN_LENGTH:
        problems.append(f"the token must be at least {MIN_TOKEN_LENGTH} bytes")
    if not TOKEN_PATTERN.fullmatch(token):
        problems.append(
            "the token must be one line of printable ASCII without spaces (it has a space, an "
            "inner line break, a control character or a non-ASCII byte)"
        )
    exposure = []
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        exposure.append(f"group or others may read it (mode {stat.S_IMODE(info.st_mode):04o})")
    if info.st_uid != os.geteuid():
        exposure.append(f"it belongs to uid {info.st_uid}, not to this service's {os.geteuid()}")
    if exposure and allow_insecure_file:
        log.warning("token file %s: %s (allowed by web.allow_insecure_token_file)", path,
                    "; ".join(exposure))  # fmt: skip
    elif exposure:
        problems += [f"{e}: chmod 600 / chown it, or set web.allow_insecure_token_file"
                     for e in exposure]  # fmt: skip
    if problems:
        raise ConfigError(str(path), problems)
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
