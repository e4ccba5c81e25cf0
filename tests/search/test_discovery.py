"""Suggestions, similar listings and saved searches with alerts."""

from __future__ import annotations

import pytest

from marketplace.notifications.models import Notification
from search import services
from search.models import SavedSearch
from tests.factories import UserFactory
from tests.search.conftest import index_all, make_listing

pytestmark = pytest.mark.django_db


# --- suggest ---------------------------------------------------------------------------


def test_suggest_completes_a_prefix(api_client, index):
    make_listing(title="iPhone 13 Pro", category="phones")
    make_listing(title="iPad Air 4", category="tablets")
    make_listing(title="Trek road bike", category="bikes")
    index_all()

    response = api_client.get("/api/search/suggest", {"q": "iph"})

    assert response.status_code == 200
    assert response.json() == [{"text": "iPhone 13 Pro"}]


def test_suggest_matches_later_words_and_chinese(api_client, index):
    make_listing(title="Trek road bike", category="bikes")
    make_listing(title="捷安特 山地车", category="bikes")
    index_all()

    assert {"text": "road bike"} in api_client.get("/api/search/suggest", {"q": "roa"}).json()
    assert api_client.get("/api/search/suggest", {"q": "捷安"}).json() == [
        {"text": "捷安特 山地车"}
    ]


def test_suggest_with_empty_prefix_is_empty(api_client, index):
    assert api_client.get("/api/search/suggest", {"q": "  "}).json() == []


# --- similar -----------------------------------------------------------------------------


def test_similar_finds_same_kind_in_price_band_not_itself(api_client, index):
    bike = make_listing(title="Giant road bike, carbon frame", category="bikes", price=300_000)
    other_bike = make_listing(
        title="Specialized road bike, aluminium", category="bikes", price=250_000
    )
    make_listing(title="Road bike, kids size", category="bikes", price=20_000)  # price band
    make_listing(title="Road bike poster", category="other", price=280_000)  # category
    index_all()

    response = api_client.get(f"/api/listings/{bike.id}/similar")

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(other_bike.id)]


def test_similar_of_a_hidden_listing_is_404(api_client, index):
    from tests.listings.factories import ListingFactory

    draft = ListingFactory(status="draft")

    assert api_client.get(f"/api/listings/{draft.id}/similar").status_code == 404


# --- saved searches ----------------------------------------------------------------------


def test_save_list_and_delete_a_search(user_client, user, index):
    body = {"query": {"q": "bike", "max_price": 100_000, "category": "bikes"}, "alert": True}

    created = user_client.post("/api/saved-searches", body, format="json")
    again = user_client.post("/api/saved-searches", body, format="json")
    listed = user_client.get("/api/saved-searches")

    assert created.status_code == 201
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    assert created.json()["query"] == {"q": "bike", "max_price": 100_000, "category": "bikes"}
    assert [s["id"] for s in listed.json()["results"]] == [created.json()["id"]]
    assert user_client.delete(f"/api/saved-searches/{created.json()['id']}").status_code == 204
    assert SavedSearch.objects.count() == 0


@pytest.mark.parametrize(
    "query",
    [{"max_price": "cheap"}, {"category": "spaceships"}, {"colour": "red"}, {}, "bike"],
)
def test_invalid_saved_search_is_400(user_client, index, query):
    response = user_client.post("/api/saved-searches", {"query": query}, format="json")

    assert response.status_code == 400
    assert "query" in response.json()
    assert SavedSearch.objects.count() == 0


def test_saved_searches_are_private(user_client, other_client, api_client, index):
    created = user_client.post("/api/saved-searches", {"query": {"q": "sofa"}}, format="json")
    saved_id = created.json()["id"]

    assert api_client.get("/api/saved-searches").status_code == 401
    assert other_client.get("/api/saved-searches").json()["results"] == []
    assert other_client.get(f"/api/saved-searches/{saved_id}").status_code == 404
    assert other_client.delete(f"/api/saved-searches/{saved_id}").status_code == 404
    assert SavedSearch.objects.filter(id=saved_id).exists()


def test_new_matching_listing_alerts_the_owner_once(user, index):
    saved, _ = services.saved_search_create(user=user, query={"q": "bike"})
    SavedSearch.objects.filter(id=saved.id).update(checked_until=saved.created_at)
    match = make_listing(title="Cargo bike with child seat", category="bikes")
    make_listing(title="Armchair", category="furniture")  # does not match
    make_listing(title="My own bike", category="bikes", seller=user)  # own listing
    index_all()

    assert services.saved_search_alerts_run() == 1
    assert services.saved_search_alerts_run() == 0  # the next run adds nothing

    (notification,) = Notification.objects.filter(recipient=user)
    assert notification.kind == "saved_search_match"
    assert notification.payload["listing_id"] == str(match.id)


def test_alerts_are_evaluated_in_batches(index, monkeypatch):
    from elasticsearch.dsl import MultiSearch

    users = [UserFactory() for _ in range(60)]
    for user in users:
        services.saved_search_create(user=user, query={"q": "lamp"})
    make_listing(title="Floor lamp")
    index_all()
    calls: list[int] = []
    original = MultiSearch.execute

    def counting(self, *args, **kwargs):
        calls.append(len(self._searches))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MultiSearch, "execute", counting)

    assert services.saved_search_alerts_run() == 60
    assert calls == [50, 10]  # two round trips for 60 saved searches, not 60


def test_alerts_off_sends_nothing(user, index):
    services.saved_search_create(user=user, query={"q": "desk"}, alert=False)
    make_listing(title="Standing desk")
    index_all()

    assert services.saved_search_alerts_run() == 0
