"""Every write about listings: create, edit, the lifecycle, photos, favourites.

Lifecycle (DESIGN.md)::

    draft --publish--> active --reserve--> reserved --mark_sold--> sold
      |        \\                  ^   <--release--
      |         `--(held)--> pending_review --approve--> active
      |                              `--reject--> withdrawn
      `--withdraw--> withdrawn <--withdraw-- active --expire--> expired
                     withdrawn / expired --relist--> active (or pending_review)

Locking contract: every transition takes the Listing row lock itself
(`SELECT ... FOR UPDATE` on that one row, inside its own
`transaction.atomic()`), re-reads the state under the lock and decides from
that, so two racing requests cannot both act on a stale state. Callers may
already be inside a transaction; they must not hold locks on other listings
taken in a different order.

Idempotency: repeating a transition whose target state the listing is already
in is a no-op that returns the listing (a retried publish is harmless); any
other illegal transition raises InvalidState carrying the current state
(HTTP 409 with "state"). Each real transition writes an outbox event
(`listings.events`) in the same transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from listings import attributes as attribute_schema
from listings import events, photos, selectors, viewcounts
from listings.models import (
    PUBLIC_STATUSES,
    Category,
    Condition,
    Favourite,
    Listing,
    ListingStatus,
    Photo,
)
from marketplace.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from marketplace.ids import parse_uuid
from marketplace.money import Money, MoneyError
from marketplace.outbox.services import publish
from marketplace.sql import prepared_cursor

logger = logging.getLogger(__name__)

TITLE_MIN, TITLE_MAX = 3, 120
DESCRIPTION_MAX = 5000
CITY_MAX = 100
# 1 billion in major units: far above anything second-hand, far below bigint.
PRICE_MAX_MINOR = 100_000_000_000
EDITABLE_FIELDS = (
    "title", "description", "category", "condition", "price", "negotiable",
    "location", "shipping", "attributes",
)
# A listing with an open order (reserved) or a finished one (sold) keeps the
# terms the buyer agreed to.
EDITABLE_STATUSES = frozenset({
    ListingStatus.DRAFT, ListingStatus.PENDING_REVIEW, ListingStatus.ACTIVE,
    ListingStatus.WITHDRAWN, ListingStatus.EXPIRED,
})

S = ListingStatus

# --- publish checks (fraud model, rules) ------------------------------------------------

PublishCheck = Callable[[Listing], tuple[float | None, list[str]]]
_publish_checks: dict[str, PublishCheck] = {}


def register_publish_check(check: PublishCheck, *, name: str | None = None) -> PublishCheck:
    """Add a check run when a listing is published or relisted.

    `check(listing)` returns `(score, reasons)`: a risk score in 0..1 (or
    None when it has no opinion) and human-readable reasons. The highest
    score decides: above settings.FRAUD_HOLD_THRESHOLD the listing is held
    in `pending_review` for moderation. trust registers its fraud model here
    at start-up, so listings never imports trust. Registering the same name
    again replaces the earlier check.
    """
    _publish_checks[name or f"{check.__module__}.{check.__qualname__}"] = check
    return check


def unregister_publish_check(name: str) -> None:
    _publish_checks.pop(name, None)


def publish_checks_run(*, listing: Listing) -> tuple[float | None, list[str]]:
    """(highest score, all reasons) of the registered checks.

    A check that crashes is logged and ignored: a broken model must not stop
    everybody from selling (the fraud scorer also sees every event later).
    """
    score: float | None = None
    reasons: list[str] = []
    for name, check in list(_publish_checks.items()):
        try:
            result_score, result_reasons = check(listing)
        except Exception:
            logger.exception("listings: publish check %s failed; ignoring it", name)
            continue
        if result_score is not None and (score is None or result_score > score):
            score = float(result_score)
        reasons.extend(str(r) for r in result_reasons or [])
    return score, reasons


def _is_held(score: float | None) -> bool:
    return score is not None and score > settings.FRAUD_HOLD_THRESHOLD


# --- helpers -------------------------------------------------------------------------------


def _expiry_from(now: datetime) -> datetime:
    return now + timedelta(days=settings.LISTING_EXPIRY_DAYS)


def _payload(listing: Listing, previous_status: str | None, **extra: Any) -> dict[str, Any]:
    # `_move` read the slug with the row; elsewhere the category was joined.
    slug = getattr(listing, "category_slug", None)
    if slug is None and listing.category_id:
        slug = listing.category.slug
    return {
        "listing_id": str(listing.id),
        "seller_id": str(listing.seller_id),
        "status": listing.status,
        "previous_status": previous_status,
        "category": slug,
        "at": timezone.now().isoformat(),
        **extra,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _lock(listing: Listing | Any) -> Listing:
    """Lock and re-read the listing row (call inside transaction.atomic)."""
    listing_id = listing.pk if isinstance(listing, Listing) else listing
    locked = (
        Listing.objects.select_for_update(of=("self",))
        .select_related("category")
        .filter(pk=listing_id)
        .first()
    )
    if locked is None:
        raise NotFound("No such listing.")
    return locked


def _lock_for_seller(listing: Listing | Any, actor: Any) -> Listing:
    """Lock the listing for an owner-only action by `actor`.

    Someone who may not even see it gets NotFound; someone who can see it
    (a public listing, or a moderator) but does not own it gets NotAllowed.
    """
    locked = _lock(listing)
    _check_seller(locked, actor)
    return locked


def _check_seller(listing: Listing, actor: Any) -> None:
    if actor is not None and actor.is_authenticated and listing.seller_id == actor.pk:
        return
    if not selectors.listing_visible_to(listing=listing, user=actor):
        raise NotFound("No such listing.")
    raise NotAllowed("Only the seller can do this.")


def _refuse(listing: Listing, action: str) -> InvalidState:
    return InvalidState(
        f"Cannot {action} a listing that is {listing.status.replace('_', ' ')}.",
        state=listing.status,
    )


def _set_status(listing: Listing, status: str, now: datetime) -> str:
    previous = listing.status
    listing.status = status
    listing.status_changed_at = now
    return previous


# --- field validation -------------------------------------------------------------------


def _clean_title(value: Any) -> str:
    if not isinstance(value, str) or not TITLE_MIN <= len(value.strip()) <= TITLE_MAX:
        raise ValueError(f"Enter {TITLE_MIN} to {TITLE_MAX} characters.")
    return value.strip()


def _clean_description(value: Any) -> str:
    value = "" if value is None else value
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"At most {DESCRIPTION_MAX} characters.")
    return value.strip()


def _clean_category(value: Any) -> Category:
    if isinstance(value, Category):
        return value
    category = selectors.category_get(slug=value) if isinstance(value, str) else None
    if category is None:
        raise ValueError(f"Unknown category {value!r}.")
    return category


def _clean_condition(value: Any) -> str:
    if value not in Condition.values:
        raise ValueError(f"Choose one of {', '.join(Condition.values)}.")
    return value


def _clean_price(value: Any) -> Money:
    if isinstance(value, dict):
        try:
            value = Money.from_dict(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
    if not isinstance(value, Money):
        raise ValueError('Expected {"amount_minor": <integer>, "currency": "<code>"}.')
    currency = settings.MARKETPLACE_CURRENCY
    if value.currency != currency:
        raise ValueError(f"Prices on this marketplace are in {currency}, not {value.currency}.")
    if value.amount_minor <= 0:
        raise ValueError("The price must be more than zero.")
    if value.amount_minor > PRICE_MAX_MINOR:
        raise ValueError("The price is too high.")
    return value


def _clean_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Expected true or false.")
    return value


def _coordinate(value: Any, name: str, limit: int) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number.")
    value = float(value)
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise ValueError(f"{name}: must be between -{limit} and {limit}.")
    return value


def _clean_location(value: Any) -> dict[str, Any]:
    """{lat, lon, city}; lat and lon come together or not at all."""
    if value is None:
        return {"lat": None, "lon": None, "city": ""}
    if not isinstance(value, dict):
        raise ValueError("Expected {\"lat\", \"lon\", \"city\"}.")
    lat = _coordinate(value.get("lat"), "lat", 90)
    lon = _coordinate(value.get("lon"), "lon", 180)
    if (lat is None) != (lon is None):
        raise ValueError("Give both lat and lon, or neither.")
    city = value.get("city") or ""
    if not isinstance(city, str) or len(city.strip()) > CITY_MAX:
        raise ValueError(f"city: text of at most {CITY_MAX} characters.")
    return {"lat": lat, "lon": lon, "city": city.strip()}


def _clean_shipping(value: Any) -> dict[str, bool]:
    if value is None:
        return {"ships": False, "pickup": True}
    if not isinstance(value, dict):
        raise ValueError("Expected {\"ships\": true|false, \"pickup\": true|false}.")
    cleaned = {}
    for key in ("ships", "pickup"):
        option = value.get(key, False)
        if not isinstance(option, bool):
            raise ValueError(f"{key}: expected true or false.")
        cleaned[key] = option
    return cleaned


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "title": _clean_title,
    "description": _clean_description,
    "category": _clean_category,
    "condition": _clean_condition,
    "price": _clean_price,
    "negotiable": _clean_bool,
    "location": _clean_location,
    "shipping": _clean_shipping,
}


def _clean_fields(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean every given field; collect one message list per bad field."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        cleaner = _CLEANERS.get(name)
        if cleaner is None:
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return cleaned, errors


def _apply(listing: Listing, cleaned: dict[str, Any]) -> list[str]:
    """Copy cleaned values onto the listing; return the names that changed."""
    changed = []

    def put(name: str, attr: str, value: Any) -> None:
        if getattr(listing, attr) != value:
            setattr(listing, attr, value)
            if name not in changed:
                changed.append(name)

    for name, value in cleaned.items():
        if name == "price":
            put("price", "price_minor", value.amount_minor)
            put("price", "price_currency", value.currency)
        elif name == "category":
            if listing.category_id != value.id:
                listing.category = value
                changed.append("category")
        elif name == "location":
            put("location", "location_lat", value["lat"])
            put("location", "location_lon", value["lon"])
            put("location", "location_city", value["city"])
        elif name == "shipping":
            put("shipping", "ships", value["ships"])
            put("shipping", "pickup", value["pickup"])
        else:
            put(name, name, value)
    return changed


def _publish_problems(listing: Listing) -> dict[str, list[str]]:
    """What keeps a listing from going (or staying) live, per field."""
    problems: dict[str, list[str]] = {}
    schema = selectors.category_schema(category=listing.category)
    values, messages = attribute_schema.clean_attributes(
        schema, listing.attributes, category_slug=listing.category.slug
    )
    messages += attribute_schema.missing_required(schema, values)
    if messages:
        problems["attributes"] = messages
    if listing.location_lat is None or listing.location_lon is None or not listing.location_city:
        problems["location"] = ["A city and a map position (lat, lon) are needed to publish."]
    if not (listing.ships or listing.pickup):
        problems["shipping"] = ["Offer shipping, pickup or both."]
    return problems


def _check_publishable(listing: Listing) -> None:
    problems = _publish_problems(listing)
    if problems:
        raise ValidationFailed(problems, code="incomplete")


# --- create, edit, delete -----------------------------------------------------------------


def listing_create(
    *,
    seller: Any,
    title: str,
    category: str | Category,
    condition: str,
    price: Money | dict[str, Any],
    description: str = "",
    negotiable: bool = False,
    location: dict[str, Any] | None = None,
    shipping: dict[str, bool] | None = None,
    attributes: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Listing:
    """Create a draft listing for `seller`.

    Every field is checked (a message per bad field, attributes named);
    required attributes, the location and a shipping option are only
    demanded at publish, so a draft may be saved half-done. With an
    `idempotency_key`, a repeated call by the same seller returns the first
    listing instead of creating another.
    """
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key)[:100]
        existing = Listing.objects.filter(seller=seller, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    cleaned, errors = _clean_fields({
        "title": title, "description": description, "category": category,
        "condition": condition, "price": price, "negotiable": negotiable,
        "location": location, "shipping": shipping,
    })
    values: dict[str, Any] = {}
    if "category" in cleaned:
        schema = selectors.category_schema(category=cleaned["category"])
        values, messages = attribute_schema.clean_attributes(
            schema, attributes, category_slug=cleaned["category"].slug
        )
        if messages:
            errors["attributes"] = messages
    if errors:
        raise ValidationFailed(errors)

    listing = Listing(seller=seller, attributes=values, idempotency_key=idempotency_key)
    _apply(listing, cleaned)
    try:
        with transaction.atomic():
            listing.save(force_insert=True)
            publish(topic=events.LISTING_CREATED, payload=_payload(listing, None))
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent retry with the same key won the race: answer with its listing.
        return Listing.objects.get(seller=seller, idempotency_key=idempotency_key)
    return listing


def listing_update(*, listing: Listing, actor: Any, **fields: Any) -> Listing:
    """Edit a listing (PATCH semantics: only the given fields change).

    Takes the listing row lock. `attributes` replaces the whole set. An
    active (or held) listing must stay complete. A lower price on an active
    listing also announces `price_dropped`, which notifies favouriters.
    Reserved and sold listings cannot be edited (409).
    """
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed({name: ["This field cannot be changed."] for name in unknown})
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status not in EDITABLE_STATUSES:
            raise _refuse(locked, "edit")
        cleaned, errors = _clean_fields(fields)
        category = cleaned.get("category", locked.category)
        if "attributes" in fields or "category" in cleaned:
            schema = selectors.category_schema(category=category)
            raw = fields["attributes"] if "attributes" in fields else locked.attributes
            values, messages = attribute_schema.clean_attributes(
                schema, raw, category_slug=category.slug
            )
            if messages:
                errors["attributes"] = messages
            else:
                cleaned["attributes"] = values
        if errors:
            raise ValidationFailed(errors)

        old_price = locked.price
        changed = _apply(locked, cleaned)
        if not changed:
            return locked
        if locked.status in (S.ACTIVE, S.PENDING_REVIEW):
            _check_publishable(locked)
        locked.save()
        publish(topic=events.LISTING_UPDATED,
                payload=_payload(locked, locked.status, changed=changed))
        new_price = locked.price
        if locked.status == S.ACTIVE and "price" in changed and new_price < old_price:
            publish(topic=events.PRICE_DROPPED, payload=_payload(
                locked, locked.status, title=locked.title,
                old_price=old_price.to_dict(), new_price=new_price.to_dict(),
            ))
    return locked


def listing_delete(*, listing: Listing, actor: Any) -> None:
    """Delete a draft and its photos (files removed after commit). Takes the row lock."""
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status != S.DRAFT:
            raise _refuse(locked, "delete")
        names = _photo_file_names(Photo.objects.filter(listing=locked))
        payload = _payload(locked, locked.status)
        locked.delete()
        publish(topic=events.LISTING_DELETED, payload={**payload, "status": "deleted"})
        transaction.on_commit(lambda: _delete_files(names))


# --- lifecycle -------------------------------------------------------------------------------


def _go_live_or_hold(locked: Listing, *, now: datetime, topic: str) -> None:
    """Run the publish checks; make the listing active or hold it for review."""
    _check_publishable(locked)
    score, reasons = publish_checks_run(listing=locked)
    locked.fraud_score, locked.fraud_reasons = score, reasons
    previous = locked.status
    if _is_held(score):
        _set_status(locked, S.PENDING_REVIEW, now)
        locked.save()
        publish(topic=events.LISTING_HELD,
                payload=_payload(locked, previous, score=score, reasons=reasons))
        return
    _set_status(locked, S.ACTIVE, now)
    locked.published_at = now
    locked.expires_at = _expiry_from(now)
    locked.save()
    publish(topic=topic, payload=_payload(
        locked, previous, published_at=_iso(locked.published_at),
        expires_at=_iso(locked.expires_at),
    ))


def listing_publish(*, listing: Listing, actor: Any) -> Listing:
    """draft -> active, or -> pending_review when a publish check holds it.

    Takes the row lock. The listing must be complete (400 naming what is
    missing). Publishing an active or held listing again changes nothing.
    """
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status in (S.ACTIVE, S.PENDING_REVIEW):
            return locked
        if locked.status != S.DRAFT:
            raise _refuse(locked, "publish")
        _go_live_or_hold(locked, now=timezone.now(), topic=events.LISTING_PUBLISHED)
    return locked


def listing_relist(*, listing: Listing, actor: Any) -> Listing:
    """withdrawn / expired -> active (new published_at and expires_at), or
    pending_review when a publish check holds it. Takes the row lock.

    A listing a moderator removed cannot be relisted (403: appeal instead).
    """
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status == S.ACTIVE:
            return locked
        if locked.status not in (S.WITHDRAWN, S.EXPIRED):
            raise _refuse(locked, "relist")
        if locked.removed_by_moderator:
            raise NotAllowed("A moderator removed this listing; it cannot be relisted.")
        _go_live_or_hold(locked, now=timezone.now(), topic=events.LISTING_RELISTED)
    return locked


def listing_withdraw(*, listing: Listing, actor: Any) -> Listing:
    """draft / pending_review / active -> withdrawn, by the seller. Takes the row lock."""
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status == S.WITHDRAWN:
            return locked
        if locked.status not in (S.DRAFT, S.PENDING_REVIEW, S.ACTIVE):
            raise _refuse(locked, "withdraw")
        previous = _set_status(locked, S.WITHDRAWN, timezone.now())
        locked.save()
        publish(topic=events.LISTING_WITHDRAWN, payload=_payload(locked, previous))
    return locked


def _require_moderator(actor: Any) -> None:
    if not selectors.user_is_moderator(actor):
        raise NotAllowed("Only moderators can do this.")


def listing_approve(*, listing: Listing, actor: Any) -> Listing:
    """pending_review -> active, by a moderator. Takes the row lock."""
    _require_moderator(actor)
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.ACTIVE:
            return locked
        if locked.status != S.PENDING_REVIEW:
            raise _refuse(locked, "approve")
        _go_live_for_moderator(locked, actor)
    return locked


def _go_live_for_moderator(locked: Listing, actor: Any) -> None:
    """A moderator puts a listing (row locked by the caller) live: a fresh
    publication date and expiry, and `listing_approved` for search and others."""
    now = timezone.now()
    previous = _set_status(locked, S.ACTIVE, now)
    locked.published_at = now
    locked.expires_at = _expiry_from(now)
    locked.save()
    publish(topic=events.LISTING_APPROVED, payload=_payload(
        locked, previous, actor_id=str(actor.pk), published_at=_iso(now),
        expires_at=_iso(locked.expires_at),
    ))


def listing_reject(*, listing: Listing, actor: Any, reason: str = "") -> Listing:
    """pending_review (or active) -> withdrawn, by a moderator; the seller
    cannot relist it afterwards. Takes the row lock."""
    _require_moderator(actor)
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.WITHDRAWN and locked.removed_by_moderator:
            return locked
        if locked.status not in (S.PENDING_REVIEW, S.ACTIVE, S.WITHDRAWN):
            raise _refuse(locked, "reject")
        previous = _set_status(locked, S.WITHDRAWN, timezone.now())
        locked.removed_by_moderator = True
        locked.save()
        publish(topic=events.LISTING_REJECTED, payload=_payload(
            locked, previous, actor_id=str(actor.pk), reason=reason[:1000],
        ))
    return locked


def listing_hold(*, listing: Listing, score: float | None, reasons: list[str]) -> Listing:
    """active -> pending_review on a later signal (trust re-scoring an edited
    listing, a flood of reports). Takes the row lock; a held listing stays held."""
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.PENDING_REVIEW:
            return locked
        if locked.status != S.ACTIVE:
            raise _refuse(locked, "hold")
        previous = _set_status(locked, S.PENDING_REVIEW, timezone.now())
        locked.fraud_score, locked.fraud_reasons = score, list(reasons)
        locked.save()
        publish(topic=events.LISTING_HELD,
                payload=_payload(locked, previous, score=score, reasons=list(reasons)))
    return locked


def _move(
    listing_id: Any, *, source: str, target: str, reserved_by: str, now: datetime,
    set_reserved_by: str | None = None,
) -> Listing | None:
    """The common case of a system transition in one statement: a conditional
    `UPDATE ... RETURNING` takes the row lock, checks the state (PostgreSQL
    re-checks the condition on the latest row version if another transaction
    changed it meanwhile) and writes only the lifecycle columns. Returns the
    updated listing, or None when the row is not in `source` (held by
    `reserved_by`): nothing changed, and the caller takes the locking path,
    which answers no-ops and refusals as before."""
    if connection.vendor != "postgresql":
        return None
    fields = Listing._meta.concrete_fields
    columns = ", ".join(f'l."{f.column}"' for f in fields)
    assignments = "status = %s, status_changed_at = %s, updated_at = %s"
    params: list[Any] = [target, now, now]
    if set_reserved_by is not None:
        assignments += ", reserved_by = %s"
        params.append(set_reserved_by)
    params += [listing_id, source, reserved_by]
    sql = (
        f"UPDATE {Listing._meta.db_table} l SET {assignments} "  # noqa: S608 - names from model metadata
        "WHERE l.id = %s AND l.status = %s AND l.reserved_by = %s "
        f"RETURNING {columns}, (SELECT c.slug FROM {Category._meta.db_table} c "
        "WHERE c.id = l.category_id)"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(fields, row, strict=False)
    ]
    moved = Listing.from_db(connection.alias, [f.attname for f in fields], values)
    moved.category_slug = row[-1]
    return moved


def listing_reserve(*, listing: Listing, order_ref: str) -> Listing:
    """active -> reserved for the order `order_ref` (called by the orders app,
    which has checked the buyer). Takes the row lock. The same order
    reserving again is a no-op; another order gets 409 "reserved"."""
    order_ref = str(order_ref)
    with transaction.atomic(savepoint=False):
        moved = _move(listing.pk, source=S.ACTIVE, target=S.RESERVED, reserved_by="",
                      set_reserved_by=order_ref, now=timezone.now())
        if moved is not None:
            publish(topic=events.LISTING_RESERVED,
                    payload=_payload(moved, S.ACTIVE, order_ref=order_ref))
            return moved
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.RESERVED and locked.reserved_by == order_ref:
            return locked
        if locked.status != S.ACTIVE:
            raise _refuse(locked, "reserve")
        previous = _set_status(locked, S.RESERVED, timezone.now())
        locked.reserved_by = order_ref
        locked.save()
        publish(topic=events.LISTING_RESERVED,
                payload=_payload(locked, previous, order_ref=order_ref))
    return locked


def listing_release_reservation(*, listing: Listing, order_ref: str) -> Listing:
    """reserved -> active when the order `order_ref` is cancelled. Takes the
    row lock. If the listing would already have expired, it gets a fresh
    expiry period (the seller lost that time to the order)."""
    order_ref = str(order_ref)
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.ACTIVE:
            return locked
        if locked.status != S.RESERVED:
            raise _refuse(locked, "release")
        if locked.reserved_by != order_ref:
            raise InvalidState("The listing is reserved by another order.", state=locked.status)
        now = timezone.now()
        previous = _set_status(locked, S.ACTIVE, now)
        locked.reserved_by = ""
        if locked.expires_at is None or locked.expires_at <= now:
            locked.expires_at = _expiry_from(now)
        locked.save()
        publish(topic=events.LISTING_RESERVATION_RELEASED,
                payload=_payload(locked, previous, order_ref=order_ref))
    return locked


def listing_mark_sold(*, listing: Listing, order_ref: str) -> Listing:
    """reserved -> sold by the order holding it. Takes the row lock."""
    order_ref = str(order_ref)
    with transaction.atomic(savepoint=False):
        moved = _move(listing.pk, source=S.RESERVED, target=S.SOLD, reserved_by=order_ref,
                      now=timezone.now())
        if moved is not None:
            publish(topic=events.LISTING_SOLD,
                    payload=_payload(moved, S.RESERVED, order_ref=order_ref))
            return moved
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.SOLD and locked.reserved_by == order_ref:
            return locked
        if locked.status != S.RESERVED:
            raise _refuse(locked, "mark sold")
        if locked.reserved_by != order_ref:
            raise InvalidState("The listing is reserved by another order.", state=locked.status)
        previous = _set_status(locked, S.SOLD, timezone.now())
        locked.save()
        publish(topic=events.LISTING_SOLD,
                payload=_payload(locked, previous, order_ref=order_ref))
    return locked


def listing_expire(*, listing: Listing, now: datetime | None = None) -> Listing:
    """active -> expired once `expires_at` has passed. Takes the row lock.
    An expired listing stays expired; one not yet due is refused (409)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.EXPIRED:
            return locked
        if locked.status != S.ACTIVE:
            raise _refuse(locked, "expire")
        if locked.expires_at is None or locked.expires_at > now:
            raise InvalidState("The listing is not due to expire yet.", state=locked.status)
        previous = _set_status(locked, S.EXPIRED, now)
        locked.save()
        publish(topic=events.LISTING_EXPIRED,
                payload=_payload(locked, previous, expires_at=_iso(locked.expires_at)))
    return locked


