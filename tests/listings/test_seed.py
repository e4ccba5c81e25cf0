"""The demo seeder: realistic listings through the services, with photos."""

from __future__ import annotations

import io
import random

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from listings.models import Listing, Photo
from listings.seed import seed_listings
from marketplace.accounts.seed import seed_users
from marketplace.outbox.models import OutboxEvent
from marketplace.seeding import SeedContext, seeders

pytestmark = pytest.mark.django_db


def test_listings_seeder_is_registered_after_users():
    names = [name for name, _ in seeders()]
    assert names.index("users") < names.index("listings")


def test_seed_makes_bilingual_listings_with_photos_and_events(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    out = io.StringIO()
    ctx = SeedContext(rng=random.Random(7), out=out, scale=0.1)
    seed_users(ctx)

    seed_listings(ctx)

    listings = Listing.objects.all()
    assert listings.count() == 30
    assert "listings" in out.getvalue() and "30/30" in out.getvalue()
    assert listings.filter(status="active").count() >= 15
    assert len(set(listings.values_list("category__slug", flat=True))) >= 8
    titles = list(listings.values_list("title", flat=True))
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles)  # Chinese
    assert any(t.isascii() for t in titles)  # English
    assert all(listing.price_minor > 0 and listing.price_currency == "CNY" for listing in listings)
    assert all(listing.location_lat is not None for listing in listings)
    photo = Photo.objects.first()
    assert 1 <= Photo.objects.filter(listing=photo.listing).count() <= 2
    assert photo.thumbnail and photo.medium  # made without a broker
    with default_storage.open(photo.image.name) as handle:
        assert Image.open(handle).size == (600, 450)
    topics = set(OutboxEvent.objects.values_list("topic", flat=True))
    assert {"listings.listing_created", "listings.listing_published"} <= topics
    assert len(ctx.shared["listings"]) == 30
