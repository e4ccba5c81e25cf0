"""Websocket authentication: the session cookie (web pages) or `?token=` (apps).

Each socket also joins the channel-layer group of the login session it was
opened with (see accounts.security.session_group): ending that session from
`DELETE /api/me/sessions/{id}` closes the socket with code 4401, whatever the
consumer, and a revoked token or deleted web session is refused at connect.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser

CLOSE_SESSION_ENDED = 4401


@database_sync_to_async
def _session_for_token(key: str) -> tuple[Any, Any]:
    from marketplace.accounts.security import session_for_token

    session = session_for_token(key)
    return (session.user, session.id) if session is not None else (None, None)


@database_sync_to_async
def _web_session_id(scope: dict[str, Any]) -> Any:
    from marketplace.accounts.security import session_for_web

    session = session_for_web(user=scope.get("user"), django_session=scope.get("session"))
    return session.id if session is not None else None


class TokenAuthMiddleware:
    """Sets scope["user"] from `?token=<key>` when given; otherwise leaves the
    session user that AuthMiddlewareStack found. Records the login session id
    in scope["login_session_id"]."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            user, session_id = await _session_for_token(keys[0])
            scope = {**scope, "user": user or AnonymousUser(), "login_session_id": session_id}
        else:
            user = scope.get("user")
            if user is not None and user.is_authenticated:
                scope = {**scope, "login_session_id": await _web_session_id(scope)}
        return await SessionGuard(self.inner)(scope, receive, send)


class SessionGuard:
    """Closes the socket when its login session is ended elsewhere."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        session_id = scope.get("login_session_id")
        layer = get_channel_layer()
        if scope.get("type") != "websocket" or session_id is None or layer is None:
            return await self.inner(scope, receive, send)
        from marketplace.accounts.security import session_group

        group = session_group(session_id)
        local = getattr(layer, "new_local_channel", None)
        if local is not None:
            # chat.layers: a callback channel; no task, queue or Redis
            # subscription of its own per socket (~2 KiB of every idle socket).
            def revoked(message: dict[str, Any]) -> None:
                if message.get("type") == "session.revoked":
                    asyncio.ensure_future(_close(send))

            channel = local(revoked)
            try:
                await layer.group_add(group, channel)
                return await self.inner(scope, receive, send)
            finally:
                layer.release_local_channel(channel)
                with contextlib.suppress(Exception):
                    await layer.group_discard(group, channel)
        channel = await layer.new_channel()
        await layer.group_add(group, channel)

        async def watch() -> None:
            while True:
                message = await layer.receive(channel)
                if message.get("type") == "session.revoked":
                    await _close(send)
                    return

        watcher = asyncio.create_task(watch())
        try:
            return await self.inner(scope, receive, send)
        finally:
            watcher.cancel()
            with contextlib.suppress(Exception):
                await layer.group_discard(group, channel)


async def _close(send: Any) -> None:
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": CLOSE_SESSION_ENDED})


def AuthStack(inner: Any) -> Any:  # noqa: N802 - reads like Channels' own stacks
    session_stack = AuthMiddlewareStack(TokenAuthMiddleware(inner))
    token_only = TokenAuthMiddleware(inner)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # A `?token=` socket skips the cookie/session/auth middlewares: no
        # session object kept in every socket's scope, no extra thread hop per
        # handshake (measured in tests/load/bench_chat.py).
        if b"token=" in scope.get("query_string", b""):
            return await token_only(scope, receive, send)
        return await session_stack(scope, receive, send)

    return app