def listings_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every active listing past its `expires_at`; returns how many.

    Each listing is its own short transaction, so one bad row or a race with
    an order does not hold back the rest; safe to run twice.
    """
    now = now or timezone.now()
    expired = 0
    skipped: set[Any] = set()
    while True:
        due = [i for i in selectors.listing_ids_due_for_expiry(now=now, limit=batch_size)
               if i not in skipped]
        if not due:
            return expired
        for listing_id in due:
            try:
                listing_expire(listing=listing_id, now=now)
                expired += 1
            except (InvalidState, NotFound):
                skipped.add(listing_id)  # reserved or relisted meanwhile


def _detail_sql() -> str:
    """One round trip for the detail read: count the view (public listings,
    not the seller) in a data-modifying CTE, and fetch the listing with its
    seller, category, the caller's favourite flag and the photos as JSON."""
    from django.contrib.auth import get_user_model

    listing_table = Listing._meta.db_table
    # Only table names from model metadata are interpolated; values are bound.
    return f"""
        WITH bump AS (
            UPDATE {listing_table} SET view_count = view_count + 1
            WHERE %(count)s AND id = %(id)s AND status IN ('active', 'reserved', 'sold')
              AND seller_id IS DISTINCT FROM %(viewer)s
            RETURNING view_count
        )
        SELECT l.id, l.seller_id, l.title, l.description, l.condition, l.price_minor,
               l.price_currency, l.negotiable, l.location_lat, l.location_lon,
               l.location_city, l.ships, l.pickup, l.attributes, l.status, l.created_at,
               l.updated_at, l.published_at, l.expires_at,
               COALESCE((SELECT view_count FROM bump), l.view_count), l.favorites_count,
               l.fraud_score, l.fraud_reasons, u.username, u.display_name, c.slug,
               EXISTS (SELECT 1 FROM {Favourite._meta.db_table} f
                       WHERE f.listing_id = l.id AND f.user_id = %(viewer)s),
               (SELECT json_agg(json_build_array(p.id, p.position, p.image, p.thumbnail,
                                                 p.medium, p.width, p.height)
                                ORDER BY p.position, p.created_at)
                  FROM {Photo._meta.db_table} p WHERE p.listing_id = l.id)
        FROM {listing_table} l
        JOIN {get_user_model()._meta.db_table} u ON u.id = l.seller_id
        JOIN {Category._meta.db_table} c ON c.id = l.category_id
        WHERE l.id = %(id)s
    """  # noqa: S608


