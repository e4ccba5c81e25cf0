"""seed_demo fills a fresh database, prints the demo password, and refuses
to seed a database that already has users."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_users_and_prints_password():
    out = StringIO()

    call_command("seed_demo", "--scale", "0.05", stdout=out)

    assert User.objects.filter(username="alice", email_verified_at__isnull=False).exists()
    assert User.objects.filter(username="moderator").exists()
    assert "demo-pass-123" in out.getvalue()
    assert User.objects.get(username="alice").check_password("demo-pass-123")


def test_seed_demo_refuses_a_database_with_users(user):
    with pytest.raises(CommandError, match="fresh database"):
        call_command("seed_demo", stdout=StringIO())
    assert User.objects.count() == 1


def test_seed_demo_if_empty_skips_quietly(user):
    out = StringIO()

    call_command("seed_demo", "--if-empty", stdout=out)

    assert "not seeding" in out.getvalue()
    assert User.objects.count() == 1
