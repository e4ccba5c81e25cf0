"""Paying sellers out: from their available balance to their bank or wallet.

One service, `payout_request`. The seller's available balance is debited and
the provider clearing account credited in one balanced journal entry, then
the gateway is asked to send the money; both happen in one transaction, so
a refused transfer moves nothing. Idempotent per (seller, key): a retried
request returns the first payout and moves nothing more. Payouts above
PAYOUT_IDENTITY_THRESHOLD_MINOR need a verified identity (accounts decides,
through `user_can_receive_payout`), and every payout needs payout details.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from marketplace.accounts import selectors as account_selectors
from marketplace.errors import NotAllowed, ValidationFailed
from marketplace.money import Money
from trust import ledger
from trust.models import AccountKind, JournalEntry
from trust.payments import gateway


def payout_request(*, user: Any, amount: Money, idempotency_key: str) -> JournalEntry:
    """Pay `amount` of `user`'s available balance out; returns the journal entry."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise ValidationFailed({"idempotency_key": ["Send an Idempotency-Key of 1 to 100 "
                                                    "characters."]})
    if amount.amount_minor <= 0:
        raise ValidationFailed({"amount": ["A payout must be more than zero."]})
    entry_key = f"payout:{user.pk}:{key}"
    existing = JournalEntry.objects.filter(idempotency_key=entry_key).first()
    if existing is not None:
        return existing
    destination = account_selectors.payout_details(user=user)
    if not destination:
        raise ValidationFailed({"payout_details": ["Add where payouts go first "
                                                   "(PUT /api/me/payout-details)."]})
    available = ledger.user_available(user.pk, amount.currency)
    if amount.amount_minor > available.amount_minor:
        raise ValidationFailed({"amount": [f"More than your available balance ({available})."]})
    if not account_selectors.user_can_receive_payout(user, amount):
        raise NotAllowed("Payouts of this size need a verified identity: verify it first.",
                         code="identity_required")
    with transaction.atomic():
        entry = ledger.post(
            idempotency_key=entry_key,
            kind="payout",
            memo="payout to the seller's account",
            legs=[
                ledger.Leg(ledger.account_for(AccountKind.AVAILABLE, amount.currency, user.pk),
                           debit=amount),
                ledger.Leg(ledger.account_for(AccountKind.GATEWAY, amount.currency),
                           credit=amount),
            ],
        )
        # Inside the transaction: if the provider refuses, the entry rolls back.
        gateway().payout(amount=amount, destination=destination, idempotency_key=entry_key)
    return entry
