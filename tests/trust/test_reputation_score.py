"""The score's ordering properties (hypothesis on the pure formula), the
incremental sums against the direct formula, newcomer vs established."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import UserFactory
from tests.trust.test_reputation_helpers import (
    completed_order,
    make_users,
    revealed_history,
)
from trust import reputation
from trust.reputation import Rated, score_of, sums_add, sums_at

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)

ratings = st.integers(min_value=1, max_value=5)
weights = st.floats(min_value=0.01, max_value=3.0, allow_nan=False)
ages = st.integers(min_value=0, max_value=2000)  # days
items = st.builds(lambda r, w, a: Rated(r, w, NOW - timedelta(days=a)), ratings, weights, ages)
histories = st.lists(items, max_size=25)


@settings(max_examples=60, deadline=None)
@given(histories, weights, ages)
def test_another_five_star_review_never_lowers_the_score(history, weight, age):
    before = score_of(history, now=NOW)

    after = score_of([*history, Rated(5, weight, NOW - timedelta(days=age))], now=NOW)

    assert after >= before - 1e-12


@settings(max_examples=60, deadline=None)
@given(histories, st.sampled_from(list(reputation.PENALTY_WEIGHTS.values())), ages)
def test_a_lost_dispute_never_raises_the_score(history, penalty, age):
    before = score_of(history, now=NOW)

    after = score_of([*history, Rated(1, penalty, NOW - timedelta(days=age))], now=NOW)

    assert after <= before + 1e-12


@settings(max_examples=60, deadline=None)
@given(histories, st.integers(min_value=1, max_value=4), weights)
def test_a_better_rating_never_scores_lower_than_a_worse_one(history, worse, weight):
    low = score_of([*history, Rated(worse, weight, NOW)], now=NOW)
    high = score_of([*history, Rated(worse + 1, weight, NOW)], now=NOW)

    assert high >= low - 1e-12


@settings(max_examples=60, deadline=None)
@given(histories)
def test_the_score_stays_between_one_and_five(history):
    assert 1.0 <= score_of(history, now=NOW) <= 5.0


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(12))), st.lists(items, min_size=12, max_size=12))
def test_incremental_sums_match_the_direct_formula_in_any_order(order, history):
    ws = wt = 0.0
    anchor = None
    for i in order:
        item = history[i]
        ws, wt, anchor = sums_add(
            ws, wt, anchor, rating=item.rating, weight=item.weight, at=item.at
        )
    later = NOW + timedelta(days=30)
    ws_now, wt_now = sums_at(ws, wt, anchor, later)

    assert reputation.bayesian(ws_now, wt_now) == pytest.approx(
        score_of([history[i] for i in order], now=later), rel=1e-9
    )


def test_old_reviews_fade():
    fresh_bad = [Rated(1, 1.0, NOW)] * 5 + [Rated(5, 1.0, NOW - timedelta(days=730))] * 5
    old_bad = [Rated(5, 1.0, NOW)] * 5 + [Rated(1, 1.0, NOW - timedelta(days=730))] * 5

    assert score_of(old_bad, now=NOW) > score_of(fresh_bad, now=NOW)


def test_order_value_weighs_within_bounds():
    assert reputation.value_factor(10_000) == 1.0
    assert reputation.value_factor(1_000) == 0.5
    assert reputation.value_factor(1) == 0.25
    assert reputation.value_factor(10_000_000) == 2.0


@pytest.mark.django_db
def test_a_newcomer_with_one_five_star_does_not_beat_an_established_seller():
    established, newcomer, buyer = UserFactory(), UserFactory(), UserFactory()
    revealed_history(established, [5, 5, 5, 5, 4] * 60, days_span=700)  # 300 reviews, 4.8
    reputation.reputation_recompute_user(user_id=established.pk)
    order = completed_order(buyer, newcomer, price_minor=10_000_000)  # the heaviest order
    reputation.review_submit(order=order, author=buyer, rating=5)
    reputation.review_submit(order=order, author=newcomer, rating=5)

    old = reputation.reputation_summary(established)
    new = reputation.reputation_summary(newcomer)

    assert old["reviews"] == 300 and new["reviews"] == 1
    assert old["score"] > new["score"]
    assert old["score"] == pytest.approx(4.75, abs=0.05)
    assert new["score"] == pytest.approx((10 * 4.0 + 2 * 5) / 12, abs=0.01)
    scores = reputation.seller_scores([established.pk, newcomer.pk])
    assert scores[established.pk] > scores[newcomer.pk]


@pytest.mark.django_db
def test_ten_perfect_sales_still_rank_below_three_hundred_at_four_eight():
    established, newcomer = UserFactory(), UserFactory()
    revealed_history(established, [5, 5, 5, 5, 4] * 60, days_span=700)
    revealed_history(newcomer, [5] * 10, days_span=20)
    for user in (established, newcomer):
        reputation.reputation_recompute_user(user_id=user.pk)

    assert (
        reputation.reputation_summary(established)["score"]
        > reputation.reputation_summary(newcomer)["score"]
    )


@pytest.mark.django_db
def test_more_good_reviews_never_lower_a_stored_score():
    seller = UserFactory()
    buyers = make_users(6, joined_days_ago=400)
    seen = []
    for i, buyer in enumerate(buyers):
        order = completed_order(buyer, seller, price_minor=1_000 * (i + 1) ** 3)
        reputation.review_submit(order=order, author=buyer, rating=5 if i else 2)
        reputation.review_submit(order=order, author=seller, rating=5)
        seen.append(reputation.reputation_summary(seller)["score"])

    assert seen[1:] == sorted(seen[1:])
