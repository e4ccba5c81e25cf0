"""Decisions reach the search index through the listings events: a removed
listing and a suspended seller's listings disappear from search."""

from __future__ import annotations

import pytest

from moderation import services
from moderation.models import Case
from search import indexing
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def index(search_url, settings):
    settings.SEARCH_REFRESH_ON_WRITE = True
    indexing.ensure_index()
    return search_url


def found(client, q: str) -> set[str]:
    response = client.get("/api/search", {"q": q})
    assert response.status_code == 200, response.content
    return {r["id"] for r in response.json()["results"]}


def _reported_case(listing):
    services.report_submit(reporter=UserFactory(), target_type="listing",
                           target_id=listing.id, reason="scam")
    return Case.objects.get(target_id=listing.id)


def test_removed_listing_disappears_from_search(api_client, index, moderator):
    listing = ListingFactory(active=True, title="Brompton folding bike")
    keep = ListingFactory(active=True, title="Brompton bag")
    indexing.reindex()
    assert found(api_client, "brompton") == {str(listing.id), str(keep.id)}

    case = _reported_case(listing)
    services.case_decide(case_id=case.id, moderator=moderator, action="remove")

    assert found(api_client, "brompton") == {str(keep.id)}


def test_suspension_hides_all_the_sellers_listings_from_search(api_client, index, moderator):
    seller = UserFactory()
    bike = ListingFactory(seller=seller, active=True, title="Vintage teapot")
    lamp = ListingFactory(seller=seller, active=True, title="Vintage lamp")
    other = ListingFactory(active=True, title="Vintage radio")
    indexing.reindex()
    assert found(api_client, "vintage") == {str(bike.id), str(lamp.id), str(other.id)}

    case = _reported_case(bike)
    services.case_decide(case_id=case.id, moderator=moderator, action="suspend")

    assert found(api_client, "vintage") == {str(other.id)}
