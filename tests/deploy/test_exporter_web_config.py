"""The exporter's web config (exporter-toolkit format): validation up front, basic auth, headers."""

from __future__ import annotations

import base64
import subprocess
import textwrap
from http import HTTPStatus
from pathlib import Path

import bcrypt
import pytest
from werkzeug.test import Client

from exporter.cli import main
from exporter.config import ConfigError
from exporter.web.security import parse_basic_authorization, secure
from exporter.web.webconfig import _bcrypt_hash, load_web_config
from exporter.web.wsgi import Handler, Response, Router
from tests.support.tlsfiles import TlsFiles, make_tls_files

PASSWORD = "scrape-secret"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def password_hash() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def write(directory: Path, text: str, name: str = "web.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def test_every_independent_error_is_reported_at_once(tmp_path: Path, tls: TlsFiles) -> None:
    path = write(
        tmp_path,
        f"""
        tls_server_config:
          cert_file: {tls.server_cert}
          key_file: {tmp_path}/missing.key
          client_auth_type: RequestClientCert
          min_version: TLS10
        http_server_config:
          headers:
            X-Frame-Options: allow
            Server: cfha
        basic_auth_users:
          prometheus: not-a-hash
          "bad:name": $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi
        rate_limit: {{interval: 1s}}
        """,
    )
    with pytest.raises(ConfigError) as failure:
        load_web_config(path)
    errors = failure.value.errors
    joined = "\n".join(errors)
    assert "tls_server_config.key_file: cannot read" in joined
    assert "client_auth_type: RequestClientCert is not supported" in joined
    assert "use VerifyClientCertIfGiven" in joined
    assert "tls_server_config.min_version" in joined
    assert "X-Frame-Options must be one of deny, sameorigin" in joined
    assert "header 'Server' cannot be configured" in joined
    assert "basic_auth_users.prometheus: not a bcrypt hash" in joined
    assert "basic_auth_users.bad:name.[key]: a user name must be" in joined
    known = "tls_server_config, http_server_config, basic_auth_users"
    assert f"rate_limit: not a setting here (known: {known})" in joined
    assert len(errors) == 7, joined  # the two header problems share one message


def test_inconsistent_tls_settings_are_explained(tmp_path: Path, tls: TlsFiles) -> None:
    verify_without_ca = write(
        tmp_path,
        f"""
        tls_server_config:
          cert_file: {tls.server_cert}
          key_file: {tls.server_key}
          client_auth_type: RequireAndVerifyClientCert
          min_version: TLS13
          max_version: TLS12
        """,
    )
    with pytest.raises(ConfigError) as failure:
        load_web_config(verify_without_ca)
    assert failure.value.errors == [
        "tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file",
        "tls_server_config: min_version is newer than max_version",
    ]

    mismatched = write(
        tmp_path,
        f"tls_server_config: {{cert_file: {tls.server_cert}, key_file: {tls.client_key}}}\n",
    )
    with pytest.raises(ConfigError) as failure:
        load_web_config(mismatched)
    assert "cannot use the certificate, key or CA: key values mismatch" in failure.value.errors[0]


def test_an_encrypted_key_is_refused_without_prompting(tmp_path: Path, tls: TlsFiles) -> None:
    encrypted = tmp_path / "encrypted.key"
    argv = ["openssl", "pkey", "-in", str(tls.server_key), "-aes256", "-passout", "pass:x"]
    subprocess.run([*argv, "-out", str(encrypted)], check=True, capture_output=True, timeout=30)
    path = write(
        tmp_path,
        f"tls_server_config: {{cert_file: {tls.server_cert}, key_file: {encrypted}}}\n",
    )
    with pytest.raises(ConfigError) as failure:
        load_web_config(path)
    assert "the private key is encrypted" in failure.value.errors[0]


def test_relative_paths_are_relative_to_the_web_config(tls: TlsFiles, password_hash: str) -> None:
    path = write(
        tls.ca_cert.parent,
        f"""
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: ca.crt
        http_server_config:
          http2: true
          headers: {{X-Content-Type-Options: nosniff}}
        basic_auth_users:
          prometheus: {password_hash}
        """,
    )
    security = load_web_config(path)
    assert security.scheme == "https"
    assert security.ssl_context is not None
    assert security.users == {"prometheus": password_hash.encode()}
    assert security.headers == (("X-Content-Type-Options", "nosniff"),)


def test_no_file_and_an_empty_file_mean_plain_http(tmp_path: Path) -> None:
    assert load_web_config(None).scheme == "http"
    empty = load_web_config(write(tmp_path, ""))
    assert empty.ssl_context is None and not empty.users


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def text_page(body: bytes) -> Handler:
    return lambda _environ: Response(HTTPStatus.OK, body, "text/plain")


def test_basic_auth_guards_everything_but_healthz(tmp_path: Path, password_hash: str) -> None:
    routes = {
        "/metrics": text_page(b"cfha_up 1\n"),
        "/healthz": text_page(b"ok"),
        "/": text_page(b"status page"),
    }
    security = load_web_config(
        write(
            tmp_path,
            f"""
            basic_auth_users: {{prometheus: "{password_hash}"}}
            http_server_config: {{headers: {{X-Frame-Options: deny}}}}
            """,
        )
    )
    client = Client(secure(Router(routes, {}), security))

    for path in ("/metrics", "/"):
        refused = client.get(path)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="cfha-exporter"')
    assert client.get("/metrics", headers=basic("prometheus", "wrong")).status_code == 401
    assert client.get("/metrics", headers=basic("nobody", PASSWORD)).status_code == 401
    too_long = basic("prometheus", "x" * 100)  # bcrypt 5 raises on >72 bytes: must be a 401
    assert client.get("/metrics", headers=too_long).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 401

    granted = client.get("/metrics", headers=basic("prometheus", PASSWORD))
    assert granted.status_code == 200 and granted.data == b"cfha_up 1\n"
    assert granted.headers["X-Frame-Options"] == "deny"
    again = client.get("/metrics", headers=basic("prometheus", PASSWORD))  # from the cache
    assert again.status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.headers["X-Frame-Options"] == "deny"


def test_a_hash_with_a_trailing_newline_is_refused(password_hash: str) -> None:
    """`$` also matched before a final newline: a hash so pasted was taken for a valid one."""
    with pytest.raises(ValueError, match="not a bcrypt hash"):
        _bcrypt_hash(password_hash + "\n", {})
    assert _bcrypt_hash(password_hash, {}) == password_hash


def test_parse_basic_authorization() -> None:
    assert parse_basic_authorization("Basic " + base64.b64encode(b"a:b:c").decode()) == ("a", "b:c")
    assert parse_basic_authorization("basic " + base64.b64encode(b"a:").decode()) == ("a", "")
    assert parse_basic_authorization("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert parse_basic_authorization("Basic " + base64.b64encode(b"\xff:x").decode()) is None
    assert parse_basic_authorization("") is None


def test_config_check_validates_the_web_config_too(
    tmp_path: Path, tls: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(
        tmp_path,
        f"tls_server_config: {{cert_file: {tls.server_cert}, key_file: {tls.server_key}}}\n",
    )
    assert main(["--config.check", "--web.config.file", str(good)]) == 0
    assert "web configuration is valid" in capsys.readouterr().out
    bad = write(tmp_path, "basic_auth_users: {prometheus: plain-text}\n", name="bad.yml")
    assert main(["--config.check", "--web.config.file", str(bad)]) == 2
    assert "basic_auth_users.prometheus" in capsys.readouterr().err
