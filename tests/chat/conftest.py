from __future__ import annotations

import pytest

from chat import services
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
        seller=seller, active=True, negotiable=True, price_minor=100_000, title="Vintage road bike"
    )


@pytest.fixture
def conversation(listing, buyer):
    conversation, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    return conversation
