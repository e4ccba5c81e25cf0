"""Each decision's effect on the listing, the user, the order, and the
statement of reasons the affected user receives."""

from __future__ import annotations

import pytest

from listings import services as listing_services
from listings.models import Listing
from marketplace.notifications.models import Notification
from moderation import services
from moderation.models import AuditLog, Case, Suspension
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory
from tests.listings.factories import ListingFactory
from tests.moderation.conftest import report
from trust import escrow
from trust.models import Order

pytestmark = pytest.mark.django_db


def decide(client, case, action, **extra):
    return client.post(f"/api/moderation/cases/{case.id}/decide",
                       {"action": action, "note": "checked", **extra}, format="json")


def statement_for(user) -> dict:
    notes = Notification.objects.filter(recipient=user, kind="moderation_decision")
    return notes.order_by("-created_at").first().payload


@pytest.fixture
def reported(listing):
    report(client_for(UserFactory()), "listing", listing.id, "scam", "Wants a bank transfer")
    return Case.objects.get(target_type="listing")


def test_approving_a_held_listing_makes_it_active(listing, mod_client, seller,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_hold(listing=listing, score=0.93, reasons=["price far below"])
    case = Case.objects.get()
    assert case.source == "fraud_hold" and case.fraud_score == 0.93
    hold = statement_for(seller)
    assert hold["action"] == "hold" and hold["automated"] is True

    response = decide(mod_client, case, "approve")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "decided"
    assert Listing.objects.get(pk=listing.pk).status == "active"


def test_removing_a_listing_withdraws_it_for_good_and_explains_why(
    reported, listing, mod_client, seller
):
    response = decide(mod_client, reported, "remove")

    assert response.status_code == 200, response.content
    listing.refresh_from_db()
    assert listing.status == "withdrawn" and listing.removed_by_moderator
    relist = client_for(seller).post(f"/api/listings/{listing.id}/relist")
    assert relist.status_code == 403
    statement = statement_for(seller)
    assert statement["action"] == "remove"
    assert statement["restriction"].startswith("Your listing was removed")
    assert statement["rule"] == "No scams or fraud"
    assert "report:scam" in statement["facts"]
    assert statement["automated"] is False and statement["automated_detection"] is False
    assert "POST /api/appeals" in statement["appeal"]["how"]
    reporter = reported.reports.get().reporter
    told = Notification.objects.get(recipient=reporter, kind="moderation_report_outcome")
    assert told.payload["action"] == "remove"
    assert told.payload["outcome"].startswith("The listing was removed")


def test_warning_notifies_the_user_and_restricts_nothing(reported, listing, mod_client, seller):
    response = decide(mod_client, reported, "warn")

    assert response.status_code == 200
    assert statement_for(seller)["action"] == "warn"
    listing.refresh_from_db()
    seller.refresh_from_db()
    assert listing.status == "active" and seller.is_active


def test_suspension_blocks_the_user_withdraws_listings_and_freezes_orders(
    reported, listing, mod_client, seller, buyer, django_capture_on_commit_callbacks
):
    other_listing = ListingFactory(seller=seller, active=True)
    sold_listing = ListingFactory(seller=seller, active=True)
    unpaid_listing = ListingFactory(seller=seller, active=True)
    paid = escrow.order_pay(order=escrow.order_create(buyer=buyer, listing_id=sold_listing.id),
                            buyer=buyer, payment_method="card_ok")
    unpaid = escrow.order_create(buyer=UserFactory(), listing_id=unpaid_listing.id)
    seller_client = client_for(seller)
    assert seller_client.get("/api/me").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(mod_client, reported, "suspend")

    assert response.status_code == 200, response.content
    seller.refresh_from_db()
    assert not seller.is_active
    assert Suspension.objects.filter(user=seller, lifted_at__isnull=True).exists()
    assert seller_client.get("/api/me").status_code == 401
    assert not client_for(seller).login(username="seller", password=TEST_PASSWORD)
    assert set(Listing.objects.filter(seller=seller).values_list("status", flat=True)) <= {
        "withdrawn", "reserved", "active"}
    assert Listing.objects.get(pk=other_listing.pk).status == "withdrawn"
    assert Listing.objects.get(pk=listing.pk).status == "withdrawn"
    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert paid.status == "disputed" and paid.dispute_state == "escalated"
    assert paid.release_at is None
    assert unpaid.status == "cancelled"
    # The frozen order lands in the queue for a moderator to settle.
    frozen_case = Case.objects.get(target_type="order", target_id=paid.id)
    assert frozen_case.source == "account_suspended" and frozen_case.status == "open"
    assert statement_for(seller)["action"] == "suspend"


@pytest.fixture
def dispute_case(listing, buyer, django_capture_on_commit_callbacks):
    order = escrow.order_pay(order=escrow.order_create(buyer=buyer, listing_id=listing.id),
                             buyer=buyer, payment_method="card_ok")
    with django_capture_on_commit_callbacks(execute=True):
        escrow.order_dispute(order=order, buyer=buyer, reason="counterfeit",
                             details="The logo is wrong")
    case = Case.objects.get(target_type="order")
    assert case.source == "dispute" and case.listing_id == listing.id
    return case


def test_refund_decision_refunds_the_buyer(dispute_case, mod_client, buyer, seller):
    response = decide(mod_client, dispute_case, "refund")

    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=dispute_case.target_id).status == "refunded"
    assert statement_for(buyer)["action"] == "refund"
    assert statement_for(seller)["action"] == "refund"


