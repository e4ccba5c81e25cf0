"""`make run`'s first start with no environment: the demo seeds into SQLite
with in-process tasks, and its escrow orders go through the same ledger
(not only on PostgreSQL), so a newcomer's marketplace has paid, completed and
disputed orders and a balanced ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.marketplace.test_settings_components import COMPONENT_VARS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

COUNT_ORDERS = """
import json
from trust.models import Order
from django.db.models import Count
print(json.dumps({r["status"]: r["n"] for r in
                  Order.objects.values("status").annotate(n=Count("id"))}))
"""


def test_demo_seeds_orders_into_sqlite_and_the_ledger_audit_passes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in COMPONENT_VARS}
    env.update(MARKETPLACE_VAR_DIR=str(tmp_path), MEDIA_ROOT=str(tmp_path / "media"))
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*manage, *args], env=env, capture_output=True, text=True,
                              timeout=600)

    assert run("migrate", "--noinput").returncode == 0
    seeded = run("seed_demo", "--scale", "0.1")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "could not be made" not in seeded.stdout, seeded.stdout
    assert list(tmp_path.glob("*.sqlite3")), "the embedded default is a SQLite file"

    counted = run("shell", "-c", COUNT_ORDERS)
    assert counted.returncode == 0, counted.stderr
    by_status = json.loads(counted.stdout.strip().splitlines()[-1])
    assert by_status.get("completed", 0) >= 1, by_status
    assert by_status.get("paid", 0) + by_status.get("shipped", 0) >= 1, by_status

    audit = run("ledger_audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
