"""moderation reads listings, trust and chat through their selectors: the
figures it builds from them stay what they were (one query for the queue's
listing titles, training rows as the seller stood at the decision)."""

from __future__ import annotations

import pytest

from listings import services as listing_services
from moderation import selectors
from moderation.models import Case
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.moderation.conftest import report

pytestmark = pytest.mark.django_db


def test_queue_listing_titles_are_read_in_one_query(django_assert_num_queries):
    listings = [ListingFactory(active=True, title=f"Thing {i}") for i in range(3)]

    with django_assert_num_queries(1):
        found = selectors.listing_summaries([None, *[x.id for x in listings]])

    assert {row["title"] for row in found.values()} == {"Thing 0", "Thing 1", "Thing 2"}
    assert set(found[listings[0].id]) == {"id", "title", "status", "fraud_score"}


def test_training_rows_describe_the_seller_as_at_the_decision(
    listing, seller, mod_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_hold(listing=listing, score=0.95, reasons=["price far below"])
    case = Case.objects.get()
    response = mod_client.post(f"/api/moderation/cases/{case.id}/decide",
                               {"action": "remove", "note": "stolen photos"}, format="json")
    assert response.status_code == 200, response.content
    ListingFactory(seller=seller, active=True)  # listed after the decision: not counted

    rows = selectors.fraud_training_rows()

    assert len(rows) == 1
    row = rows[0]
    assert row["label"] == 1 and row["seller_id"] == str(seller.pk)
    assert row["title"] == "Fujifilm X100V camera"
    assert row["price"] == {"amount_minor": 100_000, "currency": listing.price.currency}
    assert row["seller"] == {"account_age_days": 0, "listings_count": 1, "completed_orders": 0}


def test_evidence_of_a_listing_case_counts_the_sellers_listings_and_views(
    listing, seller, mod_client
):
    ListingFactory(seller=seller, active=True)
    report(client_for(UserFactory()), "listing", listing.id, "scam", "Bank transfer only")
    case = Case.objects.get()

    evidence = mod_client.get(f"/api/moderation/cases/{case.id}").json()["evidence"]

    assert evidence["subject"]["listings"] == 2
    assert evidence["subject"]["orders_as_seller"] == {}
    assert evidence["listing"]["status"] == "active"
    assert evidence["listing"]["price"]["amount_minor"] == 100_000
