"""Follow a seller: POST/DELETE /api/users/{id}/follow, GET /api/me/following."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from listings import follows
from marketplace.api import ResultsPagination

TAGS = ["listings"]
USER_ID = OpenApiParameter("user_id", str, OpenApiParameter.PATH, description="the seller's id")


class FollowingSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The seller's user id.")
    username = serializers.CharField()
    display_name = serializers.CharField()
    since = serializers.DateTimeField()

    def to_representation(self, follow: follows.Follow) -> dict[str, Any]:
        seller = follow.seller
        return {
            "id": str(seller.pk),
            "username": seller.username,
            "display_name": seller.public_name,
            "since": serializers.DateTimeField().to_representation(follow.created_at),
        }


FollowState = inline_serializer(
    "FollowState", {"user": serializers.UUIDField(), "following": serializers.BooleanField()}
)


class FollowView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, parameters=[USER_ID], request=None,
                   responses={200: FollowState, 201: FollowState},
                   summary="Follow a seller (idempotent): their new listings reach your feed "
                           "and notifications")
    def post(self, request: Request, user_id: str) -> Response:
        follow, created = follows.follow_add(follower=request.user, seller_id=user_id)
        return Response({"user": str(follow.seller_id), "following": True},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(tags=TAGS, parameters=[USER_ID], request=None, responses={204: None},
                   summary="Stop following a seller (idempotent)")
    def delete(self, request: Request, user_id: str) -> Response:
        follows.follow_remove(follower=request.user, seller_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyFollowingView(GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = ResultsPagination
    serializer_class = FollowingSerializer

    def get_queryset(self) -> Any:
        return follows.following_for(user=self.request.user)

    @extend_schema(tags=TAGS, responses=FollowingSerializer(many=True),
                   summary="Sellers you follow, most recent first")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FollowingSerializer(page, many=True).data)
