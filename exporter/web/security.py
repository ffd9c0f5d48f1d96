"""WSGI middleware for the web config: extra response headers and bcrypt basic auth.

Basic auth works as in exporter-toolkit: an unknown user is checked against a fixed decoy hash
so that response times do not reveal which users exist, bcrypt runs one check at a time (it is
CPU-bound by design), and outcomes are cached so that a Prometheus scraping every few seconds
pays for bcrypt once. The cache key is a SHA-256 digest of user, hash and password, so no
password is kept in memory.

`/healthz` stays open: it answers `{"status": "ok"}` and nothing about the cluster, so probes
(a load balancer, `curl` in a runbook) need no credentials. Everything else — the metrics, the
status page, which shows collector errors — needs them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from .webconfig import WebSecurity
from .wsgi import StartResponse, WSGIApp

OPEN_PATHS = frozenset({"/healthz"})
REALM = "cfha-exporter"
# bcrypt of "decoy-password" at cost 10, the cost Prometheus' docs suggest for real users.
DECOY_HASH = b"$2b$10$bxPre4ehg1PxygFTKKjXFeEpZQECcNuoiwYhC9ekB0Vs8WB9SElMa"
CACHE_SIZE = 256


class BasicAuth:
    """Answers 401 unless the request carries a listed user's password (outside OPEN_PATHS)."""

    def __init__(self, app: WSGIApp, users: Mapping[str, bytes]) -> None:
        self._app = app
        self._users = dict(users)
        self._bcrypt_lock = threading.Lock()
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in OPEN_PATHS:
            return self._app(environ, start_response)
        credentials = parse_basic_authorization(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is not None and self.check(*credentials):
            environ["REMOTE_USER"] = credentials[0]
            return self._app(environ, start_response)
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
            ],
        )
        return [b"Unauthorized\n"]

    def check(self, user: str, password: str) -> bool:
        hashed = self._known_hash(user)
        key = hashlib.sha256(
            b"\0".join([user.encode(), hashed or DECOY_HASH, password.encode()])
        ).digest()
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._bcrypt_lock:
            matches = _bcrypt_matches(password.encode(), hashed or DECOY_HASH)
        allowed = matches and hashed is not None
        with self._cache_lock:
            self._cache[key] = allowed
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return allowed

    def _known_hash(self, user: str) -> bytes | None:
        # Compare every name in constant time, so the lookup itself leaks nothing either.
        found = None
        for name, hashed in self._users.items():
            if hmac.compare_digest(name.encode(), user.encode()):
                found = hashed
        return found


def _bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    import bcrypt  # noqa: PLC0415 - only with basic auth: 0.4 MiB the exporter need not carry

    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # bcrypt 5 refuses passwords over 72 bytes: they cannot match
        return False


def parse_basic_authorization(header: str) -> tuple[str, str] | None:
    """'Basic base64(user:password)' -> (user, password); None if absent or malformed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class ExtraHeaders:
    """Adds the configured headers (HSTS, nosniff, ...) to every response."""

    def __init__(self, app: WSGIApp, headers: Iterable[tuple[str, str]]) -> None:
        self._app = app
        self._headers = list(headers)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def with_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            names = {name.lower() for name, _ in self._headers}
            kept = [(n, v) for n, v in headers if n.lower() not in names]
            return start_response(status, kept + self._headers, *exc)

        return self._app(environ, with_headers)


def secure(app: WSGIApp, security: WebSecurity) -> WSGIApp:
    """Wrap the exporter's app as the web config asks (unchanged when it asks nothing)."""
    wrapped = app
    if security.users:
        wrapped = BasicAuth(wrapped, security.users)
    if security.headers:
        wrapped = ExtraHeaders(wrapped, security.headers)
    return wrapped
