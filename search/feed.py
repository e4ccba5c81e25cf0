"""The "for you" feed: personal recommendations blended with fresh nearby listings.

Candidates, in order of trust:

1. `followed`: new listings (FEED_FOLLOWED_DAYS) from sellers the user follows;
2. `similar`: neighbours, in the stored co-occurrence table, of what the user
   viewed, favourited, asked about or offered on (search/recommend.py);
3. `category`: newest listings in the user's top categories within the price
   band of what they looked at (half to twice the median);
4. `nearby`: the freshest listings near `lat`/`lon` (or anywhere);
5. `popular`: most interest over the last two weeks, near `lat`/`lon` when given.

Personal candidates and fresh ones are interleaved two to one, popular ones
fill up. A user with no history (or an anonymous visitor) gets popular nearby
interleaved with fresh nearby: the cold start. Everything passes one filter
query: active listings only (never sold, reserved, withdrawn...), never the
user's own, never a seller the user blocked or was blocked by.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from listings import follows
from listings.models import Listing, ListingStatus
from marketplace.analytics import hooks
from marketplace.analytics import selectors as analytics
from search import recommend
from search.selectors import haversine_km

FEED_MAX = 200  # candidates ranked per request; pages beyond this end the feed
FEED_FOLLOWED_DAYS = 14
FEED_FRESH_DAYS = 7
DEFAULT_RADIUS_KM = 50.0


@dataclass
class FeedPage:
    items: list[tuple[uuid.UUID, str, float | None]]  # (listing id, reason, distance km)
    total: int
    has_next: bool


@dataclass
class _Context:
    user_id: Any
    lat: float | None
    lon: float | None
    radius_km: float

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


def _box(ctx: _Context) -> Q:
    """A bounding box around the point (cheap prefilter; exact distance after)."""
    if not ctx.has_point:
        return Q()
    assert ctx.lat is not None and ctx.lon is not None
    dlat = ctx.radius_km / 111.0
    dlon = ctx.radius_km / (111.0 * max(0.01, math.cos(math.radians(ctx.lat))))
    return Q(
        location_lat__gte=ctx.lat - dlat,
        location_lat__lte=ctx.lat + dlat,
        location_lon__gte=ctx.lon - dlon,
        location_lon__lte=ctx.lon + dlon,
    )


def _followed(ctx: _Context) -> list[uuid.UUID]:
    if ctx.user_id is None:
        return []
    sellers = follows.followed_seller_ids(user_id=ctx.user_id)
    if not sellers:
        return []
    since = timezone.now() - timedelta(days=FEED_FOLLOWED_DAYS)
    return list(
        Listing.objects.filter(
            seller_id__in=sellers, status=ListingStatus.ACTIVE, published_at__gte=since
        )
        .order_by("-published_at", "-id")
        .values_list("id", flat=True)[:50]
    )


def _personal(ctx: _Context) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(similar, category) candidates from the user's history."""
    if ctx.user_id is None:
        return [], []
    history = recommend.history_weights(analytics.user_history(user_id=ctx.user_id, limit=100))
    if not history:
        return [], []
    seen = list(dict.fromkeys(item for item, _ in history))
    neighbours = analytics.neighbours(item_ids=seen[:50])
    scores = recommend.score_candidates(history, neighbours)
    similar = [i for i, _ in sorted(scores.items(), key=lambda x: (-x[1], str(x[0])))][:FEED_MAX]

    rows = Listing.objects.filter(id__in=seen).values_list("id", "category_id", "price_minor")
    weight = dict(history[::-1])  # the most recent weight per item wins
    by_category: Counter[Any] = Counter()
    prices: dict[Any, list[int]] = defaultdict(list)
    for listing_id, category_id, price in rows:
        by_category[category_id] += weight.get(listing_id, 1.0)
        prices[category_id].append(price)
    band = Q(pk__in=[])
    for category_id, _ in by_category.most_common(3):
        median = statistics.median(prices[category_id])
        band |= Q(category_id=category_id, price_minor__gte=median // 2,
                  price_minor__lte=median * 2)
    category = list(
        Listing.objects.filter(band, status=ListingStatus.ACTIVE)
        .exclude(id__in=seen)
        .order_by("-published_at", "-id")
        .values_list("id", flat=True)[:60]
    )
    return similar, category


