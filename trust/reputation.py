"""Reputation: double-blind two-sided reviews, the trust score, badges and
manipulation signals.

Reviews
-------
Each side of a *completed* order may review the other once (`review_submit`),
within `REVIEW_WINDOW_DAYS` (default 14) of the order's `closed_at`. A review
is hidden until both sides have written, or until the window closes
(`reviews_reveal_due`, run by the Celery task `trust.tasks.reveal_reviews`);
then the order's reviews are revealed together, weighed once, and added to
the subjects' cached `Reputation` rows. Hidden reviews can be edited by their
author; revealed ones cannot.

Score
-----
The score of user *u* at time *t* is a Bayesian average of everything that
counts about *u*, pulled towards a global prior, with old items decaying::

    score(u, t) = (C·m + Σ wᵢ·dᵢ·rᵢ) / (C + Σ wᵢ·dᵢ)        dᵢ = 2^(−(t − tᵢ) / H)

* the sum runs over *u*'s revealed reviews (rating rᵢ ∈ 1..5, written at tᵢ)
  and over *u*'s seller penalties, each counted as a 1-star rating;
* m = `REPUTATION_PRIOR_MEAN` (4.0) and C = `REPUTATION_PRIOR_WEIGHT` (10):
  a user starts at the prior and needs about C weighted reviews to move
  halfway towards their own average, so one 5-star review (of a 100.00
  order) gives 4.09 while 300 reviews averaging 4.8 over two years give 4.75;
* H = `REPUTATION_HALF_LIFE_DAYS` (365): a review a year old counts half;
* a review's weight is wᵢ = value × manipulation factors (set at the reveal,
  stored with its reasons in `Review.weight` / `weight_reasons`, weighed
  again only when a manipulation signal fires, see below):

  - value = clamp(1 + ½·log₁₀(price / `REPUTATION_VALUE_REFERENCE_MINOR`),
    0.25, 2) with the reference 10 000 minor units (100.00): a 10.00 order
    weighs 0.5, a 1 000.00 order 1.5, from 10 000.00 up 2;
  - repeat: only the first revealed review from the same author about the
    same subject per calendar week (ISO, UTC, of writing) counts; later ones
    weigh 0 (eBay's rule; the window task reveals in writing order);
  - closed circle × 0.1: the author has ≥ 3 completed trades and ≥ 80 % of
    them are with the subject or with the subject's own trading partners
    (accounts that only trade with each other, rings);
  - reciprocal × 0.5: author and subject have each sold to the other;
  - new-account burst × 0.3: the author's account was < 30 days old and the
    subject got ≥ 4 other reviews from such accounts within 7 days either side;
* penalties (sellers only), each a 1-star item with weight p at the order's
  `closed_at`: dispute lost (refunded after a dispute) p = 3, dispute split
  p = 1.5, cancelled by the seller (before or after payment, or by the ship
  deadline) p = 1; recorded once per order by the same beat task.

The three manipulation factors also publish a `trust.reputation_signal`
outbox event `{user_id, kind, details}` for moderation (user_id is the
subject whose score was being lifted). When one fires, the revealed reviews
among the circle's members (or the subject's other burst reviews) are weighed
again, so a ring that looked innocent at its first trades is caught
retroactively, and the affected rows are rebuilt.

Properties: with weights fixed, adding a review rated r never moves the score
away from r (a 5-star never lowers it, a penalty never raises it); the score
always lies in [1, 5]; `score_of` is the pure function tested with hypothesis.
Shown in profiles as `score` (2 decimals; null until something counts);
search ranking gets (score − 1) / 4 in 0..1, with the prior for sellers who
have nothing yet.

Cache and cost
--------------
`Reputation` stores Σ w·d·r and Σ w·d as of an anchor time; the decay factor
is the same for every item, so reading the score at any later t is O(1)
(one row) and a new review or penalty is added without reading the others
(`_add_item`). Counts, recent counts and badges are refreshed from indexed
COUNT queries at each update. `python manage.py reputation_recompute` rebuilds
every row from the reviews and penalties (one aggregate query for the sums on
PostgreSQL); the result equals the incremental one.

Badges
------
`verified_email` (live from the account), `trusted_seller` (≥ 10 completed
sales), `fast_responder` (median time from a buyer's first message to the
seller's first reply over the seller's last 20 conversations ≤ 1 h, at least
5 conversations; unanswered ones older than 1 h count as slow),
`low_dispute_rate` (≥ 10 closed sales and ≤ 2 % of sales ever disputed).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from marketplace.errors import InvalidState, NotFound, ValidationFailed
from marketplace.notifications.services import notify
from marketplace.outbox.services import publish
from trust.models import Order, OrderEvent, OrderStatus
from trust.reputation_models import PenaltyKind, Reputation, ReputationPenalty, Review, ReviewRole

logger = logging.getLogger(__name__)
S = OrderStatus

# --- parameters ------------------------------------------------------------------------------

PENALTY_WEIGHTS = {
    PenaltyKind.DISPUTE_LOST: 3.0,
    PenaltyKind.DISPUTE_SPLIT: 1.5,
    PenaltyKind.SELLER_CANCELLED: 1.0,
}
VALUE_MIN, VALUE_MAX = 0.25, 2.0
CIRCLE_MIN_TRADES, CIRCLE_SHARE, CIRCLE_FACTOR = 3, 0.8, 0.1
RECIPROCAL_FACTOR = 0.5
NEW_ACCOUNT_DAYS, BURST_WINDOW_DAYS, BURST_MIN_OTHERS, BURST_FACTOR = 30, 7, 4, 0.3
RECENT_DAYS = 90
TRUSTED_SELLER_SALES = 10
FAST_RESPONSE_SECONDS, FAST_RESPONSE_SAMPLE, FAST_RESPONSE_MIN = 3600.0, 20, 5
LOW_DISPUTE_MIN_SALES, LOW_DISPUTE_MAX_RATE = 10, 0.02
BADGE_ORDER = ("verified_email", "trusted_seller", "fast_responder", "low_dispute_rate")
SIGNAL_TOPIC = "trust.reputation_signal"
MAX_COMMENT = 2000


def prior_mean() -> float:
    return float(getattr(settings, "REPUTATION_PRIOR_MEAN", 4.0))


def prior_weight() -> float:
    return float(getattr(settings, "REPUTATION_PRIOR_WEIGHT", 10.0))


def half_life_seconds() -> float:
    return float(getattr(settings, "REPUTATION_HALF_LIFE_DAYS", 365.0)) * 86400.0


def value_reference_minor() -> int:
    return int(getattr(settings, "REPUTATION_VALUE_REFERENCE_MINOR", 10_000))


def review_window() -> timedelta:
    return timedelta(days=float(getattr(settings, "REVIEW_WINDOW_DAYS", 14)))


# --- the formula (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rated:
    """One item that counts: a review (its rating) or a penalty (rating 1)."""

    rating: float
    weight: float
    at: datetime


def decay(age_seconds: float) -> float:
    """2^(−age / half-life); items from the future count in full."""
    return 2.0 ** (-max(age_seconds, 0.0) / half_life_seconds())


def bayesian(weighted_sum: float, weight_total: float) -> float:
    c = prior_weight()
    return (c * prior_mean() + weighted_sum) / (c + weight_total)


def score_of(items: Iterable[Rated], *, now: datetime) -> float:
    """The score of these items at `now` (the prior when none counts)."""
    ws = wt = 0.0
    for item in items:
        if item.weight <= 0:
            continue
        d = item.weight * decay((now - item.at).total_seconds())
        ws += d * item.rating
        wt += d
    return bayesian(ws, wt)


def sums_add(
    ws: float, wt: float, anchor: datetime | None, *, rating: float, weight: float, at: datetime
) -> tuple[float, float, datetime]:
    """Add one item to decayed sums kept as of `anchor`; returns the new sums
    and anchor (the later of the two times, so factors never exceed 1)."""
    if anchor is None:
        return weight * rating, weight, at
    new_anchor = max(anchor, at)
    keep = decay((new_anchor - anchor).total_seconds())
    d = weight * decay((new_anchor - at).total_seconds())
    return ws * keep + d * rating, wt * keep + d, new_anchor


def sums_at(ws: float, wt: float, anchor: datetime | None, now: datetime) -> tuple[float, float]:
    if anchor is None:
        return 0.0, 0.0
    k = decay((now - anchor).total_seconds())
    return ws * k, wt * k


def reputation_score(rep: Reputation, *, now: datetime | None = None) -> float | None:
    """The live score from the cached row: O(1); None when nothing counts yet."""
    if rep.decay_anchor is None:
        return None
    ws, wt = sums_at(rep.weighted_sum, rep.weight_total, rep.decay_anchor, now or timezone.now())
    return bayesian(ws, wt)


def scaled(score: float | None) -> float:
    """1..5 -> 0..1 for search ranking; the prior when there is no score."""
    value = prior_mean() if score is None else score
    return min(1.0, max(0.0, (value - 1.0) / 4.0))


def value_factor(price_minor: int) -> float:
    ratio = max(price_minor, 1) / value_reference_minor()
    return min(VALUE_MAX, max(VALUE_MIN, 1.0 + 0.5 * math.log10(ratio)))


# --- weighing one review -----------------------------------------------------------------------


@dataclass
class Assessment:
    weight: float
    reasons: list[dict[str, Any]] = field(default_factory=list)
    signals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    circle: set[Any] = field(default_factory=set)  # partners shared by author and subject


@dataclass
class _Trades:
    sold_to: Counter[Any]
    bought_from: Counter[Any]

    @cached_property
    def partners(self) -> Counter[Any]:
        return self.sold_to + self.bought_from


def _trades(user_id: Any) -> _Trades:
    sold_to: Counter[Any] = Counter()
    bought_from: Counter[Any] = Counter()
    rows = (
        Order.objects.filter(status=S.COMPLETED)
        .filter(Q(buyer_id=user_id) | Q(seller_id=user_id))
        .values_list("buyer_id", "seller_id")
    )
    for buyer_id, seller_id in rows:
        if seller_id == user_id:
            sold_to[buyer_id] += 1
        else:
            bought_from[seller_id] += 1
    return _Trades(sold_to, bought_from)


@dataclass
class _PairStats:
    """The author's completed trades seen from one subject: how many in all,
    how many with the subject or the subject's own partners, and each way."""

    total: int
    inside: int
    sold_to_subject: int
    bought_from_subject: int


