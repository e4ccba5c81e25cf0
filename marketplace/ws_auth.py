"""Websocket authentication: the session cookie (web pages) or `?token=` (apps)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware:
    """Sets scope["user"] from `?token=<key>` when given; otherwise leaves the
    session user that AuthMiddlewareStack found."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            user = await _user_for_token(keys[0])
            scope = {**scope, "user": user or AnonymousUser()}
        return await self.inner(scope, receive, send)


def AuthStack(inner: Any) -> Any:  # noqa: N802 - reads like Channels' own stacks
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
