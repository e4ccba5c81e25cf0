from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.listings.factories import ListingFactory


@pytest.fixture
def seller(db):
    return UserFactory(username="seller", display_name="Sally Seller")


@pytest.fixture
def buyer(db):
    return UserFactory(username="buyer", display_name="Bob Buyer")


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger")


@pytest.fixture
def listing(seller):
    return ListingFactory(seller=seller, active=True, price_minor=123_450, negotiable=True,
                          title="Giant road bike", category_id=_category("bikes").pk,
                          attributes={"type": "road", "frame_size": "M"})


def _category(slug: str):
    from listings.models import Category

    return Category.objects.get(slug=slug)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def seller_client(seller) -> Client:
    return logged_in(seller)


@pytest.fixture
def buyer_client(buyer) -> Client:
    return logged_in(buyer)


@pytest.fixture
def stranger_client(stranger) -> Client:
    return logged_in(stranger)