def _completed() -> QuerySet[Order]:
    return Order.objects.filter(status=S.COMPLETED)


def _pair_stats(author_id: Any, subject_id: Any) -> _PairStats:
    """Counted in the database (a few COUNTs), whatever either side's size."""
    done = _completed()
    circle = Q(pk__in=done.filter(seller_id=subject_id).values("buyer_id")) | Q(
        pk__in=done.filter(buyer_id=subject_id).values("seller_id")
    )
    near = get_user_model().objects.filter(circle).values("pk")
    mine = done.filter(Q(buyer_id=author_id) | Q(seller_id=author_id))
    inside = mine.filter(
        Q(buyer_id=author_id, seller_id=subject_id)
        | Q(seller_id=author_id, buyer_id=subject_id)
        | Q(buyer_id=author_id, seller_id__in=near)
        | Q(seller_id=author_id, buyer_id__in=near)
    )
    return _PairStats(
        total=mine.count(),
        inside=inside.count(),
        sold_to_subject=done.filter(seller_id=author_id, buyer_id=subject_id).count(),
        bought_from_subject=done.filter(buyer_id=author_id, seller_id=subject_id).count(),
    )


def _shared_partners(author_id: Any, subject_id: Any) -> set[Any]:
    """The author's trading partners who also traded with the subject."""
    done = _completed()
    near = Q(seller_id=subject_id) | Q(buyer_id=subject_id)
    theirs = set()
    for buyer_id, seller_id in done.filter(near).values_list("buyer_id", "seller_id"):
        theirs.add(seller_id if buyer_id == subject_id else buyer_id)
    mine = set()
    for buyer_id, seller_id in done.filter(
        Q(buyer_id=author_id, seller_id__in=theirs) | Q(seller_id=author_id, buyer_id__in=theirs)
    ).values_list("buyer_id", "seller_id"):
        mine.add(seller_id if buyer_id == author_id else buyer_id)
    mine.discard(subject_id)
    return mine


