"""Account security services: login with throttling and two-factor, sessions
and devices, step-up. Every write about who is logged in where lives here.

Login is two steps when the account has TOTP (or must enrol it): the password
step answers a short-lived challenge; `login_second_factor` completes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from marketplace.accounts import devices, throttle
from marketplace.accounts.models import (
    RecoveryCode,
    SessionKind,
    TotpDevice,
    User,
    UserSession,
)
from marketplace.errors import InvalidState, NotAllowed, NotFound, RateLimited, ValidationFailed
from marketplace.ids import parse_uuid

SESSION_ID_KEY = "mkt_sid"  # in the Django session: the UserSession id
CHALLENGE_TTL = 300
CHALLENGE_ATTEMPTS = 5
RECOVERY_CODE_COUNT = 10
LAST_SEEN_EVERY = 60  # seconds between last_seen writes per session
# Per-device tokens carry a prefix, so authentication knows at once whether a
# key is one of ours (one lookup by hash) or a plain authtoken token.
TOKEN_PREFIX = "mks_"  # noqa: S105 - a prefix, not a secret


class LoginLocked(RateLimited):
    """Too many failed logins: 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            "Too many failed login attempts. Try again in "
            f"{retry_after} seconds (about {minutes} min).",
            code="login_locked",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


class StepUpRequired(NotAllowed):
    code = "step_up_required"

    def __init__(self) -> None:
        super().__init__(
            f"Confirm it's you first: POST /api/me/step-up with your password or a 2FA code "
            f"(valid {settings.STEP_UP_MINUTES} minutes)."
        )


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- request context ------------------------------------------------------------------


@dataclass
class ClientInfo:
    ip: str | None = None
    user_agent: str = ""
    device_id: str = ""
    session: Any = None  # the Django session for web logins

    @classmethod
    def from_request(cls, request: Any) -> ClientInfo:
        meta = getattr(request, "META", {}) or {}
        return cls(
            ip=devices.client_ip(meta),
            user_agent=str(meta.get("HTTP_USER_AGENT", ""))[:300],
            device_id=devices.device_id_from(request) if hasattr(request, "COOKIES") else "",
            session=getattr(request, "session", None),
        )


# --- login: password step ------------------------------------------------------------------


def _known_device(user: User | None, device_id: str) -> bool:
    return bool(
        user is not None
        and device_id
        and UserSession.objects.filter(user=user, device_id=device_id).exists()
    )


def _scopes(username: str, user: User | None, client: ClientInfo) -> list[throttle.Scope]:
    account = (
        throttle.device_key(username, client.device_id)
        if _known_device(user, client.device_id)
        else throttle.account_key(username)
    )
    return [
        throttle.Scope(throttle.ip_key(client.ip), settings.LOGIN_FAILURES_PER_IP),
        throttle.Scope(account, settings.LOGIN_FAILURES_PER_ACCOUNT),
    ]


def two_factor_required_for(user: User) -> bool:
    """Moderators (and any group in TWO_FACTOR_REQUIRED_GROUPS) must use 2FA."""
    groups = settings.TWO_FACTOR_REQUIRED_GROUPS
    return bool(groups) and user.groups.filter(name__in=groups).exists()


