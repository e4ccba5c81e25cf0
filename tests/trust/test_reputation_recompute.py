"""The cached rows kept incrementally equal a full rebuild by the command;
the beat task's sweeps; the wiring into profiles and search."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.trust.test_reputation_helpers import (
    completed_order,
    completed_orders,
    hidden_review,
    make_users,
)
from trust import reputation
from trust.reputation_models import Reputation
from trust.tasks import reveal_reviews

pytestmark = pytest.mark.django_db

FIELDS = [
    "reviews",
    "reviews_counted",
    "reviews_90d",
    "positive_90d",
    "negative_90d",
    "completed_orders",
    "completed_sales",
    "disputes_lost",
    "seller_cancellations",
    "badges",
]


def snapshot(now):
    out = {}
    for rep in Reputation.objects.order_by("pk"):
        ws, wt = reputation.sums_at(rep.weighted_sum, rep.weight_total, rep.decay_anchor, now)
        out[rep.user_id] = {
            "score": reputation.reputation_score(rep, now=now),
            "sums": (ws, wt),
            **{f: getattr(rep, f) for f in FIELDS},
        }
    return out


def test_recompute_equals_incremental():
    # Given a small market built through the incremental paths only
    now = timezone.now()
    sellers = make_users(3, prefix="seller", joined_days_ago=500)
    buyers = make_users(6, prefix="buyer", joined_days_ago=300)
    old = completed_orders(
        [(buyers[1], sellers[0]), (buyers[3], sellers[2])], closed_at=now - timedelta(days=400)
    )
    for i, buyer in enumerate(buyers):
        for j, seller in enumerate(sellers):
            if (i + j) % 2:
                continue
            order = completed_order(buyer, seller, price_minor=2_000 * (i + 1) * (j + 1))
            reputation.review_submit(order=order, author=buyer, rating=1 + (i + 2 * j) % 5)
            reputation.review_submit(order=order, author=seller, rating=5 - i % 2)
    # ... old orders whose lone reviews are revealed by the window, written long ago
    hidden_review(old[0], buyers[1], 2, at=now - timedelta(days=399))
    hidden_review(old[1], sellers[2], 4, at=now - timedelta(days=395))
    assert reputation.reviews_reveal_due() == 2
    # ... and a lost dispute and a seller cancellation
    completed_order(buyers[0], sellers[1], status="refunded", status_before_dispute="shipped")
    completed_order(buyers[2], sellers[1], status="cancelled")  # paid, then cancelled
    assert reputation.penalties_sweep() == 2
    incremental = snapshot(now)
    assert len(incremental) == 9
    assert incremental[sellers[1].pk]["disputes_lost"] == 1

    # When everything is rebuilt from scratch
    out = StringIO()
    call_command("reputation_recompute", stdout=out)

    # Then nothing changed
    rebuilt = snapshot(now)
    assert rebuilt.keys() == incremental.keys()
    for uid, row in incremental.items():
        again = rebuilt[uid]
        assert again["score"] == pytest.approx(row["score"], rel=1e-9)
        assert again["sums"] == pytest.approx(row["sums"], rel=1e-9)
        assert {f: again[f] for f in FIELDS} == {f: row[f] for f in FIELDS}
    text = out.getvalue()
    assert "9/9" in text and "Recomputed 9 reputations" in text


def test_recompute_one_user_and_bad_id():
    user = UserFactory()
    out = StringIO()

    call_command("reputation_recompute", "--user", str(user.pk), stdout=out)

    assert "0 reviews" in out.getvalue()
    with pytest.raises(Exception, match="UUID"):
        call_command("reputation_recompute", "--user", "nope")


def test_task_refreshes_counts_of_orders_closed_without_reviews(seller):
    buyers = make_users(10, joined_days_ago=100)
    completed_orders([(b, seller) for b in buyers])

    result = reveal_reviews()

    assert result["refreshed"] == 11
    assert reveal_reviews()["refreshed"] == 0
    profile = client_for(buyers[0]).get(f"/api/users/{seller.pk}").json()["reputation"]
    assert profile == {
        "score": None,
        "reviews": 0,
        "completed_orders": 10,
        "badges": ["trusted_seller", "low_dispute_rate"],
    }


def test_reading_the_profile_reputation_is_one_query(seller, buyer, django_assert_num_queries):
    order = completed_order(buyer, seller)
    reputation.review_submit(order=order, author=buyer, rating=4)
    reputation.review_submit(order=order, author=seller, rating=4)

    with django_assert_num_queries(1):
        summary = reputation.reputation_summary(seller)
    with django_assert_num_queries(1):
        scores = reputation.seller_scores([seller.pk, buyer.pk])

    assert summary["score"] == pytest.approx(44 / 11, abs=0.01)
    assert scores[seller.pk] == pytest.approx((44 / 11 - 1) / 4, abs=0.01)


def test_sql_and_python_sums_agree():
    seller = UserFactory()
    buyers = make_users(4, joined_days_ago=300)
    now = timezone.now()
    for i, order in enumerate(completed_orders([(b, seller) for b in buyers])):
        hidden_review(order, order.buyer, 1 + i, at=now - timedelta(days=100 * i))
    completed_order(buyers[0], seller, status="refunded", status_before_dispute="paid")
    reputation.reviews_reveal_due(now=now + timedelta(days=15))
    reputation.penalties_sweep()

    ws, wt, anchor = reputation.decayed_sums_sql(seller.pk)

    assert (ws, wt) == pytest.approx(reputation.decayed_sums_python(seller.pk)[:2], rel=1e-12)
    assert anchor == reputation.decayed_sums_python(seller.pk)[2]
    assert reputation.decayed_sums_sql(buyers[0].pk) == (0.0, 0.0, None)