def _week_bounds(at: datetime) -> tuple[datetime, datetime]:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=7)


def _is_weekly_repeat(review: Review) -> bool:
    start, end = _week_bounds(review.created_at)
    return (
        Review.objects.filter(
            author_id=review.author_id,
            subject_id=review.subject_id,
            visible_at__isnull=False,
            weight__gt=0,
            created_at__gte=start,
            created_at__lt=end,
        )
        .exclude(pk=review.pk)
        .exists()
    )


def _burst_size(review: Review) -> int:
    window = timedelta(days=BURST_WINDOW_DAYS)
    return (
        Review.objects.filter(
            subject_id=review.subject_id,
            created_at__gte=review.created_at - window,
            created_at__lte=review.created_at + window,
            author__date_joined__gt=F("created_at") - timedelta(days=NEW_ACCOUNT_DAYS),
        )
        .exclude(pk=review.pk)
        .count()
    )


class _Memo:
    """Graph reads shared by the assessments of one re-weighing pass. With
    `bulk`, a subject's whole trading graph and burst history are read once
    (a pass looks at a few people many times); without, targeted queries."""

    def __init__(self, *, bulk: bool = False) -> None:
        self.bulk = bulk
        self.trades: dict[Any, _Trades] = {}
        self.joined: dict[Any, datetime] = {}
        self.fresh_reviews: dict[Any, list[tuple[datetime, Any]]] = {}

    def trades_of(self, user_id: Any) -> _Trades:
        if user_id not in self.trades:
            self.trades[user_id] = _trades(user_id)
        return self.trades[user_id]

    def pair_stats(self, author_id: Any, subject_id: Any) -> _PairStats:
        if not self.bulk:
            return _pair_stats(author_id, subject_id)
        partners = self.trades_of(author_id).partners
        shared = self.shared_partners(author_id, subject_id)
        trades = self.trades_of(author_id)
        return _PairStats(
            total=sum(partners.values()),
            inside=partners[subject_id] + sum(partners[p] for p in shared),
            sold_to_subject=trades.sold_to[subject_id],
            bought_from_subject=trades.bought_from[subject_id],
        )

    def shared_partners(self, author_id: Any, subject_id: Any) -> set[Any]:
        if not self.bulk:
            return _shared_partners(author_id, subject_id)
        theirs = self.trades_of(subject_id).partners
        return {p for p in self.trades_of(author_id).partners if p in theirs and p != subject_id}

    def burst_size(self, review: Review) -> int:
        if not self.bulk:
            return _burst_size(review)
        subject_id = review.subject_id
        if subject_id not in self.fresh_reviews:
            self.fresh_reviews[subject_id] = list(
                Review.objects.filter(
                    subject_id=subject_id,
                    author__date_joined__gt=F("created_at") - timedelta(days=NEW_ACCOUNT_DAYS),
                ).values_list("created_at", "pk")
            )
        window = timedelta(days=BURST_WINDOW_DAYS)
        low, high = review.created_at - window, review.created_at + window
        return sum(
            1 for at, pk in self.fresh_reviews[subject_id] if low <= at <= high and pk != review.pk
        )

    def date_joined(self, user_id: Any) -> datetime:
        if user_id not in self.joined:
            self.joined[user_id] = (
                get_user_model().objects.filter(pk=user_id).values_list("date_joined", flat=True)
            )[0]
        return self.joined[user_id]