_DETAIL_SQL: list[str] = []  # built on first use (models must be loaded)


def listing_view(*, listing_id: Any, viewer: Any, count: bool = True) -> selectors.ListingDetail:
    """A listing's detail as `viewer` may see it, counting the view.

    The hottest read of the marketplace, so on PostgreSQL it is a single
    statement (the counter increment rides along in a CTE and only touches
    public listings viewed by someone other than the seller). The access rules
    are those of `selectors.listing_get_for_user`: NotFound for what the
    viewer may not see, and such a listing's counter is never touched. No
    lock is taken; the counter is a plain `view_count + 1`. Other databases
    (the embedded SQLite) take the ORM path with the same result.
    """
    uid = parse_uuid(listing_id)
    if uid is None:
        raise NotFound("No such listing.")
    if connection.vendor == "postgresql":
        return _listing_view_sql(uid, viewer, count)
    return _listing_view_orm(uid, viewer, count)


def _listing_view_orm(listing_id: Any, viewer: Any, count: bool) -> selectors.ListingDetail:
    listing = selectors.listing_get_for_user(listing_id=listing_id, user=viewer)
    if count:
        listing_record_view(listing=listing, viewer=viewer)
    return selectors.listing_detail_from_model(listing=listing, user=viewer)


def _listing_view_sql(listing_id: Any, viewer: Any, count: bool) -> selectors.ListingDetail:
    if not _DETAIL_SQL:
        _DETAIL_SQL.append(_detail_sql())
    viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None
    # With the Redis buffer the statement only reads (no commit to wait for).
    buffered = count and viewcounts.buffer_client() is not None
    # Prepared once per connection: parsing and planning cost PostgreSQL about
    # twice what running the detail statement does (1.7 -> 0.5 ms of server CPU).
    with prepared_cursor() as cursor:
        cursor.execute(_DETAIL_SQL[0], {"id": listing_id, "viewer": viewer_id,
                                        "count": count and not buffered})
        row = cursor.fetchone()
    detail = selectors.listing_detail_from_row(row, user=viewer) if row else None
    if detail is None:
        raise NotFound("No such listing.")
    if buffered and detail.status in PUBLIC_STATUSES:
        if detail.seller_id != viewer_id:
            pending = viewcounts.buffer_view(detail.id)
            if pending is None:  # Redis away: count in the database instead
                Listing.objects.filter(pk=detail.id).update(view_count=F("view_count") + 1)
                pending = 1
        else:  # the seller's own look is not a view, but they see the buffered ones
            pending = viewcounts.buffered_views(detail.id)
        detail = dataclasses.replace(detail, view_count=detail.view_count + pending)
    return detail


