"""The notification kinds the kernel knows: their label, default e-mail
frequency, burst group and one-line description.

Kept as plain data here (the kernel imports no app): producers pass a `kind`
string to `notify()`, and this table decides how it is e-mailed and worded.
An unknown kind still works (in-app and live); its e-mails default to the
daily digest and read "You have a new notification".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from marketplace.money import Money, MoneyError

IMMEDIATELY = "immediately"
DAILY = "daily"
NEVER = "never"
FREQUENCIES = (IMMEDIATELY, DAILY, NEVER)
ALL_KINDS = "*"  # an unsubscribe token for every kind


def _money(value: Any, language: str) -> str:
    try:
        return Money.from_dict(value).format(language)
    except (MoneyError, TypeError, AttributeError):
        return ""


def _price_drop(p: dict[str, Any], lang: str) -> str:
    return gettext("“%(title)s” dropped from %(old)s to %(new)s.") % {
        "title": p.get("title", ""),
        "old": _money(p.get("old_price"), lang),
        "new": _money(p.get("new_price"), lang),
    }


def _saved_search(p: dict[str, Any], lang: str) -> str:
    return gettext("New match for your saved search “%(name)s”: %(title)s") % {
        "name": p.get("name") or gettext("saved search"),
        "title": p.get("title", ""),
    }


def _chat(p: dict[str, Any], lang: str) -> str:
    return gettext("New message about “%(title)s”.") % {"title": p.get("listing_title", "")}


def _review_waiting(p: dict[str, Any], lang: str) -> str:
    return gettext("The other party reviewed your order. Write yours to reveal both.")


def _reviews_revealed(p: dict[str, Any], lang: str) -> str:
    return gettext("The reviews of your order are now visible.")


def _offer(p: dict[str, Any], lang: str) -> str:
    return gettext("An offer on “%(title)s” changed: %(status)s %(amount)s.") % {
        "title": p.get("listing_title") or p.get("title", ""),
        "status": p.get("status", ""),
        "amount": _money(p.get("amount"), lang),
    }


def _offer_made(p: dict[str, Any], lang: str) -> str:
    return gettext("New offer of %(amount)s on “%(title)s”.") % {
        "title": p.get("listing_title", ""),
        "amount": _money(p.get("amount"), lang),
    }


def _offer_countered(p: dict[str, Any], lang: str) -> str:
    return gettext("Counter-offer of %(amount)s on “%(title)s”.") % {
        "title": p.get("listing_title", ""),
        "amount": _money(p.get("amount"), lang),
    }


def _offer_accepted(p: dict[str, Any], lang: str) -> str:
    return gettext("Your offer of %(amount)s on “%(title)s” was accepted.") % {
        "title": p.get("listing_title", ""),
        "amount": _money(p.get("amount"), lang),
    }


def _offer_declined(p: dict[str, Any], lang: str) -> str:
    return gettext("Your offer of %(amount)s on “%(title)s” was declined.") % {
        "title": p.get("listing_title", ""),
        "amount": _money(p.get("amount"), lang),
    }


# Wording for kinds of one family (same preference, finer sentence).
SPECIFIC: dict[str, Callable[[dict[str, Any], str], str]] = {
    "offer_made": _offer_made,
    "offer_countered": _offer_countered,
    "offer_accepted": _offer_accepted,
    "offer_declined": _offer_declined,
}


def _order(p: dict[str, Any], lang: str) -> str:
    return gettext("Your order is now %(status)s.") % {"status": p.get("status", "")}


def _moderation(p: dict[str, Any], lang: str) -> str:
    return gettext("A moderator decided on your case: %(action)s.") % {
        "action": p.get("action", "")
    }


@dataclass(frozen=True)
class Kind:
    name: str
    label: Any  # lazy translated string
    default: str
    describe: Callable[[dict[str, Any], str], str]
    # Payload fields whose values form the burst group (one e-mail per group
    # and window) when the producer passes no explicit `group`.
    group_fields: tuple[str, ...] = ()
    group_prefix: str = ""


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "chat_message",
            gettext_lazy("Chat messages"),
            IMMEDIATELY,
            _chat,
            group_fields=("conversation_id",),
            group_prefix="conversation",
        ),
        Kind("offer", gettext_lazy("Offers"), IMMEDIATELY, _offer),
        Kind("order", gettext_lazy("Order updates"), IMMEDIATELY, _order),
        Kind("moderation", gettext_lazy("Moderation decisions"), IMMEDIATELY, _moderation),
        Kind("price_drop", gettext_lazy("Price drops on favourites"), IMMEDIATELY, _price_drop),
        Kind(
            "saved_search_match",
            gettext_lazy("Saved-search alerts"),
            DAILY,
            _saved_search,
            group_fields=("saved_search_id",),
            group_prefix="saved_search",
        ),
        Kind("review_waiting", gettext_lazy("Review reminders"), DAILY, _review_waiting),
        Kind("reviews_revealed", gettext_lazy("Revealed reviews"), DAILY, _reviews_revealed),
    )
}


def kind_for(name: str) -> Kind | None:
    """The registered kind; `offer_accepted` falls back to `offer` (prefix families)."""
    if name in KINDS:
        return KINDS[name]
    return KINDS.get(name.split("_", 1)[0])


def default_frequency(name: str) -> str:
    kind = kind_for(name)
    return kind.default if kind else DAILY


def preference_key(name: str) -> str:
    """The preference a notification kind is governed by (`offer_accepted` -> `offer`)."""
    kind = kind_for(name)
    return kind.name if kind else name


def default_group(name: str, payload: dict[str, Any]) -> str:
    kind = kind_for(name)
    if kind is None or not kind.group_fields:
        return ""
    values = [str(payload.get(f, "")) for f in kind.group_fields]
    if not all(values):
        return ""
    return ":".join([kind.group_prefix, *values])


def describe(name: str, payload: dict[str, Any], language: str) -> str:
    """One translated sentence for a notification (call inside translation.override)."""
    if name in SPECIFIC:
        return SPECIFIC[name](payload or {}, language)
    kind = kind_for(name)
    if kind is None:
        return gettext("You have a new notification.")
    return kind.describe(payload or {}, language)
