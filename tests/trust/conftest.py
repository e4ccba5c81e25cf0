from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.listings.factories import ListingFactory


@pytest.fixture
def seller(db):
    return UserFactory(username="seller")


@pytest.fixture
def buyer(db):
    return UserFactory(username="buyer")


@pytest.fixture
def listing(seller):
    return ListingFactory(
        seller=seller,
        active=True,
        price_minor=100_000,
        ships=True,
        negotiable=True,
        title="Fujifilm X100V",
    )


@pytest.fixture
def moderator(db):
    """A user who may see every order (the `trust.view_order` permission)."""
    from django.contrib.auth.models import Permission

    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    return user