def listing_record_view(*, listing: Listing, viewer: Any) -> None:
    """Count a view by anyone but the seller: one UPDATE with F(), no lock."""
    if listing.status not in PUBLIC_STATUSES:
        return
    if viewer is not None and viewer.is_authenticated and viewer.pk == listing.seller_id:
        return
    Listing.objects.filter(pk=listing.pk).update(view_count=F("view_count") + 1)
    listing.view_count += 1


# --- favourites and price drops ------------------------------------------------------------


def favourite_add(*, listing: Listing, user: Any) -> bool:
    """`user` favourites a listing they can see; True when newly added.

    Idempotent (a unique constraint, not check-then-insert). Your own listing
    is a 400; a listing that is not public (a draft a moderator sees) is 409.
    """
    if not selectors.listing_visible_to(listing=listing, user=user):
        raise NotFound("No such listing.")
    if listing.seller_id == user.pk:
        raise ValidationFailed({"listing": ["You cannot favourite your own listing."]})
    if listing.status not in PUBLIC_STATUSES:
        raise _refuse(listing, "favourite")
    with transaction.atomic():
        _, created = Favourite.objects.get_or_create(user=user, listing_id=listing.pk)
        if created:
            Listing.objects.filter(pk=listing.pk).update(favorites_count=F("favorites_count") + 1)
    return created


