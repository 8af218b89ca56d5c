"""The server: health per the contract, the error envelope, and `dupeless serve` over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime

import httpx
import pytest
from dupeless.server.app import create_app
from starlette.testclient import TestClient


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as client:
        yield client


def test_health(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "ok"
    assert datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
    assert data["timestamp"].endswith("Z")


def test_unknown_route_gets_the_error_envelope(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND", "message": "No route for GET /api/v1/nope"}
    }


def test_wrong_method_gets_the_error_envelope(client):
    response = client.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "BAD_REQUEST"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_answers_health_over_http(tmp_path):
    port = free_port()
    environ = {**os.environ, "PORT": str(port), "DATABASE_URL": str(tmp_path / "d.db")}
    environ.pop("DUPELESS_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dupeless.core.cli", "serve"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.json()["data"]["status"] == "ok"
        assert (tmp_path / "d.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_with_bad_configuration_prints_one_line(tmp_path):
    environ = {**os.environ, "PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "dupeless.core.cli", "serve"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dupeless: invalid configuration: server.port: expected a whole number"
        " (allowed: from 1 to 65535)"
    ]


def test_demo_mode_serves_real_groups_from_the_sample_library(tmp_path):
    """`make run` on a fresh clone: no Paperless configured, so the sample library is used."""
    port = free_port()
    environ = {**os.environ, "PORT": str(port), "DATABASE_URL": str(tmp_path / "demo.db")}
    for name in ("DUPELESS_CONFIG", "PAPERLESS_URL", "PAPERLESS_API_TOKEN"):
        environ.pop(name, None)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dupeless.core.cli", "serve"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 120
        groups = 0
        while not groups:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no duplicate groups in demo mode"
            time.sleep(0.5)
            try:
                groups = httpx.get(f"{base}/duplicates", timeout=2).json()["meta"]["total"]
            except (httpx.TransportError, KeyError):
                continue
        ready = httpx.get(f"{base}/ready", timeout=10).json()
        assert "demo" in json.dumps(ready)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert "DEMO MODE" in (tmp_path / "serve.log").read_text()