def review_assess(
    review: Review, *, repeat: bool | None = None, memo: _Memo | None = None
) -> Assessment:
    """The weight of a review and why, from the trading graph as it is now.

    `repeat` says whether the weekly repeat rule applies (None: look it up;
    it is decided once, at the reveal). A repeat weighs 0 but still raises
    the signals it shows."""
    memo = memo or _Memo()
    author_id, subject_id = review.author_id, review.subject_id
    weight = value_factor(review.order.price_minor)
    reasons: list[dict[str, Any]] = [{"code": "order_value", "factor": round(weight, 4)}]
    signals: list[tuple[str, dict[str, Any]]] = []
    details = {"review_id": str(review.pk), "author_id": str(author_id)}
    details["order_id"] = str(review.order_id)

    stats = memo.pair_stats(author_id, subject_id)
    circle: set[Any] = set()
    total = stats.total
    if total >= CIRCLE_MIN_TRADES:
        share = stats.inside / total
        if share >= CIRCLE_SHARE:
            circle = memo.shared_partners(author_id, subject_id)
            weight *= CIRCLE_FACTOR
            reasons.append({"code": "closed_circle", "factor": CIRCLE_FACTOR})
            signals.append(
                ("closed_circle", {**details, "author_trades": total, "share": round(share, 3)})
            )
    if stats.sold_to_subject and stats.bought_from_subject:
        weight *= RECIPROCAL_FACTOR
        reasons.append({"code": "reciprocal_trades", "factor": RECIPROCAL_FACTOR})
        signals.append(("reciprocal_trades", details))
    if memo.date_joined(author_id) > review.created_at - timedelta(days=NEW_ACCOUNT_DAYS):
        others = memo.burst_size(review)
        if others >= BURST_MIN_OTHERS:
            weight *= BURST_FACTOR
            reasons.append({"code": "new_account_burst", "factor": BURST_FACTOR})
            signals.append(("new_account_burst", {**details, "reviews_in_window": others + 1}))
    if repeat is None:
        repeat = _is_weekly_repeat(review)
    if repeat:
        weight = 0.0
        reasons.append({"code": "repeat_same_week", "factor": 0.0})
    return Assessment(weight, reasons, signals, circle)


def _signal(subject_id: Any, kind: str, details: dict[str, Any]) -> None:
    publish(
        topic=SIGNAL_TOPIC, payload={"user_id": str(subject_id), "kind": kind, "details": details}
    )


def _codes(reasons: list[dict[str, Any]]) -> set[str]:
    return {r.get("code") for r in reasons if isinstance(r, dict)}


def _reassess_related(review: Review, assessment: Assessment) -> set[Any]:
    """A signal fired: weigh again the revealed reviews among the circle's
    members (every direction, so a ring that looked innocent at its first
    trades is caught), or the subject's other reviews from the burst.
    Returns the subjects whose reviews changed weight."""
    kinds = {kind for kind, _ in assessment.signals}
    q = Q()
    if kinds & {"closed_circle", "reciprocal_trades"}:
        members = {review.author_id, review.subject_id, *assessment.circle}
        q |= Q(author_id__in=members, subject_id__in=members)
    if "new_account_burst" in kinds:
        window = timedelta(days=BURST_WINDOW_DAYS)
        q |= Q(
            subject_id=review.subject_id,
            created_at__gte=review.created_at - window,
            created_at__lte=review.created_at + window,
            author__date_joined__gt=F("created_at") - timedelta(days=NEW_ACCOUNT_DAYS),
        )
    if not q:
        return set()
    changed: set[Any] = set()
    memo = _Memo(bulk=True)
    related = (
        Review.objects.filter(q, visible_at__isnull=False)
        .exclude(pk=review.pk)
        .select_related("order", "author")
        .order_by("pk")
    )
    for other in related:
        memo.joined.setdefault(other.author_id, other.author.date_joined)
        repeat = "repeat_same_week" in _codes(other.weight_reasons)
        again = review_assess(other, repeat=repeat, memo=memo)
        same_weight = math.isclose(again.weight, other.weight, rel_tol=1e-12, abs_tol=1e-12)
        before = _codes(other.weight_reasons)
        if same_weight and before == _codes(again.reasons):
            continue
        other.weight, other.weight_reasons = again.weight, again.reasons
        other.save(update_fields=["weight", "weight_reasons"])
        for kind, details in again.signals:
            if kind not in before:
                _signal(other.subject_id, kind, details)
        if not same_weight:
            changed.add(other.subject_id)
    return changed


# --- the cached row ----------------------------------------------------------------------------


def _lock_reputations(user_ids: Iterable[Any]) -> dict[Any, Reputation]:
    """Create missing rows, then lock them in a fixed order (no deadlocks).
    Call inside a transaction."""
    ids = sorted(set(user_ids), key=str)
    Reputation.objects.bulk_create([Reputation(user_id=uid) for uid in ids], ignore_conflicts=True)
    rows = Reputation.objects.select_for_update().filter(user_id__in=ids).order_by("pk")
    return {row.user_id: row for row in rows}