def favourite_remove(*, listing_id: Any, user: Any) -> bool:
    """Remove a favourite; True when one was removed. Works even when the listing
    is no longer visible (withdrawn), so nobody is stuck with it."""
    with transaction.atomic():
        deleted, _ = Favourite.objects.filter(user=user, listing_id=listing_id).delete()
        if deleted:
            Listing.objects.filter(pk=listing_id, favorites_count__gt=0).update(
                favorites_count=F("favorites_count") - 1
            )
    return bool(deleted)


def price_drop_notify(*, payload: dict[str, Any]) -> int:
    """Notify each favouriter of a price drop once (the outbox handler).

    Skipped when the listing is no longer active or the price went up again
    meanwhile: a stale "now cheaper" is worse than none. Returns how many
    users were notified.
    """
    from marketplace.notifications.services import notify

    listing = Listing.objects.filter(pk=payload["listing_id"]).first()
    new_price = Money.from_dict(payload["new_price"])
    if listing is None or listing.status != S.ACTIVE:
        return 0
    if listing.price_currency != new_price.currency or listing.price_minor > new_price.amount_minor:
        return 0
    count = 0
    for user in selectors.favouriters_of(listing_id=listing.pk):
        notify(
            recipient=user,
            kind="price_drop",
            payload={
                "listing_id": str(listing.pk),
                "title": payload.get("title") or listing.title,
                "old_price": payload["old_price"],
                "new_price": payload["new_price"],
            },
            link=f"/items/{listing.pk}/",
            dedupe_key=f"price_drop:{listing.pk}:{new_price.amount_minor}",
        )
        count += 1
    return count


