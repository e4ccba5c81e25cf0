"""Discovery REST API: GET /api/feed ("for you") and the listing QR code."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from listings.api import ListingSummarySerializer
from listings.selectors import listing_get_for_user, listing_queryset
from marketplace.errors import ValidationFailed
from search import feed, share

FEED_PAGE_SIZE = 20
FEED_MAX_PAGE_SIZE = 50


def _float(raw: Any, name: str, low: float, high: float, errors: dict[str, list[str]]) -> Any:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[name] = ["Enter a number."]
        return None
    if not (low <= value <= high) or value != value:  # NaN compares unequal to itself
        errors[name] = [f"Must be between {low:g} and {high:g}."]
        return None
    return value


def _int(raw: Any, name: str, low: int, high: int, default: int,
         errors: dict[str, list[str]]) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = ["Enter a whole number."]
        return default
    if not (low <= value <= high):
        errors[name] = [f"Must be between {low} and {high}."]
    return value


def _feed_params(query: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    lat = _float(query.get("lat"), "lat", -90, 90, errors)
    lon = _float(query.get("lon"), "lon", -180, 180, errors)
    radius = _float(query.get("radius_km"), "radius_km", 1, 500, errors)
    page = _int(query.get("page"), "page", 1, feed.FEED_MAX, 1, errors)
    size = _int(query.get("page_size"), "page_size", 1, FEED_MAX_PAGE_SIZE, FEED_PAGE_SIZE, errors)
    if (lat is None) != (lon is None) and not errors:
        errors["lat" if lat is None else "lon"] = ["Give both lat and lon, or neither."]
    if errors:
        raise ValidationFailed(errors)
    return {"lat": lat, "lon": lon, "radius_km": radius or feed.DEFAULT_RADIUS_KM,
            "page": page, "page_size": size}


class FeedItemSerializer(ListingSummarySerializer):
    reason = serializers.ChoiceField(
        choices=["followed", "similar", "category", "nearby", "popular"],
        help_text="Why it is in your feed.",
    )
    distance_km = serializers.FloatField(allow_null=True)


class FeedView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        tags=["search"],
        summary='The "for you" feed',
        description=(
            "Recommendations from your views, favourites, conversations and followed sellers, "
            "blended with fresh listings near lat/lon; popular nearby listings for new or "
            "anonymous visitors. Never your own listings, sold or withdrawn ones, or sellers "
            "you blocked."
        ),
        parameters=[
            OpenApiParameter("lat", float), OpenApiParameter("lon", float),
            OpenApiParameter("radius_km", float, description="default 50"),
            OpenApiParameter("page", int), OpenApiParameter("page_size", int),
        ],
        responses=inline_serializer(
            "FeedResponse",
            {
                "results": FeedItemSerializer(many=True),
                "next": serializers.URLField(allow_null=True),
                "count": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        params = _feed_params(request.query_params)
        page = feed.feed_page(user=request.user, **params)
        ids = [listing_id for listing_id, _, _ in page.items]
        listings = {
            obj.id: obj for obj in listing_queryset(user=request.user).filter(id__in=ids)
        }
        results = []
        for listing_id, reason, distance in page.items:
            listing = listings.get(listing_id)
            if listing is None:
                continue  # changed between ranking and reading: skip it
            data = ListingSummarySerializer(listing, context={"request": request}).data
            results.append({**data, "reason": reason, "distance_km": distance})
        next_url = None
        if page.has_next:
            query = {k: v for k, v in request.query_params.items() if k != "page"}
            query["page"] = str(params["page"] + 1)
            next_url = request.build_absolute_uri(request.path) + "?" + urlencode(query)
        return Response({"results": results, "next": next_url, "count": page.total})


class _AnyAccept(BaseContentNegotiation):
    """The QR view answers PNG (or a JSON error) whatever the Accept header
    says, so `<img>` tags and strict clients never get a 406."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class ListingQRView(APIView):
    permission_classes = [permissions.AllowAny]
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["search"],
        summary="A QR code (PNG) of the listing's public page, for sharing",
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, listing_id: str) -> HttpResponse:
        listing = listing_get_for_user(listing_id=listing_id, user=request.user)
        url = request.build_absolute_uri(reverse("frontend:listing", args=[str(listing.id)]))
        response = HttpResponse(share.qr_png(url), content_type="image/png")
        response["Cache-Control"] = "public, max-age=86400"
        return response