def has_two_factor(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


@dataclass
class PasswordStep:
    user: User
    two_factor_required: bool = False
    enrolment_required: bool = False
    challenge: str | None = None
    scopes: list[throttle.Scope] = field(default_factory=list)


def login_password_step(*, username: str, password: str, client: ClientInfo) -> PasswordStep:
    """Check the throttles, then the password.

    Raises LoginLocked (429) while the IP or the account (for this device) is
    locked, and ValidationFailed for wrong credentials (an unknown username
    fails exactly like a wrong password). When the account has 2FA, or must
    enrol it, the answer carries a challenge for the second step instead.
    """
    user = User.objects.filter(username__iexact=(username or "").strip()).first()
    scopes = _scopes(username, user, client)
    wait = throttle.locked_for(scopes)
    if wait:
        raise LoginLocked(wait)
    authed = authenticate(None, username=username, password=password)
    if authed is None:
        wait = throttle.record_failure(scopes)
        if wait:
            raise LoginLocked(wait)
        raise ValidationFailed(
            "Unable to log in with the given username and password.", code="invalid_login"
        )
    step = PasswordStep(user=authed, scopes=scopes)
    if has_two_factor(authed):
        step.two_factor_required = True
    elif two_factor_required_for(authed):
        step.enrolment_required = True
    if step.two_factor_required or step.enrolment_required:
        step.challenge = _challenge_create(authed, client, enrol=step.enrolment_required)
    else:
        throttle.reset([s.key for s in scopes if not s.key.startswith("ip:")])
    return step


def _challenge_key(challenge: str) -> str:
    return f"login-2fa-challenge:{_sha(challenge)}"


def _challenge_create(user: User, client: ClientInfo, *, enrol: bool) -> str:
    challenge = secrets.token_urlsafe(32)
    cache.set(
        _challenge_key(challenge),
        {"user_id": str(user.id), "attempts": 0, "enrol": enrol, "device_id": client.device_id},
        timeout=CHALLENGE_TTL,
    )
    return challenge


def _challenge_get(challenge: str) -> tuple[User, dict[str, Any]]:
    data = cache.get(_challenge_key(challenge or "")) if challenge else None
    user = User.objects.filter(id=data["user_id"], is_active=True).first() if data else None
    if data is None or user is None:
        raise ValidationFailed(
            {"challenge": ["This login attempt has expired; log in again."]},
            code="challenge_expired",
        )
    return user, data


def login_challenge_enrol(*, challenge: str) -> dict[str, str]:
    """For a user who must enrol during login (moderators): the new secret."""
    user, data = _challenge_get(challenge)
    if not data["enrol"]:
        raise InvalidState("Two-factor login is already set up.", state="on")
    return totp_begin(user=user)


def login_second_factor(
    *, challenge: str, code: str, client: ClientInfo
) -> tuple[User, list[str] | None]:
    """Complete a login with a TOTP or recovery code (or, for a user who must
    enrol, the first TOTP code, which confirms the new authenticator).

    Wrong codes count as failed logins on the account and IP; a challenge
    allows CHALLENGE_ATTEMPTS tries, then the password step starts over.
    Answers the user and, after an enrolment, the new recovery codes.
    """
    user, data = _challenge_get(challenge)
    scopes = _scopes(user.username, user, client)
    wait = throttle.locked_for(scopes)
    if wait:
        raise LoginLocked(wait)
    if data["enrol"]:
        ok = totp_confirm_code(user=user, code=code)
    else:
        ok = verify_second_factor(user=user, code=code)
    if not ok:
        data["attempts"] += 1
        if data["attempts"] >= CHALLENGE_ATTEMPTS:
            cache.delete(_challenge_key(challenge))
        else:
            cache.set(_challenge_key(challenge), data, timeout=CHALLENGE_TTL)
        wait = throttle.record_failure(scopes)
        if wait:
            raise LoginLocked(wait)
        raise ValidationFailed({"code": ["That code is not valid."]}, code="invalid_code")
    cache.delete(_challenge_key(challenge))
    throttle.reset([s.key for s in scopes if not s.key.startswith("ip:")])
    # A moderator who just enrolled gets the recovery codes, shown once.
    return user, (recovery_codes_regenerate(user=user) if data["enrol"] else None)


# --- TOTP and recovery codes ---------------------------------------------------------------


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _accept_code(device: TotpDevice, code: str) -> bool:
    """Accept the current step (+-1 for clock drift), never the same step twice.
    Call with the device row locked."""
    code = "".join((code or "").split())
    if not code.isdigit() or len(code) != 6:
        return False
    totp = _totp(device.secret)
    now = timezone.now()
    step_now = int(now.timestamp()) // totp.interval
    for step in (step_now, step_now - 1, step_now + 1):
        if step <= device.last_step:
            continue
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            device.last_step = step
            device.save(update_fields=["last_step"])
            return True
    return False


def totp_begin(*, user: User) -> dict[str, str]:
    """Start (or restart) enrolment: a new secret and its otpauth:// URI.
    An already confirmed authenticator must be disabled first."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed_at is not None:
            raise InvalidState("Two-factor login is already on; turn it off first.", state="on")
        secret = pyotp.random_base32()
        if device is None:
            TotpDevice.objects.create(user=user, secret=secret)
        else:
            device.secret, device.last_step = secret, 0
            device.save(update_fields=["secret", "last_step"])
    return _enrolment(user, secret)


def _enrolment(user: User, secret: str) -> dict[str, str]:
    uri = _totp(secret).provisioning_uri(
        name=user.email or user.username, issuer_name=settings.TWO_FACTOR_ISSUER
    )
    return {"secret": secret, "otpauth_uri": uri}


def totp_pending(*, user: User) -> dict[str, str] | None:
    """The secret and otpauth:// URI of an enrolment begun but not confirmed
    (the web page shows its QR code again after a wrong first code), or None."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    return _enrolment(user, device.secret) if device is not None else None


def totp_confirm_code(*, user: User, code: str) -> bool:
    """Confirm a pending enrolment with a first code; True on success."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            raise InvalidState("Start two-factor enrolment first.", state="off")
        if not _accept_code(device, code):
            return False
        if device.confirmed_at is None:
            device.confirmed_at = timezone.now()
            device.save(update_fields=["confirmed_at"])
    return True


def totp_confirm(*, user: User, code: str) -> list[str]:
    """Confirm enrolment; answers the recovery codes (shown once)."""
    if not totp_confirm_code(user=user, code=code):
        raise ValidationFailed({"code": ["That code is not valid."]}, code="invalid_code")
    return recovery_codes_regenerate(user=user)


def _code_hash(user: User, code: str) -> str:
    normalized = "".join(code.split()).replace("-", "").lower()
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{user.id}:{normalized}".encode(), hashlib.sha256).hexdigest()


def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Replace the recovery codes with RECOVERY_CODE_COUNT fresh ones; stored hashed."""
    # 10 hex digits as "xxxxx-xxxxx": 40 bits each, one use, hashed at rest.
    codes = [f"{c[:5]}-{c[5:]}" for c in (secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT))]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_code_hash(user, code)) for code in codes
        )
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    return bool(
        RecoveryCode.objects.filter(
            user=user, code_hash=_code_hash(user, code), used_at__isnull=True
        ).update(used_at=timezone.now())
    )


