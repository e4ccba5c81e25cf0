"""Reads about users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from marketplace.accounts.models import User, UserSession
from marketplace.errors import NotFound
from marketplace.ids import parse_uuid

ReputationProvider = Callable[[User], dict[str, Any]]


def _default_reputation(user: User) -> dict[str, Any]:
    badges = ["verified_email"] if user.email_verified else []
    return {"score": None, "reviews": 0, "completed_orders": 0, "badges": badges}


_reputation_provider: ReputationProvider = _default_reputation


def register_reputation_provider(provider: ReputationProvider) -> None:
    """The trust app plugs its reputation summary in here at start-up, so the
    kernel shows reputation on profiles without importing trust."""
    global _reputation_provider
    _reputation_provider = provider


def user_reputation(*, user: User) -> dict[str, Any]:
    return _reputation_provider(user)


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True)


def user_get_public(*, user_id: Any) -> User:
    """The public profile of an active user; a bad or unknown id is NotFound."""
    uid = parse_uuid(user_id)
    user = active_users().filter(id=uid).first() if uid else None
    if user is None:
        raise NotFound("No such user.")
    return user


def user_get_by_login(*, username: str) -> User | None:
    return User.objects.filter(username__iexact=username).first()


def sessions_active(*, user: User) -> QuerySet[UserSession]:
    """The user's live sessions, most recently used first."""
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by(
        "-last_seen_at", "-created_at"
    )


def data_export_latest(*, user: User) -> Any:
    """The user's most recent data export (any status), or None."""
    from marketplace.accounts.models import DataExport

    return DataExport.objects.filter(user=user).order_by("-created_at").first()


def phone_verification_pending(*, user: User, verification_id: Any) -> Any:
    """The user's phone check `verification_id` while a code can still be typed
    (not used, not expired, attempts left), or None."""
    from django.utils import timezone

    from marketplace.accounts.models import PhoneVerification
    from marketplace.accounts.verification import PHONE_CODE_ATTEMPTS

    vid = parse_uuid(verification_id) if verification_id else None
    if vid is None:
        return None
    return PhoneVerification.objects.filter(
        id=vid, user=user, verified_at__isnull=True, expires_at__gt=timezone.now(),
        attempts__lt=PHONE_CODE_ATTEMPTS,
    ).first()


def identity_check_latest(*, user: User) -> Any:
    """The user's most recent identity check (any status), or None."""
    from marketplace.accounts.models import IdentityVerification

    return IdentityVerification.objects.filter(user=user).order_by("-created_at").first()


def payout_details(*, user: User) -> dict[str, Any]:
    import json

    try:
        return json.loads(user.payout_details) if user.payout_details else {}
    except ValueError:
        return {}


def payout_details_masked(*, user: User) -> dict[str, Any]:
    details = payout_details(user=user)
    number = str(details.get("account_number") or "")
    return {
        "method": details.get("method"),
        "account_name": details.get("account_name"),
        "account_number_last4": number[-4:] if number else None,
    }


def verification_levels(*, user: User) -> dict[str, Any]:
    """What was verified about a user (shown on public profiles)."""
    level = "none"
    for name, done in (
        ("email", user.email_verified),
        ("phone", user.phone_verified),
        ("identity", user.identity_verified),
    ):
        if done:
            level = name
    return {
        "email": user.email_verified,
        "phone": user.phone_verified,
        "identity": user.identity_verified,
        "level": level,
    }


def user_can_receive_payout(user: User, amount: Any) -> bool:
    """Payouts above PAYOUT_IDENTITY_THRESHOLD_MINOR need a verified identity.

    `amount` is a Money or integer minor units. The payout code (trust) should
    call this before paying a seller out; deleted or inactive accounts never can.
    """
    from django.conf import settings

    minor = getattr(amount, "amount_minor", amount)
    if not user.is_active or user.deleted_at is not None:
        return False
    if int(minor) > settings.PAYOUT_IDENTITY_THRESHOLD_MINOR:
        return user.identity_verified
    return True
