"""Scoring what lives in the database: listings, accounts, chat messages.

These read the seller's figures (account age, listings, completed orders)
and hand a record to the model (`trust.fraud.model.get_model()`), which on a
fresh checkout trains itself once from generated data (see model.py).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from trust.fraud.model import Score, get_model


def seller_figures(user: Any) -> dict[str, Any]:
    """{account_age_days, listings_count, completed_orders[, reputation, reviews_count]}
    for a user, now. The review score is added once the seller has reviews."""
    from listings.selectors import seller_listing_count
    from trust.models import Order, OrderStatus
    from trust.reputation import reputation_summary

    joined = getattr(user, "date_joined", None) or timezone.now()
    figures: dict[str, Any] = {
        "account_age_days": max(0, (timezone.now() - joined).days),
        "listings_count": seller_listing_count(seller_id=user.pk),
        "completed_orders": Order.objects.filter(
            seller_id=user.pk, status=OrderStatus.COMPLETED
        ).count(),
    }
    # Through the reputation selector (the cached row), never the review tables.
    reputation = reputation_summary(user)
    if reputation["score"] is not None and reputation["reviews"]:
        figures["reputation"] = round(min(5.0, max(1.0, reputation["score"])), 2)
        figures["reviews_count"] = reputation["reviews"]
    return figures


def listing_record(listing: Any, figures: dict[str, int] | None = None) -> dict[str, Any]:
    """The model's record for a Listing row (the fraud_score line shape)."""
    return {
        "title": listing.title,
        "description": listing.description or "",
        "price": {"amount_minor": int(listing.price_minor), "currency": listing.price_currency},
        "category": listing.category.slug if listing.category_id else "other",
        "seller": figures if figures is not None else seller_figures(listing.seller),
    }


def score_listing(listing: Any) -> Score:
    """Score a listing with its seller's current figures."""
    return get_model().score_records([listing_record(listing)])[0]


def score_account(user: Any, *, recent: int = 20) -> Score:
    """An account's risk: the riskiest of its `recent` newest listings, scored
    with the account's figures (so velocity counts). An account with no
    listings scores as a fair-priced listing would: low."""
    from listings.selectors import seller_recent_listings

    figures = seller_figures(user)
    listings = seller_recent_listings(seller_id=user.pk, limit=recent)
    model = get_model()
    if not listings:
        return Score(score=0.0, reasons=[], version=model.version)
    scores = model.score_records([listing_record(item, figures) for item in listings])
    return max(scores, key=lambda s: s.score)


def score_message(text: str, context: dict[str, Any] | None = None) -> Score:
    """Score one chat message (context is accepted for future sender features)."""
    return get_model().score_texts([text or ""])[0]
