"""Rendering notification e-mails (subject, text and HTML) in the recipient's
language, each with an unsubscribe link and List-Unsubscribe headers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from marketplace.notifications import kinds
from marketplace.notifications.models import Notification

SUPPORTED = {code.lower() for code, _ in settings.LANGUAGES}


def language_for(user: Any) -> str:
    """The first of the user's languages (BCP 47, in preference order) that
    the site speaks; "zh", "zh-CN", "zh-Hans" all mean Simplified Chinese."""
    for code in getattr(user, "languages", None) or []:
        code = str(code).lower().replace("_", "-")
        if code in SUPPORTED:
            return code
        base = code.split("-", 1)[0]
        if base == "zh" and "zh-hans" in SUPPORTED and "hant" not in code and "tw" not in code:
            return "zh-hans"
        if base in SUPPORTED:
            return base
    return settings.LANGUAGE_CODE


def _absolute(path: str) -> str:
    if not path or path.startswith(("http://", "https://")):
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def unsubscribe_url(*, user: Any, kind: str) -> str:
    from marketplace.notifications.services import unsubscribe_token

    token = unsubscribe_token(user=user, kind=kind)
    return _absolute(reverse("notifications-unsubscribe", kwargs={"token": token}))


def _message(*, user: Any, template: str, context: dict[str, Any], kind: str) -> Any:
    unsubscribe = unsubscribe_url(user=user, kind=kind)
    context = {
        **context,
        "user": user,
        "unsubscribe_url": unsubscribe,
        "preferences_url": _absolute("/api/me/notification-preferences"),
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string(f"notifications/email/{template}_subject.txt", context)
    text = render_to_string(f"notifications/email/{template}.txt", context)
    html = render_to_string(f"notifications/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one line: headers cannot hold newlines
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            # RFC 8058 one-click unsubscribe: mail clients POST to this URL.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def _item(notification: Notification, language: str) -> dict[str, Any]:
    kind = kinds.kind_for(notification.kind)
    return {
        "notification": notification,
        "text": kinds.describe(notification.kind, notification.payload, language),
        "url": _absolute(notification.link),
        "label": str(kind.label) if kind else notification.kind,
    }


def single_message(*, user: Any, notification: Notification) -> Any:
    language = language_for(user)
    with translation.override(language):
        return _message(
            user=user,
            template="notification",
            context={"item": _item(notification, language), "language": language},
            kind=kinds.preference_key(notification.kind),
        )


def digest_message(*, user: Any, notifications: list[Notification]) -> Any:
    """One e-mail grouping the notifications by kind (label, count, lines)."""
    language = language_for(user)
    with translation.override(language):
        sections: dict[str, dict[str, Any]] = {}
        for notification in notifications:
            item = _item(notification, language)
            section = sections.setdefault(item["label"], {"label": item["label"], "items": []})
            section["items"].append(item)
        return _message(
            user=user,
            template="digest",
            context={
                "sections": list(sections.values()),
                "count": len(notifications),
                "language": language,
            },
            kind=kinds.ALL_KINDS,
        )
