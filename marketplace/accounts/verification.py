"""Verification services: phone numbers (SMS code) and identity documents.

Phone codes are 6 digits, stored as an HMAC, valid PHONE_CODE_TTL, allow
PHONE_CODE_ATTEMPTS tries; sending is limited per user (one a minute,
PHONE_SENDS_PER_HOUR an hour). Phone numbers and identity details are
encrypted at rest (EncryptedTextField).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import (
    IdentityStatus,
    IdentityVerification,
    PhoneVerification,
    User,
)
from marketplace.accounts.providers import identity_provider, sms_provider
from marketplace.errors import InvalidState, NotFound, RateLimited, ValidationFailed
from marketplace.ids import parse_uuid

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164
PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_CODE_ATTEMPTS = 5
PHONE_RESEND_AFTER = timedelta(seconds=60)
PHONE_SENDS_PER_HOUR = 5
DOCUMENT_TYPES = ("passport", "national_id", "driving_licence", "resident_permit")


def normalize_phone(raw: str) -> str:
    phone = re.sub(r"[\s().-]", "", raw or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not PHONE_RE.match(phone):
        raise ValidationFailed(
            {"phone": ["Enter the number in international format, e.g. +8613812345678."]}
        )
    return phone


def mask_phone(phone: str) -> str:
    """+86*********78: enough to recognise, not enough to call."""
    if not phone:
        return ""
    return phone[:3] + "*" * max(len(phone) - 5, 0) + phone[-2:]


def _code_hash(verification_id: Any, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_verification_start(*, user: User, phone: str) -> PhoneVerification:
    """Send a code to `phone`. RateLimited (429) when asking again too soon."""
    phone = normalize_phone(phone)
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(id=user.id).first()  # one sender at a time
        recent = PhoneVerification.objects.filter(
            user=user, created_at__gte=now - timedelta(hours=1)
        ).order_by("-created_at")
        last = recent.first()
        if last is not None and now - last.created_at < PHONE_RESEND_AFTER:
            wait = PHONE_RESEND_AFTER - (now - last.created_at)
            raise RateLimited(
                "Wait a minute before asking for another code.",
                code="resend_too_soon",
                retry_after=math.ceil(wait.total_seconds()),
            )
        if recent.count() >= PHONE_SENDS_PER_HOUR:
            oldest = recent.last()
            wait = oldest.created_at + timedelta(hours=1) - now
            raise RateLimited(
                "Too many codes asked for this hour.",
                code="too_many_codes",
                retry_after=math.ceil(wait.total_seconds()),
            )
        code = f"{secrets.randbelow(10**6):06d}"
        verification = PhoneVerification(
            user=user, phone=phone, expires_at=now + PHONE_CODE_TTL, code_hash=""
        )
        verification.code_hash = _code_hash(verification.id, code)
        verification.save()
        text = f"Your Marketplace code is {code}. It expires in 10 minutes."
        transaction.on_commit(lambda: sms_provider().send(to=phone, text=text))
    return verification


def phone_verification_confirm(*, user: User, verification_id: Any, code: str) -> User:
    """Check a code; the number becomes the user's verified phone."""
    vid = parse_uuid(verification_id)
    now = timezone.now()
    with transaction.atomic():
        verification = (
            PhoneVerification.objects.select_for_update().filter(id=vid, user=user).first()
            if vid
            else None
        )
        if verification is None:
            raise NotFound("No such phone verification.")
        if verification.verified_at is not None:
            raise InvalidState("This code was already used.", state="verified")
        if verification.expires_at <= now:
            raise ValidationFailed({"code": ["This code has expired; ask for a new one."]})
        if verification.attempts >= PHONE_CODE_ATTEMPTS:
            raise InvalidState("Too many wrong codes; ask for a new one.", state="locked")
        digits = "".join((code or "").split())
        ok = hmac.compare_digest(_code_hash(verification.id, digits), verification.code_hash)
        if ok:
            verification.verified_at = now
            verification.save(update_fields=["verified_at"])
            user.phone = verification.phone
            user.phone_verified_at = now
            user.save(update_fields=["phone", "phone_verified_at"])
        else:
            verification.attempts += 1
            verification.save(update_fields=["attempts"])
    if not ok:  # raised after the commit, so the attempt stays counted
        left = PHONE_CODE_ATTEMPTS - verification.attempts
        raise ValidationFailed({"code": [f"Wrong code; {left} attempts left."]})
    return user


def identity_verify(
    *, user: User, full_name: str, document_type: str, document_number: str, country: str
) -> IdentityVerification:
    """Check an identity document with the provider; approval marks the user
    identity-verified. Details are kept encrypted for the record."""
    if document_type not in DOCUMENT_TYPES:
        raise ValidationFailed({"document_type": [f"One of: {', '.join(DOCUMENT_TYPES)}."]})
    if not full_name.strip() or not document_number.strip():
        raise ValidationFailed({"document_number": ["Name and document number are required."]})
    if not re.fullmatch(r"[A-Za-z]{2}", country or ""):
        raise ValidationFailed({"country": ["An ISO 3166 two-letter country code."]})
    if user.identity_verified:
        raise InvalidState("Your identity is already verified.", state="approved")
    provider = identity_provider()
    details = {
        "full_name": full_name.strip(),
        "document_type": document_type,
        "document_number": document_number.strip(),
        "country": country.upper(),
    }
    check = IdentityVerification.objects.create(
        user=user, provider=provider.name, details=json.dumps(details)
    )
    decision = provider.verify(
        full_name=details["full_name"],
        document_type=document_type,
        document_number=details["document_number"],
        country=details["country"],
    )
    now = timezone.now()
    with transaction.atomic():
        check.status = IdentityStatus.APPROVED if decision.approved else IdentityStatus.REJECTED
        check.provider_ref = decision.reference
        check.reason = decision.reason[:200]
        check.decided_at = now
        check.save(update_fields=["status", "provider_ref", "reason", "decided_at"])
        if decision.approved:
            user.identity_verified_at = now
            user.save(update_fields=["identity_verified_at"])
    return check
