"""Fixtures for the listings tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from listings import services
from tests.conftest import client_for
from tests.factories import UserFactory


@pytest.fixture
def moderator(db):
    user = UserFactory(username="mod")
    user.user_permissions.add(Permission.objects.get(codename="moderate_listing"))
    return type(user).objects.get(pk=user.pk)  # fresh: no stale permission cache


@pytest.fixture
def moderator_client(moderator):
    return client_for(moderator)


@pytest.fixture
def publish_check():
    """Register a publish check whose verdict the test sets: `publish_check.score = 0.95`."""

    class Check:
        score: float | None = None
        reasons: list[str] = []

        def __call__(self, listing):
            return self.score, list(self.reasons)

    check = Check()
    services.register_publish_check(check, name="tests.publish_check")
    yield check
    services.unregister_publish_check("tests.publish_check")


@pytest.fixture(autouse=True)
def _only_listings_subscribers(monkeypatch):
    """Listings' tests hear only listings' own event handlers: other apps
    (search, trust, ...) subscribe to these topics too, and their handlers
    are tested with their real servers in their own folders."""
    from marketplace.outbox import services as outbox

    own = {
        topic: [(name, handler) for name, handler in handlers if name.startswith("listings.")]
        for topic, handlers in outbox._subscribers.items()
    }
    monkeypatch.setattr(outbox, "_subscribers", own)


@pytest.fixture(autouse=True)
def _no_foreign_publish_checks(monkeypatch):
    """trust registers its fraud model as a publish check; listings' tests
    decide the verdict themselves (see `publish_check`)."""
    monkeypatch.setattr(services, "_publish_checks", {})
