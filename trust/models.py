"""Escrow orders with their timeline, the double-entry ledger, payments and webhooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from marketplace.ids import uuid7
from marketplace.money import Money


class OrderStatus(models.TextChoices):
    CREATED = "created", "Created"
    PAYMENT_PENDING = "payment_pending", "Payment under review"
    PAID = "paid", "Paid (funds held)"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed (funds released)"
    CANCELLED = "cancelled", "Cancelled"
    DISPUTED = "disputed", "Disputed"
    REFUNDED = "refunded", "Refunded"
    SPLIT = "split", "Split by a moderator"


OPEN_STATUSES = (
    OrderStatus.CREATED,
    OrderStatus.PAYMENT_PENDING,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.DISPUTED,
)


class DisputeState(models.TextChoices):
    NONE = "", "No dispute"
    AWAITING_SELLER = "awaiting_seller", "Waiting for the seller"
    RETURN_ACCEPTED = "return_accepted", "Return accepted"
    RETURN_SHIPPED = "return_shipped", "Return shipped"
    ESCALATED = "escalated", "With a moderator"
    RESOLVED = "resolved", "Resolved"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    listing = models.ForeignKey("listings.Listing", on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_as_buyer"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_as_seller"
    )
    offer = models.ForeignKey(
        "chat.Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    price_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    delivery = models.CharField(max_length=10, default="ship")  # ship | handover
    carrier = models.CharField(max_length=60, blank=True)
    tracking = models.CharField(max_length=100, blank=True)
    # Shown to the buyer only; the seller enters it at the in-person handover.
    handover_code = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    pay_by = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    ship_by = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    dispute_state = models.CharField(
        max_length=20, choices=DisputeState.choices, blank=True, default=DisputeState.NONE
    )
    dispute_reason = models.CharField(max_length=40, blank=True)
    dispute_details = models.TextField(blank=True)
    dispute_respond_by = models.DateTimeField(null=True, blank=True)
    status_before_dispute = models.CharField(max_length=20, blank=True)
    refunded_minor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_minor__gt=0), name="order_price_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(fee_minor__gte=0), name="order_fee_nonnegative"
            ),
            # At most one open order per listing: the database, not a check, decides.
            models.UniqueConstraint(
                fields=["listing"],
                name="order_one_open_per_listing",
                condition=models.Q(status__in=[s.value for s in OPEN_STATUSES]),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "pay_by"], name="order_unpaid_due"),
            models.Index(fields=["status", "ship_by"], name="order_ship_due"),
            models.Index(fields=["status", "release_at"], name="order_release_due"),
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_recent"),
            models.Index(fields=["seller", "-created_at"], name="order_seller_recent"),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"

    @property
    def price(self) -> Money:
        return Money(self.price_minor, self.currency)

    @property
    def fee(self) -> Money:
        return Money(self.fee_minor, self.currency)


class OrderEvent(models.Model):
    """One line of an order's timeline: who moved it where, when and why."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20)
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.action} -> {self.status}"


def evidence_upload_to(instance: DisputeEvidence, filename: str) -> str:
    return f"disputes/{instance.order_id}/{instance.pk}.jpg"


class DisputeEvidence(models.Model):
    """A photo a party attached to a dispute. Stored re-encoded by the listings
    photo pipeline (no EXIF, no GPS) and served only through the API to the two
    parties and moderators, never by a public URL."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    image = models.FileField(max_length=255, upload_to=evidence_upload_to)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"evidence {self.id} for {self.order_id}"


# --- ledger --------------------------------------------------------------------------------


class AccountKind(models.TextChoices):
    # Debit-normal: grows with debits (what the platform holds).
    GATEWAY = "gateway", "Payment provider clearing (asset)"
    # Credit-normal: grows with credits (what the platform owes or earned).
    ESCROW = "escrow", "Escrow: buyers' money held for orders"
    AVAILABLE = "available", "A seller's available balance"
    FEES = "fees", "Platform fees earned"
    REFUNDS = "refunds", "Refunds owed to buyers, cleared to the provider"


DEBIT_NORMAL = {AccountKind.GATEWAY}


class LedgerAccount(models.Model):
    """An account of the chart; `balance_minor` is a cache of its lines, kept in
    the same transaction and checked by `ledger_audit`. The check constraint
    makes "no account goes negative" a database rule."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    currency = models.CharField(max_length=3)
    balance_minor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_minor__gte=0), name="ledger_account_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def debit_normal(self) -> bool:
        return self.kind in DEBIT_NORMAL


class JournalEntry(models.Model):
    """One balanced movement of money; append-only (corrections are new entries)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    idempotency_key = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=30)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_entries"
    )
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class JournalLine(models.Model):
    """Positive amounts debit, negative amounts credit; an entry's lines sum to zero."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="lines")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="journal_line_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_minor}"


# --- payments and webhooks -----------------------------------------------------------------------


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Payment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=40)
    provider_reference = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=12, choices=PaymentStatus.choices)
    failure_reason = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=150, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider_reference} {self.status}"


class WebhookEvent(models.Model):
    """Every accepted webhook, by the provider's event id: a replay is a no-op."""

    event_id = models.CharField(max_length=100, primary_key=True)
    source = models.CharField(max_length=20)  # payments | shipping
    kind = models.CharField(max_length=60)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=60, blank=True)

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id}"


from trust.reputation_models import *  # noqa: F401,F403,E402
