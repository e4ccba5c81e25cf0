"""DRF authentication by per-device API tokens (`Authorization: Token <key>`).

Each API login gets its own token, stored only as a SHA-256 hash on its
UserSession, so one device can be logged out without the others. Tokens made
by rest_framework.authtoken (one per user, used by scripts and older clients)
keep working (same single query) and get a session row when listed, stepped
up or ended.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from marketplace.accounts import security


class SessionTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not key.startswith(security.TOKEN_PREFIX):
            # A plain authtoken token: one query, as before; it becomes a
            # session row only when session features need it.
            return super().authenticate_credentials(key)
        session = security.session_for_token(key)
        if session is None:
            raise AuthenticationFailed("Invalid token, or this session was ended.")
        security.session_touch(session=session)
        return session.user, session
