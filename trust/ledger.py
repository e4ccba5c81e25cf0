"""The double-entry ledger.

Chart of accounts (one set per currency):

| key                          | kind      | normal | what it is                          |
|------------------------------|-----------|--------|-------------------------------------|
| platform:gateway:<CUR>       | gateway   | debit  | money the payment provider holds    |
| platform:escrow:<CUR>        | escrow    | credit | buyers' money held for open orders  |
| platform:fees:<CUR>          | fees      | credit | fees the platform earned            |
| platform:refunds:<CUR>       | refunds   | credit | refunds owed, cleared to the card   |
| user:<id>:available:<CUR>    | available | credit | what a seller can withdraw          |

A line's `amount_minor` is positive for a debit and negative for a credit;
every entry's lines sum to zero per currency, so the whole ledger sums to
zero. An account's balance, on its normal side, is never negative (a check
constraint on the cached balance). Every entry has a unique idempotency key:
posting the same key twice returns the first entry and moves nothing.
What a seller has "held" is the escrow of their open orders (escrow lines
carry the order).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from marketplace.errors import DomainError
from marketplace.money import Money
from marketplace.sql import prepared_cursor
from trust.models import AccountKind, JournalEntry, JournalLine, LedgerAccount, Order


class LedgerError(DomainError):
    status_code = 409
    code = "ledger_error"


def account_key(kind: str, currency: str, user_id: Any = None) -> str:
    if kind == AccountKind.AVAILABLE:
        return f"user:{user_id}:available:{currency}"
    return f"platform:{kind}:{currency}"


# Accounts are never deleted or re-keyed, so their rows can be remembered per
# process (only the id and kind are used from the cached object; balances are
# always read from the database).
_account_cache: dict[str, LedgerAccount] = {}


def account_for(kind: str, currency: str, user_id: Any = None) -> LedgerAccount:
    key = account_key(kind, currency, user_id)
    cached = _account_cache.get(key)
    if cached is not None:
        return cached
    account = LedgerAccount.objects.filter(key=key).first()
    if account is not None:
        # Remember it once committed: a row seen inside a transaction that
        # later rolls back must not outlive it.
        transaction.on_commit(lambda: _account_cache.setdefault(key, account))
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(
                key=key, kind=kind, currency=currency, user_id=user_id
            )
    except IntegrityError:
        return LedgerAccount.objects.get(key=key)


@dataclass
class Leg:
    account: LedgerAccount
    debit: Money | None = None
    credit: Money | None = None

    @property
    def signed(self) -> int:
        if self.debit is not None:
            return self.debit.amount_minor
        assert self.credit is not None
        return -self.credit.amount_minor

    @property
    def currency(self) -> str:
        return (self.debit or self.credit).currency  # type: ignore[union-attr]


# One statement posts an entry: it inserts the entry (ON CONFLICT makes a
# repeated key write nothing and return no row), its lines, and moves every
# cached balance. The accounts are locked in key order first (LockRows sits
# above the sort, and a row is updated only once `locked` has emitted it), so
# postings that share the hot platform accounts never deadlock; the check
# constraint refuses a negative balance, failing the whole statement.
_POST_SQL = """
WITH e AS (
    INSERT INTO trust_journalentry (id, idempotency_key, kind, order_id, memo, created_at)
    VALUES (%(id)s, %(key)s, %(kind)s, %(order)s, %(memo)s, %(at)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), l AS (
    INSERT INTO trust_journalline (entry_id, account_id, amount_minor, currency)
    SELECT e.id, v.account_id, v.amount_minor, v.currency
    FROM e CROSS JOIN unnest(%(line_accounts)s::uuid[], %(line_amounts)s::bigint[],
                             %(line_currencies)s::varchar[])
        AS v(account_id, amount_minor, currency)
), locked AS MATERIALIZED (
    SELECT id FROM trust_ledgeraccount
    WHERE id = ANY(%(accounts)s::uuid[]) AND EXISTS (SELECT 1 FROM e)
    ORDER BY key
    FOR UPDATE
), moved AS (
    UPDATE trust_ledgeraccount a
    SET balance_minor = a.balance_minor + d.amount_minor
    FROM locked
    JOIN unnest(%(accounts)s::uuid[], %(deltas)s::bigint[]) AS d(account_id, amount_minor)
        ON d.account_id = locked.id
    WHERE a.id = locked.id
)
SELECT id FROM e
"""


def post(
    *, idempotency_key: str, kind: str, legs: list[Leg], order: Order | None = None, memo: str = ""
) -> JournalEntry:
    """Post one balanced entry and update the cached balances.

    Idempotent by key: a repeated key returns the first entry and moves
    nothing. Raises LedgerError if the legs do not balance or an account
    would go negative; then the caller's transaction is spoilt and must roll
    back (call inside the caller's `transaction.atomic`, usually with the
    order row locked). One statement, whatever the number of legs.
    """
    legs = [leg for leg in legs if leg.signed != 0]
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.currency != leg.account.currency:
            raise LedgerError(
                f"{leg.account.key} holds {leg.account.currency}, not {leg.currency}."
            )
        totals[leg.currency] += leg.signed
    if not legs or any(totals.values()):
        raise LedgerError(f"Unbalanced entry {idempotency_key}: {dict(totals)}")
    entry = JournalEntry(idempotency_key=idempotency_key, kind=kind, order=order, memo=memo[:200])
    entry.created_at = timezone.now()
    deltas: dict[Any, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account.pk] += leg.signed if leg.account.debit_normal else -leg.signed
    if connection.vendor != "postgresql":
        return _post_portable(entry, legs, deltas)
    # savepoint=False: no extra round trip; a failure spoils the caller's
    # transaction, which is what an overdraw must do anyway.
    with transaction.atomic(savepoint=False), prepared_cursor() as cursor:
        try:
            cursor.execute(
                _POST_SQL,
                {
                    "id": entry.pk,
                    "key": idempotency_key,
                    "kind": kind,
                    "order": order.pk if order is not None else None,
                    "memo": entry.memo,
                    "at": entry.created_at,
                    "line_accounts": [leg.account.pk for leg in legs],
                    "line_amounts": [leg.signed for leg in legs],
                    "line_currencies": [leg.currency for leg in legs],
                    "accounts": list(deltas),
                    "deltas": list(deltas.values()),
                },
            )
            posted = cursor.fetchone() is not None
        except IntegrityError as exc:
            raise LedgerError(f"Entry {idempotency_key} would overdraw an account.") from exc
    if not posted:
        # The key was posted before (a retry, or a race we lost): nothing moved.
        return JournalEntry.objects.get(idempotency_key=idempotency_key)
    entry._state.adding = False
    entry._state.db = "default"
    return entry


def _post_portable(entry: JournalEntry, legs: list[Leg], deltas: dict[Any, int]) -> JournalEntry:
    """`post` through the ORM, for databases other than PostgreSQL (the
    embedded SQLite default of `make run`): the same rows and checks, in
    several statements. SQLite takes one writer at a time, so the accounts
    need no row locks; the check constraint still refuses an overdraw."""
    existing = JournalEntry.objects.filter(idempotency_key=entry.idempotency_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
            JournalLine.objects.bulk_create(
                JournalLine(entry=entry, account_id=leg.account.pk, amount_minor=leg.signed,
                            currency=leg.currency)
                for leg in legs
            )
            for account_id in sorted(deltas, key=str):
                LedgerAccount.objects.filter(pk=account_id).update(
                    balance_minor=F("balance_minor") + deltas[account_id]
                )
    except IntegrityError as exc:
        raise LedgerError(f"Entry {entry.idempotency_key} would overdraw an account.") from exc
    return entry


# --- reads ------------------------------------------------------------------------------------


def forget_cached_accounts() -> None:
    _account_cache.clear()


def balance(account: LedgerAccount) -> Money:
    account.refresh_from_db(fields=["balance_minor"])
    return Money(account.balance_minor, account.currency)


def user_available(user_id: Any, currency: str) -> Money:
    account = LedgerAccount.objects.filter(
        key=account_key(AccountKind.AVAILABLE, currency, user_id)
    ).first()
    return Money(account.balance_minor if account else 0, currency)


def user_held(user_id: Any, currency: str) -> Money:
    """Escrow of the user's orders as seller (credit lines net of debits)."""
    total = (
        (
            JournalLine.objects.filter(
                account__kind=AccountKind.ESCROW, currency=currency, entry__order__seller_id=user_id
            ).aggregate(s=Sum("amount_minor"))["s"]
        )
        or 0
    )
    return Money(-total, currency)


def order_escrow(order: Order) -> int:
    total = (
        (
            JournalLine.objects.filter(
                account__kind=AccountKind.ESCROW, entry__order=order
            ).aggregate(s=Sum("amount_minor"))["s"]
        )
        or 0
    )
    return -total


# --- audit --------------------------------------------------------------------------------------


@dataclass
class AuditReport:
    entries: int = 0
    lines: int = 0
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches


def audit() -> AuditReport:
    """Check every invariant over the whole ledger."""
    report = AuditReport()
    report.entries = JournalEntry.objects.count()
    report.lines = JournalLine.objects.count()
    grand = JournalLine.objects.values("currency").annotate(s=Sum("amount_minor"))
    for row in grand:
        if row["s"] != 0:
            report.breaches.append(f"ledger does not sum to zero in {row['currency']}: {row['s']}")
    unbalanced = (
        JournalLine.objects.values("entry_id", "currency")
        .annotate(s=Sum("amount_minor"))
        .exclude(s=0)
    )
    for row in unbalanced[:100]:
        report.breaches.append(
            f"entry {row['entry_id']} unbalanced in {row['currency']}: {row['s']}"
        )
    empty = JournalEntry.objects.filter(lines__isnull=True).values_list("id", flat=True)[:100]
    report.breaches.extend(f"entry {entry_id} has no lines" for entry_id in empty)
    sums = dict(JournalLine.objects.values_list("account_id").annotate(s=Sum("amount_minor")))
    for account in LedgerAccount.objects.all():
        raw = sums.get(account.pk, 0) or 0
        derived = raw if account.debit_normal else -raw
        if derived != account.balance_minor:
            report.breaches.append(
                f"{account.key}: cached balance {account.balance_minor} != lines {derived}"
            )
        if derived < 0:
            report.breaches.append(f"{account.key} is negative: {derived}")
    mismatched = JournalLine.objects.exclude(currency=F("account__currency")).count()
    if mismatched:
        report.breaches.append(f"{mismatched} lines in a currency other than their account's")
    # Closed orders hold nothing in escrow; open paid orders hold exactly their price.
    from trust.models import OrderStatus

    held = dict(
        JournalLine.objects.filter(account__kind=AccountKind.ESCROW)
        .values_list("entry__order_id")
        .annotate(s=Sum("amount_minor"))
    )
    for order in Order.objects.filter(pk__in=list(held)).only("id", "status", "price_minor"):
        amount = -(held.get(order.pk) or 0)
        holding = order.status in (
            OrderStatus.PAID,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.DISPUTED,
        )
        expected = order.price_minor if holding else 0
        if amount != expected:
            report.breaches.append(
                f"order {order.pk} ({order.status}) holds {amount}, expected {expected}"
            )
    return report
