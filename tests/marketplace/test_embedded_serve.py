"""`manage.py serve` with no environment: SQLite, in-memory channel layer,
in-process tasks, and an osmem-server child that it starts and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.marketplace.test_settings_components import COMPONENT_VARS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def osmem_children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"osmem-server") and str(pid).encode() in cmdline:
            found.append(int(entry.name))
    return found


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_runs_everything_embedded_and_stops_its_search_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in COMPONENT_VARS}
    env.update(MARKETPLACE_VAR_DIR=str(tmp_path), MEDIA_ROOT=str(tmp_path / "media"))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, timeout=300
    )
    port = free_port()
    serve = subprocess.Popen(
        [*manage, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, b""
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, body
        components = json.loads(body)["components"]
        assert components == {
            "database": "ok",
            "channel_layer": "ok",
            "broker": "ok",
            "storage": "ok",
            "search": "ok",
        }
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        assert get(f"http://127.0.0.1:{port}/register/")[0] == 200
        assert osmem_children_of(serve.pid), "serve did not start osmem-server"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)

    deadline = time.monotonic() + 10
    while osmem_children_of(serve.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert osmem_children_of(serve.pid) == []
    assert (tmp_path / "marketplace.sqlite3").exists()
