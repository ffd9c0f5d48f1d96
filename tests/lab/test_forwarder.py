"""The TCP forwarder, run in the test's own namespace against a local echo server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from lab.forwarder import parse_target


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


@pytest.mark.parametrize("text", ["nohost", ":80", "h:", "h:0", "h:70000", "h:x"])
def test_bad_targets_are_refused(text):
    with pytest.raises(ValueError):
        parse_target(text)


def test_parse_target():
    assert parse_target("10.250.1.100:5432") == ("10.250.1.100", 5432)


def test_forwarder_relays_both_ways_and_stops_on_sigterm():
    server, _ = _echo_server()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    os.set_inheritable(listener.fileno(), True)
    target = f"127.0.0.1:{server.getsockname()[1]}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.forwarder",
            "--listen-fd",
            str(listener.fileno()),
            "--to",
            target,
        ],
        pass_fds=(listener.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    listener.close()
    try:
        payload = os.urandom(300_000)
        for _ in range(3):  # several connections, each a full round trip
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(payload)
                client.shutdown(socket.SHUT_WR)
                received = bytearray()
                while chunk := client.recv(65536):
                    received += chunk
            assert bytes(received) == payload
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        server.close()


def test_forwarder_closes_the_client_when_the_target_is_down():
    dead = socket.create_server(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    os.set_inheritable(listener.fileno(), True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.forwarder",
            "--listen-fd",
            str(listener.fileno()),
            "--to",
            f"127.0.0.1:{dead_port}",
        ],
        pass_fds=(listener.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.settimeout(10)
            assert client.recv(10) == b""
    finally:
        proc.terminate()
        proc.wait(10)