# --- photos ----------------------------------------------------------------------------------


def _photo_file_names(qs: Any) -> list[str]:
    names: list[str] = []
    for image, thumbnail, medium in qs.values_list("image", "thumbnail", "medium"):
        # A small photo's sizes may be the original itself: delete each file once.
        names.extend(n for n in dict.fromkeys((image, thumbnail, medium)) if n)
    return names


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception as exc:  # noqa: BLE001 - an orphan file is not worth a failed request
            logger.warning("listings: could not delete %s: %s", name, exc)


def _enqueue_photo_variants(photo_id: Any) -> None:
    """Ask Celery for the smaller sizes; a broker outage must not fail the
    upload (the backfill task picks forgotten photos up later)."""
    from listings.tasks import make_photo_variants

    try:
        make_photo_variants.delay(str(photo_id))
    except Exception as exc:  # noqa: BLE001 - broker down, or an eager task failed
        logger.warning("listings: photo variants for %s not made now: %s", photo_id, exc)


def _check_photo_limit(listing: Listing) -> None:
    limit = settings.LISTING_MAX_PHOTOS
    if Photo.objects.filter(listing_id=listing.pk).count() >= limit:
        raise ValidationFailed(
            {"image": [f"A listing can have at most {limit} photos."]}, code="too_many_photos"
        )


