"""factory_boy factories for listings."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from listings.models import Category, Favourite, Listing, Photo
from tests.factories import UserFactory


def category(slug: str) -> Category:
    """A category of the tree the data migration created."""
    return Category.objects.get(slug=slug)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"test-category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    name_zh = "测试"
    attributes = factory.LazyFunction(list)


class ListingFactory(factory.django.DjangoModelFactory):
    """A complete draft (publishable as is); `active=True` etc. for other states."""

    class Meta:
        model = Listing

    seller = factory.SubFactory(UserFactory)
    category = factory.LazyFunction(lambda: category("other"))
    title = factory.Sequence(lambda n: f"Second-hand thing {n}")
    description = "Works fine, a few scratches."
    condition = "good"
    price_minor = 10_000
    price_currency = "CNY"
    location_lat = 31.2304
    location_lon = 121.4737
    location_city = "Shanghai"
    ships = True
    pickup = True
    attributes = factory.LazyFunction(dict)
    status = "draft"

    class Params:
        active = factory.Trait(
            status="active",
            published_at=factory.LazyFunction(timezone.now),
            expires_at=factory.LazyFunction(lambda: timezone.now() + timedelta(days=60)),
        )


class PhotoFactory(factory.django.DjangoModelFactory):
    """A photo row whose files need not exist (for list and query tests)."""

    class Meta:
        model = Photo

    listing = factory.SubFactory(ListingFactory)
    position = factory.Sequence(lambda n: n % 12)
    image = factory.LazyAttribute(lambda o: f"listings/{o.listing.id}/photo-{o.position}.jpg")
    thumbnail = factory.LazyAttribute(
        lambda o: f"listings/{o.listing.id}/photo-{o.position}_thumbnail.jpg"
    )
    medium = factory.LazyAttribute(
        lambda o: f"listings/{o.listing.id}/photo-{o.position}_medium.jpg"
    )
    width = 800
    height = 600


class FavouriteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Favourite

    user = factory.SubFactory(UserFactory)
    listing = factory.SubFactory(ListingFactory, active=True)
