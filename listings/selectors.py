"""Every non-trivial read about listings, categories and favourites.

`listing_get_for_user` is the one access function: the REST views, the pages
and (later) chat and orders fetch a listing on someone's behalf through it,
so "not found" and "not yours to see" look the same everywhere.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Exists, OuterRef, Prefetch, Q, QuerySet, Value

from listings.models import PUBLIC_STATUSES, Category, Favourite, Listing, ListingStatus, Photo
from marketplace.errors import NotAllowed, NotFound, ValidationFailed
from marketplace.ids import parse_uuid
from marketplace.money import Money

MODERATE_PERMISSION = "listings.moderate_listing"

# --- categories ---------------------------------------------------------------------


def category_list() -> list[Category]:
    """Every category, parents before children (one query)."""
    categories = list(Category.objects.select_related("parent").order_by("position", "slug"))
    by_id = {c.id: c for c in categories}
    depth: dict[uuid.UUID, int] = {}

    def level(category: Category) -> int:
        if category.id not in depth:
            parent = by_id.get(category.parent_id) if category.parent_id else None
            depth[category.id] = 0 if parent is None else level(parent) + 1
        return depth[category.id]

    return sorted(categories, key=lambda c: (level(c), c.position, c.slug))


def category_get(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first() if isinstance(slug, str) else None


def _ancestors(category: Category, by_id: dict[uuid.UUID, Category]) -> list[Category]:
    """Root first, `category` last; stops on a (corrupt) cycle."""
    chain: list[Category] = []
    seen: set[uuid.UUID] = set()
    node: Category | None = category
    while node is not None and node.id not in seen:
        seen.add(node.id)
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return list(reversed(chain))


def category_schema(*, category: Category, categories: Iterable[Category] | None = None
                    ) -> list[dict[str, Any]]:
    """The attribute schema of `category` including what it inherits.

    Ancestors' attributes come first; a subcategory may redefine an inherited
    attribute by using the same name (its definition wins, in the parent's place).
    """
    pool = list(categories) if categories is not None else list(Category.objects.all())
    by_id = {c.id: c for c in pool}
    by_id.setdefault(category.id, category)
    merged: dict[str, dict[str, Any]] = {}
    for node in _ancestors(category, by_id):
        for attribute in node.attributes or []:
            merged[attribute["name"]] = attribute
    return list(merged.values())


def category_descendant_ids(*, category: Category) -> list[uuid.UUID]:
    """`category` and every category below it (one query)."""
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for cid, parent_id in Category.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(cid)
    found, stack = [], [category.id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(children.get(current, []))
    return found


# --- the read model of one listing ------------------------------------------------------


@dataclass(frozen=True)
class PhotoInfo:
    id: uuid.UUID
    position: int
    image: str  # storage names; the API turns them into URLs
    thumbnail: str
    medium: str
    width: int
    height: int


@dataclass(frozen=True)
class ListingDetail:
    """One listing as a viewer sees it (the detail page and `GET /api/listings/{id}`).

    Built either from a Listing model (`listing_detail_from_model`) or from the
    single-statement read of `services.listing_view`; both give the same thing.
    """

    id: uuid.UUID
    title: str
    description: str
    category: str
    condition: str
    price: Money
    negotiable: bool
    location: dict[str, Any]
    shipping: dict[str, bool]
    attributes: dict[str, Any]
    status: str
    seller_id: uuid.UUID
    seller_username: str
    seller_display_name: str
    photos: list[PhotoInfo]
    view_count: int
    favorites_count: int
    is_favorite: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    expires_at: datetime | None
    # None when the viewer may not see the publish checks' verdict.
    fraud_hold: dict[str, Any] | None = field(default=None)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def listing_detail_from_model(*, listing: Listing, user: Any) -> ListingDetail:
    """The read model from a Listing fetched with `listing_queryset` (photos prefetched)."""
    seller = listing.seller
    show_hold = listing_can_see_fraud_hold(listing=listing, user=user)
    return ListingDetail(
        id=listing.id, title=listing.title, description=listing.description,
        category=listing.category.slug, condition=listing.condition, price=listing.price,
        negotiable=listing.negotiable, location=listing.location, shipping=listing.shipping,
        attributes=listing.attributes, status=listing.status, seller_id=listing.seller_id,
        seller_username=seller.username, seller_display_name=seller.public_name,
        photos=[
            PhotoInfo(p.id, p.position, p.image.name, p.thumbnail.name, p.medium.name,
                      p.width, p.height)
            for p in listing.photos.all()
        ],
        view_count=listing.view_count, favorites_count=listing.favorites_count,
        is_favorite=bool(getattr(listing, "is_favorite", False)),
        created_at=listing.created_at, updated_at=listing.updated_at,
        published_at=listing.published_at, expires_at=listing.expires_at,
        fraud_hold=(
            {"score": listing.fraud_score, "reasons": listing.fraud_reasons} if show_hold else None
        ),
    )


def listing_detail_from_row(row: tuple[Any, ...], *, user: Any) -> ListingDetail | None:
    """The read model from a `services.listing_view` row, or None when `user`
    may not see it. Column order: see `services._DETAIL_SQL`."""
    (listing_id, seller_id, title, description, condition, price_minor, price_currency,
     negotiable, lat, lon, city, ships, pickup, attributes, status, created_at, updated_at,
     published_at, expires_at, view_count, favorites_count, fraud_score, fraud_reasons,
     username, display_name, category_slug, is_favorite, photos) = row
    is_seller = bool(user is not None and user.is_authenticated and user.pk == seller_id)
    if status not in PUBLIC_STATUSES and not is_seller and not user_is_moderator(user):
        return None
    show_hold = is_seller or (
        user is not None and user.is_authenticated and user_is_moderator(user)
    )
    return ListingDetail(
        id=listing_id, title=title, description=description, category=category_slug,
        condition=condition, price=Money(price_minor, price_currency), negotiable=negotiable,
        location={"lat": lat, "lon": lon, "city": city},
        shipping={"ships": ships, "pickup": pickup}, attributes=_json(attributes),
        status=status, seller_id=seller_id, seller_username=username,
        seller_display_name=display_name or username,
        photos=[PhotoInfo(uuid.UUID(str(p[0])), *p[1:]) for p in _json(photos) or []],
        view_count=view_count, favorites_count=favorites_count, is_favorite=bool(is_favorite),
        created_at=created_at, updated_at=updated_at, published_at=published_at,
        expires_at=expires_at,
        fraud_hold={"score": fraud_score, "reasons": _json(fraud_reasons)} if show_hold else None,
    )


# --- access ---------------------------------------------------------------------------


def user_is_moderator(user: Any) -> bool:
    """Moderators (a permission group) see and act on every listing."""
    return bool(user and user.is_authenticated and user.has_perm(MODERATE_PERMISSION))


def listing_visible_to(*, listing: Listing, user: Any) -> bool:
    """Public states for everyone; the rest for the seller and moderators."""
    if listing.status in PUBLIC_STATUSES:
        return True
    if user is None or not user.is_authenticated:
        return False
    return listing.seller_id == user.pk or user_is_moderator(user)


def listing_can_see_fraud_hold(*, listing: Listing, user: Any) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return listing.seller_id == user.pk or user_is_moderator(user)


def _photos_prefetch() -> Prefetch:
    return Prefetch("photos", queryset=Photo.objects.order_by("position", "created_at"))


def listing_queryset(*, user: Any = None) -> QuerySet[Listing]:
    """Listings with what the API shows: seller, category, ordered photos and
    `is_favorite` for `user` - a fixed number of queries however many rows."""
    qs = Listing.objects.select_related("seller", "category").prefetch_related(_photos_prefetch())
    if user is not None and user.is_authenticated:
        return qs.annotate(
            is_favorite=Exists(Favourite.objects.filter(listing=OuterRef("pk"), user=user))
        )
    return qs.annotate(is_favorite=Value(False, output_field=BooleanField()))


def listing_get_for_user(*, listing_id: Any, user: Any) -> Listing:
    """The listing `listing_id` as `user` may see it, or NotFound.

    Drafts, held, withdrawn and expired listings exist only for their seller
    and moderators; for anyone else they are indistinguishable from a listing
    that never existed (404, not 403).
    """
    uid = parse_uuid(listing_id)
    listing = listing_queryset(user=user).filter(id=uid).first() if uid else None
    if listing is None or not listing_visible_to(listing=listing, user=user):
        raise NotFound("No such listing.")
    return listing


def listing_list(
    *,
    user: Any,
    seller: str | None = None,
    statuses: list[str] | None = None,
    category: str | None = None,
) -> QuerySet[Listing]:
    """Listings for a list page or the API.

    - `seller`: a user id, or "me" (needs a login). Your own listings come in
      every state unless `statuses` says otherwise, newest first.
    - `statuses`: public states (active, reserved, sold) for anyone; the others
      only for your own listings (or for moderators).
    - `category`: a slug; its descendants are included.
    Default: active listings, most recently published first.
    """
    errors: dict[str, list[str]] = {}
    qs = listing_queryset(user=user)
    own = False
    if seller:
        if seller == "me":
            if not user or not user.is_authenticated:
                # The API answers 401 before getting here; pages redirect to login.
                raise NotAllowed("Log in to see your own listings.", code="not_authenticated")
            seller_id = user.pk
        else:
            seller_id = parse_uuid(seller)
            if seller_id is None:
                errors["seller"] = ["Expected a user id or \"me\"."]
        if "seller" not in errors:
            own = bool(user and user.is_authenticated and seller_id == user.pk)
            qs = qs.filter(seller_id=seller_id)
    if statuses:
        unknown = [s for s in statuses if s not in ListingStatus.values]
        if unknown:
            errors["status"] = [
                f"Unknown status {unknown[0]!r}; one of {', '.join(ListingStatus.values)}."
            ]
        else:
            private = [s for s in statuses if s not in PUBLIC_STATUSES]
            if private and not own and not user_is_moderator(user):
                errors["status"] = [
                    f"Only your own listings can be filtered by {', '.join(private)} "
                    "(add seller=me)."
                ]
            qs = qs.filter(status__in=statuses)
    elif not own:
        qs = qs.filter(status=ListingStatus.ACTIVE)
    if category:
        node = category_get(slug=category)
        if node is None:
            errors["category"] = [f"Unknown category {category!r}."]
        else:
            qs = qs.filter(category_id__in=category_descendant_ids(category=node))
    if errors:
        raise ValidationFailed(errors)
    if own:
        return qs.order_by("-created_at", "-id")
    return qs.order_by("-published_at", "-id")


def favorites_for_user(*, user: Any) -> QuerySet[Listing]:
    """Listings `user` favourited and may still see, most recent favourite first."""
    return (
        listing_queryset(user=user)
        .filter(favourites__user=user)
        .filter(Q(status__in=PUBLIC_STATUSES) | Q(seller=user))
        .order_by("-favourites__created_at", "-id")
    )


def favouriters_of(*, listing_id: Any) -> QuerySet[Any]:
    """The users who favourited a listing."""
    user_model = get_user_model()
    return user_model.objects.filter(favourites__listing_id=listing_id, is_active=True).order_by(
        "pk"
    )


def seller_listing_count(*, seller_id: Any, as_of: datetime | None = None) -> int:
    """How many listings a seller has ever created (any status): a fraud
    feature. With `as_of`, only those created up to then (inclusive), as the
    fraud model's training rows saw the seller at a past decision."""
    listings = Listing.objects.filter(seller_id=seller_id)
    if as_of is not None:
        listings = listings.filter(created_at__lte=as_of)
    return listings.count()


def seller_recent_listings(*, seller_id: Any, limit: int = 20) -> list[Listing]:
    """A seller's newest listings (any status), with their category."""
    return list(
        Listing.objects.filter(seller_id=seller_id).select_related("category")
        .order_by("-created_at")[:limit]
    )


# --- for moderation (no access check: moderators and the system act on any listing) ------


def listing_for_moderation(*, listing_id: Any) -> Listing | None:
    """The listing (category and seller joined) that a moderation check or a
    moderator's decision acts on, whatever its status; None for an unknown id.
    Hand it to `listings.services` to change it."""
    uid = parse_uuid(listing_id)
    if uid is None:
        return None
    return Listing.objects.select_related("category", "seller").filter(pk=uid).first()


def listing_is_active(*, listing: Listing) -> bool:
    """Live and searchable."""
    return listing.status == ListingStatus.ACTIVE


def listing_is_held(*, listing: Listing) -> bool:
    """Waiting for a moderator (pending_review)."""
    return listing.status == ListingStatus.PENDING_REVIEW


def listing_moderation_summaries(*, listing_ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """{listing id: {id, title, status, fraud_score}} in one query, for the
    rows of the moderation queue (falsy ids are skipped)."""
    rows = Listing.objects.filter(pk__in=[i for i in listing_ids if i]).values(
        "id", "title", "status", "fraud_score"
    )
    return {row["id"]: row for row in rows}


def listing_view_count(*, listing_id: Any) -> int:
    """How often the listing was viewed (0 for an unknown id): part of a
    moderation case's exposure."""
    views = Listing.objects.filter(pk=listing_id).values_list("view_count", flat=True).first()
    return int(views or 0)


def listing_moderation_state(*, listing_id: Any) -> dict[str, Any]:
    """{status, removed_by_moderator} for the moderation audit log's
    before/after ({} for an unknown id)."""
    row = Listing.objects.filter(pk=listing_id).values("status", "removed_by_moderator").first()
    return dict(row) if row else {}


def listing_moderation_facts(*, listing_id: Any) -> dict[str, Any] | None:
    """What a moderator sees of a listing in a case's evidence: text,
    status, category, price, fraud score and reasons, views and photo URLs
    (two queries); None for an unknown id."""
    listing = Listing.objects.filter(pk=listing_id).select_related("category").first()
    if listing is None:
        return None
    return {
        "id": str(listing.pk), "title": listing.title,
        "description": listing.description, "status": listing.status,
        "category": listing.category.slug, "price": listing.price.to_dict(),
        "fraud_score": listing.fraud_score, "fraud_reasons": listing.fraud_reasons,
        "view_count": listing.view_count,
        "photos": [p.image.url for p in listing.photos.all() if p.image],
    }


def listing_photos_with_seller(*, listing_id: Any) -> QuerySet[Photo]:
    """The listing's photos, each with its listing joined (for the seller id):
    what moderation's duplicate-photo hashing reads."""
    return Photo.objects.filter(listing_id=listing_id).select_related("listing")


def listing_ids_due_for_expiry(*, now: datetime, limit: int = 500) -> list[uuid.UUID]:
    return list(
        Listing.objects.filter(status=ListingStatus.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    )


def photo_ids_missing_variants(*, created_before: datetime, limit: int = 200) -> list[uuid.UUID]:
    return list(
        Photo.objects.filter(created_at__lt=created_before)
        .filter(Q(thumbnail="") | Q(medium=""))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )


def data_export_for(user: Any) -> Any:
    """The user's own listings, photos and favourites for their data export
    (registered with accounts' export registry in ListingsConfig.ready)."""
    from marketplace.accounts.privacy import ExportPart

    listings = list(Listing.objects.filter(seller=user).order_by("created_at").values())
    photos = list(
        Photo.objects.filter(listing__seller=user).order_by("listing_id", "position").values(
            "id", "listing_id", "position", "image", "width", "height", "created_at"
        )
    )
    for listing in listings:
        listing["photos"] = [p for p in photos if p["listing_id"] == listing["id"]]
    favourites = list(
        Favourite.objects.filter(user=user).values("listing_id", "listing__title", "created_at")
    )
    files = [
        (f"listings/{p['listing_id']}/{p['image'].rsplit('/', 1)[-1]}", p["image"]) for p in photos
    ]
    return ExportPart({"listings": listings, "favourites": favourites}, files)


# --- dashboards (KPIs) --------------------------------------------------------------------------


def seller_listing_rows(*, seller: Any) -> list[dict[str, Any]]:
    """The seller's own listings (every status, newest first) as
    `{id, title, status}`: what the seller dashboard reports on."""
    return [
        {"id": str(r["id"]), "title": r["title"], "status": r["status"]}
        for r in Listing.objects.filter(seller=seller).order_by("-created_at")
        .values("id", "title", "status")
    ]


def seller_listing_ids(*, seller: Any) -> QuerySet[Listing]:
    """The seller's listing ids as a lazy queryset (used as a subquery)."""
    return Listing.objects.filter(seller=seller).values_list("id", flat=True)


def listing_kpis(*, since: datetime, until: datetime) -> dict[str, Any]:
    """For the operator dashboard: listings by status now (every status, 0
    included), listings created in [since, until], and how many of those the
    fraud model held (their stored publish-check score is above
    FRAUD_HOLD_THRESHOLD: held now, or held and later approved or removed)."""
    from django.conf import settings
    from django.db.models import Count

    by_status = dict(
        Listing.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        .order_by()
    )
    created = Listing.objects.filter(created_at__gte=since, created_at__lte=until)
    counts = created.aggregate(
        created=Count("id"),
        held=Count("id", filter=Q(fraud_score__gt=settings.FRAUD_HOLD_THRESHOLD)),
    )
    return {
        "by_status": {s.value: by_status.get(s.value, 0) for s in ListingStatus},
        "created": counts["created"],
        "fraud_held": counts["held"],
    }