def verify_second_factor(*, user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code (which is then spent)."""
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            return False
        if _accept_code(device, code):
            return True
    return _use_recovery_code(user, code or "")


def totp_disable(*, user: User, session: UserSession | None) -> None:
    """Turn 2FA off (step-up required). Moderators cannot turn it off."""
    step_up_require(session=session)
    if two_factor_required_for(user):
        raise NotAllowed("Two-factor login is required for your role.", code="two_factor_required")
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# --- sessions and devices ---------------------------------------------------------------


@dataclass
class StartedSession:
    session: UserSession
    token: str | None
    device_id: str
    new_device: bool


def session_start(*, user: User, kind: str, client: ClientInfo) -> StartedSession:
    """Record a login on a device. API logins get a fresh token (stored hashed);
    web logins point at the (already cycled) Django session. A login from a
    device this account never used before notifies the user, unless it is the
    account's very first login."""
    from marketplace.notifications.services import notify

    device_id = client.device_id or devices.new_device_id()
    token = TOKEN_PREFIX + secrets.token_urlsafe(30) if kind == SessionKind.API else None
    with transaction.atomic():
        seen_before = UserSession.objects.filter(user=user)
        first_login = not seen_before.exists()
        known = not first_login and seen_before.filter(device_id=device_id).exists()
        now = timezone.now()
        session = UserSession.objects.create(
            user=user,
            kind=kind,
            session_key=(client.session.session_key or "") if kind == SessionKind.WEB else "",
            token_hash=_sha(token) if token else None,
            device_id=device_id,
            device_label=devices.device_label(client.user_agent),
            user_agent=client.user_agent,
            ip=client.ip,
            place=devices.approximate_place(client.ip),
            stepped_up_at=now,  # the password (and 2FA) were just entered
        )
        if not first_login and not known:
            notify(
                recipient=user,
                kind="new_device_login",
                payload={
                    "session_id": str(session.id),
                    "device": session.device_label,
                    "place": session.place,
                    "ip": client.ip,
                    "at": now.isoformat(),
                },
                # the web sessions page (frontend); apps: GET /api/me/sessions
                link="/me/settings/sessions/",
                dedupe_key=f"new-device:{session.id}",
            )
    if kind == SessionKind.WEB and client.session is not None:
        client.session[SESSION_ID_KEY] = str(session.id)
    return StartedSession(session, token, device_id, new_device=not known)


def session_for_token(key: str) -> UserSession | None:
    """The active session for an API token: one of ours (looked up by hash),
    or a plain authtoken token, which is adopted into a session row (so it can
    be listed and revoked like any other)."""
    if not key:
        return None
    if key.startswith(TOKEN_PREFIX):
        session = (
            UserSession.objects.select_related("user")
            .filter(token_hash=_sha(key), ended_at__isnull=True)
            .first()
        )
        return session if session is not None and session.user.is_active else None
    from rest_framework.authtoken.models import Token

    legacy = Token.objects.select_related("user").filter(key=key).first()
    if legacy is None or not legacy.user.is_active:
        return None
    return legacy_session(legacy)


def legacy_session(token: Any) -> UserSession:
    """The session row standing for a plain authtoken token (created once)."""
    session, _ = UserSession.objects.select_related("user").get_or_create(
        token_hash=_sha(token.key),
        defaults={"user": token.user, "kind": SessionKind.API, "device_label": "API token"},
    )
    return session


def legacy_sessions_adopt(*, user: User) -> None:
    """Make the user's plain authtoken token (if any) show in the sessions list."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.filter(user=user).first()
    if token is not None:
        legacy_session(token)


def session_for_web(*, user: Any, django_session: Any) -> UserSession | None:
    """The UserSession behind a logged-in Django session (created if a login
    predates session tracking)."""
    if django_session is None or not getattr(user, "is_authenticated", False):
        return None
    sid = parse_uuid(django_session.get(SESSION_ID_KEY))
    if sid is not None:
        return UserSession.objects.filter(id=sid, user=user, ended_at__isnull=True).first()
    if not django_session.session_key:
        return None
    session, _ = UserSession.objects.get_or_create(
        user=user,
        kind=SessionKind.WEB,
        session_key=django_session.session_key,
        ended_at=None,
        defaults={"device_label": "Browser"},
    )
    django_session[SESSION_ID_KEY] = str(session.id)
    return session


def current_session(request: Any) -> UserSession | None:
    """The UserSession the request is authenticated by (token or web session)."""
    from rest_framework.authtoken.models import Token

    auth = getattr(request, "auth", None)
    if isinstance(auth, UserSession):
        return auth
    if isinstance(auth, Token):
        return legacy_session(auth)
    return session_for_web(user=request.user, django_session=getattr(request, "session", None))


def session_touch(*, session: UserSession, ip: str | None = None) -> None:
    """Update last_seen at most once a minute per session (one cache hit otherwise)."""
    if cache.add(f"session-seen-throttle:{session.id}", 1, timeout=LAST_SEEN_EVERY):
        UserSession.objects.filter(id=session.id).update(last_seen_at=timezone.now())


def session_group(session_id: Any) -> str:
    """The channel-layer group of every websocket opened by one session."""
    return f"session.{session_id}"


def session_end(*, user: User, session_id: Any) -> UserSession:
    """End one of the user's sessions: the web session is deleted or the token
    revoked (its next request is anonymous), and its open websockets closed.
    Ending an ended session is a no-op; someone else's session is NotFound."""
    sid = parse_uuid(session_id)
    with transaction.atomic():
        session = (
            UserSession.objects.select_for_update().filter(id=sid, user=user).first()
            if sid
            else None
        )
        if session is None:
            raise NotFound("No such session.")
        if session.ended_at is not None:
            return session
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        _kill(session)
    return session


def _kill(session: UserSession) -> None:
    if session.kind == SessionKind.WEB and session.session_key:
        engine = import_module(settings.SESSION_ENGINE)
        engine.SessionStore(session_key=session.session_key).delete()
    if session.kind == SessionKind.API and session.token_hash:
        from rest_framework.authtoken.models import Token

        legacy = Token.objects.filter(user_id=session.user_id).first()
        if legacy is not None and _sha(legacy.key) == session.token_hash:
            legacy.delete()
    session_id = session.id
    transaction.on_commit(lambda: _close_sockets(session_id))


def _close_sockets(session_id: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_id), {"type": "session.revoked"})
    except Exception:  # noqa: BLE001 - the layer being down must not fail the revoke
        import logging

        logging.getLogger(__name__).warning("could not signal sockets of session %s", session_id)


