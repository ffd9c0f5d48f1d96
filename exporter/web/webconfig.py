"""`--web.config.file`: TLS and basic auth, in the file format of Prometheus' exporter-toolkit.

The same YAML a Go exporter reads works here (`tls_server_config`, `http_server_config`,
`basic_auth_users` with bcrypt hashes), minus what Python's TLS cannot express; those settings are
rejected with a reason rather than ignored. The file is validated up front, every independent
error at once, and read once: new certificates take a restart (the CFEngine policy restarts the
service when it repairs one of these files).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from servicekit.config import read_yaml
from servicekit.settings import Settings, parse_settings, setting

TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
CLIENT_AUTH_MODES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# exporter-toolkit accepts these too; Python's ssl module can only request a client certificate
# together with verifying it, so accepting them here would silently change their meaning.
UNSUPPORTED_CLIENT_AUTH = {
    "RequestClientCert": "use VerifyClientCertIfGiven",
    "RequireAnyClientCert": "use RequireAndVerifyClientCert",
}
# exporter-toolkit's list: only these headers, and for two of them only these values.
ALLOWED_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
BCRYPT_HASH = re.compile(r"\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}")


def _readable_file(path: Path, context: Mapping[str, Any]) -> Path:
    # Relative paths are relative to the web config file, as in exporter-toolkit.
    base = context.get("base")
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    return path


def _bcrypt_hash(value: str, _: object) -> str:
    import bcrypt  # noqa: PLC0415 - only with basic auth: 0.4 MiB the exporter need not carry

    match = BCRYPT_HASH.fullmatch(value)
    if match is None:
        raise ValueError("not a bcrypt hash ($2y$10$ followed by 53 characters)")
    if not 4 <= int(match.group(1)) <= 31:
        raise ValueError("bcrypt cost must be between 4 and 31")
    try:
        bcrypt.checkpw(b"", value.encode())
    except ValueError as exc:  # the library's own check of the salt encoding
        raise ValueError(f"bcrypt rejects this hash: {exc}") from exc
    return value


def _user_name(value: str, _: object) -> str:
    if not value or ":" in value:
        raise ValueError("a user name must be non-empty and without ':' (basic auth splits there)")
    return value


def _client_auth_type(value: str, _: object) -> str:
    if value in UNSUPPORTED_CLIENT_AUTH:
        raise ValueError(
            f"{value} is not supported (Python cannot request a client certificate "
            f"without verifying it): {UNSUPPORTED_CLIENT_AUTH[value]}"
        )
    if value not in CLIENT_AUTH_MODES:
        raise ValueError(f"must be one of {', '.join(CLIENT_AUTH_MODES)}")
    return value


def _headers(value: dict[str, str], _: object) -> dict[str, str]:
    problems = []
    for name, header_value in value.items():
        if name not in ALLOWED_HEADERS:
            problems.append(f"header {name!r} cannot be configured")
        elif ALLOWED_HEADERS[name] and header_value not in ALLOWED_HEADERS[name]:
            problems.append(f"{name} must be one of {', '.join(ALLOWED_HEADERS[name])}")
    if problems:
        raise ValueError("; ".join(problems))
    return value


UserName = Annotated[str, _user_name]
ReadableFile = Annotated[Path, _readable_file]
BcryptHash = Annotated[str, _bcrypt_hash]


class TlsServerConfig(Settings):
    cert_file: ReadableFile
    key_file: ReadableFile
    client_auth_type: str = setting(default="NoClientCert", check=_client_auth_type)
    client_ca_file: ReadableFile | None = None
    min_version: Literal["TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS12", "TLS13"] = "TLS13"

    def problems(self) -> list[str]:
        problems = []
        verifying = self.client_auth_type != "NoClientCert"
        if verifying and self.client_ca_file is None:
            problems.append(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        if not verifying and self.client_ca_file is not None:
            problems.append("client_ca_file is set but client_auth_type is NoClientCert")
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            problems.append("min_version is newer than max_version")
        if not problems:
            try:
                build_ssl_context(self)
            except (ssl.SSLError, OSError, ValueError) as exc:
                problems.append(f"cannot use the certificate, key or CA: {_ssl_reason(exc)}")
        return problems


class HttpServerConfig(Settings):
    http2: bool = setting(
        default=True,
        description="Accepted for compatibility; this server answers HTTP/1.1, which "
        "Prometheus speaks, so the setting has nothing to switch.",
    )
    headers: dict[str, str] = setting(default_factory=dict, check=_headers)


class WebConfigFile(Settings):
    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = setting(default_factory=HttpServerConfig)
    basic_auth_users: dict[UserName, BcryptHash] = setting(default_factory=dict)


@dataclass(frozen=True)
class WebSecurity:
    """What the server needs: a TLS context (None: plain HTTP), users, extra response headers."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"


def build_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_passphrase)
    context.verify_mode = CLIENT_AUTH_MODES[tls.client_auth_type]
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=tls.client_ca_file)
    return context


def _no_passphrase() -> bytes:
    # Without this callback OpenSSL would prompt on the terminal for an encrypted key.
    raise ValueError("the private key is encrypted; the exporter needs an unencrypted key file")


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return str(exc.__cause__ or exc)


def web_security_from_mapping(
    data: Any, source: str = "<web config>", base: Path | None = None
) -> WebSecurity:
    parsed = parse_settings(WebConfigFile, data, source, {"base": base})
    tls = parsed.tls_server_config
    return WebSecurity(
        ssl_context=build_ssl_context(tls) if tls is not None else None,
        users={name: hashed.encode() for name, hashed in parsed.basic_auth_users.items()},
        headers=tuple(parsed.http_server_config.headers.items()),
    )


def load_web_config(path: Path | None) -> WebSecurity:
    """Read and validate the web config file (None: plain HTTP, no auth). Raises ConfigError."""
    if path is None:
        return WebSecurity()
    return web_security_from_mapping(read_yaml(path), str(path), base=path.parent)
