"""Every write about accounts: registration, e-mail verification, profiles, tokens."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from marketplace.accounts.events import USER_REGISTERED
from marketplace.accounts.models import User
from marketplace.errors import NotFound, ValidationFailed
from marketplace.outbox.services import publish

USERNAME_RE = re.compile(r"^[\w.@+-]{3,150}$")
EMAIL_VERIFICATION_SALT = "accounts.email-verification"
PROFILE_FIELDS = ("display_name", "city", "bio", "languages")


def _validate_email(email: str) -> str:
    from django.core.validators import validate_email

    email = (email or "").strip()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed({"email": ["Enter a valid e-mail address."]}) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def user_register(*, username: str, email: str, password: str) -> User:
    """Create an account and announce it (the verification e-mail follows).

    Raises ValidationFailed with a message per field: taken username or
    e-mail (case-insensitive), malformed ones, weak passwords.
    """
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = ["3-150 characters: letters, digits and @ . + - _ only."]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    try:
        email = _validate_email(email)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = ["An account with this e-mail already exists."]
    try:
        password_validation.validate_password(
            password or "", user=User(username=username, email=email)
        )
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(errors)

    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            publish(topic=USER_REGISTERED, payload={"user_id": str(user.id)})
    except IntegrityError:
        # Lost a race with a simultaneous registration of the same name/e-mail.
        raise ValidationFailed(
            {"username": ["A user with that username or e-mail already exists."]}
        ) from None
    return user


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"u": str(user.id), "e": user.email}, salt=EMAIL_VERIFICATION_SALT)


def email_verification_send(*, user_id: Any) -> bool:
    """Send the verification link. Safe to run twice (a second e-mail with a
    valid link is harmless); does nothing for verified or vanished users."""
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None or user.email_verified or not user.email:
        return False
    token = email_verification_token(user=user)
    link = settings.SITE_URL.rstrip("/") + reverse("frontend:verify-email", args=[token])
    send_mail(
        subject="Confirm your e-mail address / 请确认您的邮箱",
        message=(
            f"Hello {user.public_name},\n\n"
            f"Please confirm your e-mail address by opening this link:\n{link}\n\n"
            f"您好，请打开上面的链接确认您的邮箱地址。\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True


def email_verify(*, token: str) -> User:
    """Mark the e-mail in a valid, unexpired token as verified (idempotent)."""
    try:
        data = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.SignatureExpired:
        raise ValidationFailed({"token": ["This link has expired; ask for a new one."]}) from None
    except signing.BadSignature:
        raise ValidationFailed({"token": ["This link is not valid."]}) from None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(id=data.get("u"), is_active=True).first()
        if user is None:
            raise NotFound("No such user.")
        if user.email.lower() != str(data.get("e", "")).lower():
            raise ValidationFailed({"token": ["This link is for an old e-mail address."]})
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
    return user


def profile_update(*, user: User, **fields: Any) -> User:
    """Change the editable profile fields (display name, city, bio, languages)."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed({name: ["This field cannot be changed."] for name in unknown})
    if "languages" in fields:
        languages = fields["languages"]
        if not isinstance(languages, list) or not all(
            isinstance(code, str) and 2 <= len(code) <= 20 for code in languages
        ):
            raise ValidationFailed({"languages": ['A list of language codes, e.g. ["en"].']})
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password", "username", "email", "avatar"], validate_unique=False)
    user.save(update_fields=list(fields))
    return user


def auth_token_issue(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def auth_token_revoke(*, user: User) -> None:
    Token.objects.filter(user=user).delete()


# --- step-up protected changes (see security.py for step-up itself) -------------------------


def email_change(*, user: User, session: Any, email: str) -> User:
    """Change the e-mail (step-up required); it must be verified again."""
    from marketplace.accounts.security import step_up_require

    step_up_require(session=session)
    email = _validate_email(email)
    if User.objects.filter(email__iexact=email).exclude(id=user.id).exists():
        raise ValidationFailed({"email": ["An account with this e-mail already exists."]})
    try:
        with transaction.atomic():
            user.email = email
            user.email_verified_at = None
            user.save(update_fields=["email", "email_verified_at"])
    except IntegrityError:
        raise ValidationFailed({"email": ["An account with this e-mail already exists."]}) from None
    user_id = user.id
    transaction.on_commit(lambda: email_verification_send(user_id=user_id))
    return user


def password_change(*, user: User, session: Any, new_password: str) -> None:
    """Set a new password (step-up required) and end every other session."""
    from marketplace.accounts.security import sessions_end_all, step_up_require

    step_up_require(session=session)
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed({"new_password": list(exc.messages)}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        sessions_end_all(user=user, except_session=session)
        # A plain authtoken token not yet seen as a session goes too.
        legacy = Token.objects.filter(user=user).first()
        if legacy is not None and not _is_session_token(session, legacy.key):
            legacy.delete()


def _is_session_token(session: Any, key: str) -> bool:
    import hashlib

    token_hash = getattr(session, "token_hash", None)
    return bool(token_hash) and token_hash == hashlib.sha256(key.encode()).hexdigest()


def payout_details_set(
    *, user: User, session: Any, method: str, account_name: str, account_number: str
) -> User:
    """Where payouts go (step-up required); stored encrypted."""
    import json

    from marketplace.accounts.security import step_up_require

    step_up_require(session=session)
    number = "".join(str(account_number).split())
    if not re.fullmatch(r"[A-Za-z0-9@.+_-]{4,64}", number):
        raise ValidationFailed({"account_number": ["4-64 letters, digits or @ . + _ -"]})
    user.payout_details = json.dumps(
        {"method": method, "account_name": account_name.strip(), "account_number": number}
    )
    user.save(update_fields=["payout_details"])
    return user
