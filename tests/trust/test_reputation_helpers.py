"""Helpers, no tests. Quick builders for reputation tests: completed orders and reviews straight
through the ORM (the escrow path is covered by the order tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from listings.models import Category, Listing
from marketplace.accounts.models import User
from trust.models import Order
from trust.reputation_models import Review

_counter = iter(range(10**9))


def make_users(n: int, *, prefix: str = "u", joined_days_ago: float = 0) -> list[User]:
    joined = timezone.now() - timedelta(days=joined_days_ago)
    users = [
        User(
            username=f"{prefix}{next(_counter)}",
            email=f"{prefix}{next(_counter)}@example.com",
            date_joined=joined,
            password="!",
        )
        for _ in range(n)
    ]
    return User.objects.bulk_create(users)


def completed_orders(
    pairs: list[tuple[Any, Any]],
    *,
    price_minor: int = 10_000,
    closed_at: datetime | None = None,
    status: str = "completed",
    **extra: Any,
) -> list[Order]:
    """One completed order per (buyer, seller), in one bulk insert each."""
    now = timezone.now()
    closed = closed_at or now
    category = Category.objects.get(slug="other")
    listings = Listing.objects.bulk_create(
        [
            Listing(
                seller=seller,
                category=category,
                title=f"Thing {next(_counter)}",
                description="ok",
                condition="good",
                price_minor=price_minor,
                price_currency="CNY",
                status="sold" if status == "completed" else "active",
                published_at=now,
                expires_at=now + timedelta(days=60),
            )
            for _, seller in pairs
        ]
    )
    return Order.objects.bulk_create(
        [
            Order(
                listing=listing,
                buyer=buyer,
                seller=seller,
                price_minor=price_minor,
                fee_minor=500,
                currency="CNY",
                status=status,
                pay_by=closed,
                paid_at=closed,
                closed_at=closed,
                **extra,
            )
            for listing, (buyer, seller) in zip(listings, pairs, strict=True)
        ]
    )


def completed_order(buyer: Any, seller: Any, **kwargs: Any) -> Order:
    return completed_orders([(buyer, seller)], **kwargs)[0]


def hidden_review(order: Order, author: Any, rating: int, *, at: datetime | None = None) -> Review:
    """A written, not yet revealed review (optionally backdated)."""
    is_buyer = author.pk == order.buyer_id
    review = Review.objects.create(
        order=order,
        author=author,
        subject_id=order.seller_id if is_buyer else order.buyer_id,
        role="buyer" if is_buyer else "seller",
        rating=rating,
        comment="",
    )
    if at is not None:
        Review.objects.filter(pk=review.pk).update(created_at=at)
        review.created_at = at
    return review


def revealed_history(
    subject: Any, ratings: list[int], *, days_span: float, joined_days_ago: float = 800
) -> list[Review]:
    """`len(ratings)` different buyers each bought once from `subject` and
    left the given rating, spread evenly over the last `days_span` days,
    already revealed with the plain weight (value factor 1)."""
    now = timezone.now()
    buyers = make_users(len(ratings), prefix="hist", joined_days_ago=joined_days_ago)
    orders = completed_orders([(b, subject) for b in buyers], closed_at=now - timedelta(days=1))
    step = days_span / max(len(ratings), 1)
    reviews = [
        Review(
            order=order,
            author=buyer,
            subject=subject,
            role="buyer",
            rating=rating,
            visible_at=now,
            weight=1.0,
            weight_reasons=[{"code": "order_value", "factor": 1.0}],
        )
        for order, buyer, rating in zip(orders, buyers, ratings, strict=True)
    ]
    Review.objects.bulk_create(reviews)
    for i, review in enumerate(reviews):
        review.created_at = now - timedelta(days=1 + i * step)
    Review.objects.bulk_update(reviews, ["created_at"], batch_size=500)
    return reviews