def test_release_decision_pays_the_seller(dispute_case, mod_client):
    assert decide(mod_client, dispute_case, "release").status_code == 200
    assert Order.objects.get(pk=dispute_case.target_id).status == "completed"


def test_split_decision_needs_an_amount_and_splits(dispute_case, mod_client):
    missing = decide(mod_client, dispute_case, "split")
    too_much = decide(mod_client, dispute_case, "split", refund_minor=100_000)
    assert missing.status_code == 400 and too_much.status_code == 400
    assert Order.objects.get(pk=dispute_case.target_id).status == "disputed"

    response = decide(mod_client, dispute_case, "split", refund_minor=40_000)

    assert response.status_code == 200, response.content
    order = Order.objects.get(pk=dispute_case.target_id)
    assert order.status == "split"
    assert response.json()["decisions"][0]["refund_minor"] == 40_000


def test_actions_must_fit_the_target(dispute_case, reported, mod_client):
    assert decide(mod_client, dispute_case, "remove").status_code == 400
    assert decide(mod_client, reported, "refund").status_code == 400
    assert decide(mod_client, reported, "delete_everything").status_code == 400
    assert Case.objects.filter(status="decided").count() == 0


def test_a_decided_case_cannot_be_decided_again(reported, mod_client):
    assert decide(mod_client, reported, "warn").status_code == 200
    again = decide(mod_client, reported, "remove")
    assert again.status_code == 409
    assert again.json()["state"] == "decided"


def test_every_decision_is_in_the_audit_log_with_before_and_after(reported, mod_client,
                                                                  moderator, listing):
    decide(mod_client, reported, "remove")

    entry = AuditLog.objects.get(action="decision_remove")
    assert entry.actor_id == moderator.pk and entry.actor_username == "mod_ann"
    assert entry.case_id == reported.id and entry.reason == "checked"
    assert entry.before["listing"] == {"status": "active", "removed_by_moderator": False}
    assert entry.after["listing"] == {"status": "withdrawn", "removed_by_moderator": True}
    assert entry.before["case"]["status"] == "open"
    assert entry.after["case"]["status"] == "decided"
    listed = mod_client.get("/api/moderation/audit", {"case": str(reported.id)}).json()
    assert [e["action"] for e in listed["results"]][0] == "decision_remove"


def test_moderator_cannot_suspend_themselves(moderator, mod_client):
    services.case_flag(target_type="user", target_id=moderator.pk, source="report",
                       reasons=["report:spam"], subject_id=moderator.pk)
    case = Case.objects.get()
    assert decide(mod_client, case, "suspend").status_code == 403
    moderator.refresh_from_db()
    assert moderator.is_active


def test_removing_a_reported_message_takes_its_text_down_for_both_sides(listing, buyer, seller,
                                                                        mod_client):
    from chat import services as chat_services

    conversation, _ = chat_services.conversation_start(listing_id=listing.id, buyer=buyer)
    message, _ = chat_services.message_send(conversation=conversation, sender=seller,
                                            client_id="m1", body="Pay me on WeChat first")
    assert report(client_for(buyer), "message", message.id, "scam").status_code == 201
    case = Case.objects.get(target_type="message")

    response = decide(mod_client, case, "remove")

    assert response.status_code == 200, response.content
    for party in (buyer, seller):
        listed = client_for(party).get(f"/api/conversations/{conversation.id}/messages").json()
        (shown,) = [m for m in listed["results"] if m["id"] == str(message.id)]
        assert shown["body"] == "" and shown["data"]["removed"]["reason"]
    entry = AuditLog.objects.filter(case_id=case.id, action="decision_remove").get()
    assert entry.before["message"] == {"body": "Pay me on WeChat first", "removed": False}
    assert entry.after["message"]["removed"] is True
    assert statement_for(seller)["restriction"] == "Your message was removed from the conversation."
