"""Listings REST API (API.md, "Listings"): thin views over services/selectors.

Every action on a listing answers with the listing in the shape of
`GET /api/listings/{id}` (`services.listing_view`). Access goes through
`selectors.listing_get_for_user` (and the same rules in `listing_view`): a
listing you may not see is a 404; one you can see but do not own is a 403
for owner-only actions.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import FileSystemStorage, default_storage
from django.utils.encoding import filepath_to_uri
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from listings import selectors, services
from listings.models import Condition, Listing, ListingStatus, Photo
from marketplace.analytics.services import track
from marketplace.api import MoneyField, ResultsPagination
from marketplace.errors import NotFound
from marketplace.ids import parse_uuid

TAGS = ["listings"]
LISTING_ID = OpenApiParameter(
    "listing_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The listing's id."
)
PHOTO_ID = OpenApiParameter(
    "photo_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The photo's id."
)

# --- output ------------------------------------------------------------------------------


class _Urls:
    """Storage names -> URLs for one response. Local media URLs are made
    absolute for apps (the host is resolved once, not per photo); S3 URLs
    already are."""

    def __init__(self, request: Request | None) -> None:
        self.request = request
        self._origin: str | None = None

    def __call__(self, name: str) -> str | None:
        if not name:
            return None
        storage = default_storage._wrapped  # noqa: SLF001 - the configured backend itself
        if isinstance(storage, FileSystemStorage):
            # What FileSystemStorage.url does, without its per-call urljoin.
            base = storage.base_url
            url = (base if base.endswith("/") else base + "/") + filepath_to_uri(name).lstrip("/")
        else:
            url = default_storage.url(name)
        if url.startswith("/") and self.request is not None:
            if self._origin is None:
                self._origin = self.request.build_absolute_uri("/")[:-1]
            return self._origin + url
        return url


def _urls(context: dict[str, Any]) -> _Urls:
    """One URL builder per response, shared by every item of a list."""
    if "_urls" not in context:
        context["_urls"] = _Urls(context.get("request"))
    return context["_urls"]


class CategoryAttributeSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["string", "integer", "choice", "boolean"])
    choices = serializers.ListField(child=serializers.CharField(), allow_null=True)
    required = serializers.BooleanField()
    label = serializers.CharField()
    label_zh = serializers.CharField(required=False)
    min = serializers.IntegerField(required=False)
    max = serializers.IntegerField(required=False)


class CategorySerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    parent = serializers.SlugField(allow_null=True, help_text="The parent's slug.")
    attributes = CategoryAttributeSerializer(
        many=True, help_text="Every attribute, inherited ones included."
    )


class SellerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField(source="public_name")


class LocationSerializer(serializers.Serializer):
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    city = serializers.CharField(allow_blank=True)


class ShippingSerializer(serializers.Serializer):
    ships = serializers.BooleanField()
    pickup = serializers.BooleanField()


class LocationInput(serializers.Serializer):
    lat = serializers.FloatField(allow_null=True, required=False, help_text="-90 to 90")
    lon = serializers.FloatField(allow_null=True, required=False, help_text="-180 to 180")
    city = serializers.CharField(allow_blank=True, required=False, max_length=100)


class ShippingInput(serializers.Serializer):
    ships = serializers.BooleanField(required=False)
    pickup = serializers.BooleanField(required=False)


class PhotoSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField(help_text="The full-size image, metadata removed.")
    thumbnail_url = serializers.URLField(
        allow_null=True, help_text="320 px; null until the background task has made it."
    )
    medium_url = serializers.URLField(allow_null=True, help_text="1024 px; null until made.")
    position = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()

    def to_representation(self, photo: Photo | selectors.PhotoInfo) -> dict[str, Any]:
        if isinstance(photo, Photo):
            photo = selectors.PhotoInfo(photo.id, photo.position, photo.image.name,
                                        photo.thumbnail.name, photo.medium.name,
                                        photo.width, photo.height)
        return _photo_info(photo, _urls(self.context))


def _photo_info(photo: selectors.PhotoInfo, urls: _Urls) -> dict[str, Any]:
    return {
        "id": str(photo.id),
        "url": urls(photo.image),
        "thumbnail_url": urls(photo.thumbnail),
        "medium_url": urls(photo.medium),
        "position": photo.position,
        "width": photo.width,
        "height": photo.height,
    }


class FraudHoldSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())


def _seller(listing: Listing) -> dict[str, Any]:
    seller = listing.seller
    return {"id": str(seller.pk), "username": seller.username, "display_name": seller.public_name}


_DATETIME = serializers.DateTimeField()


def _dt(value: Any) -> str | None:
    return _DATETIME.to_representation(value) if value else None


class ListingSerializer(serializers.Serializer):
    """A listing as `GET /api/listings/{id}` shows it.

    Written as a plain dict build (the fields below describe it for the
    OpenAPI schema): this is the hottest endpoint and DRF's per-field
    machinery would cost more than the database here.
    """

    id = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.SlugField()
    condition = serializers.ChoiceField(choices=Condition.choices)
    price = MoneyField()
    negotiable = serializers.BooleanField()
    location = LocationSerializer()
    shipping = ShippingSerializer()
    attributes = serializers.DictField()
    status = serializers.ChoiceField(choices=ListingStatus.choices)
    seller = SellerSerializer()
    photos = PhotoSerializer(many=True)
    view_count = serializers.IntegerField()
    favorites_count = serializers.IntegerField()
    is_favorite = serializers.BooleanField(help_text="Whether the caller favourited it.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    # Not read-only so the schema marks it optional: only the seller and
    # moderators get this key.
    fraud_hold = FraudHoldSerializer(
        required=False, help_text="The publish checks' verdict; seller and moderators only."
    )

    def to_representation(self, detail: selectors.ListingDetail) -> dict[str, Any]:
        urls = _urls(self.context)
        data = {
            "id": str(detail.id),
            "title": detail.title,
            "description": detail.description,
            "category": detail.category,
            "condition": detail.condition,
            "price": detail.price.to_dict(),
            "negotiable": detail.negotiable,
            "location": detail.location,
            "shipping": detail.shipping,
            "attributes": detail.attributes,
            "status": detail.status,
            "seller": {
                "id": str(detail.seller_id),
                "username": detail.seller_username,
                "display_name": detail.seller_display_name,
            },
            "photos": [_photo_info(p, urls) for p in detail.photos],
            "view_count": detail.view_count,
            "favorites_count": detail.favorites_count,
            "is_favorite": detail.is_favorite,
            "created_at": _dt(detail.created_at),
            "updated_at": _dt(detail.updated_at),
            "published_at": _dt(detail.published_at),
            "expires_at": _dt(detail.expires_at),
        }
        if detail.fraud_hold is not None:
            data["fraud_hold"] = detail.fraud_hold
        return data


class ListingSummarySerializer(serializers.Serializer):
    """A listing in a list: no description, photos reduced to the first thumbnail."""

    id = serializers.UUIDField()
    title = serializers.CharField()
    category = serializers.SlugField()
    condition = serializers.ChoiceField(choices=Condition.choices)
    price = MoneyField()
    negotiable = serializers.BooleanField()
    location = LocationSerializer()
    shipping = ShippingSerializer()
    status = serializers.ChoiceField(choices=ListingStatus.choices)
    seller = SellerSerializer()
    thumbnail_url = serializers.URLField(allow_null=True)
    photo_count = serializers.IntegerField()
    favorites_count = serializers.IntegerField()
    is_favorite = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, listing: Listing) -> dict[str, Any]:
        photos = list(listing.photos.all())
        return {
            "id": str(listing.id),
            "title": listing.title,
            "category": listing.category.slug,
            "condition": listing.condition,
            "price": listing.price.to_dict(),
            "negotiable": listing.negotiable,
            "location": listing.location,
            "shipping": listing.shipping,
            "status": listing.status,
            "seller": _seller(listing),
            "thumbnail_url": _urls(self.context)(photos[0].thumbnail.name) if photos else None,
            "photo_count": len(photos),
            "favorites_count": listing.favorites_count,
            "is_favorite": bool(getattr(listing, "is_favorite", False)),
            "created_at": _dt(listing.created_at),
            "published_at": _dt(listing.published_at),
            "expires_at": _dt(listing.expires_at),
        }


# --- input -------------------------------------------------------------------------------------


class ListingInput(serializers.Serializer):
    """Types only; the service checks the rules and names what is wrong."""

    title = serializers.CharField(max_length=120, help_text="3 to 120 characters.")
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, trim_whitespace=False
    )
    category = serializers.CharField(help_text="A category slug (GET /api/categories).")
    condition = serializers.ChoiceField(choices=Condition.choices)
    price = MoneyField(help_text="In the marketplace currency; more than zero.")
    negotiable = serializers.BooleanField(required=False)
    location = LocationInput(
        required=False, allow_null=True, help_text="Needed (all three parts) to publish."
    )
    shipping = ShippingInput(
        required=False, help_text="At least one option must be true to publish."
    )
    attributes = serializers.DictField(
        required=False, allow_null=True,
        help_text="Values per the category's attribute schema; required ones needed to publish.",
    )


class PhotoUploadInput(serializers.Serializer):
    image = serializers.FileField(help_text="JPEG, PNG or WebP.")


class PhotoReorderInput(serializers.Serializer):
    photo_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=True)


# --- views -------------------------------------------------------------------------------------


def _detail(request: Request, listing_id: Any, *, status_code: int = 200) -> Response:
    """Re-read the listing as the caller sees it and answer with it (not a view)."""
    detail = services.listing_view(listing_id=listing_id, viewer=request.user, count=False)
    return Response(ListingSerializer(detail, context={"request": request}).data,
                    status=status_code)


class CategoryListView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=CategorySerializer(many=True), tags=TAGS,
                   summary="The category tree with each category's attribute schema")
    def get(self, request: Request) -> Response:
        categories = selectors.category_list()
        by_id = {c.id: c for c in categories}
        body = []
        for category in categories:
            parent = by_id.get(category.parent_id) if category.parent_id else None
            body.append({
                "slug": category.slug,
                "name": category.name,
                "name_zh": category.name_zh,
                "parent": parent.slug if parent else None,
                "attributes": [
                    {
                        "name": a["name"], "type": a["type"], "choices": a.get("choices"),
                        "required": bool(a.get("required")), "label": a.get("label", a["name"]),
                        **{k: a[k] for k in ("label_zh", "min", "max") if k in a},
                    }
                    for a in selectors.category_schema(category=category, categories=categories)
                ],
            })
        return Response(body)


def _statuses(request: Request) -> list[str] | None:
    values = [part.strip() for raw in request.query_params.getlist("status")
              for part in raw.split(",") if part.strip()]
    return values or None


class ListingListCreateView(GenericAPIView):
    pagination_class = ResultsPagination
    serializer_class = ListingInput  # the browsable API's form; the schema is explicit

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.listing_list(
            user=self.request.user, seller=params.get("seller") or None,
            statuses=_statuses(self.request), category=params.get("category") or None,
        )

    @extend_schema(
        tags=TAGS,
        summary="List listings (active ones, newest first, by default)",
        parameters=[
            OpenApiParameter("seller", str, description='A user id, or "me" (your listings, '
                             "every state unless `status` says otherwise)."),
            OpenApiParameter("status", str, description="Comma-separated states. Other than "
                             "active, reserved and sold only for your own listings."),
            OpenApiParameter("category", str, description="A category slug; includes its "
                             "subcategories."),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=ListingSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        if request.query_params.get("seller") == "me" and not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        page = self.paginate_queryset(self.get_queryset())
        data = ListingSummarySerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        tags=TAGS,
        summary="Create a draft listing",
        request=ListingInput,
        responses={201: ListingSerializer},
        parameters=[OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER,
            description="Optional: the same key again returns the first listing.",
        )],
    )
    def post(self, request: Request) -> Response:
        data = ListingInput(data=request.data)
        data.is_valid(raise_exception=True)
        listing = services.listing_create(
            seller=request.user,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            **data.validated_data,
        )
        return _detail(request, listing.id, status_code=status.HTTP_201_CREATED)


class ListingDetailView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID], responses=ListingSerializer,
                   summary="A listing (drafts and the like only for the seller and moderators)")
    def get(self, request: Request, listing_id: str) -> Response:
        detail = services.listing_view(listing_id=listing_id, viewer=request.user)
        if detail.seller_id != request.user.pk:  # buffered, never raises
            track("listing_viewed", listing_id=detail.id, request=request)
        return Response(ListingSerializer(detail, context={"request": request}).data)

    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=ListingInput,
                   responses=ListingSerializer, summary="Edit a listing (seller only)")
    def patch(self, request: Request, listing_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        data = ListingInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.listing_update(listing=listing, actor=request.user, **data.validated_data)
        return _detail(request, listing.id)

    @extend_schema(tags=TAGS, parameters=[LISTING_ID], responses={204: None},
                   summary="Delete a draft (seller only)")
    def delete(self, request: Request, listing_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        services.listing_delete(listing=listing, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _action(request: Request, listing_id: str, service: Any) -> Response:
    listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
    service(listing=listing, actor=request.user)
    return _detail(request, listing.id)


class PublishView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=None, responses=ListingSerializer,
                   summary="Publish a draft: active, or pending_review when held for moderation")
    def post(self, request: Request, listing_id: str) -> Response:
        return _action(request, listing_id, services.listing_publish)


class WithdrawView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=None, responses=ListingSerializer,
                   summary="Withdraw a listing (seller only)")
    def post(self, request: Request, listing_id: str) -> Response:
        return _action(request, listing_id, services.listing_withdraw)


class RelistView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=None, responses=ListingSerializer,
                   summary="Relist a withdrawn or expired listing (seller only)")
    def post(self, request: Request, listing_id: str) -> Response:
        return _action(request, listing_id, services.listing_relist)


class PhotoCreateView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=TAGS, parameters=[LISTING_ID], request={"multipart/form-data": PhotoUploadInput},
        responses={201: PhotoSerializer}, summary="Add a photo (multipart field `image`)",
    )
    def post(self, request: Request, listing_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        data = PhotoUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        photo = services.photo_add(
            listing=listing, actor=request.user, upload=data.validated_data["image"]
        )
        photo = Photo.objects.get(pk=photo.pk)  # the sizes may exist by now (eager mode)
        return Response(
            PhotoSerializer(photo, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class PhotoDetailView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID, PHOTO_ID], responses=ListingSerializer,
                   summary="Remove a photo; answers with the listing")
    def delete(self, request: Request, listing_id: str, photo_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        services.photo_delete(listing=listing, actor=request.user, photo_id=photo_id)
        return _detail(request, listing.id)


class PhotoReorderView(APIView):
    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=PhotoReorderInput,
                   responses=ListingSerializer, summary="Put the photos in a new order")
    def post(self, request: Request, listing_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        data = PhotoReorderInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.photos_reorder(
            listing=listing, actor=request.user, photo_ids=data.validated_data["photo_ids"]
        )
        return _detail(request, listing.id)


class FavoriteView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=None, responses=ListingSerializer,
                   summary="Favourite a listing (idempotent)")
    def post(self, request: Request, listing_id: str) -> Response:
        listing = selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        services.favourite_add(listing=listing, user=request.user)
        track("favourited", listing_id=listing.id, request=request)
        return _detail(request, listing.id)

    @extend_schema(tags=TAGS, parameters=[LISTING_ID], request=None,
                   responses={200: ListingSerializer, 204: None},
                   summary="Remove a favourite (idempotent)",
                   description="Answers with the listing, or 204 when you can no longer see it.")
    def delete(self, request: Request, listing_id: str) -> Response:
        uid = parse_uuid(listing_id)
        if uid is None:
            raise NotFound("No such listing.")
        # Works for a listing that has since gone private, so nobody is stuck with it.
        removed = services.favourite_remove(listing_id=uid, user=request.user)
        try:
            return _detail(request, uid)
        except NotFound:
            if removed:
                return Response(status=status.HTTP_204_NO_CONTENT)
            raise


class MyFavoritesView(GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = ResultsPagination
    serializer_class = ListingSummarySerializer

    @extend_schema(tags=TAGS, responses=ListingSummarySerializer(many=True),
                   parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
                   summary="Listings you favourited, most recent first")
    def get_queryset(self) -> Any:
        return selectors.favorites_for_user(user=self.request.user)

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = ListingSummarySerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)
