"""Appeals: within 6 months, back into the queue, for a different moderator;
their outcomes become fraud training labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from listings import services as listing_services
from listings.models import Listing
from marketplace.notifications.models import Notification
from moderation import services
from moderation.models import Appeal, Case, Decision
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.moderation.conftest import report
from trust.fraud.data import training_rows_from_decisions

pytestmark = pytest.mark.django_db


def appeal(client, case, statement="I did nothing wrong"):
    return client.post("/api/appeals", {"case": str(case.id), "statement": statement},
                       format="json")


@pytest.fixture
def removed(listing, moderator):
    report(client_for(UserFactory()), "listing", listing.id, "scam")
    case = Case.objects.get()
    services.case_decide(case_id=case.id, moderator=moderator, action="remove", note="scam")
    case.refresh_from_db()
    return case


def test_appeal_reopens_the_case_for_a_different_moderator(removed, seller, moderator,
                                                           moderator2, listing):
    response = appeal(client_for(seller), removed)

    assert response.status_code == 201, response.content
    removed.refresh_from_db()
    assert removed.status == "appealed" and removed.claimed_by is None
    queue = client_for(moderator2).get("/api/moderation/queue").json()["results"]
    assert [row["id"] for row in queue] == [str(removed.id)]

    claim = client_for(moderator).post(f"/api/moderation/cases/{removed.id}/claim")
    own = client_for(moderator).post(f"/api/moderation/cases/{removed.id}/decide",
                                     {"action": "approve"}, format="json")
    assert claim.status_code == 403 and own.status_code == 403
    assert Listing.objects.get(pk=listing.pk).status == "withdrawn"

    other = client_for(moderator2).post(f"/api/moderation/cases/{removed.id}/decide",
                                        {"action": "approve", "note": "Photos are genuine"},
                                        format="json")

    assert other.status_code == 200, other.content
    listing.refresh_from_db()
    assert listing.status == "active" and not listing.removed_by_moderator
    appeal_row = Appeal.objects.get()
    assert appeal_row.status == "overturned"
    assert Decision.objects.get(appeal=appeal_row).moderator == moderator2


def test_upholding_an_appeal_keeps_the_decision(removed, seller, moderator2, listing):
    appeal(client_for(seller), removed)
    services.case_decide(case_id=removed.id, moderator=moderator2, action="remove")
    assert Appeal.objects.get().status == "upheld"
    assert Listing.objects.get(pk=listing.pk).status == "withdrawn"


def test_overturned_suspension_reactivates_the_account(listing, seller, moderator, moderator2):
    report(client_for(UserFactory()), "listing", listing.id, "scam")
    case = Case.objects.get()
    services.case_decide(case_id=case.id, moderator=moderator, action="suspend")
    seller.refresh_from_db()
    assert not seller.is_active

    # A suspended user cannot log in: the appeal is filed for them (support desk).
    services.appeal_submit(appellant=seller, case_id=case.id, statement="Mistaken identity")
    services.case_decide(case_id=case.id, moderator=moderator2, action="warn")

    seller.refresh_from_db()
    assert seller.is_active


def test_only_the_affected_user_may_appeal(removed, user_client):
    response = appeal(user_client, removed)
    assert response.status_code == 404
    assert not Appeal.objects.exists()


def test_appeals_close_after_six_months(removed, seller):
    Decision.objects.filter(case=removed).update(created_at=timezone.now() - timedelta(days=190))
    response = appeal(client_for(seller), removed)
    assert response.status_code == 409
    assert not Appeal.objects.exists()


def test_appeal_within_six_months_is_accepted(removed, seller):
    Decision.objects.filter(case=removed).update(created_at=timezone.now() - timedelta(days=170))
    assert appeal(client_for(seller), removed).status_code == 201


def test_one_appeal_at_a_time_and_statement_required(removed, seller):
    client = client_for(seller)
    assert appeal(client, removed, "").status_code == 400
    assert appeal(client, removed).status_code == 201
    assert appeal(client, removed).status_code == 409
    assert Appeal.objects.count() == 1


def test_an_automated_hold_can_be_appealed_before_any_human_looked(
    listing, seller, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_hold(listing=listing, score=0.95, reasons=["off-platform pay"])
    case = Case.objects.get()
    assert Decision.objects.get(case=case).automated

    response = appeal(client_for(seller), case)

    assert response.status_code == 201, response.content
    case.refresh_from_db()
    assert case.status == "appealed"
    # Any human may decide: the automated decision had no moderator.
    services.case_decide(case_id=case.id, moderator=moderator, action="approve")
    assert Listing.objects.get(pk=listing.pk).status == "active"
    assert Appeal.objects.get().status == "overturned"


def test_decisions_feed_the_fraud_training_labels(
    seller, moderator, moderator2, django_capture_on_commit_callbacks
):
    from tests.listings.factories import ListingFactory

    scam = ListingFactory(seller=seller, active=True, title="iPhone 15 for 100")
    honest = ListingFactory(seller=seller, active=True, title="Old bicycle")
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_hold(listing=scam, score=0.97, reasons=["price"])
        listing_services.listing_hold(listing=honest, score=0.85, reasons=["new account"])
    for listing, action in ((scam, "remove"), (honest, "approve")):
        case = Case.objects.get(target_id=listing.id)
        services.case_decide(case_id=case.id, moderator=moderator, action=action)

    rows = {row["title"]: row for row in training_rows_from_decisions()}

    assert rows["iPhone 15 for 100"]["label"] == 1
    assert rows["Old bicycle"]["label"] == 0
    assert rows["Old bicycle"]["seller_id"] == f"moderation-{seller.pk}"
    assert rows["Old bicycle"]["seller"]["listings_count"] == 2

    # An overturned removal turns the label around.
    case = Case.objects.get(target_id=scam.id)
    services.appeal_submit(appellant=seller, case_id=case.id, statement="It was real")
    services.case_decide(case_id=case.id, moderator=moderator2, action="approve")
    rows = {row["title"]: row for row in training_rows_from_decisions()}
    assert rows["iPhone 15 for 100"]["label"] == 0


def test_suspended_user_appeals_with_the_token_from_the_statement(reported_seller_suspended,
                                                                  api_client):
    case, seller = reported_seller_suspended
    statement = Notification.objects.filter(recipient=seller, kind="moderation_decision") \
        .order_by("-created_at").first().payload
    token = statement["appeal"]["token"]
    assert client_for(seller).get("/api/me").status_code == 401  # cannot log in

    forged = api_client.post("/api/appeals", {"case": str(case.id), "statement": "Not me",
                                              "token": token + "x"}, format="json")
    assert forged.status_code == 403
    response = api_client.post("/api/appeals", {"case": str(case.id), "statement": "Not me",
                                                "token": token}, format="json")

    assert response.status_code == 201, response.content
    appeal = Appeal.objects.get()
    assert appeal.appellant_id == seller.id
    case.refresh_from_db()
    assert case.status == "appealed"


def test_an_appeal_token_is_only_good_for_its_own_case(removed, reported_seller_suspended,
                                                       api_client):
    case, seller = reported_seller_suspended
    token = services.appeal_token(case_id=case.id, user_id=seller.id)

    response = api_client.post("/api/appeals", {"case": str(removed.id), "statement": "x",
                                                "token": token}, format="json")

    assert response.status_code == 403
    assert Appeal.objects.count() == 0


@pytest.fixture
def reported_seller_suspended(moderator):
    seller = UserFactory()
    listing = ListingFactory(seller=seller, active=True)
    report(client_for(UserFactory()), "listing", listing.id, "scam")
    case = Case.objects.get(target_type="listing", target_id=listing.id)
    services.case_decide(case_id=case.id, moderator=moderator, action="suspend", note="scam ring")
    case.refresh_from_db()
    return case, seller
