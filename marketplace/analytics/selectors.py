"""Reads over the event log for the recommender and dashboards."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from marketplace.analytics.models import Event, EventKind, ItemSimilarity

# Events that say "this person is interested in this listing".
INTEREST_KINDS = (
    EventKind.LISTING_VIEWED,
    EventKind.FAVOURITED,
    EventKind.CHAT_STARTED,
    EventKind.OFFER_MADE,
    EventKind.ORDER_PAID,
)
# How much each says, relative to a view.
INTEREST_WEIGHTS = {
    EventKind.LISTING_VIEWED: 1.0,
    EventKind.FAVOURITED: 3.0,
    EventKind.CHAT_STARTED: 4.0,
    EventKind.OFFER_MADE: 5.0,
    EventKind.ORDER_PAID: 5.0,
}


def user_history(*, user_id: Any, limit: int = 100) -> list[tuple[uuid.UUID, str]]:
    """The listings a user showed interest in, most recent first, with the kind."""
    rows = (
        Event.objects.filter(user_id=user_id, kind__in=INTEREST_KINDS, listing_id__isnull=False)
        .order_by("-at")
        .values_list("listing_id", "kind")[:limit]
    )
    return list(rows)


def user_searches(*, user_id: Any, limit: int = 20) -> list[str]:
    """The user's recent search texts (non-empty), most recent first."""
    rows = (
        Event.objects.filter(user_id=user_id, kind=EventKind.SEARCHED)
        .order_by("-at")
        .values_list("props", flat=True)[:limit]
    )
    return [str(p.get("q")) for p in rows if isinstance(p, dict) and p.get("q")]


def popular_listing_ids(*, days: int = 14, limit: int = 200) -> list[tuple[uuid.UUID, int]]:
    """Listings by weighted interest over the last `days` (views count once,
    favourites and conversations more)."""
    since = timezone.now() - timedelta(days=days)
    qs = (
        Event.objects.filter(at__gte=since, kind__in=INTEREST_KINDS, listing_id__isnull=False)
        .values("listing_id")
        .annotate(
            n=Count("id")
            + 2 * Count("id", filter=Q(kind=EventKind.FAVOURITED))
            + 3 * Count("id", filter=~Q(kind__in=[EventKind.LISTING_VIEWED, EventKind.FAVOURITED]))
        )
        .order_by("-n", "listing_id")[:limit]
    )
    return [(r["listing_id"], r["n"]) for r in qs]


def interest_sessions(*, days: int = 90, max_events: int = 500_000) -> list[list[uuid.UUID]]:
    """Who looked at what, as sessions: one per signed-in user (over the
    window) or per anonymous visitor-day (the visitor hash changes daily).
    Items in event order, repeats removed."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Event.objects.filter(at__gte=since, kind__in=INTEREST_KINDS, listing_id__isnull=False)
        .exclude(user_id__isnull=True, visitor="")
        .order_by("at")
        .values_list("user_id", "visitor", "listing_id")[:max_events]
    )
    sessions: dict[str, list[uuid.UUID]] = defaultdict(list)
    seen: dict[str, set[uuid.UUID]] = defaultdict(set)
    for user_id, visitor, listing_id in rows.iterator(chunk_size=5000):
        key = f"u:{user_id}" if user_id else f"v:{visitor}"
        if listing_id not in seen[key]:
            seen[key].add(listing_id)
            sessions[key].append(listing_id)
    return list(sessions.values())


Neighbours = dict[uuid.UUID, list[tuple[uuid.UUID, float]]]


def neighbours(*, item_ids: list[Any], per_item: int = 30) -> Neighbours:
    """The stored most-similar items of each given item, best first."""
    out: Neighbours = defaultdict(list)
    if not item_ids:
        return out
    rows = (
        ItemSimilarity.objects.filter(item_id__in=item_ids)
        .order_by("item_id", "-score")
        .values_list("item_id", "neighbour_id", "score")
    )
    for item, neighbour, score in rows:
        if len(out[item]) < per_item:
            out[item].append((neighbour, score))
    return out
