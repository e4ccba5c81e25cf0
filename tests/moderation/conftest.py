from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from moderation import services
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory


@pytest.fixture
def moderator(db):
    user = UserFactory(username="mod_ann")
    services.moderator_add(user=user)
    return user


@pytest.fixture
def moderator2(db):
    user = UserFactory(username="mod_bob")
    services.moderator_add(user=user)
    return user


@pytest.fixture
def mod_client(moderator):
    return client_for(moderator)


@pytest.fixture
def seller(db):
    return UserFactory(username="seller")


@pytest.fixture
def buyer(db):
    return UserFactory(username="buyer")


@pytest.fixture
def listing(seller):
    return ListingFactory(seller=seller, active=True, title="Fujifilm X100V camera",
                          price_minor=100_000)


def report(client, target_type, target_id, reason="scam", details=""):
    return client.post(
        "/api/reports",
        {"target_type": target_type, "target_id": str(target_id), "reason": reason,
         "details": details},
        format="json",
    )


def pattern_jpeg(seed: int, size: tuple[int, int] = (512, 384), quality: int = 90) -> bytes:
    """A photo-like picture: random coloured blocks (seeded), so two seeds
    give unrelated pictures and one seed always the same picture."""
    rng = random.Random(seed)
    small = Image.new("RGB", (8, 6))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(48)])
    image = small.resize(size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
