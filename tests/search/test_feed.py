"""GET /api/feed: personal recommendations, exclusions, cold start, paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Block
from marketplace.analytics.models import Event
from search import tasks
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_popularity_cache(settings):
    settings.FEED_POPULAR_CACHE_SECONDS = 0  # each test builds its own popularity

SHANGHAI = {"lat": 31.2304, "lon": 121.4737}
BEIJING = {"location_lat": 39.9042, "location_lon": 116.4074, "location_city": "Beijing"}


def events(kind: str, listing, *, users=None, n: int = 1, days_ago: float = 1) -> None:
    at = timezone.now() - timedelta(days=days_ago)
    users = users or [UserFactory() for _ in range(n)]
    Event.objects.bulk_create(
        Event(kind=kind, at=at, user_id=u.pk, listing_id=listing.id) for u in users
    )


def co_viewed(a, b, *, sessions: int = 3) -> None:
    """`sessions` people each looked at both a and b."""
    for _ in range(sessions):
        viewer = UserFactory()
        events("listing_viewed", a, users=[viewer])
        events("listing_viewed", b, users=[viewer])


def feed(client, **params) -> dict:
    response = client.get("/api/feed", params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[str]:
    return [r["id"] for r in body["results"]]


def test_viewed_item_brings_its_co_viewed_neighbour_first(user_client, user):
    camera = ListingFactory(active=True, title="Film camera")
    lens = ListingFactory(active=True, title="50mm lens", published_at=timezone.now()
                          - timedelta(days=30))
    ListingFactory(active=True, title="Unrelated sofa")
    co_viewed(camera, lens)
    events("listing_viewed", camera, users=[user])
    tasks.refresh_recommendations.delay()

    body = feed(user_client)

    assert body["results"][0]["id"] == str(lens.id)
    assert body["results"][0]["reason"] == "similar"
    assert str(camera.id) not in ids(body)[:1]


def test_feed_excludes_own_sold_withdrawn_and_blocked_sellers(user_client, user):
    seen = ListingFactory(active=True)
    blocked_seller, blocker = UserFactory(), UserFactory()
    Block.objects.create(blocker=user, blocked=blocked_seller)
    Block.objects.create(blocker=blocker, blocked=user)  # blocked either way
    shown = ListingFactory(active=True)
    hidden = [
        ListingFactory(active=True, seller=user),
        ListingFactory(active=True, status="sold"),
        ListingFactory(active=True, status="withdrawn"),
        ListingFactory(active=True, status="reserved"),
        ListingFactory(active=True, seller=blocked_seller),
        ListingFactory(active=True, seller=blocker),
    ]
    for other in [shown, *hidden]:
        co_viewed(seen, other, sessions=1)  # every path: similar, popular, fresh
    events("favourited", seen, users=[user])
    tasks.refresh_recommendations.delay()

    got = ids(feed(user_client, page_size=50))

    assert str(shown.id) in got
    assert not set(got) & {str(x.id) for x in hidden}


def test_cold_start_anonymous_gets_popular_nearby_first(api_client):
    old = timezone.now() - timedelta(days=30)  # not fresh: only popularity can rank them
    hit = ListingFactory(active=True, title="Popular nearby", published_at=old)
    liked = ListingFactory(active=True, title="Liked nearby", published_at=old)
    far = ListingFactory(active=True, title="Popular far away", published_at=old, **BEIJING)
    quiet = ListingFactory(active=True, title="Quiet nearby", published_at=old)
    events("listing_viewed", hit, n=6)
    events("listing_viewed", liked, n=2)
    events("listing_viewed", far, n=20)

    body = feed(api_client, **SHANGHAI)

    assert ids(body) == [str(hit.id), str(liked.id)]
    assert [r["reason"] for r in body["results"]] == ["popular", "popular"]
    assert body["results"][0]["distance_km"] == 0.0
    assert str(quiet.id) not in ids(body) and str(far.id) not in ids(body)


def test_new_user_without_history_gets_cold_start_blend(user_client):
    fresh = ListingFactory(active=True, title="Brand new nearby")
    popular = ListingFactory(active=True, published_at=timezone.now() - timedelta(days=20))
    events("listing_viewed", popular, n=3)

    body = feed(user_client, **SHANGHAI)

    assert ids(body) == [str(popular.id), str(fresh.id)]
    assert [r["reason"] for r in body["results"]] == ["popular", "nearby"]


def test_feed_pages_with_next_link(api_client):
    for _ in range(5):
        ListingFactory(active=True)

    first = feed(api_client, page_size=2)
    second = api_client.get(first["next"]).json()
    last = feed(api_client, page_size=2, page=3)

    assert first["count"] == 5 and len(first["results"]) == 2
    assert not set(ids(first)) & set(ids(second))
    assert len(last["results"]) == 1 and last["next"] is None


@pytest.mark.parametrize(
    "params, field",
    [({"lat": "abc", "lon": 1}, "lat"), ({"lat": 95, "lon": 1}, "lat"),
     ({"lat": 10}, "lon"), ({"page_size": 500}, "page_size")],
)
def test_bad_feed_parameters_are_400_with_a_message(api_client, params, field):
    response = api_client.get("/api/feed", params)

    assert response.status_code == 400
    assert field in response.content.decode()


def test_feed_query_count_does_not_grow_with_results(user, django_assert_max_num_queries):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    seen = ListingFactory(active=True)
    for _ in range(25):
        co_viewed(seen, ListingFactory(active=True), sessions=1)
    events("listing_viewed", seen, users=[user])
    tasks.refresh_recommendations.delay()

    with django_assert_max_num_queries(11):
        body = feed(client, **SHANGHAI)

    assert len(body["results"]) == 20