def _response_times(user_id: Any, *, now: datetime) -> list[float]:
    """Seconds from the buyer's first message to the seller's first reply, for
    the seller's last conversations; unanswered and older than the threshold
    counts as infinitely slow, unanswered and younger is not counted yet."""
    from chat.models import Conversation, Message

    asked = (
        Message.objects.filter(conversation=OuterRef("pk"), sender_id=OuterRef("buyer_id"))
        .order_by("seq")
        .values("created_at")[:1]
    )
    replied = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            sender_id=OuterRef("seller_id"),
            created_at__gte=OuterRef("asked_at"),
        )
        .order_by("seq")
        .values("created_at")[:1]
    )
    rows = (
        Conversation.objects.filter(seller_id=user_id)
        .annotate(asked_at=Subquery(asked))
        .filter(asked_at__isnull=False)
        .annotate(replied_at=Subquery(replied))
        .order_by("-asked_at")
        .values_list("asked_at", "replied_at")[:FAST_RESPONSE_SAMPLE]
    )
    times: list[float] = []
    for asked_at, replied_at in rows:
        if replied_at is not None:
            times.append((replied_at - asked_at).total_seconds())
        elif (now - asked_at).total_seconds() > FAST_RESPONSE_SECONDS:
            times.append(math.inf)
    return times


def _refresh_counts(rep: Reputation, *, now: datetime) -> None:
    """Counts, recent counts and badges (cheap indexed COUNTs, no decay sums)."""
    uid = rep.user_id
    recent = now - timedelta(days=RECENT_DAYS)
    got = Review.objects.filter(subject_id=uid, visible_at__isnull=False).aggregate(
        total=Count("pk"),
        counted=Count("pk", filter=Q(weight__gt=0)),
        recent=Count("pk", filter=Q(visible_at__gte=recent)),
        positive=Count("pk", filter=Q(visible_at__gte=recent, rating__gte=4)),
        negative=Count("pk", filter=Q(visible_at__gte=recent, rating__lte=2)),
    )
    rep.reviews, rep.reviews_counted = got["total"], got["counted"]
    rep.reviews_90d, rep.positive_90d, rep.negative_90d = (
        got["recent"],
        got["positive"],
        got["negative"],
    )
    sales = Order.objects.filter(seller_id=uid).aggregate(
        completed=Count("pk", filter=Q(status=S.COMPLETED)),
        closed=Count("pk", filter=Q(status__in=[S.COMPLETED, S.REFUNDED, S.SPLIT])),
        disputed=Count(
            "pk",
            filter=Q(status__in=[S.COMPLETED, S.REFUNDED, S.SPLIT, S.DISPUTED])
            & ~Q(status_before_dispute=""),
        ),
    )
    bought = Order.objects.filter(buyer_id=uid, status=S.COMPLETED).count()
    rep.completed_sales = sales["completed"]
    rep.completed_orders = sales["completed"] + bought
    penalties = ReputationPenalty.objects.filter(user_id=uid).aggregate(
        lost=Count("pk", filter=Q(kind__in=[PenaltyKind.DISPUTE_LOST, PenaltyKind.DISPUTE_SPLIT])),
        cancelled=Count("pk", filter=Q(kind=PenaltyKind.SELLER_CANCELLED)),
    )
    rep.disputes_lost, rep.seller_cancellations = penalties["lost"], penalties["cancelled"]

    times = _response_times(uid, now=now)
    median = statistics.median(times) if times else None
    rep.response_median_seconds = median if median is not None and math.isfinite(median) else None

    badges = []
    if rep.completed_sales >= TRUSTED_SELLER_SALES:
        badges.append("trusted_seller")
    if len(times) >= FAST_RESPONSE_MIN and median is not None and median <= FAST_RESPONSE_SECONDS:
        badges.append("fast_responder")
    if (
        sales["closed"] >= LOW_DISPUTE_MIN_SALES
        and sales["disputed"] / sales["closed"] <= LOW_DISPUTE_MAX_RATE
    ):
        badges.append("low_dispute_rate")
    rep.badges = badges
    rep.score = reputation_score(rep, now=now)


def _add_item(rep: Reputation, *, rating: float, weight: float, at: datetime) -> None:
    if weight > 0:
        rep.weighted_sum, rep.weight_total, rep.decay_anchor = sums_add(
            rep.weighted_sum,
            rep.weight_total,
            rep.decay_anchor,
            rating=rating,
            weight=weight,
            at=at,
        )


def _items(user_id: Any) -> Iterable[Rated]:
    reviews = Review.objects.filter(
        subject_id=user_id, visible_at__isnull=False, weight__gt=0
    ).values_list("rating", "weight", "created_at")
    for rating, weight, at in reviews.iterator(chunk_size=5000):
        yield Rated(rating, weight, at)
    for weight, at in ReputationPenalty.objects.filter(user_id=user_id).values_list("weight", "at"):
        yield Rated(1.0, weight, at)


def decayed_sums_python(user_id: Any) -> tuple[float, float, datetime | None]:
    """Σ w·d·r, Σ w·d anchored at the newest item, summed in Python."""
    items = list(_items(user_id))
    anchor = max((i.at for i in items), default=None)
    ws = wt = 0.0
    if anchor is not None:
        for item in items:
            d = item.weight * decay((anchor - item.at).total_seconds())
            ws += d * item.rating
            wt += d
    return ws, wt, anchor


