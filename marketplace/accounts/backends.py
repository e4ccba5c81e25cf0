"""The authentication backend: Django's ModelBackend behind the failed-login
throttle, so logins that bypass accounts' own views (the admin login page,
any plain django.contrib.auth view) are throttled and locked out the same way.
The API and the site's login page throttle in accounts.security and call
authenticate() without a request, which this backend lets straight through.

Accounts with two-factor login on (or required) are refused here: those pages
have no second step, so they log in on the site and reuse the session.

The plain ModelBackend stays listed after it only so sessions logged in with
it explicitly (login(..., backend=...)) keep resolving; a failure here raises
PermissionDenied, so the password is never checked twice."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from marketplace.accounts import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        if request is None:
            authed = super().authenticate(request, username=username, password=password, **kwargs)
            if authed is None:
                raise PermissionDenied  # no second look by the plain ModelBackend listed after
            return authed
        from marketplace.accounts.models import User
        from marketplace.accounts.security import (
            ClientInfo,
            _scopes,
            has_two_factor,
            two_factor_required_for,
        )

        client = ClientInfo.from_request(request)
        user = User.objects.filter(username__iexact=username.strip()).first()
        scopes = _scopes(username, user, client)
        if throttle.locked_for(scopes):
            raise PermissionDenied("locked out")  # authenticate() answers None, tries no further
        authed = super().authenticate(request, username=username, password=password, **kwargs)
        if authed is None:
            throttle.record_failure(scopes)
            raise PermissionDenied
        if has_two_factor(authed) or two_factor_required_for(authed):
            # These login pages have no second step: 2FA users log in on the
            # site (/login/) and the admin reuses that session. No reset either:
            # the password alone must not clear failed 2FA attempts.
            raise PermissionDenied
        throttle.reset([s.key for s in scopes if not s.key.startswith("ip:")])
        return authed
