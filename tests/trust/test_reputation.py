"""Reviews through the API: double-blind reveal, who may write, editing,
validation; the profile's reputation; penalties and badges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from chat.models import Conversation, Message
from marketplace.notifications.models import Notification
from marketplace.outbox.models import OutboxEvent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.trust.test_reputation_helpers import completed_order, completed_orders, make_users
from trust import escrow, reputation
from trust.models import Order
from trust.reputation_models import Reputation, ReputationPenalty, Review
from trust.tasks import reveal_reviews

pytestmark = pytest.mark.django_db


def review_url(order) -> str:
    return f"/api/orders/{order.pk}/review"


@pytest.fixture
def completed(buyer, seller, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000001")
    return escrow.order_confirm(order=order, buyer=buyer)


def post_review(user, order, rating=5, comment="Great"):
    return client_for(user).post(
        review_url(order), {"rating": rating, "comment": comment}, format="json"
    )


# --- double-blind reveal --------------------------------------------------------------------


def test_one_side_written_stays_hidden_from_everyone(buyer, seller, completed):
    response = post_review(buyer, completed, 5, "Exactly as described")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rating"] == 5 and body["role"] == "buyer" and body["revealed"] is False
    assert body["subject"]["id"] == str(seller.pk)
    listed = client_for(seller).get(f"/api/users/{seller.pk}/reviews").json()
    assert listed["count"] == 0 and listed["results"] == []
    theirs = client_for(seller).get(review_url(completed)).json()
    assert theirs["mine"] is None and theirs["theirs"] is None
    profile = client_for(seller).get(f"/api/users/{seller.pk}").json()["reputation"]
    assert profile["reviews"] == 0 and profile["score"] is None
    assert Notification.objects.filter(recipient=seller, kind="review_waiting").count() == 1


def test_both_sides_written_reveals_both_together(buyer, seller, completed):
    post_review(buyer, completed, 5, "Exactly as described")

    response = post_review(seller, completed, 4, "Paid fast")

    assert response.status_code == 201 and response.json()["revealed"] is True
    reviews = list(Review.objects.filter(order=completed))
    assert len(reviews) == 2 and len({r.visible_at for r in reviews}) == 1
    assert reviews[0].visible_at is not None
    listed = client_for(buyer).get(f"/api/users/{seller.pk}/reviews").json()
    assert listed["count"] == 1
    (item,) = listed["results"]
    assert item["author"] == {"id": str(buyer.pk), "display_name": buyer.public_name}
    assert (item["role"], item["rating"], item["comment"]) == ("buyer", 5, "Exactly as described")
    assert set(item) == {"id", "author", "role", "rating", "comment", "created_at"}
    assert client_for(seller).get(f"/api/users/{buyer.pk}/reviews").json()["count"] == 1
    profile = client_for(buyer).get(f"/api/users/{seller.pk}").json()["reputation"]
    assert profile["reviews"] == 1 and profile["completed_orders"] == 1
    # a 1,000.00 order weighs 1.5: (C·m + 1.5·5) / (C + 1.5)
    assert profile["score"] == pytest.approx((10 * 4.0 + 1.5 * 5) / 11.5, abs=0.005)
    both = client_for(buyer).get(review_url(completed)).json()
    assert both["mine"]["rating"] == 5 and both["theirs"]["rating"] == 4
    assert Notification.objects.filter(kind="reviews_revealed").count() == 2
    assert OutboxEvent.objects.filter(topic="trust.reviews_revealed").count() == 1


def test_the_window_closing_reveals_a_lone_review_through_the_task(buyer, seller, completed):
    post_review(buyer, completed, 2, "Slow shipping")
    Order.objects.filter(pk=completed.pk).update(closed_at=timezone.now() - timedelta(days=13))

    assert reveal_reviews()["revealed"] == 0  # one more day to go
    assert Review.objects.get(order=completed).visible_at is None

    Order.objects.filter(pk=completed.pk).update(closed_at=timezone.now() - timedelta(days=15))
    assert reveal_reviews()["revealed"] == 1
    assert reveal_reviews()["revealed"] == 0  # idempotent

    assert Review.objects.get(order=completed).visible_at is not None
    assert client_for(buyer).get(f"/api/users/{seller.pk}/reviews").json()["count"] == 1
    late = post_review(seller, completed, 5)
    assert late.status_code == 409 and "window" in late.json()["detail"]
    assert Review.objects.filter(order=completed).count() == 1


def test_window_length_is_a_setting(settings, buyer, seller, completed):
    settings.REVIEW_WINDOW_DAYS = 3
    post_review(buyer, completed)
    Order.objects.filter(pk=completed.pk).update(closed_at=timezone.now() - timedelta(days=4))

    assert reveal_reviews()["revealed"] == 1


# --- who and when -------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["created", "paid", "shipped"])
def test_only_completed_orders_can_be_reviewed(buyer, seller, listing, step):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    if step in ("paid", "shipped"):
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    if step == "shipped":
        escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF000002")

    response = post_review(buyer, order)

    assert response.status_code == 409
    assert response.json()["state"] == step
    assert not Review.objects.exists()


def test_cancelled_orders_cannot_be_reviewed(buyer, seller, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_cancel(order=order, actor=buyer)

    assert post_review(seller, order).status_code == 409
    assert not Review.objects.exists()


def test_one_review_per_side(buyer, completed):
    assert post_review(buyer, completed, 5).status_code == 201

    again = post_review(buyer, completed, 1)

    assert again.status_code == 409 and again.json()["state"] == "reviewed"
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


def test_editing_is_allowed_until_the_reveal(buyer, seller, completed):
    post_review(buyer, completed, 3, "ok")

    edited = client_for(buyer).patch(
        review_url(completed), {"rating": 4, "comment": "better than I thought"}, format="json"
    )

    assert edited.status_code == 200 and edited.json()["rating"] == 4
    post_review(seller, completed, 5)
    refused = client_for(buyer).patch(review_url(completed), {"rating": 1}, format="json")
    assert refused.status_code == 409 and refused.json()["state"] == "revealed"
    assert Review.objects.get(author=buyer).rating == 4
    theirs = client_for(seller).patch(review_url(completed), {"rating": 1}, format="json")
    assert theirs.status_code == 409  # the seller's own review is revealed too


def test_patch_without_a_review_is_404(buyer, completed):
    response = client_for(buyer).patch(review_url(completed), {"rating": 4}, format="json")

    assert response.status_code == 404


def test_anonymous_is_401_and_strangers_get_404(buyer, completed, api_client):
    stranger = UserFactory()
    moderator = UserFactory()
    moderator.user_permissions.add(Permission.objects.get(codename="view_order"))

    assert api_client.post(review_url(completed), {"rating": 5}).status_code == 401
    assert post_review(stranger, completed).status_code == 404
    assert client_for(stranger).patch(review_url(completed), {"rating": 1}).status_code == 404
    assert client_for(stranger).get(review_url(completed)).status_code == 404
    assert post_review(moderator, completed).status_code == 404  # sees orders, is no party
    bad_id = client_for(buyer).post("/api/orders/not-a-uuid/review", {"rating": 5})
    assert bad_id.status_code == 404
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": "five"},
        {"rating": 4.5},
        {"comment": "no rating"},
        {"rating": 5, "comment": "x" * 2001},
    ],
)
def test_bad_input_is_400_and_stores_nothing(buyer, completed, payload):
    response = client_for(buyer).post(review_url(completed), payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Review.objects.exists()


def test_service_validates_too(buyer, completed):
    from marketplace.errors import ValidationFailed

    for bad in (True, 0, 6, "5", None):
        with pytest.raises(ValidationFailed):
            reputation.review_submit(order=completed, author=buyer, rating=bad)
    assert not Review.objects.exists()


def test_user_reviews_of_unknown_user_is_404_and_list_is_paginated(api_client, seller):
    buyers = make_users(3, joined_days_ago=400)
    for order in completed_orders([(b, seller) for b in buyers]):
        reputation.review_submit(order=order, author=order.buyer, rating=5)
        reputation.review_submit(order=order, author=seller, rating=5)

    assert api_client.get("/api/users/not-a-user/reviews").status_code == 404
    page = api_client.get(f"/api/users/{seller.pk}/reviews?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    as_buyer = api_client.get(f"/api/users/{seller.pk}/reviews?role=buyer").json()
    assert as_buyer["count"] == 0


def test_schema_lists_the_review_endpoints(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()

    assert "/api/orders/{order_id}/review" in schema
    assert "/api/users/{user_id}/reviews" in schema


# --- penalties -----------------------------------------------------------------------------------


def test_a_lost_dispute_lowers_the_sellers_score_once(buyer, seller, listing):
    buyers = make_users(5, joined_days_ago=400)
    for order in completed_orders([(b, seller) for b in buyers]):
        reputation.review_submit(order=order, author=order.buyer, rating=5)
        reputation.review_submit(order=order, author=seller, rating=5)
    before = reputation.reputation_score(Reputation.objects.get(user=seller))
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    escrow.order_dispute(order=order, buyer=buyer, reason="not_as_described")
    escrow.dispute_seller_respond(order=order, seller=seller, action="refund")

    assert reputation.penalties_sweep() == 1
    assert reputation.penalties_sweep() == 0

    rep = Reputation.objects.get(user=seller)
    assert rep.disputes_lost == 1
    assert reputation.reputation_score(rep) < before
    assert ReputationPenalty.objects.get().kind == "dispute_lost"
    assert not ReputationPenalty.objects.filter(user=buyer).exists()


def test_cancellations_by_the_seller_count_but_not_the_buyers(buyer, seller):
    paid_then_cancelled = ListingFactory(seller=seller, active=True, price_minor=5_000)
    buyer_cancelled = ListingFactory(seller=seller, active=True, price_minor=5_000)
    seller_cancelled_unpaid = ListingFactory(seller=seller, active=True, price_minor=5_000)
    never_shipped = ListingFactory(seller=seller, active=True, price_minor=5_000)
    unpaid_timeout = ListingFactory(seller=seller, active=True, price_minor=5_000)

    o1 = escrow.order_create(buyer=buyer, listing_id=paid_then_cancelled.id)
    escrow.order_pay(order=o1, buyer=buyer, payment_method="card_ok")
    escrow.order_cancel(order=o1, actor=seller)
    o2 = escrow.order_create(buyer=buyer, listing_id=buyer_cancelled.id)
    escrow.order_cancel(order=o2, actor=buyer)
    o3 = escrow.order_create(buyer=buyer, listing_id=seller_cancelled_unpaid.id)
    escrow.order_cancel(order=o3, actor=seller)
    o4 = escrow.order_create(buyer=buyer, listing_id=never_shipped.id)
    escrow.order_pay(order=o4, buyer=buyer, payment_method="card_ok")
    escrow.orders_cancel_unshipped(now=timezone.now() + timedelta(days=10))
    escrow.order_create(buyer=buyer, listing_id=unpaid_timeout.id)
    escrow.orders_expire_unpaid(now=timezone.now() + timedelta(days=1))

    assert reputation.penalties_sweep() == 3

    penalised = set(ReputationPenalty.objects.values_list("order_id", flat=True))
    assert penalised == {o1.pk, o3.pk, o4.pk}
    rep = Reputation.objects.get(user=seller)
    assert rep.seller_cancellations == 3
    assert reputation.reputation_summary(seller)["score"] < 4.0


# --- badges and the profile ----------------------------------------------------------------------


def test_trusted_seller_and_low_dispute_rate_need_ten_clean_sales(seller):
    buyers = make_users(10, joined_days_ago=400)
    completed_orders([(b, seller) for b in buyers[:9]])
    rep = reputation.reputation_recompute_user(user_id=seller.pk)
    assert rep.completed_sales == 9 and rep.badges == []

    completed_order(buyers[9], seller)
    rep = reputation.reputation_recompute_user(user_id=seller.pk)

    assert rep.completed_sales == 10 and rep.completed_orders == 10
    assert rep.badges == ["trusted_seller", "low_dispute_rate"]
    completed_order(buyers[0], seller, status="refunded", status_before_dispute="shipped")
    rep = reputation.reputation_recompute_user(user_id=seller.pk)
    assert rep.badges == ["trusted_seller"]  # 1 of 11 disputed


def test_verified_email_badge_comes_from_the_account(seller):
    assert reputation.reputation_summary(seller)["badges"] == []
    seller.email_verified_at = timezone.now()
    seller.save()
    reputation.reputation_recompute_user(user_id=seller.pk)

    assert reputation.reputation_summary(seller)["badges"] == ["verified_email"]


def _conversation(seller, buyer, *, asked_ago, reply_after):
    listing = ListingFactory(seller=seller, active=True)
    conversation = Conversation.objects.create(listing=listing, buyer=buyer, seller=seller)
    asked = timezone.now() - asked_ago
    ask = Message.objects.create(conversation=conversation, seq=1, sender=buyer, body="still?")
    Message.objects.filter(pk=ask.pk).update(created_at=asked)
    if reply_after is not None:
        reply = Message.objects.create(conversation=conversation, seq=2, sender=seller, body="yes")
        Message.objects.filter(pk=reply.pk).update(created_at=asked + reply_after)


def test_fast_responder_is_the_median_first_reply_under_an_hour(seller):
    buyers = make_users(7)
    day = timedelta(days=1)
    for b, reply in zip(
        buyers[:5],
        [timedelta(minutes=5), timedelta(minutes=20), timedelta(minutes=50), None, day],
        strict=True,
    ):
        _conversation(seller, b, asked_ago=2 * day, reply_after=reply)
    rep = reputation.reputation_recompute_user(user_id=seller.pk)
    assert rep.response_median_seconds == 50 * 60
    assert "fast_responder" in rep.badges

    for b in buyers[5:]:  # two more ignored for a day: the median moves past an hour
        _conversation(seller, b, asked_ago=day, reply_after=None)
    rep = reputation.reputation_recompute_user(user_id=seller.pk)
    assert "fast_responder" not in rep.badges


def test_fast_responder_needs_enough_conversations_and_ignores_fresh_questions(seller):
    buyers = make_users(5)
    for b in buyers[:4]:
        _conversation(seller, b, asked_ago=timedelta(hours=3), reply_after=timedelta(minutes=1))
    _conversation(seller, buyers[4], asked_ago=timedelta(minutes=10), reply_after=None)

    rep = reputation.reputation_recompute_user(user_id=seller.pk)

    assert rep.response_median_seconds == 60 and "fast_responder" not in rep.badges


def test_profile_without_any_history_and_search_scores(seller, buyer):
    assert reputation.reputation_summary(seller) == {
        "score": None,
        "reviews": 0,
        "completed_orders": 0,
        "badges": [],
    }
    order = completed_order(buyer, seller)
    reputation.review_submit(order=order, author=buyer, rating=1)
    reputation.review_submit(order=order, author=seller, rating=5)

    scores = reputation.seller_scores([seller.pk, buyer.pk, UserFactory().pk])

    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert scores[seller.pk] < scores[buyer.pk]
    from search import indexing

    assert indexing._seller_score_provider is reputation.seller_scores