def _fresh(ctx: _Context) -> list[uuid.UUID]:
    since = timezone.now() - timedelta(days=FEED_FRESH_DAYS)
    return list(
        Listing.objects.filter(_box(ctx), status=ListingStatus.ACTIVE, published_at__gte=since)
        .order_by("-published_at", "-id")
        .values_list("id", flat=True)[:FEED_MAX]
    )


def _popular(ctx: _Context) -> list[uuid.UUID]:
    """Popularity is the same for everyone and an aggregate over the event
    log, so it is cached for FEED_POPULAR_CACHE_SECONDS (0 turns that off)."""
    ttl = getattr(settings, "FEED_POPULAR_CACHE_SECONDS", 60)
    key = "feed:popular"
    cached = cache.get(key) if ttl else None
    if cached is None:
        cached = [str(i) for i, _ in analytics.popular_listing_ids(limit=FEED_MAX * 2)]
        if ttl:
            cache.set(key, cached, ttl)
    return [uuid.UUID(i) for i in cached]


def _interleave(primary: list[Any], secondary: list[Any], ratio: int = 2) -> list[Any]:
    out: list[Any] = []
    p = s = 0
    while p < len(primary) or s < len(secondary):
        for _ in range(ratio):
            if p < len(primary):
                out.append(primary[p])
                p += 1
        if s < len(secondary):
            out.append(secondary[s])
            s += 1
    return out


def feed_ranked(*, user: Any, lat: float | None = None, lon: float | None = None,
                radius_km: float = DEFAULT_RADIUS_KM) -> list[tuple[uuid.UUID, str, float | None]]:
    """The whole ranked feed (up to FEED_MAX): (listing id, reason, distance km)."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    ctx = _Context(user_id=user_id, lat=lat, lon=lon, radius_km=radius_km)
    followed = _followed(ctx)
    similar, category = _personal(ctx)
    fresh = _fresh(ctx)
    popular = _popular(ctx)

    reason: dict[uuid.UUID, str] = {}
    for name, ids in (("followed", followed), ("similar", similar), ("category", category),
                      ("nearby", fresh), ("popular", popular)):
        for listing_id in ids:
            reason.setdefault(listing_id, name)
    personal = [i for i in dict.fromkeys([*followed, *similar, *category])]
    if personal:
        order = [*_interleave(personal, fresh), *popular]
    else:  # cold start: what people like around here, with what is new around here
        order = [*_interleave(popular, fresh), *fresh]

    # One filter query decides what may be shown at all.
    allowed = Listing.objects.filter(id__in=set(order), status=ListingStatus.ACTIVE)
    if user_id is not None:
        blocked = hooks.blocked_user_ids(user_id)
        allowed = allowed.exclude(seller_id=user_id).exclude(seller_id__in=blocked)
    where = {
        row[0]: row[1:]
        for row in allowed.values_list("id", "location_lat", "location_lon")
    }
    out: list[tuple[uuid.UUID, str, float | None]] = []
    done: set[uuid.UUID] = set()
    for listing_id in order:
        if listing_id in done or listing_id not in where:
            continue
        done.add(listing_id)
        lat2, lon2 = where[listing_id]
        distance = None
        if ctx.has_point and lat2 is not None and lon2 is not None:
            assert lat is not None and lon is not None
            distance = round(haversine_km(lat, lon, lat2, lon2), 1)
            # Only personal picks may come from further away.
            if distance > radius_km and reason[listing_id] in ("nearby", "popular"):
                continue
        out.append((listing_id, reason[listing_id], distance))
        if len(out) == FEED_MAX:
            break
    return out


def feed_page(*, user: Any, page: int, page_size: int, lat: float | None = None,
              lon: float | None = None, radius_km: float = DEFAULT_RADIUS_KM) -> FeedPage:
    ranked = feed_ranked(user=user, lat=lat, lon=lon, radius_km=radius_km)
    start = (page - 1) * page_size
    return FeedPage(
        items=ranked[start:start + page_size],
        total=len(ranked),
        has_next=start + page_size < len(ranked),
    )
