"""Accounts REST API: register, token, verify e-mail, me, public profiles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts import selectors, services
from marketplace.accounts.models import User
from marketplace.errors import ValidationFailed


class AuthThrottled(APIView):
    """Credential endpoints get the tighter `auth` rate (per IP)."""

    throttle_scope = "auth"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []


class RegisterInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class RegisterOutput(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class RegisterView(AuthThrottled):
    @extend_schema(request=RegisterInput, responses={201: RegisterOutput}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(RegisterOutput(user).data, status=status.HTTP_201_CREATED)


class TokenInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenView(AuthThrottled):
    @extend_schema(
        request=TokenInput,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField()})},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise ValidationFailed(
                "Unable to log in with the given username and password.", code="invalid_login"
            )
        return Response({"token": services.auth_token_issue(user=user)})


class LogoutView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        services.auth_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailInput(serializers.Serializer):
    token = serializers.CharField()


class VerifyEmailView(AuthThrottled):
    @extend_schema(
        request=VerifyEmailInput,
        responses={
            200: inline_serializer(
                "VerifyEmailOutput", {"email_verified": serializers.BooleanField()}
            )
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = VerifyEmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.email_verify(token=data.validated_data["token"])
        return Response({"email_verified": user.email_verified})


class ResendVerificationView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(request=None, responses={202: None}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        services.email_verification_send(user_id=request.user.id)
        return Response(status=status.HTTP_202_ACCEPTED)


class ReputationSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    reviews = serializers.IntegerField()
    completed_orders = serializers.IntegerField()
    badges = serializers.ListField(child=serializers.CharField())


class PublicProfileSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(source="public_name")
    avatar_url = serializers.SerializerMethodField()
    member_since = serializers.DateTimeField(source="date_joined")
    email_verified = serializers.BooleanField()
    reputation = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "avatar_url",
            "city",
            "bio",
            "languages",
            "member_since",
            "email_verified",
            "reputation",
        ]

    def get_avatar_url(self, user: User) -> str | None:
        return user.avatar.url if user.avatar else None

    @extend_schema_field(ReputationSerializer)
    def get_reputation(self, user: User) -> dict[str, Any]:
        return selectors.user_reputation(user=user)


class MeSerializer(PublicProfileSerializer):
    class Meta(PublicProfileSerializer.Meta):
        fields = [*PublicProfileSerializer.Meta.fields, "email"]


class MeUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    languages = serializers.ListField(
        child=serializers.CharField(min_length=2, max_length=20), required=False, max_length=10
    )


class MeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=MeSerializer, tags=["accounts"])
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeUpdateInput, responses=MeSerializer, tags=["accounts"])
    def patch(self, request: Request) -> Response:
        data = MeUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, **data.validated_data)
        return Response(MeSerializer(user).data)


class UserDetailView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=PublicProfileSerializer, tags=["accounts"])
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get_public(user_id=user_id)
        return Response(PublicProfileSerializer(user).data)
