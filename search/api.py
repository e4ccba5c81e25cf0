"""Search REST API: /api/search, suggestions, similar listings, saved searches."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from listings.selectors import category_list, listing_get_for_user
from marketplace.analytics.services import track
from marketplace.api import MoneyField
from search import selectors, services
from search.models import SavedSearch
from search.params import SORTS, parse_search_params


def _category_names() -> dict[str, str]:
    return {c.slug: c.name for c in category_list()}


class SearchResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    price = MoneyField()
    thumbnail_url = serializers.CharField(allow_null=True)
    city = serializers.CharField(allow_null=True)
    distance_km = serializers.FloatField(allow_null=True)
    highlight = serializers.DictField(child=serializers.CharField())
    condition = serializers.CharField()
    category = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    seller_id = serializers.UUIDField()


FacetSerializer = inline_serializer(
    "Facet", {"key": serializers.CharField(), "count": serializers.IntegerField()}
)

SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="free text (typo-tolerant, English and Chinese)"),
    OpenApiParameter("category", str, description="a category slug; includes its descendants"),
    OpenApiParameter(
        "condition",
        str,
        description="new, like_new, good, fair, for_parts (repeat or comma-separate)",
    ),
    OpenApiParameter("min_price", int, description="minor units"),
    OpenApiParameter("max_price", int, description="minor units"),
    OpenApiParameter("lat", float),
    OpenApiParameter("lon", float),
    OpenApiParameter("radius_km", float),
    OpenApiParameter("ships", bool),
    OpenApiParameter("pickup", bool),
    OpenApiParameter("sort", str, enum=list(SORTS)),
    OpenApiParameter("page", int),
    OpenApiParameter("page_size", int),
    OpenApiParameter("cursor", str, description="from `next`; pages past 10,000 results"),
]


def _next_url(request: Request, *, cursor: str | None, page: int | None) -> str | None:
    if cursor is None and page is None:
        return None
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "cursor")}
    if page is not None and "cursor" not in request.query_params:
        query["page"] = str(page)
    else:
        query["cursor"] = cursor or ""
    return request.build_absolute_uri(request.path) + "?" + urlencode(query)


def _search_props(params: Any, total: int) -> dict[str, Any]:
    """What a search event keeps: the text, filters and result count; never
    the searcher's coordinates."""
    filters = {k: v for k, v in params.filters().items() if k not in ("lat", "lon", "q")}
    return {"q": params.q[:200], "results": total, "filters": filters}


class SearchView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=SEARCH_PARAMETERS,
        responses=inline_serializer(
            "SearchResponse",
            {
                "results": SearchResultSerializer(many=True),
                "total": serializers.IntegerField(),
                "facets": serializers.DictField(child=serializers.ListField(child=FacetSerializer)),
                "next": serializers.URLField(allow_null=True),
            },
        ),
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        names = _category_names()
        params = parse_search_params(request.query_params, known_categories=set(names))
        page = selectors.search_listings(params=params, category_names=names)
        if params.page <= 1 and params.cursor is None:  # one event per search, not per page
            track("searched", request=request, props=_search_props(params, page.total))
        return Response(
            {
                "results": page.results,
                "total": page.total,
                "facets": page.facets,
                "next": _next_url(request, cursor=page.next_cursor, page=page.next_page),
            }
        )


class SuggestView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=inline_serializer("Suggestion", {"text": serializers.CharField()}, many=True),
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.suggest(prefix=request.query_params.get("q", "")))


class SimilarView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "SimilarResponse", {"results": SearchResultSerializer(many=True)}
        ),
        tags=["search"],
    )
    def get(self, request: Request, listing_id: str) -> Response:
        listing = listing_get_for_user(listing_id=listing_id, user=request.user)
        return Response({"results": selectors.similar(listing=listing)})


class SavedSearchSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedSearch
        fields = ["id", "name", "query", "alert", "created_at", "last_alerted_at"]


class SavedSearchInput(serializers.Serializer):
    query = serializers.JSONField()
    alert = serializers.BooleanField(default=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SavedSearchListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=SavedSearchSerializer(many=True), tags=["search"])
    def get(self, request: Request) -> Response:
        from marketplace.api import ResultsPagination

        paginator = ResultsPagination()
        page = paginator.paginate_queryset(
            SavedSearch.objects.filter(user=request.user).order_by("-created_at"),
            request,
            view=self,
        )
        return paginator.get_paginated_response(SavedSearchSerializer(page, many=True).data)

    @extend_schema(
        request=SavedSearchInput,
        responses={201: SavedSearchSerializer, 200: SavedSearchSerializer},
        tags=["search"],
    )
    def post(self, request: Request) -> Response:
        data = SavedSearchInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved, created = services.saved_search_create(user=request.user, **data.validated_data)
        return Response(
            SavedSearchSerializer(saved).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SavedSearchDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=SavedSearchSerializer, tags=["search"])
    def get(self, request: Request, saved_search_id: str) -> Response:
        from marketplace.errors import NotFound
        from marketplace.ids import parse_uuid

        uid = parse_uuid(saved_search_id)
        saved = SavedSearch.objects.filter(id=uid, user=request.user).first() if uid else None
        if saved is None:
            raise NotFound("No such saved search.")
        return Response(SavedSearchSerializer(saved).data)

    @extend_schema(responses={204: None}, tags=["search"])
    def delete(self, request: Request, saved_search_id: str) -> Response:
        services.saved_search_delete(user=request.user, saved_search_id=saved_search_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
