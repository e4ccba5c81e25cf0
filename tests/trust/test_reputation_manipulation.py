"""Manipulation resistance: rings, closed pairs, bursts from new accounts and
the weekly repeat rule lower weights and raise moderation signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest
from django.utils import timezone

from marketplace.outbox.models import OutboxEvent
from tests.factories import UserFactory
from tests.trust.test_reputation_helpers import (
    completed_order,
    completed_orders,
    hidden_review,
    make_users,
    revealed_history,
)
from trust import reputation
from trust.reputation import Rated, score_of
from trust.reputation_models import Reputation, Review

pytestmark = pytest.mark.django_db


def signals(user=None):
    rows = OutboxEvent.objects.filter(topic="trust.reputation_signal").order_by("created_at")
    return [
        (e.payload["kind"], e.payload["details"])
        for e in rows
        if user is None or e.payload["user_id"] == str(user.pk)
    ]


def both_review(order, buyer_rating=5, seller_rating=5):
    reputation.review_submit(order=order, author=order.buyer, rating=buyer_rating)
    reputation.review_submit(order=order, author=order.seller, rating=seller_rating)


def naive_score(user, now):
    """What the score would be if every revealed review counted in full."""
    rows = Review.objects.filter(subject=user, visible_at__isnull=False)
    return score_of(
        [Rated(r.rating, reputation.value_factor(r.order.price_minor), r.created_at) for r in rows],
        now=now,
    )


def test_a_reciprocal_ring_barely_moves_the_score(django_capture_on_commit_callbacks):
    # Given an honest seller with 20 reviews averaging 3.2 over the last year
    target = UserFactory(username="target")
    revealed_history(target, [3, 3, 3, 4] * 5, days_span=360)
    reputation.reputation_recompute_user(user_id=target.pk)
    now = timezone.now()
    before = reputation.reputation_score(Reputation.objects.get(user=target), now=now)

    # When three fresh accounts and the target trade with each other in every
    # direction and praise each other with 5 stars
    ring = [target, *make_users(3, prefix="ring")]
    with django_capture_on_commit_callbacks() as after_commit:
        for seller, buyer in permutations(ring, 2):
            both_review(completed_order(buyer, seller))
    for callback in after_commit:  # the rebuilds of rows re-weighed after the fact
        if callback.__module__ == "trust.reputation":  # (not the outbox hand-overs)
            callback()

    # Then the ring's 6 reviews of the target hardly count ...
    after = reputation.reputation_score(Reputation.objects.get(user=target), now=now)
    assert Review.objects.filter(subject=target, visible_at__isnull=False).count() == 26
    assert abs(after - before) < 0.05
    assert naive_score(target, now) - before > 0.25  # ... where they would have counted
    ring_weights = Review.objects.filter(subject=target, author__in=ring[1:])
    assert all(r.weight <= 0.1 for r in ring_weights)
    assert all("closed_circle" in {x["code"] for x in r.weight_reasons} for r in ring_weights)
    # ... the members' own scores barely rise above the prior either
    for member in ring[1:]:
        rep = Reputation.objects.get(user=member)
        assert reputation.reputation_score(rep, now=now) < reputation.prior_mean() + 0.25
    # ... and moderation heard about it
    kinds = {kind for kind, _ in signals(target)}
    assert {"closed_circle", "reciprocal_trades"} <= kinds
    # ... and the cached rows equal a full rebuild
    for user in ring:
        cached = Reputation.objects.get(user=user)
        rebuilt = reputation.reputation_recompute_user(user_id=user.pk, now=now)
        assert reputation.reputation_score(cached, now=now) == pytest.approx(
            reputation.reputation_score(rebuilt, now=now), rel=1e-9
        )


def test_accounts_that_only_trade_with_each_other_are_weighed_down():
    seller, buyer = UserFactory(), UserFactory()
    orders = []
    for _ in range(2):
        orders.append(completed_order(buyer, seller))
        both_review(orders[-1])
    assert {r.weight for r in Review.objects.filter(subject=seller)} == {1.0, 0.0}  # repeat

    orders.append(completed_order(buyer, seller))  # a third trade, all with the same person
    both_review(orders[2])

    third = Review.objects.get(order=orders[2], author=buyer)
    assert third.weight == 0.0  # and same week: a repeat as well
    assert {kind for kind, _ in signals(seller)} == {"closed_circle"}
    first = Review.objects.get(order=orders[0], author=buyer)
    assert first.weight == pytest.approx(0.1)  # weighed again once the pattern showed


def test_a_buyer_with_a_normal_history_is_not_flagged():
    seller, buyer = UserFactory(), UserFactory()
    others = make_users(3, prefix="shop")
    completed_orders([(buyer, s) for s in others])
    order = completed_order(buyer, seller)

    both_review(order)

    review = Review.objects.get(order=order, author=buyer)
    assert review.weight == 1.0 and review.weight_reasons == [
        {"code": "order_value", "factor": 1.0}
    ]
    assert signals() == []


def test_repeat_reviews_between_two_people_count_once_per_week():
    seller, (buyer,) = UserFactory(), make_users(1, joined_days_ago=400)
    completed_orders([(buyer, s) for s in make_users(4, prefix="shop")])  # a normal buyer
    now = timezone.now()
    monday = (
        (now - timedelta(days=28))
        .astimezone(UTC)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    monday -= timedelta(days=monday.weekday())
    closed = monday - timedelta(hours=1)
    orders = completed_orders([(buyer, seller)] * 4, closed_at=closed)
    days = [0, 2, 6, 7]  # Mon, Wed, Sun of one week, then the next Monday
    for order, day in zip(orders, days, strict=True):
        hidden_review(order, buyer, 5, at=monday + timedelta(days=day))

    assert reputation.reviews_reveal_due(now=now) == 4

    weights = [Review.objects.get(order=o).weight for o in orders]
    assert weights[0] > 0 and weights[1] == weights[2] == 0.0 and weights[3] > 0
    reasons = Review.objects.get(order=orders[1]).weight_reasons
    assert [r["code"] for r in reasons] == ["order_value", "repeat_same_week"]
    rep = Reputation.objects.get(user=seller)
    assert rep.reviews == 4 and rep.reviews_counted == 2


def test_a_burst_of_reviews_from_new_accounts_is_weighed_down():
    seller = UserFactory()
    fresh = make_users(6, prefix="fresh")  # joined today
    for buyer in fresh:
        both_review(completed_order(buyer, seller))

    weights = list(
        Review.objects.filter(subject=seller)
        .order_by("created_at")
        .values_list("weight", flat=True)
    )
    assert weights == [pytest.approx(0.3)] * 6  # earlier ones weighed again too
    assert [kind for kind, _ in signals(seller)].count("new_account_burst") == 6
    assert reputation.reputation_summary(seller)["score"] < 4.4


def test_established_accounts_reviewing_in_a_busy_week_are_not_a_burst():
    seller = UserFactory()
    for buyer in make_users(6, prefix="old", joined_days_ago=365):
        both_review(completed_order(buyer, seller))

    assert set(Review.objects.filter(subject=seller).values_list("weight", flat=True)) == {1.0}
    assert signals(seller) == []


def test_week_bounds_are_iso_weeks_in_utc():
    start, end = reputation._week_bounds(datetime(2026, 1, 15, 23, 30, tzinfo=UTC))  # Thursday

    assert start == datetime(2026, 1, 12, tzinfo=UTC) and end - start == timedelta(days=7)
