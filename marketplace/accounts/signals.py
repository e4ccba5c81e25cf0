"""Every Django login (login form, registration, admin, test clients) records a
web UserSession, and every Django logout ends it. Receivers catch them all in
one place; the API's token login calls security.session_start itself."""

from __future__ import annotations

from typing import Any

from marketplace.accounts import security
from marketplace.accounts.models import SessionKind
from marketplace.errors import NotFound


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or getattr(request, "session", None) is None:
        return
    started = security.session_start(
        user=user, kind=SessionKind.WEB, client=security.ClientInfo.from_request(request)
    )
    request._mkt_device_id = started.device_id  # the middleware sets the cookie


def on_user_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Logging out ends the session row too (and closes its websockets)."""
    session = getattr(request, "session", None) if request is not None else None
    sid = session.get(security.SESSION_ID_KEY) if session is not None else None
    if sid and user is not None:
        try:
            security.session_end(user=user, session_id=sid)
        except NotFound:
            pass


def register() -> None:
    from django.contrib.auth.signals import user_logged_in, user_logged_out

    user_logged_in.connect(on_user_logged_in, dispatch_uid="accounts.session_start")
    user_logged_out.connect(on_user_logged_out, dispatch_uid="accounts.session_end")
