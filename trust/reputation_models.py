"""Reviews (double-blind, two-sided), reputation penalties and the cached
reputation row. The rules and the formula live in `trust.reputation`."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from marketplace.ids import uuid7

__all__ = ["ReputationPenalty", "Review", "ReviewRole", "Reputation", "PenaltyKind"]


class ReviewRole(models.TextChoices):
    """The author's side of the order: a `buyer` review rates the seller."""

    BUYER = "buyer", "Written by the buyer"
    SELLER = "seller", "Written by the seller"


class Review(models.Model):
    """One side's review of one completed order.

    Hidden (`visible_at` null) until both sides have written or the review
    window closes; then both are revealed together and can no longer change.
    `weight` (0 = does not count) and `weight_reasons` are set at the reveal
    by `trust.reputation.review_weight`.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    order = models.ForeignKey("trust.Order", on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_written"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_received"
    )
    role = models.CharField(max_length=6, choices=ReviewRole.choices)
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    visible_at = models.DateTimeField(null=True, blank=True)
    weight = models.FloatField(default=1.0)
    weight_reasons = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "author"], name="review_once_per_side"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=~models.Q(author=models.F("subject")), name="review_not_self"
            ),
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="review_weight_gte_0"),
        ]
        indexes = [
            models.Index(fields=["subject", "-visible_at"], name="review_subject_visible"),
            models.Index(fields=["author", "subject", "created_at"], name="review_pair"),
            models.Index(
                fields=["created_at"],
                name="review_hidden",
                condition=models.Q(visible_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author_id} -> {self.subject_id}: {self.rating}"

    @property
    def is_visible(self) -> bool:
        return self.visible_at is not None


class PenaltyKind(models.TextChoices):
    DISPUTE_LOST = "dispute_lost", "Dispute lost (refunded)"
    DISPUTE_SPLIT = "dispute_split", "Dispute split by a moderator"
    SELLER_CANCELLED = "seller_cancelled", "Cancelled by the seller"


class ReputationPenalty(models.Model):
    """A seller's failure on one order, counted in the score like a weighted
    1-star review. One per order (the constraint makes the sweep idempotent)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    order = models.OneToOneField(
        "trust.Order", on_delete=models.CASCADE, related_name="reputation_penalty"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reputation_penalties"
    )
    kind = models.CharField(max_length=20, choices=PenaltyKind.choices)
    weight = models.FloatField()
    at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="penalty_user_at")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"


class Reputation(models.Model):
    """The cached reputation of one user; rebuilt by `reputation_recompute`.

    The decayed sums are stored as of `decay_anchor`: at any later time t
    both are multiplied by 2^-((t - anchor) / half-life), so the score can be
    read in O(1) and a new review is added without reading the others.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="reputation",
    )
    score = models.FloatField(null=True, blank=True)  # as of updated_at; null: nothing counted
    weighted_sum = models.FloatField(default=0.0)  # sum of w * d * rating at decay_anchor
    weight_total = models.FloatField(default=0.0)  # sum of w * d at decay_anchor
    decay_anchor = models.DateTimeField(null=True, blank=True)
    reviews = models.PositiveIntegerField(default=0)  # revealed reviews received
    reviews_counted = models.PositiveIntegerField(default=0)  # of which weight > 0
    reviews_90d = models.PositiveIntegerField(default=0)
    positive_90d = models.PositiveIntegerField(default=0)  # 4 or 5 stars
    negative_90d = models.PositiveIntegerField(default=0)  # 1 or 2 stars
    completed_orders = models.PositiveIntegerField(default=0)  # as buyer or seller
    completed_sales = models.PositiveIntegerField(default=0)
    disputes_lost = models.PositiveIntegerField(default=0)
    seller_cancellations = models.PositiveIntegerField(default=0)
    response_median_seconds = models.FloatField(null=True, blank=True)
    badges = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-score"], name="reputation_score")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.score}"
