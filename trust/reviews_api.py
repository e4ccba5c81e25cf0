"""Reviews: write and edit one's review of an order, list a user's reviews."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.selectors import user_get_public
from marketplace.api import ResultsPagination
from trust import reputation, selectors
from trust.reputation_models import Review


def _person(user: Any) -> dict[str, Any]:
    return {"id": str(user.pk), "display_name": user.public_name}


class PublicReviewSerializer(serializers.ModelSerializer):
    """A revealed review as anyone sees it. `role` is the author's side."""

    author = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "author", "role", "rating", "comment", "created_at"]

    @staticmethod
    def get_author(review: Review) -> dict[str, Any]:
        return _person(review.author)


class ReviewSerializer(serializers.ModelSerializer):
    """A review as its author (or, once revealed, the other party) sees it."""

    order = serializers.UUIDField(source="order_id")
    author = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()
    revealed = serializers.BooleanField(source="is_visible")

    class Meta:
        model = Review
        fields = [
            "id",
            "order",
            "author",
            "subject",
            "role",
            "rating",
            "comment",
            "created_at",
            "updated_at",
            "revealed",
            "visible_at",
        ]

    @staticmethod
    def get_author(review: Review) -> dict[str, Any]:
        return _person(review.author)

    @staticmethod
    def get_subject(review: Review) -> dict[str, Any]:
        return _person(review.subject)


class ReviewInput(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(
        max_length=reputation.MAX_COMMENT, required=False, allow_blank=True, default=""
    )


class ReviewPatchInput(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    comment = serializers.CharField(
        max_length=reputation.MAX_COMMENT, required=False, allow_blank=True
    )


OrderReviewsOut = inline_serializer(
    name="OrderReviews",
    fields={
        "mine": ReviewSerializer(allow_null=True),
        "theirs": ReviewSerializer(allow_null=True),
        "window_closes_at": serializers.DateTimeField(allow_null=True),
    },
)


class OrderReviewView(APIView):
    """`POST` writes the caller's review of a completed order (once per side;
    hidden until both sides wrote or the window closes); `PATCH` edits it while
    hidden; `GET` shows the caller's review and, once revealed, the other's."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=OrderReviewsOut, tags=["reviews"])
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        found = reputation.order_reviews_for_party(order=order, user=request.user)
        return Response(
            {
                "mine": ReviewSerializer(found["mine"]).data if found["mine"] else None,
                "theirs": ReviewSerializer(found["theirs"]).data if found["theirs"] else None,
                "window_closes_at": found["window_closes_at"],
            }
        )

    @extend_schema(request=ReviewInput, responses={201: ReviewSerializer}, tags=["reviews"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = reputation.review_submit(order=order, author=request.user, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReviewPatchInput, responses=ReviewSerializer, tags=["reviews"])
    def patch(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = ReviewPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = reputation.review_update(order=order, author=request.user, **data.validated_data)
        return Response(ReviewSerializer(review).data)


class UserReviewsView(APIView):
    """The revealed reviews about a user, newest first (public)."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "role",
                str,
                enum=["seller", "buyer"],
                required=False,
                description="only reviews of the user as seller (from buyers) or as buyer",
            )
        ],
        responses=PublicReviewSerializer(many=True),
        tags=["reviews"],
    )
    def get(self, request: Request, user_id: str) -> Response:
        user = user_get_public(user_id=user_id)
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(
            reputation.reviews_received(user=user, role=request.query_params.get("role")),
            request,
            view=self,
        )
        return paginator.get_paginated_response(PublicReviewSerializer(page, many=True).data)