def photo_add(*, listing: Listing, actor: Any, upload: Any) -> Photo:
    """Check, clean and store one photo; the thumbnail and medium sizes follow
    from a Celery task after commit.

    The image is processed before any lock is taken (decoding is slow); then
    the listing row is locked to count photos and assign the position. A bad
    upload raises ValidationFailed on `image` with the reason, and nothing is
    stored or changed.
    """
    _check_seller(listing, actor)
    if listing.status not in EDITABLE_STATUSES:
        raise _refuse(listing, "add photos to")
    _check_photo_limit(listing)  # fail fast, before decoding anything
    processed = photos.process_upload(upload)
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status not in EDITABLE_STATUSES:
            raise _refuse(locked, "add photos to")
        _check_photo_limit(locked)
        photo = Photo(
            listing=locked,
            position=Photo.objects.filter(listing=locked).count(),
            width=processed.width,
            height=processed.height,
            size_bytes=len(processed.content),
        )
        stored = default_storage.save(
            f"listings/{locked.pk}/{photo.id}.jpg", ContentFile(processed.content)
        )
        try:
            photo.image.name = stored
            photo.save(force_insert=True)
            locked.save(update_fields=["updated_at"])
            publish(topic=events.LISTING_UPDATED,
                    payload=_payload(locked, locked.status, changed=["photos"]))
        except Exception:
            _delete_files([stored])
            raise
        photo_id = photo.id
        transaction.on_commit(lambda: _enqueue_photo_variants(photo_id))
    return photo


def photo_delete(*, listing: Listing, actor: Any, photo_id: Any) -> Listing:
    """Remove one photo; the others close the gap. Takes the listing row lock;
    files are deleted after commit."""
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status not in EDITABLE_STATUSES:
            raise _refuse(locked, "remove photos from")
        uid = parse_uuid(photo_id)
        photo = Photo.objects.filter(listing=locked, pk=uid).first() if uid else None
        if photo is None:
            raise NotFound("No such photo.")
        names = _photo_file_names(Photo.objects.filter(pk=photo.pk))
        photo.delete()
        _renumber(locked, [p.pk for p in Photo.objects.filter(listing=locked)
                           .order_by("position", "created_at")])
        locked.save(update_fields=["updated_at"])
        publish(topic=events.LISTING_UPDATED,
                payload=_payload(locked, locked.status, changed=["photos"]))
        transaction.on_commit(lambda: _delete_files(names))
    return locked


