"""Accounts REST API: register, token, verify e-mail, me, public profiles."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts import selectors, services
from marketplace.accounts.models import User


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


class VerificationSerializer(serializers.Serializer):
    """Seller verification levels: e-mail, phone (SMS code), identity (document check)."""

    email = serializers.BooleanField()
    phone = serializers.BooleanField()
    identity = serializers.BooleanField()
    level = serializers.ChoiceField(choices=["none", "email", "phone", "identity"])


class PublicProfileSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(source="public_name")
    avatar_url = serializers.SerializerMethodField()
    member_since = serializers.DateTimeField(source="date_joined")
    email_verified = serializers.BooleanField()
    reputation = serializers.SerializerMethodField()
    verification = serializers.SerializerMethodField()

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
            "verification",
        ]

    def get_avatar_url(self, user: User) -> str | None:
        return user.avatar.url if user.avatar else None

    @extend_schema_field(ReputationSerializer)
    def get_reputation(self, user: User) -> dict[str, Any]:
        return selectors.user_reputation(user=user)

    @extend_schema_field(VerificationSerializer)
    def get_verification(self, user: User) -> dict[str, Any]:
        return selectors.verification_levels(user=user)


class MeSerializer(PublicProfileSerializer):
    phone = serializers.SerializerMethodField()

    class Meta(PublicProfileSerializer.Meta):
        fields = [*PublicProfileSerializer.Meta.fields, "email", "phone", "deletion_due_at"]

    def get_phone(self, user: User) -> str:
        """Masked (+86*********78): the full number never leaves the server."""
        from marketplace.accounts.verification import mask_phone

        return mask_phone(user.phone)


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

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "AccountDeletionScheduled", {"deletion_due_at": serializers.DateTimeField()}
            )
        },
        tags=["accounts"],
    )
    def delete(self, request: Request) -> Response:
        """Schedule account deletion after the grace period (step-up required);
        `POST /api/me/restore` undoes it until then."""
        from marketplace.accounts import privacy, security

        user = privacy.account_deletion_schedule(
            user=request.user, session=security.current_session(request)
        )
        return Response({"deletion_due_at": user.deletion_due_at}, status=status.HTTP_202_ACCEPTED)


class UserDetailView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=PublicProfileSerializer, tags=["accounts"])
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get_public(user_id=user_id)
        return Response(PublicProfileSerializer(user).data)
