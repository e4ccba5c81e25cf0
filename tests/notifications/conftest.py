from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.notifications.backends import FlakyBackend


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.fail_next(0)
    yield FlakyBackend
    FlakyBackend.fail_next(0)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", display_name="Bob")
