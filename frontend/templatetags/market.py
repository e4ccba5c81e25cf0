"""Template helpers: money and names in the viewer's language, storage URLs."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.files.storage import default_storage
from django.utils.translation import get_language

from frontend import labels
from marketplace.money import Money

register = template.Library()


def _is_zh() -> bool:
    return (get_language() or "en").lower().startswith("zh")


@register.filter
def money(value: Any) -> str:
    """Money, a {amount_minor, currency} dict, in the active locale ("¥1,234.50")."""
    if value is None or value == "":
        return ""
    if isinstance(value, dict):
        value = Money.from_dict(value)
    return value.format(get_language() or "en")


@register.filter
def media_url(name: Any) -> str:
    """A stored file's URL; '' for none (a missing file must not break a page)."""
    if not name:
        return ""
    try:
        return default_storage.url(str(name))
    except Exception:  # noqa: BLE001
        return ""


@register.filter
def first_thumb(listing: Any) -> str:
    """The first photo's thumbnail (or the image until the thumbnail exists)."""
    photos = list(listing.photos.all())
    if not photos:
        return ""
    return media_url(photos[0].thumbnail.name or photos[0].image.name)


@register.filter
def catname(category: Any) -> str:
    """A category's name in the active language (a Category or a {name, name_zh} dict)."""
    if category is None:
        return ""
    get = category.get if isinstance(category, dict) else lambda k, d="": getattr(category, k, d)
    return (get("name_zh", "") if _is_zh() else "") or get("name", "")


@register.filter
def attrlabel(spec: dict[str, Any]) -> str:
    return (spec.get("label_zh") if _is_zh() else None) or spec.get("label") or spec["name"]


@register.filter
def condition_label(value: str) -> str:
    return str(labels.CONDITIONS.get(value, value))


@register.filter
def status_label(value: str) -> str:
    return str(labels.STATUSES.get(value, value))


@register.filter
def service_text(value: str) -> str:
    """A text the services stored in English (an order timeline note, a chat
    system message) in the viewer's language; what people typed stays as it is."""
    from frontend.errors import translate

    return translate(value) if value else value


@register.filter
def badge_label(value: str) -> str:
    return str(labels.BADGES.get(value, value))


@register.filter
def stars(score: Any) -> str:
    """★★★★☆ for a 1-5 score (rounded to whole stars)."""
    if score is None:
        return ""
    full = max(0, min(5, round(float(score))))
    return "★" * full + "☆" * (5 - full)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def cityname(city: str) -> str:
    """A known city's name in the active language (others as the seller typed them)."""
    known = labels.CITIES.get(city or "")
    return known[2] if known and _is_zh() else (city or "")


@register.simple_tag
def is_moderator(user: Any) -> bool:
    from moderation.selectors import is_moderator as check

    return check(user)


@register.simple_tag
def unread_notifications(user: Any) -> int:
    from marketplace.notifications.selectors import unread_count

    return unread_count(recipient=user) if user.is_authenticated else 0