def sessions_end_all(*, user: User, except_session: UserSession | None = None) -> int:
    ids = list(
        UserSession.objects.filter(user=user, ended_at__isnull=True)
        .exclude(id=getattr(except_session, "id", None))
        .values_list("id", flat=True)
    )
    for sid in ids:
        session_end(user=user, session_id=sid)
    return len(ids)


def session_logout(*, session: UserSession | None) -> None:
    if session is not None:
        session_end(user=session.user, session_id=session.id)


# --- step-up ------------------------------------------------------------------------------


def step_up(*, user: User, session: UserSession | None, password: str = "", code: str = "") -> None:
    """Re-prove identity with the password or a 2FA code; lasts STEP_UP_MINUTES.
    Failures count as failed logins (the same throttles and lockout)."""
    if session is None:
        raise NotAllowed("Log in again to do this.", code="session_required")
    scopes = [
        throttle.Scope(throttle.account_key(user.username), settings.LOGIN_FAILURES_PER_ACCOUNT)
    ]
    wait = throttle.locked_for(scopes)
    if wait:
        raise LoginLocked(wait)
    ok = (bool(password) and user.check_password(password)) or (
        bool(code) and verify_second_factor(user=user, code=code)
    )
    if not ok:
        wait = throttle.record_failure(scopes)
        if wait:
            raise LoginLocked(wait)
        raise ValidationFailed("Wrong password or code.", code="invalid_credentials")
    session.stepped_up_at = timezone.now()
    session.save(update_fields=["stepped_up_at"])


def step_up_fresh(session: UserSession | None) -> bool:
    if session is None or session.stepped_up_at is None:
        return False
    return timezone.now() - session.stepped_up_at <= timedelta(minutes=settings.STEP_UP_MINUTES)


def step_up_require(*, session: UserSession | None) -> None:
    if not step_up_fresh(session):
        raise StepUpRequired()
