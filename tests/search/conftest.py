from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from listings.models import Category
from search import indexing
from tests.listings.factories import ListingFactory


@pytest.fixture
def index(search_url, settings):
    """A fresh osmem clone with the alias in place; writes visible at once."""
    settings.SEARCH_REFRESH_ON_WRITE = True
    indexing.ensure_index()
    return search_url


def make_listing(
    *,
    title: str,
    category: str = "other",
    price: int = 10_000,
    description: str = "",
    condition: str = "good",
    lat: float = 31.2304,
    lon: float = 121.4737,
    city: str = "Shanghai",
    ships: bool = True,
    pickup: bool = True,
    age_days: float = 0,
    seller=None,
    **extra,
):
    published = timezone.now() - timedelta(days=age_days)
    kwargs = dict(
        title=title,
        category=Category.objects.get(slug=category),
        price_minor=price,
        description=description,
        condition=condition,
        location_lat=lat,
        location_lon=lon,
        location_city=city,
        ships=ships,
        pickup=pickup,
        active=True,
        published_at=published,
        **extra,
    )
    if seller is not None:
        kwargs["seller"] = seller
    return ListingFactory(**kwargs)


def index_all() -> None:
    indexing.reindex()
