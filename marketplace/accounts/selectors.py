"""Reads about users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from marketplace.accounts.models import User
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