def decayed_sums_sql(user_id: Any) -> tuple[float, float, datetime | None]:
    """The same sums as one aggregate query (PostgreSQL): ~40x faster than
    loading 10,000 rows into Python."""
    sql = f"""
        WITH items AS (
            SELECT rating::float8 AS r, weight AS w, created_at AS at FROM {Review._meta.db_table}
            WHERE subject_id = %s AND visible_at IS NOT NULL AND weight > 0
            UNION ALL
            SELECT 1.0, weight, at FROM {ReputationPenalty._meta.db_table} WHERE user_id = %s
        ), anchor AS (SELECT MAX(at) AS m FROM items)
        SELECT
            COALESCE(SUM(w * r * power(2.0, -extract(epoch FROM (m - at))::float8 / %s)), 0),
            COALESCE(SUM(w * power(2.0, -extract(epoch FROM (m - at))::float8 / %s)), 0),
            MAX(m)
        FROM items CROSS JOIN anchor
    """  # noqa: S608 - table names from the models, values as parameters
    half_life = half_life_seconds()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id, half_life, half_life])
        ws, wt, anchor = cursor.fetchone()
    return float(ws), float(wt), anchor


def _rebuild(rep: Reputation, *, now: datetime) -> None:
    """Recompute the decayed sums from every review and penalty, anchored at
    the newest item (what the incremental path converges on)."""
    sums = decayed_sums_sql if connection.vendor == "postgresql" else decayed_sums_python
    rep.weighted_sum, rep.weight_total, rep.decay_anchor = sums(rep.user_id)
    _refresh_counts(rep, now=now)


def reputation_recompute_user(*, user_id: Any, now: datetime | None = None) -> Reputation:
    """Rebuild one user's cached row from scratch (takes its row lock)."""
    now = now or timezone.now()
    with transaction.atomic():
        rep = _lock_reputations([user_id])[user_id]
        _rebuild(rep, now=now)
        rep.save()
    return rep


def reputation_user_ids() -> list[Any]:
    """Everyone who has anything that counts, or a row to refresh."""
    ids: set[Any] = set(Reputation.objects.values_list("user_id", flat=True))
    ids.update(Review.objects.values_list("subject_id", flat=True).distinct())
    ids.update(ReputationPenalty.objects.values_list("user_id", flat=True).distinct())
    completed = Order.objects.filter(status=S.COMPLETED)
    ids.update(completed.values_list("seller_id", flat=True).distinct())
    ids.update(completed.values_list("buyer_id", flat=True).distinct())
    return sorted(ids, key=str)


def reputation_recompute_all(
    *, progress: Callable[[int, int], None] | None = None, now: datetime | None = None
) -> int:
    """Apply missing penalties, then rebuild every row. Returns users done."""
    now = now or timezone.now()
    penalties_sweep(since=None)
    ids = reputation_user_ids()
    if progress:
        progress(0, len(ids))
    for n, uid in enumerate(ids, 1):
        reputation_recompute_user(user_id=uid, now=now)
        if progress and (n % 100 == 0 or n == len(ids)):
            progress(n, len(ids))
    return len(ids)


# --- reviews: writes ---------------------------------------------------------------------------


def _window_closes(order: Order) -> datetime | None:
    return order.closed_at + review_window() if order.closed_at else None


def _clean(rating: Any, comment: Any, *, partial: bool = False) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if rating is not None or not partial:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            errors["rating"] = ["A whole number from 1 to 5."]
        else:
            out["rating"] = rating
    if comment is not None:
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            errors["comment"] = [f"Text of at most {MAX_COMMENT} characters."]
        else:
            out["comment"] = comment.strip()
    if errors:
        raise ValidationFailed(errors)
    return out


def _lock_order_for_party(order: Order | Any, author: Any) -> Order:
    order_id = order.pk if isinstance(order, Order) else order
    locked = (
        Order.objects.select_for_update(of=("self",))
        .select_related("buyer", "seller")
        .filter(pk=order_id)
        .first()
    )
    if locked is None or author is None or author.pk not in (locked.buyer_id, locked.seller_id):
        raise NotFound("No such order.")
    return locked


def review_submit(*, order: Order | Any, author: Any, rating: Any, comment: Any = "") -> Review:
    """Write the author's review of a completed order (once per side).

    Takes the Order row lock, so when both sides submit at once exactly one
    of them sees the other's review and reveals both. Raises NotFound for
    anyone but the buyer and the seller, InvalidState (409) when the order is
    not completed, the window has closed or this side already wrote."""
    data = _clean(rating, comment if comment is not None else "")
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_order_for_party(order, author)
        if locked.status != S.COMPLETED:
            raise InvalidState("Only completed orders can be reviewed.", state=locked.status)
        closes = _window_closes(locked)
        if closes is not None and now >= closes:
            raise InvalidState("The review window for this order has closed.", state="closed")
        is_buyer = author.pk == locked.buyer_id
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    order=locked,
                    author=author,
                    subject_id=locked.seller_id if is_buyer else locked.buyer_id,
                    role=ReviewRole.BUYER if is_buyer else ReviewRole.SELLER,
                    rating=data["rating"],
                    comment=data.get("comment", ""),
                )
        except IntegrityError:
            raise InvalidState(
                "You have already reviewed this order (you can edit it until it is revealed).",
                state="reviewed",
            ) from None
        other = Review.objects.filter(order=locked).exclude(pk=review.pk).first()
        if other is not None:
            _reveal(locked, [other, review], now=now)
        else:
            notify(
                recipient=locked.seller if is_buyer else locked.buyer,
                kind="review_waiting",
                payload={
                    "order_id": str(locked.pk),
                    "closes_at": closes.isoformat() if closes else None,
                },
                link=f"/orders/{locked.pk}/",
                dedupe_key=f"review_waiting:{locked.pk}",
            )
    return review


