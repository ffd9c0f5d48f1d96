"""The exporter's plain-WSGI web app: routing, methods, the answers Flask used to give, imports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import choose_encoder
from werkzeug.test import Client

from exporter.registry import metrics_registry
from exporter.scrape import Scraper
from exporter.web.app import create_app
from exporter.web.wsgi import Environ, Response, Router, StartResponse

REPO = Path(__file__).resolve().parents[2]
NOT_FOUND_PAGE = (
    b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on the server. If you entered the URL manually please "
    b"check your spelling and try again.</p>\n"
)
NOT_ALLOWED_PAGE = (
    b"<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
    b"<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n"
)


def hello(_environ: Environ) -> Response:
    return Response(HTTPStatus.OK, b"hello\n", "text/plain", (("X-Test", "1"),))


def broken(_environ: Environ) -> Response:
    raise RuntimeError("a bug in a page")


def echo_mount(environ: Environ, start_response: StartResponse) -> list[bytes]:
    seen = {k: environ.get(k) for k in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO")}
    seen["QUERY_STRING"] = environ.get("QUERY_STRING")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.fixture
def router() -> Client:
    return Client(Router({"/": hello, "/hello": hello, "/broken": broken}, {"/m": echo_mount}))


def test_get_and_head_answer_the_same_headers(router: Client) -> None:
    got = router.get("/hello")
    assert got.status_code == 200 and got.data == b"hello\n"
    assert got.headers["Content-Type"] == "text/plain" and got.headers["X-Test"] == "1"
    assert got.headers["Content-Length"] == "6"
    head = router.head("/hello")
    assert head.status_code == 200 and head.data == b""
    assert head.headers == got.headers


def test_options_lists_the_methods(router: Client) -> None:
    answer = router.options("/hello")
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_are_not_allowed(router: Client, method: str) -> None:
    answer = router.open("/hello", method=method)
    assert answer.status == "405 Method Not Allowed"
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.data == NOT_ALLOWED_PAGE


@pytest.mark.parametrize("path", ["/nope", "/hello/", "/HELLO", "/mx", "/hello.html"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_unknown_paths_are_not_found(router: Client, path: str, method: str) -> None:
    answer = router.open(path, method=method)
    assert answer.status == "404 Not Found"
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Content-Length"] == str(len(NOT_FOUND_PAGE))
    assert answer.data == (b"" if method == "HEAD" else NOT_FOUND_PAGE)


def test_query_strings_do_not_change_the_route(router: Client) -> None:
    assert router.get("/hello?x=1&y").data == b"hello\n"
    assert router.get("/?x=1").data == b"hello\n"


def test_a_failing_handler_answers_500_and_the_app_serves_on(
    router: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="exporter.web.wsgi"):
        answer = router.get("/broken")
    assert answer.status_code == 500
    assert b"<title>500 Internal Server Error</title>" in answer.data
    assert "Exception on /broken [GET]" in caplog.text and "a bug in a page" in caplog.text
    assert router.get("/hello").status_code == 200


@pytest.mark.parametrize(
    ("path", "method", "script_name", "path_info", "query"),
    [
        ("/m", "GET", "/m", "", ""),
        ("/m/", "DELETE", "/m", "/", ""),
        ("/m/a/b?name[]=x", "POST", "/m", "/a/b", "name[]=x"),
    ],
)
def test_a_mount_takes_its_path_and_below_with_every_method(
    router: Client, path: str, method: str, *, script_name: str, path_info: str, query: str
) -> None:
    answer = router.open(path, method=method)
    assert answer.status_code == 200
    assert answer.get_json() == {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
    }


@pytest.fixture
def exporter_client() -> Iterator[Client]:
    scraper = Scraper([], node="hub1", cluster="cfcluster")
    registry = metrics_registry(scraper)
    try:
        yield Client(create_app(scraper, registry))
    finally:
        scraper.close()


def test_healthz_answers_as_flask_did(exporter_client: Client) -> None:
    answer = exporter_client.get("/healthz")
    assert answer.status_code == 200 and answer.data == b'{"status":"ok"}\n'
    assert answer.headers["Content-Type"] == "application/json"
    assert "Cache-Control" not in answer.headers


def test_api_status_is_compact_json_with_sorted_keys(exporter_client: Client) -> None:
    answer = exporter_client.get("/api/status")
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    text = answer.get_data(as_text=True)
    document: dict[str, Any] = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"
    assert document["node"] == "hub1" and document["status"] == "unknown"


def test_status_page_and_its_head(exporter_client: Client) -> None:
    page = exporter_client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert "? UNKNOWN" in page.get_data(as_text=True)
    head = exporter_client.head("/")
    assert head.data == b"" and head.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(head.headers["Content-Length"]) > 1000


def test_metrics_is_prometheus_clients_exposition_answered_like_every_page(
    exporter_client: Client,
) -> None:
    plain = exporter_client.get("/metrics")
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "cfha_exporter_build_info{" in plain.get_data(as_text=True)
    assert "process_resident_memory_bytes" in plain.get_data(as_text=True)
    assert plain.headers["Content-Length"] == str(len(plain.data))
    # HEAD: GET's headers, no body (Go's promhttp answers the same).
    head = exporter_client.head("/metrics")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Type"] == plain.headers["Content-Type"]
    assert int(head.headers["Content-Length"]) > 0
    for path in ("/metrics/", "/metrics/anything", "/metrics.txt"):
        assert exporter_client.get(path).status_code == 404, path
    post = exporter_client.post("/metrics")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert exporter_client.options("/metrics").headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text; version=garbage",
        "application/openmetrics-text; version=",
        "application/openmetrics-text; version=1.0.0; version=x",
        ";;;,,,=",
    ],
)
def test_a_malformed_accept_header_never_gets_a_500(exporter_client: Client, accept: str) -> None:
    answer = exporter_client.get("/metrics", headers={"Accept": accept})
    assert answer.status_code == 200
    assert "cfha_exporter_build_info{" in answer.get_data(as_text=True)


def test_an_accept_header_prometheus_client_raises_on_gets_the_text_format(
    exporter_client: Client,
) -> None:
    accept = "application/openmetrics-text; version=garbage"
    with pytest.raises(TypeError):  # what made every such request a 500 with a traceback
        choose_encoder(accept)
    answer = exporter_client.get("/metrics", headers={"Accept": accept})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_the_exporters_metrics_filter_by_name(exporter_client: Client) -> None:
    """`name[]` selects the scrape's families by their declared names (the adapter describes
    them), and the samples by name."""
    only = exporter_client.get("/metrics?name[]=cfha_exporter_build_info").get_data(as_text=True)
    assert "cfha_exporter_build_info{" in only
    assert "process_resident_memory_bytes" not in only
    both = "/metrics?name[]=cfha_exporter_build_info&name[]=process_resident_memory_bytes"
    text = exporter_client.get(both).get_data(as_text=True)
    assert "cfha_exporter_build_info{" in text and "process_resident_memory_bytes" in text
    assert "process_max_fds" not in text


def test_metrics_filters_by_name_from_the_query_string() -> None:
    registry = CollectorRegistry(auto_describe=True)  # filtering needs described families
    Gauge("cfha_test_a", "A.", registry=registry).set(1)
    Gauge("cfha_test_b", "B.", registry=registry).set(2)
    scraper = Scraper([], node="hub1", cluster="cfcluster")
    try:
        client = Client(create_app(scraper, registry))
        assert "cfha_test_b 2.0" in client.get("/metrics").get_data(as_text=True)
        only = client.get("/metrics?name[]=cfha_test_a").get_data(as_text=True)
        assert "cfha_test_a 1.0" in only and "cfha_test_b" not in only
    finally:
        scraper.close()


def test_the_exporter_process_imports_no_web_framework() -> None:
    """The real CLI serving every URL: neither Flask nor Werkzeug is ever imported, nor pydantic
    (its settings are plain dataclasses: the memory goal), and Jinja2 only once the status page
    is rendered."""
    script = textwrap.dedent(
        """
        import json, os, signal, sys, threading, urllib.request
        from exporter.cli import main
        from exporter.registry import COLLECTORS, DERIVED
        from lab.loopback import free_port

        FRAMEWORKS = ("flask", "werkzeug", "pydantic", "pydantic_core", "jinja2", "markupsafe")
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        def loaded():
            return sorted({m.split(".")[0] for m in sys.modules} & set(FRAMEWORKS))

        def get(path):
            for _ in range(300):  # until the server listens: 15 s at most
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as answer:
                        return answer.status
                except OSError as exc:
                    error = repr(exc)
                    threading.Event().wait(0.05)
            return error

        def visit():
            seen = {}
            try:
                for path in ("/healthz", "/metrics", "/api/status", "/"):
                    seen[path] = [get(path), loaded()]
            finally:
                print(json.dumps(seen), flush=True)
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=visit, daemon=True).start()
        off = [f"--no-collector.{e.name}" for e in COLLECTORS + DERIVED]
        sys.exit(main(["--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warn", *off]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "/healthz": [200, []],
        "/metrics": [200, []],
        "/api/status": [200, []],
        "/": [200, ["jinja2", "markupsafe"]],
    }
