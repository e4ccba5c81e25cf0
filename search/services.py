"""Writes of the search app: saved searches and their alerts, index syncing."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from elasticsearch.dsl import MultiSearch, Q

from marketplace.errors import NotFound, ValidationFailed
from marketplace.ids import parse_uuid
from marketplace.notifications.models import Notification
from marketplace.notifications.services import notify
from search import indexing
from search.models import SavedSearch
from search.params import SearchParams, parse_search_params

logger = logging.getLogger(__name__)

MAX_SAVED_SEARCHES = 50
ALERT_BATCH = 50  # saved searches evaluated per msearch round trip
ALERT_MAX_PER_SEARCH = 20  # new matches notified per saved search per run
# Events reach the index a little after publication; look back this far so a
# listing indexed late is still seen (notifications are deduplicated).
ALERT_LOOKBACK = timedelta(minutes=10)


def sync_listing(*, listing_id: Any) -> str:
    """Make the index agree with the database about one listing (idempotent)."""
    return indexing.sync_listing(listing_id=listing_id)


def _fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()


def _known_categories() -> set[str]:
    from listings.selectors import category_list

    return {c.slug for c in category_list()}


def saved_search_create(
    *, user: Any, query: dict[str, Any], alert: bool = True, name: str = ""
) -> tuple[SavedSearch, bool]:
    """Save `query` (same parameters as GET /api/search) for `user`.

    Saving the same search again returns the existing one (and updates its
    alert flag). Returns (saved_search, created).
    """
    if not isinstance(query, dict):
        raise ValidationFailed({"query": ["An object with the search parameters."]})
    unknown = set(query) - {
        "q",
        "category",
        "condition",
        "min_price",
        "max_price",
        "lat",
        "lon",
        "radius_km",
        "ships",
        "pickup",
        "sort",
    }
    if unknown:
        raise ValidationFailed({"query": [f"Unknown parameter {sorted(unknown)[0]!r}."]})
    try:
        params = parse_search_params(query, known_categories=_known_categories())
    except ValidationFailed as exc:
        raise ValidationFailed({"query": [exc.message]}) from None
    filters = params.filters()
    if not filters:
        raise ValidationFailed({"query": ["Save a search with at least one term or filter."]})
    fingerprint = _fingerprint(filters)
    name = (name or params.q or params.category or "Saved search").strip()[:200]
    existing = SavedSearch.objects.filter(user=user, fingerprint=fingerprint).first()
    if existing is not None:
        if existing.alert != alert:
            existing.alert = alert
            existing.save(update_fields=["alert"])
        return existing, False
    if SavedSearch.objects.filter(user=user).count() >= MAX_SAVED_SEARCHES:
        raise ValidationFailed(f"You can keep at most {MAX_SAVED_SEARCHES} saved searches.")
    try:
        with transaction.atomic():
            saved = SavedSearch.objects.create(
                user=user,
                name=name,
                query=filters,
                fingerprint=fingerprint,
                alert=alert,
                checked_until=timezone.now(),
            )
    except IntegrityError:
        return SavedSearch.objects.get(user=user, fingerprint=fingerprint), False
    return saved, True


def saved_search_delete(*, user: Any, saved_search_id: Any) -> None:
    uid = parse_uuid(saved_search_id)
    deleted, _ = SavedSearch.objects.filter(id=uid, user=user).delete() if uid else (0, None)
    if not deleted:
        raise NotFound("No such saved search.")


def saved_search_alerts_run(*, now: Any = None) -> int:
    """Notify owners of saved searches about listings published since the
    last run. Batched: one msearch per ALERT_BATCH saved searches, never a
    query per listing per user. Idempotent (notifications carry dedupe keys).
    Returns the number of notifications written."""
    from search.selectors import _guard, build_search

    now = now or timezone.now()
    written = 0
    due = list(
        SavedSearch.objects.filter(alert=True, checked_until__lt=now)
        .select_related("user")
        .order_by("checked_until")[:5000]
    )
    for start in range(0, len(due), ALERT_BATCH):
        batch = due[start : start + ALERT_BATCH]
        multi = MultiSearch(using=indexing.get_client(), index=indexing.alias_name())
        for saved in batch:
            params = parse_search_params(saved.query)
            params.sort, params.page, params.page_size = "newest", 1, ALERT_MAX_PER_SEARCH
            since = saved.checked_until - ALERT_LOOKBACK
            s = build_search(params, with_facets=False)
            s = s.filter(Q("range", published_at={"gt": since.isoformat(), "lte": now.isoformat()}))
            s = s.exclude(Q("term", seller_id=str(saved.user_id)))
            multi = multi.add(s.source(["listing_id", "title"]))
        responses = _guard(multi.execute)
        for saved, response in zip(batch, responses, strict=True):
            for hit in response.hits:
                listing_id = hit.meta.id
                key = f"saved_search:{saved.id}:{listing_id}"
                if Notification.objects.filter(recipient_id=saved.user_id, dedupe_key=key).exists():
                    continue  # seen in an earlier (overlapping) run
                notify(
                    recipient=saved.user,
                    kind="saved_search_match",
                    payload={
                        "saved_search_id": str(saved.id),
                        "name": saved.name,
                        "listing_id": listing_id,
                        "title": getattr(hit, "title", ""),
                    },
                    link=f"/items/{listing_id}/",
                    dedupe_key=key,
                )
                written += 1
                saved.last_alerted_at = now
            saved.checked_until = now
            saved.save(update_fields=["checked_until", "last_alerted_at"])
    return written


def params_for(saved: SavedSearch) -> SearchParams:
    return parse_search_params(saved.query)
