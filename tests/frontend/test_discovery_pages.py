"""The home page's "for you" feed, the listing page's view event, Open Graph /
Twitter card tags and the share box."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from marketplace.analytics import services as analytics
from marketplace.analytics.models import Event
from search import tasks
from tests.factories import UserFactory
from tests.frontend.conftest import logged_in
from tests.listings.factories import ListingFactory, PhotoFactory

pytestmark = pytest.mark.django_db

BEIJING = {"location_lat": 39.9042, "location_lon": 116.4074, "location_city": "Beijing"}


@pytest.fixture(autouse=True)
def _no_popularity_cache(settings):
    settings.FEED_POPULAR_CACHE_SECONDS = 0


def html(response) -> str:
    return response.content.decode()


def feed_titles(page: str) -> list[str]:
    section = page.split('data-testid="feed"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<span class="title">([^<]+)</span>', section)


def viewed(users, listing) -> None:
    at = timezone.now() - timedelta(days=1)
    Event.objects.bulk_create(
        Event(kind="listing_viewed", at=at, user_id=u.pk, listing_id=listing.id) for u in users
    )


def test_home_shows_a_signed_in_user_their_for_you_feed_without_own_or_sold_items():
    me = UserFactory(city="Shanghai")
    camera = ListingFactory(active=True, title="Film camera")
    lens = ListingFactory(active=True, title="Fifty mm lens",
                          published_at=timezone.now() - timedelta(days=30), **BEIJING)
    ListingFactory(active=True, title="My own bike", seller=me)
    ListingFactory(status="sold", title="Sold sofa")
    for _ in range(3):
        viewed([UserFactory()], camera)
    people = [UserFactory() for _ in range(3)]
    viewed(people, camera)
    viewed(people, lens)
    viewed([me], camera)
    tasks.refresh_recommendations.delay()

    page = html(logged_in(me).get("/"))

    assert "For you" in page
    titles = feed_titles(page)
    assert titles[0] == "Fifty mm lens"  # co-viewed with what I looked at, from afar
    assert "Like what you viewed" in page
    assert "My own bike" not in titles and "Sold sofa" not in titles


def test_home_gives_anonymous_visitors_popular_and_new_listings():
    ListingFactory(active=True, title="Brand new kettle")

    page = html(Client().get("/"))

    assert "Popular and new" in page and "Brand new kettle" in feed_titles(page)


def test_listing_page_records_one_view_event_and_none_for_the_seller(listing, seller):
    analytics.flush_events()
    buyer = UserFactory()

    assert logged_in(buyer).get(f"/items/{listing.id}/").status_code == 200
    assert logged_in(seller).get(f"/items/{listing.id}/").status_code == 200
    analytics.flush_events()

    events = Event.objects.filter(kind="listing_viewed", listing_id=listing.id)
    assert [e.user_id for e in events] == [buyer.pk]


def meta(page: str, key: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', page)
    assert found, key
    return unescape(found.group(1))


def test_listing_page_has_open_graph_and_twitter_tags_with_absolute_urls(listing):
    PhotoFactory(listing=listing, position=0)

    page = html(Client().get(f"/items/{listing.id}/"))

    url = f"http://testserver/items/{listing.id}/"
    assert meta(page, "og:url") == url
    assert f'<link rel="canonical" href="{url}">' in page
    assert meta(page, "og:type") == "product"
    assert meta(page, "og:title") == "Giant road bike"
    assert meta(page, "og:description")
    assert meta(page, "og:image").startswith("http://testserver/")
    assert meta(page, "og:image").endswith("_medium.jpg")
    assert meta(page, "product:price:amount") == "1234.50"
    assert meta(page, "product:price:currency") == "CNY"
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "twitter:image") == meta(page, "og:image")


def test_share_box_has_the_link_and_the_qr_code(listing):
    page = html(Client().get(f"/items/{listing.id}/"))

    assert f'value="http://testserver/items/{listing.id}/" data-testid="share-url"' in page
    qr = re.search(r'<img class="qr" src="([^"]+)"', page).group(1)
    assert qr == f"/api/listings/{listing.id}/qr.png"
    image = Client().get(qr)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_listing_without_photos_gets_a_summary_card(listing):
    page = html(Client().get(f"/items/{listing.id}/"))

    assert meta(page, "twitter:card") == "summary"
    assert 'property="og:image"' not in page
