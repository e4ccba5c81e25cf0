"""seed_demo builds a living marketplace: conversations with offers, orders in
every state on a balanced ledger, reviews and reputation, a month of
analytics events and a personal "for you" feed.

One real seed (PostgreSQL, committed, so the outbox delivers its events as
in `make run`) is checked from several sides: seeding takes ~10 s of CPU,
too much to repeat per assertion."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat.models import Conversation, Offer
from chat.services import conversation_unread_count
from listings.models import Listing
from marketplace.accounts.models import User
from marketplace.analytics.models import Event, ItemSimilarity
from marketplace.seeding import seeders
from moderation.models import Case
from tests.conftest import client_for
from trust import ledger
from trust.models import Order, OrderEvent
from trust.reputation_models import Reputation, Review

EVERY_STATE = {"created", "payment_pending", "paid", "shipped", "delivered", "completed",
               "cancelled", "disputed", "refunded"}


def test_demo_seeders_run_after_users_and_listings_and_before_moderation():
    names = [name for name, _ in seeders()]
    assert names.index("listings") < names.index("conversations") < names.index("orders")
    assert names.index("orders") < names.index("analytics") < names.index("recommendations")
    assert names.index("recommendations") < names.index("moderation")


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_orders_chats_reputation_events_and_a_personal_feed():
    out = StringIO()

    call_command("seed_demo", "--scale", "0.2", "--seed", "3", stdout=out)

    alice = User.objects.get(username="alice")
    _orders_exist_in_every_state_with_a_balanced_ledger(out)
    _completed_orders_have_both_reviews_and_sellers_a_reputation()
    _the_disputed_order_waits_for_a_moderator()
    _alice_has_conversations_offers_and_unread_messages(alice)
    _history_is_spread_over_the_last_month()
    _alice_gets_a_personal_feed(alice)
    _the_ops_dashboard_shows_gmv_and_a_funnel()


def _orders_exist_in_every_state_with_a_balanced_ledger(out: StringIO) -> None:
    statuses = set(Order.objects.values_list("status", flat=True))
    assert EVERY_STATE <= statuses, EVERY_STATE - statuses
    report = ledger.audit()
    assert report.ok, report.breaches
    assert report.entries > 0
    audit_out = StringIO()
    call_command("ledger_audit", stdout=audit_out)  # raises on a breach
    assert "ledger audit passes" in out.getvalue()
    # Reserved/sold listings match the orders that hold them.
    for order in Order.objects.filter(status__in=["paid", "shipped", "delivered", "disputed"]):
        assert Listing.objects.get(pk=order.listing_id).status == "reserved"
    for order in Order.objects.filter(status="completed"):
        assert Listing.objects.get(pk=order.listing_id).status == "sold"


def _completed_orders_have_both_reviews_and_sellers_a_reputation() -> None:
    completed = Order.objects.filter(status="completed")
    assert completed.exists()
    for order in completed:
        reviews = Review.objects.filter(order=order, visible_at__isnull=False)
        assert reviews.count() == 2, order.pk
        assert all(r.weight > 0 for r in reviews), [r.weight_reasons for r in reviews]
    sellers = set(completed.values_list("seller_id", flat=True))
    reps = Reputation.objects.filter(user_id__in=sellers)
    assert reps.count() == len(sellers)
    assert all(r.reviews >= 1 and r.score is not None for r in reps)
    # Nobody looks like a review ring: no manipulation case was opened.
    assert not Case.objects.filter(source="reputation_signal").exists()


def _the_disputed_order_waits_for_a_moderator() -> None:
    disputed = Order.objects.get(status="disputed")
    assert disputed.dispute_state == "escalated"
    case = Case.objects.get(target_id=disputed.pk)
    assert case.source == "dispute"
    assert case.status not in ("resolved", "closed")


def _alice_has_conversations_offers_and_unread_messages(alice: User) -> None:
    mine = Conversation.objects.filter(buyer=alice) | Conversation.objects.filter(seller=alice)
    assert mine.count() >= 3
    assert any(conversation_unread_count(conversation=c, user=alice) for c in mine)
    accepted = Offer.objects.get(buyer=alice, status="accepted")
    listing = Listing.objects.get(pk=accepted.listing_id)
    assert listing.status == "reserved" and listing.reserved_by == f"offer:{accepted.pk}"
    counter = Offer.objects.get(buyer=alice, status="offered")
    assert counter.made_by_id != alice.pk and counter.replaces is not None
    assert counter.expires_at > timezone.now()
    assert counter.replaces.status == "countered"
    # Both languages are spoken.
    bodies = "".join(Conversation.objects.values_list("messages__body", flat=True).exclude(
        messages__body=None))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in bodies)
    assert "available" in bodies


def _history_is_spread_over_the_last_month() -> None:
    now = timezone.now()
    events = Event.objects.all()
    assert events.count() >= 500
    assert not events.filter(at__gt=now).exists()
    assert not events.filter(at__lt=now - timedelta(days=31)).exists()
    days = {at.date() for at in events.values_list("at", flat=True)}
    assert len(days) >= 25
    kinds = set(events.values_list("kind", flat=True))
    assert {"listing_viewed", "searched", "favourited", "chat_started", "offer_made",
            "order_paid", "order_completed"} <= kinds
    assert events.filter(kind="searched", props__results=0).exists()
    assert events.filter(user_id__isnull=True).exclude(visitor="").exists()
    # The outbox's events were moved back to when their cause happened.
    for order in Order.objects.filter(paid_at__isnull=False):
        event = Event.objects.get(kind="order_paid", props__order_id=str(order.pk))
        assert event.at == order.paid_at
    oldest = Order.objects.order_by("created_at").first()
    assert oldest.created_at < now - timedelta(days=4)
    assert OrderEvent.objects.filter(order=oldest).order_by("at").first().at == oldest.created_at


def _alice_gets_a_personal_feed(alice: User) -> None:
    assert ItemSimilarity.objects.exists()
    response = client_for(alice).get("/api/feed")
    assert response.status_code == 200, response.content
    reasons = {item["reason"] for item in response.json()["results"]}
    assert "similar" in reasons, reasons


def _the_ops_dashboard_shows_gmv_and_a_funnel() -> None:
    admin = User.objects.get(username="admin")
    response = client_for(admin).get("/api/ops/dashboard?days=30")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["gmv"]["amount_minor"] > 0
    stages = {s["stage"]: s["users"] for s in data["funnel"]["stages"]}
    assert stages["view"] > stages["order"] > 0
    assert stages["chat"] > 0 and stages["completed"] > 0
    assert data["funnel"]["anonymous_viewers"] > 0