def review_update(
    *, order: Order | Any, author: Any, rating: Any = None, comment: Any = None
) -> Review:
    """Edit one's own review while it is hidden (takes the Order row lock)."""
    data = _clean(rating, comment, partial=True)
    with transaction.atomic():
        locked = _lock_order_for_party(order, author)
        review = Review.objects.filter(order=locked, author=author).first()
        if review is None:
            raise NotFound("You have not reviewed this order.")
        if review.visible_at is not None:
            raise InvalidState("A revealed review can no longer be edited.", state="revealed")
        closes = _window_closes(locked)
        if closes is not None and timezone.now() >= closes:
            raise InvalidState("The review window for this order has closed.", state="closed")
        for key, value in data.items():
            setattr(review, key, value)
        review.save()
    return review


def _reveal(order: Order, reviews: list[Review], *, now: datetime) -> None:
    """Reveal the order's hidden reviews together, weigh them and update the
    subjects' reputation. Call with the Order row locked; takes the subjects'
    Reputation row locks. When a signal re-weighs reviews about other people
    (a ring), their rows are rebuilt after commit, each under its own lock."""
    reps = _lock_reputations([r.subject_id for r in reviews])
    assessed = []
    for review in reviews:
        review.order = order
        review.visible_at = now
        assessment = review_assess(review)
        review.weight, review.weight_reasons = assessment.weight, assessment.reasons
        review.save(update_fields=["visible_at", "weight", "weight_reasons"])
        for kind, details in assessment.signals:
            _signal(review.subject_id, kind, details)
        assessed.append((review, assessment))
    changed: set[Any] = set()
    for review, assessment in assessed:
        if assessment.signals:
            changed |= _reassess_related(review, assessment)
    for review in reviews:
        if review.subject_id not in changed:
            rep = reps[review.subject_id]
            _add_item(rep, rating=review.rating, weight=review.weight, at=review.created_at)
    for uid, rep in reps.items():
        if uid in changed:
            _rebuild(rep, now=now)
        else:
            _refresh_counts(rep, now=now)
        rep.save()
    later = sorted(changed - set(reps), key=str)
    if later:
        transaction.on_commit(lambda: [reputation_recompute_user(user_id=u) for u in later])
    for party in (order.buyer, order.seller):
        notify(
            recipient=party,
            kind="reviews_revealed",
            payload={"order_id": str(order.pk)},
            link=f"/orders/{order.pk}/",
            dedupe_key=f"reviews_revealed:{order.pk}",
        )
    publish(
        topic="trust.reviews_revealed",
        payload={
            "order_id": str(order.pk),
            "buyer_id": str(order.buyer_id),
            "seller_id": str(order.seller_id),
            "review_ids": [str(r.pk) for r in reviews],
        },
    )


