"""Web-session bookkeeping: last-seen times and the long-lived device cookie."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from marketplace.accounts import devices, security
from marketplace.accounts.models import UserSession

DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600


class SessionActivityMiddleware:
    """After AuthenticationMiddleware. Costs one cache operation per request
    with a session cookie; writes last_seen at most once a minute."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            self._touch(request)
        response = self.get_response(request)
        device_id = getattr(request, "_mkt_device_id", None)
        if device_id and request.COOKIES.get(devices.DEVICE_COOKIE) != device_id:
            response.set_cookie(
                devices.DEVICE_COOKIE,
                device_id,
                max_age=DEVICE_COOKIE_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def _touch(self, request: HttpRequest) -> None:
        session = getattr(request, "session", None)
        if session is None:
            return
        sid = session.get(security.SESSION_ID_KEY)
        if sid:
            security.session_touch(session=UserSession(id=sid))
        elif request.user.is_authenticated:
            security.session_for_web(user=request.user, django_session=session)