def photos_reorder(*, listing: Listing, actor: Any, photo_ids: list[Any]) -> Listing:
    """Put the photos in the given order (all of them, each once). Takes the row lock."""
    with transaction.atomic():
        locked = _lock_for_seller(listing, actor)
        if locked.status not in EDITABLE_STATUSES:
            raise _refuse(locked, "reorder photos of")
        current = {str(pk) for pk in
                   Photo.objects.filter(listing=locked).values_list("pk", flat=True)}
        wanted = [str(pid) for pid in photo_ids]
        if len(wanted) != len(set(wanted)) or set(wanted) != current:
            raise ValidationFailed(
                {"photo_ids": ["List every photo of this listing exactly once."]}
            )
        if _renumber(locked, wanted):
            locked.save(update_fields=["updated_at"])
            publish(topic=events.LISTING_UPDATED,
                    payload=_payload(locked, locked.status, changed=["photos"]))
    return locked


def _renumber(listing: Listing, ordered_ids: list[Any]) -> bool:
    """Positions 0..n-1 in the given order; True when anything moved."""
    positions = {str(pk): pos for pk, pos in
                 Photo.objects.filter(listing=listing).values_list("pk", "position")}
    moved = False
    for index, pk in enumerate(ordered_ids):
        if positions.get(str(pk)) != index:
            Photo.objects.filter(pk=pk).update(position=index)
            moved = True
    return moved


def photo_make_variants(*, photo_id: Any) -> bool:
    """Write the thumbnail and medium sizes of a photo (the Celery task's body).

    Idempotent: a photo that has both is left alone, a vanished photo is
    ignored, and names are fixed per photo (an earlier half-finished run's
    file is replaced, not duplicated). Returns True when it made something.
    """
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None or (photo.thumbnail and photo.medium):
        return False
    original: bytes | None = None
    updates: dict[str, str] = {}
    base = photo.image.name.rsplit(".", 1)[0]
    for field, edge in (("thumbnail", photos.THUMBNAIL_EDGE), ("medium", photos.MEDIUM_EDGE)):
        if getattr(photo, field):
            continue
        if max(photo.width, photo.height) <= edge:
            updates[field] = photo.image.name  # already small enough: no copy needed
            continue
        if original is None:
            with default_storage.open(photo.image.name, "rb") as handle:
                original = handle.read()
        content, _, _ = photos.make_variant(original, edge)
        name = f"{base}_{field}.jpg"
        if default_storage.exists(name):
            default_storage.delete(name)
        updates[field] = default_storage.save(name, ContentFile(content))
    if not Photo.objects.filter(pk=photo.pk).update(**updates):
        # Deleted while we worked: remove what we wrote (never the original).
        _delete_files([n for n in updates.values() if n != photo.image.name])
        return False
    return True


def photos_backfill_variants(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Make sizes for photos whose task never ran (broker was down); returns how many."""
    made = 0
    cutoff = timezone.now() - older_than
    for photo_id in selectors.photo_ids_missing_variants(created_before=cutoff):
        try:
            made += int(photo_make_variants(photo_id=photo_id))
        except Exception:
            logger.exception("listings: backfilling variants of photo %s failed", photo_id)
    return made


# --- moderation ------------------------------------------------------------------------------


def listings_withdraw_for_seller(*, seller: Any, reason: str = "suspended") -> int:
    """Take every draft, held or active listing of `seller` down (a moderator
    suspended the account): they leave search through the usual
    `listing_withdrawn` events, which carry `reason`. Reserved listings stay
    with their (frozen) orders. Each listing takes its own row lock; running
    it again changes nothing. Returns how many were withdrawn."""
    done = 0
    ids = list(
        Listing.objects.filter(
            seller=seller, status__in=[S.DRAFT, S.PENDING_REVIEW, S.ACTIVE]
        ).order_by("pk").values_list("pk", flat=True)
    )
    for listing_id in ids:
        with transaction.atomic():
            locked = _lock(listing_id)
            if locked.status not in (S.DRAFT, S.PENDING_REVIEW, S.ACTIVE):
                continue
            previous = _set_status(locked, S.WITHDRAWN, timezone.now())
            locked.save()
            publish(topic=events.LISTING_WITHDRAWN,
                    payload=_payload(locked, previous, reason=reason[:200]))
            done += 1
    return done


def listing_reinstate(*, listing: Listing, actor: Any) -> Listing:
    """Undo a moderator's removal (an appeal succeeded): withdrawn -> active
    with a fresh expiry, relistable again. Takes the row lock."""
    _require_moderator(actor)
    with transaction.atomic():
        locked = _lock(listing)
        if locked.status == S.ACTIVE and not locked.removed_by_moderator:
            return locked
        if locked.status != S.WITHDRAWN or not locked.removed_by_moderator:
            raise _refuse(locked, "reinstate")
        locked.removed_by_moderator = False
        _go_live_for_moderator(locked, actor)
    return locked


def listings_withdraw_for_deleted_user(user: Any) -> None:
    """Account deletion (accounts' anonymiser registry): the user's listings
    leave the marketplace; reserved and sold ones stay for the open/closed
    orders that point at them."""
    open_statuses = (ListingStatus.DRAFT, ListingStatus.PENDING_REVIEW, ListingStatus.ACTIVE)
    open_ids = Listing.objects.filter(seller=user, status__in=open_statuses).values_list(
        "id", flat=True
    )
    for listing_id in list(open_ids):
        listing_withdraw(listing=Listing(id=listing_id), actor=user)
    Favourite.objects.filter(user=user).delete()
