"""The payment gateway interface and its sandbox.

A real provider plugs in by implementing `PaymentGateway` and naming the class
in PAYMENT_GATEWAY. Webhooks are signed like Stripe's: the header
`X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
PAYMENT_WEBHOOK_SECRET; events older than the tolerance are refused (replay
window) and every event id is processed once.

Sandbox payment methods:
- `card_ok`: settles at once;
- `card_declined`: refused with a reason (402), nothing moves;
- `card_review`: pending until a signed `payment.succeeded` or
  `payment.failed` webhook arrives (`sandbox_webhook` builds one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from marketplace.money import Money


@dataclass(frozen=True)
class ChargeResult:
    status: str  # succeeded | declined | pending
    reference: str
    reason: str = ""


class PaymentGateway(Protocol):
    def charge(self, *, amount: Money, method: str, idempotency_key: str) -> ChargeResult: ...

    def refund(self, *, reference: str, amount: Money, idempotency_key: str) -> str: ...

    def payout(self, *, amount: Money, destination: dict[str, Any], idempotency_key: str) -> str:
        """Send a seller's money to their bank or wallet; returns the provider's reference."""
        ...


SANDBOX_METHODS = ("card_ok", "card_declined", "card_review")


class SandboxGateway:
    """Deterministic stand-in for a card processor (the one faked component)."""

    def charge(self, *, amount: Money, method: str, idempotency_key: str) -> ChargeResult:
        # The provider's own idempotency: same key, same reference.
        reference = "sbx_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        if method == "card_ok":
            return ChargeResult("succeeded", reference)
        if method == "card_declined":
            return ChargeResult("declined", reference, "The card was declined by the issuer.")
        if method == "card_review":
            return ChargeResult("pending", reference)
        return ChargeResult(
            "declined",
            reference,
            f"Unknown payment method; use one of {', '.join(SANDBOX_METHODS)}.",
        )

    def refund(self, *, reference: str, amount: Money, idempotency_key: str) -> str:
        return "sbx_rf_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]

    def payout(self, *, amount: Money, destination: dict[str, Any], idempotency_key: str) -> str:
        return "sbx_po_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()


# --- webhook signatures -----------------------------------------------------------------------


class SignatureError(Exception):
    pass


def sign(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    secret = secret or settings.PAYMENT_WEBHOOK_SECRET
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    body: bytes,
    header: str | None,
    *,
    secret: str | None = None,
    tolerance: int | None = None,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless `header` signs `body` recently enough."""
    secret = secret or settings.PAYMENT_WEBHOOK_SECRET
    tolerance = settings.PAYMENT_WEBHOOK_TOLERANCE if tolerance is None else tolerance
    if not header:
        raise SignatureError("Missing X-Signature header.")
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise SignatureError("Malformed X-Signature header.") from None
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise SignatureError("Bad signature.")
    if abs((now or time.time()) - timestamp) > tolerance:
        raise SignatureError("Signature timestamp outside the tolerance (replayed?).")


def sandbox_webhook(
    *,
    kind: str,
    reference: str,
    reason: str = "",
    event_id: str | None = None,
    created: int | None = None,
) -> tuple[bytes, str]:
    """A signed webhook body and header as the sandbox provider would send."""
    body = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": kind,
            "created": created or int(time.time()),
            "data": {"reference": reference, "reason": reason},
        }
    ).encode()
    return body, sign(body)


def carrier_webhook(
    *, tracking: str, status: str = "delivered", event_id: str | None = None
) -> tuple[bytes, str]:
    """A signed tracking event from the sandbox carrier."""
    body = json.dumps(
        {
            "id": event_id or f"trk_{uuid.uuid4().hex}",
            "type": f"tracking.{status}",
            "created": int(time.time()),
            "data": {"tracking": tracking},
        }
    ).encode()
    return body, sign(body, secret=settings.CARRIER_WEBHOOK_SECRET)


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body.decode())
    except (UnicodeDecodeError, ValueError):
        raise SignatureError("The body is not JSON.") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("data"), dict)
    ):
        raise SignatureError("Expected {id, type, created, data}.")
    return event