def reviews_reveal_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Reveal the hidden reviews of orders whose window has closed. Safe to
    run twice: each order is re-checked under its lock. Returns reviews revealed."""
    now = now or timezone.now()
    cutoff = now - review_window()
    # In writing order, so "the first review of the week counts" means the first written.
    due = Review.objects.filter(visible_at__isnull=True, order__closed_at__lte=cutoff)
    order_ids = list(
        dict.fromkeys(due.order_by("created_at", "pk").values_list("order_id", flat=True))
    )[:limit]
    done = 0
    for order_id in order_ids:
        with transaction.atomic():
            locked = (
                Order.objects.select_for_update(of=("self",))
                .select_related("buyer", "seller")
                .get(pk=order_id)
            )
            closes = _window_closes(locked)
            hidden = list(
                Review.objects.filter(order=locked, visible_at__isnull=True).order_by("created_at")
            )
            if not hidden or closes is None or closes > now:
                continue
            _reveal(locked, hidden, now=now)
            done += len(hidden)
    return done


# --- penalties ---------------------------------------------------------------------------------


def _penalty_orders(since: datetime | None) -> QuerySet[Order]:
    seller_cancelled = OrderEvent.objects.filter(
        order=OuterRef("pk"), action="cancelled", actor_id=OuterRef("seller_id")
    )
    qs = Order.objects.filter(reputation_penalty__isnull=True, closed_at__isnull=False).filter(
        Q(status__in=[S.REFUNDED, S.SPLIT]) & ~Q(status_before_dispute="")
        | Q(status=S.CANCELLED) & (Q(paid_at__isnull=False) | Exists(seller_cancelled))
    )
    if since is not None:
        qs = qs.filter(closed_at__gte=since)
    return qs.order_by("closed_at", "pk")


def penalties_sweep(*, since: datetime | None = None, now: datetime | None = None) -> int:
    """Record (once per order) the seller's lost disputes and cancellations
    and add each to their reputation. Returns penalties recorded."""
    now = now or timezone.now()
    done = 0
    due = _penalty_orders(since).only("pk", "seller_id", "status", "closed_at", "paid_at")
    for order in due[:5000]:
        kind = {
            S.REFUNDED: PenaltyKind.DISPUTE_LOST,
            S.SPLIT: PenaltyKind.DISPUTE_SPLIT,
        }.get(order.status, PenaltyKind.SELLER_CANCELLED)
        with transaction.atomic():
            rep = _lock_reputations([order.seller_id])[order.seller_id]
            try:
                with transaction.atomic():
                    penalty = ReputationPenalty.objects.create(
                        order_id=order.pk,
                        user_id=order.seller_id,
                        kind=kind,
                        weight=PENALTY_WEIGHTS[kind],
                        at=order.closed_at,
                    )
            except IntegrityError:
                continue  # another sweep got there first
            _add_item(rep, rating=1.0, weight=penalty.weight, at=penalty.at)
            _refresh_counts(rep, now=now)
            rep.save()
            done += 1
    return done


def reputations_refresh_recent(*, now: datetime | None = None, limit: int = 500) -> int:
    """Rebuild the rows of people whose orders closed since their row was
    last updated (completed-order counts and badges move without a review)."""
    now = now or timezone.now()
    latest: dict[Any, datetime] = {}
    rows = Order.objects.filter(
        closed_at__gte=now - timedelta(days=2), status=S.COMPLETED
    ).values_list("buyer_id", "seller_id", "closed_at")
    for buyer_id, seller_id, closed_at in rows:
        for uid in (buyer_id, seller_id):
            latest[uid] = max(latest.get(uid, closed_at), closed_at)
    if not latest:
        return 0
    updated = dict(
        Reputation.objects.filter(user_id__in=list(latest)).values_list("user_id", "updated_at")
    )
    stale = [uid for uid, at in latest.items() if uid not in updated or updated[uid] < at]
    for uid in stale[:limit]:
        reputation_recompute_user(user_id=uid, now=now)
    return min(len(stale), limit)


def run_reputation_timers(*, now: datetime | None = None) -> dict[str, int]:
    """What the beat task does: reveal due reviews, record new penalties,
    refresh rows whose counts moved."""
    now = now or timezone.now()
    return {
        "revealed": reviews_reveal_due(now=now),
        "penalties": penalties_sweep(since=now - timedelta(days=30), now=now),
        "refreshed": reputations_refresh_recent(now=now),
    }


# --- reads -------------------------------------------------------------------------------------


def reviews_received(*, user: Any, role: str | None = None) -> QuerySet[Review]:
    """The revealed reviews about `user`, newest first; `role` = the user's
    side in those orders (`seller`: reviews from their buyers)."""
    qs = Review.objects.filter(subject=user, visible_at__isnull=False).select_related("author")
    if role == "seller":
        qs = qs.filter(role=ReviewRole.BUYER)
    elif role == "buyer":
        qs = qs.filter(role=ReviewRole.SELLER)
    return qs.order_by("-visible_at", "-created_at", "-pk")


def order_reviews_for_party(*, order: Order, user: Any) -> dict[str, Any]:
    """The caller's review of the order and the other side's once revealed."""
    mine = theirs = None
    for review in Review.objects.filter(order=order).select_related("author", "subject"):
        if review.author_id == user.pk:
            mine = review
        elif review.visible_at is not None:
            theirs = review
    return {"mine": mine, "theirs": theirs, "window_closes_at": _window_closes(order)}


def reputation_summary(user: Any) -> dict[str, Any]:
    """The profile's reputation: `{score, reviews, completed_orders, badges}`
    (registered as the accounts reputation provider). One query."""
    rep = Reputation.objects.filter(user_id=user.pk).first()
    badges = ["verified_email"] if getattr(user, "email_verified", False) else []
    if rep is None:
        completed = Order.objects.filter(
            Q(buyer_id=user.pk) | Q(seller_id=user.pk), status=S.COMPLETED
        ).count()
        return {"score": None, "reviews": 0, "completed_orders": completed, "badges": badges}
    score = reputation_score(rep)
    badges += [b for b in BADGE_ORDER if b in (rep.badges or []) and b not in badges]
    return {
        "score": round(score, 2) if score is not None else None,
        "reviews": rep.reviews,
        "completed_orders": rep.completed_orders,
        "badges": badges,
    }


def seller_scores(seller_ids: list[Any]) -> dict[Any, float]:
    """Search ranking: seller id -> score in 0..1 (the prior for sellers with
    nothing yet). One query (registered with search.indexing)."""
    now = timezone.now()
    found = {
        str(rep.user_id): reputation_score(rep, now=now)
        for rep in Reputation.objects.filter(user_id__in=set(seller_ids)).only(
            "user_id", "weighted_sum", "weight_total", "decay_anchor"
        )
    }
    return {sid: scaled(found.get(str(sid))) for sid in seller_ids}
