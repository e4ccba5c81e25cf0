"""What moderation listens to (outbox subscriptions, registered in ready()).

- `listings.listing_held` {score, reasons}: the fraud model held a listing
  -> a `fraud_hold` case and an automated, appealable hold decision.
- `listings.listing_published` / `listing_relisted` / `listing_updated`:
  prohibited-item rules on the text and category (hit -> `prohibited_rule`
  case, listing held); photos hashed and compared with other sellers'
  photos (match -> `duplicate_photo` case).
- `chat.message_flagged` {message_id, sender_id, reasons, score} -> a
  `message_flag` case on the message.
- `trust.order_escalated`: a dispute (or an order frozen by a suspension)
  needs a moderator -> a `dispute` case on the order.
- `trust.reputation_signal` {user_id, kind, details}: review rings, reciprocal
  reviews, bursts from new accounts -> a `reputation_signal` case on the user.

Each handler runs at most once per event (outbox delivery records) and is
idempotent anyway: flags merge into the target's open case.

Moderation publishes nothing yet: its effects reach other apps through their
services (which announce their own events).
"""

from __future__ import annotations

from typing import Any

LISTING_HELD = "listings.listing_held"
LISTING_CONTENT_TOPICS = (
    "listings.listing_published", "listings.listing_relisted", "listings.listing_updated",
)
MESSAGE_FLAGGED = "chat.message_flagged"
ORDER_ESCALATED = "trust.order_escalated"
REPUTATION_SIGNAL = "trust.reputation_signal"
RULE_PREFIX = "rule:"


def on_listing_held(payload: dict[str, Any]) -> None:
    from moderation import services
    from moderation.models import CaseSource, TargetType

    reasons = [str(r) for r in payload.get("reasons") or []]
    if reasons and all(r.startswith(RULE_PREFIX) for r in reasons):
        return  # our own prohibited-item hold: its case exists already
    score = payload.get("score")
    case = services.case_flag(
        target_type=TargetType.LISTING, target_id=payload["listing_id"],
        source=CaseSource.FRAUD_HOLD, reasons=reasons or ["held by the fraud model"],
        confidence=float(score) if isinstance(score, int | float) else 0.8,
        fraud_score=float(score) if isinstance(score, int | float) else None,
        subject_id=payload.get("seller_id"), listing_id=payload["listing_id"],
    )
    rule = "Automatic fraud check" + (f" (score {score:.2f})" if isinstance(score, float) else "")
    services.automated_hold_record(case=case, rule=rule, note="; ".join(reasons))


def on_listing_content(payload: dict[str, Any]) -> None:
    from moderation import services

    if payload.get("status") not in ("active", "pending_review"):
        return
    listing_id = payload["listing_id"]
    changed = payload.get("changed")
    if changed is None or {"title", "description", "category"} & set(changed):
        services.listing_check_rules(listing_id=listing_id)
    if changed is None or "photos" in changed:
        services.listing_check_photos(listing_id=listing_id)


def on_message_flagged(payload: dict[str, Any]) -> None:
    from chat.selectors import conversation_listing_id
    from moderation import services
    from moderation.models import CaseSource, TargetType

    listing_id = conversation_listing_id(conversation_id=payload.get("conversation_id"))
    score = payload.get("score")
    services.case_flag(
        target_type=TargetType.MESSAGE, target_id=payload["message_id"],
        source=CaseSource.MESSAGE_FLAG,
        reasons=[f"message: {r}" for r in payload.get("reasons") or []] or ["message flagged"],
        confidence=float(score) if isinstance(score, int | float) else 0.6,
        fraud_score=float(score) if isinstance(score, int | float) else None,
        subject_id=payload.get("sender_id"), listing_id=None,
        evidence={"conversation_id": payload.get("conversation_id"),
                  "conversation_listing_id": str(listing_id) if listing_id else None},
    )


def on_order_escalated(payload: dict[str, Any]) -> None:
    from moderation import services
    from moderation.models import CaseSource, TargetType
    from trust.selectors import order_dispute_facts

    order = order_dispute_facts(order_id=payload.get("order_id"))
    if order is None:
        return
    frozen = order["dispute_reason"] == "account_suspended"
    services.case_flag(
        target_type=TargetType.ORDER, target_id=order["id"],
        source=CaseSource.ACCOUNT_SUSPENDED if frozen else CaseSource.DISPUTE,
        reasons=[f"dispute: {order['dispute_reason']}"]
        + ([payload["note"]] if payload.get("note") else []),
        confidence=1.0, subject_id=order["seller_id"], listing_id=order["listing_id"],
    )


def on_reputation_signal(payload: dict[str, Any]) -> None:
    from moderation import services
    from moderation.models import CaseSource, TargetType

    kind = str(payload.get("kind") or "manipulation")
    services.case_flag(
        target_type=TargetType.USER, target_id=payload["user_id"],
        source=CaseSource.REPUTATION_SIGNAL, reasons=[f"reputation: {kind}"], confidence=0.6,
        subject_id=payload["user_id"],
        evidence={f"reputation_{kind}": payload.get("details") or {}},
    )


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(LISTING_HELD, on_listing_held, name="moderation.listing_held")
    for topic in LISTING_CONTENT_TOPICS:
        subscribe(topic, on_listing_content, name="moderation.listing_content")
    subscribe(MESSAGE_FLAGGED, on_message_flagged, name="moderation.message_flagged")
    subscribe(ORDER_ESCALATED, on_order_escalated, name="moderation.order_escalated")
    subscribe(REPUTATION_SIGNAL, on_reputation_signal, name="moderation.reputation_signal")
