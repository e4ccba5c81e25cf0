"""REST API for account security: token login with 2FA, sessions, step-up,
two-factor management, e-mail/password/payout changes (step-up protected)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts import privacy, security, selectors, services, verification
from marketplace.accounts.models import SessionKind, UserSession
from marketplace.errors import RateLimited


class RetryAfterMixin:
    """429s from domain errors carry a Retry-After header."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        retry_after = getattr(exc, "extra", {}).get("retry_after")
        if isinstance(exc, RateLimited) and retry_after:
            response["Retry-After"] = str(int(retry_after))
        return response


class PublicAuthView(RetryAfterMixin, APIView):
    throttle_scope = "auth"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []


class MeAuthView(RetryAfterMixin, APIView):
    permission_classes = [permissions.IsAuthenticated]


def _client(request: Request) -> security.ClientInfo:
    client = security.ClientInfo.from_request(request._request)
    client.session = None  # API logins never touch the cookie session
    return client


def _token_answer(request: Request, user: Any, **extra: Any) -> Response:
    started = security.session_start(user=user, kind=SessionKind.API, client=_client(request))
    body = {
        "token": started.token,
        "session_id": str(started.session.id),
        # Send it back as X-Device-Id on later logins: the device is then known
        # (no new-device notice; failed logins elsewhere do not lock it out).
        "device_id": started.device_id,
        **extra,
    }
    return Response(body)


TokenAnswer = inline_serializer(
    "TokenLoginOutput",
    {
        "token": serializers.CharField(required=False),
        "session_id": serializers.UUIDField(required=False),
        "device_id": serializers.CharField(required=False),
        "two_factor_required": serializers.BooleanField(required=False),
        "enrolment_required": serializers.BooleanField(required=False),
        "challenge": serializers.CharField(required=False),
    },
)


class TokenInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenView(PublicAuthView):
    """Password login. With 2FA on (or required but not yet set up) the answer
    is a challenge for `POST /api/auth/2fa` instead of a token."""

    @extend_schema(request=TokenInput, responses={200: TokenAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        step = security.login_password_step(
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            client=_client(request),
        )
        if step.challenge:
            body: dict[str, Any] = {"two_factor_required": True, "challenge": step.challenge}
            if step.enrolment_required:
                body["enrolment_required"] = True
                body["detail"] = (
                    "Your role requires two-factor login: POST /api/auth/2fa/enrol with the "
                    "challenge, add the secret to an authenticator app, then POST /api/auth/2fa."
                )
            return Response(body)
        return _token_answer(request, step.user)


class SecondFactorInput(serializers.Serializer):
    challenge = serializers.CharField()
    code = serializers.CharField(max_length=20)


class SecondFactorView(PublicAuthView):
    @extend_schema(request=SecondFactorInput, responses={200: TokenAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = SecondFactorInput(data=request.data)
        data.is_valid(raise_exception=True)
        user, codes = security.login_second_factor(client=_client(request), **data.validated_data)
        return _token_answer(request, user, **({"recovery_codes": codes} if codes else {}))


class ChallengeInput(serializers.Serializer):
    challenge = serializers.CharField()


EnrolAnswer = inline_serializer(
    "TotpEnrolOutput", {"secret": serializers.CharField(), "otpauth_uri": serializers.CharField()}
)


class LoginEnrolView(PublicAuthView):
    @extend_schema(request=ChallengeInput, responses={200: EnrolAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = ChallengeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(security.login_challenge_enrol(**data.validated_data))


class LogoutView(MeAuthView):
    @extend_schema(request=None, responses={204: None}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        security.session_logout(session=security.current_session(request))
        services.auth_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sessions -------------------------------------------------------------------------------


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    device = serializers.CharField(source="device_label")
    place = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    current = serializers.SerializerMethodField()

    def get_current(self, session: UserSession) -> bool:
        return session.id == self.context.get("current_id")


class SessionsView(MeAuthView):
    @extend_schema(responses=SessionSerializer(many=True), tags=["accounts"])
    def get(self, request: Request) -> Response:
        current = security.current_session(request)
        security.legacy_sessions_adopt(user=request.user)
        sessions = selectors.sessions_active(user=request.user)
        context = {"current_id": getattr(current, "id", None)}
        return Response({"results": SessionSerializer(sessions, many=True, context=context).data})


class SessionDetailView(MeAuthView):
    @extend_schema(responses={204: None}, tags=["accounts"])
    def delete(self, request: Request, session_id: str) -> Response:
        security.session_end(user=request.user, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- step-up and two-factor -------------------------------------------------------------------


class StepUpInput(serializers.Serializer):
    password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    code = serializers.CharField(required=False, allow_blank=True, max_length=20)


class StepUpView(MeAuthView):
    throttle_scope = "auth"

    @extend_schema(
        request=StepUpInput,
        responses={
            200: inline_serializer("StepUpOutput", {"valid_until": serializers.DateTimeField()})
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = StepUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = security.current_session(request)
        security.step_up(user=request.user, session=session, **data.validated_data)
        until = session.stepped_up_at + timedelta(minutes=settings.STEP_UP_MINUTES)
        return Response({"valid_until": until})


class TwoFactorStatusView(MeAuthView):
    @extend_schema(
        responses=inline_serializer(
            "TwoFactorStatus",
            {
                "enabled": serializers.BooleanField(),
                "required": serializers.BooleanField(),
                "recovery_codes_left": serializers.IntegerField(),
            },
        ),
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "enabled": security.has_two_factor(request.user),
                "required": security.two_factor_required_for(request.user),
                "recovery_codes_left": security.recovery_codes_left(user=request.user),
            }
        )

    @extend_schema(responses={204: None}, tags=["accounts"])
    def delete(self, request: Request) -> Response:
        security.totp_disable(user=request.user, session=security.current_session(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TwoFactorEnrolView(MeAuthView):
    @extend_schema(request=None, responses={200: EnrolAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        return Response(security.totp_begin(user=request.user))


class CodeInput(serializers.Serializer):
    code = serializers.CharField(max_length=20)


CodesAnswer = inline_serializer(
    "RecoveryCodesOutput", {"recovery_codes": serializers.ListField(child=serializers.CharField())}
)


class TwoFactorConfirmView(MeAuthView):
    @extend_schema(request=CodeInput, responses={200: CodesAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        codes = security.totp_confirm(user=request.user, code=data.validated_data["code"])
        return Response({"recovery_codes": codes})


class RecoveryCodesView(MeAuthView):
    @extend_schema(request=None, responses={200: CodesAnswer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        security.step_up_require(session=security.current_session(request))
        if not security.has_two_factor(request.user):
            from marketplace.errors import InvalidState

            raise InvalidState("Two-factor login is off.", state="off")
        return Response({"recovery_codes": security.recovery_codes_regenerate(user=request.user)})


# --- step-up protected changes ------------------------------------------------------------------


class EmailChangeInput(serializers.Serializer):
    email = serializers.CharField(max_length=254)


class EmailChangeView(MeAuthView):
    @extend_schema(
        request=EmailChangeInput,
        responses={200: inline_serializer("EmailChanged", {"email": serializers.CharField()})},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = EmailChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.email_change(
            user=request.user,
            session=security.current_session(request),
            email=data.validated_data["email"],
        )
        return Response({"email": user.email, "email_verified": user.email_verified})


class PasswordChangeInput(serializers.Serializer):
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeView(MeAuthView):
    @extend_schema(request=PasswordChangeInput, responses={204: None}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user=request.user,
            session=security.current_session(request),
            new_password=data.validated_data["new_password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PayoutDetailsInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=["bank", "alipay", "wechat", "paypal"])
    account_name = serializers.CharField(max_length=120)
    account_number = serializers.CharField(max_length=64)


PayoutAnswer = inline_serializer(
    "PayoutDetailsOutput",
    {
        "method": serializers.CharField(allow_null=True),
        "account_name": serializers.CharField(allow_null=True),
        "account_number_last4": serializers.CharField(allow_null=True),
    },
)


class PayoutDetailsView(MeAuthView):
    @extend_schema(responses={200: PayoutAnswer}, tags=["accounts"])
    def get(self, request: Request) -> Response:
        return Response(selectors.payout_details_masked(user=request.user))

    @extend_schema(request=PayoutDetailsInput, responses={200: PayoutAnswer}, tags=["accounts"])
    def put(self, request: Request) -> Response:
        data = PayoutDetailsInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.payout_details_set(
            user=request.user, session=security.current_session(request), **data.validated_data
        )
        return Response(selectors.payout_details_masked(user=user))


# --- verification: phone and identity ----------------------------------------------------------


class PhoneStartInput(serializers.Serializer):
    phone = serializers.CharField(max_length=32)


class PhoneStartView(MeAuthView):
    @extend_schema(
        request=PhoneStartInput,
        responses={
            202: inline_serializer(
                "PhoneCodeSent",
                {
                    "verification_id": serializers.UUIDField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = PhoneStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        check = verification.phone_verification_start(user=request.user, **data.validated_data)
        return Response(
            {"verification_id": str(check.id), "expires_at": check.expires_at},
            status=status.HTTP_202_ACCEPTED,
        )


class PhoneConfirmInput(serializers.Serializer):
    verification_id = serializers.CharField()
    code = serializers.CharField(max_length=12)


class PhoneConfirmView(MeAuthView):
    @extend_schema(
        request=PhoneConfirmInput,
        responses={
            200: inline_serializer(
                "PhoneVerified",
                {"phone": serializers.CharField(), "phone_verified": serializers.BooleanField()},
            )
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = PhoneConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = verification.phone_verification_confirm(user=request.user, **data.validated_data)
        return Response(
            {"phone": verification.mask_phone(user.phone), "phone_verified": user.phone_verified}
        )


class IdentityInput(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    document_type = serializers.CharField(max_length=40)
    document_number = serializers.CharField(max_length=64)
    country = serializers.CharField(max_length=2)


class IdentityView(MeAuthView):
    @extend_schema(
        request=IdentityInput,
        responses={
            200: inline_serializer(
                "IdentityResult",
                {
                    "id": serializers.UUIDField(),
                    "status": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            )
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = IdentityInput(data=request.data)
        data.is_valid(raise_exception=True)
        check = verification.identity_verify(user=request.user, **data.validated_data)
        return Response({"id": str(check.id), "status": check.status, "reason": check.reason})


# --- data rights: export and deletion ------------------------------------------------------------


class DataExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class DataExportView(MeAuthView):
    """Starts a ZIP of everything held about you, or answers the status of the
    one under way; when done, a download link is e-mailed (and it expires)."""

    @extend_schema(responses={200: DataExportSerializer, 202: DataExportSerializer}, tags=["me"])
    def get(self, request: Request) -> Response:
        export, started = privacy.data_export_request(user=request.user)
        export.refresh_from_db()
        code = status.HTTP_202_ACCEPTED if export.status != "done" else status.HTTP_200_OK
        return Response(DataExportSerializer(export).data, status=code)


class DataExportDownloadView(RetryAfterMixin, APIView):
    """The signed link from the e-mail; works without a session, expires."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={(200, "application/zip"): bytes}, tags=["me"])
    def get(self, request: Request) -> Any:
        from django.core.files.storage import default_storage
        from django.http import FileResponse

        export = privacy.data_export_open(token=request.query_params.get("token", ""))
        return FileResponse(
            default_storage.open(export.file_name, "rb"),
            as_attachment=True,
            filename=f"marketplace-data-{export.created_at:%Y%m%d}.zip",
            content_type="application/zip",
        )


DeletionAnswer = inline_serializer(
    "AccountDeletion", {"deletion_due_at": serializers.DateTimeField(allow_null=True)}
)


class AccountRestoreView(MeAuthView):
    @extend_schema(request=None, responses={200: DeletionAnswer}, tags=["me"])
    def post(self, request: Request) -> Response:
        user = privacy.account_deletion_cancel(user=request.user)
        return Response({"deletion_due_at": user.deletion_due_at})
