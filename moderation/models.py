"""Reports, cases (one prioritised queue), decisions, appeals and the audit log.

Rules live in `services.py`. Targets are referred to by (type, UUID) rather
than foreign keys into lower apps: a case outlives the message or listing it
is about, and moderation must not depend on other apps' table internals.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from marketplace.ids import uuid7


class TargetType(models.TextChoices):
    LISTING = "listing", "Listing"
    USER = "user", "User"
    MESSAGE = "message", "Chat message"
    ORDER = "order", "Order (dispute)"


# What users may report (POST /api/reports); orders come in as disputes.
REPORTABLE_TARGETS = (TargetType.LISTING, TargetType.USER, TargetType.MESSAGE)


class ReportReason(models.TextChoices):
    SCAM = "scam", "Scam or fraud"
    PROHIBITED = "prohibited", "Prohibited item"
    COUNTERFEIT = "counterfeit", "Counterfeit"
    OFFENSIVE = "offensive", "Offensive"
    SPAM = "spam", "Spam"
    OTHER = "other", "Other"


class CaseSource(models.TextChoices):
    REPORT = "report", "User report"
    FRAUD_HOLD = "fraud_hold", "Held by the fraud model"
    MESSAGE_FLAG = "message_flag", "Chat message flagged"
    PROHIBITED_RULE = "prohibited_rule", "Prohibited-item rule"
    DUPLICATE_PHOTO = "duplicate_photo", "Photo used by another seller"
    DISPUTE = "dispute", "Escalated dispute"
    ACCOUNT_SUSPENDED = "account_suspended", "Order of a suspended account"
    REPUTATION_SIGNAL = "reputation_signal", "Review manipulation signal"


AUTOMATIC_SOURCES = frozenset({
    CaseSource.FRAUD_HOLD, CaseSource.MESSAGE_FLAG, CaseSource.PROHIBITED_RULE,
    CaseSource.DUPLICATE_PHOTO, CaseSource.REPUTATION_SIGNAL,
})


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed by a moderator"
    DECIDED = "decided", "Decided"
    APPEALED = "appealed", "Appealed (back in the queue)"


# Cases in the queue: at most one of these per target.
QUEUE_STATUSES = (CaseStatus.OPEN, CaseStatus.CLAIMED, CaseStatus.APPEALED)


class Action(models.TextChoices):
    APPROVE = "approve", "Approve (no violation)"
    REMOVE = "remove", "Remove the listing"
    WARN = "warn", "Warn the user"
    SUSPEND = "suspend", "Suspend the user"
    REFUND = "refund", "Refund the buyer"
    RELEASE = "release", "Release the money to the seller"
    SPLIT = "split", "Split the money"
    # Automatic only: a listing held for review (appealable like any decision).
    HOLD = "hold", "Held for review (automated)"


# Decisions that restrict someone: these count as "the flag was right".
RESTRICTIVE_ACTIONS = frozenset({Action.REMOVE, Action.WARN, Action.SUSPEND})


class Case(models.Model):
    """Everything known about one target that needs a human look.

    priority = severity x confidence x exposure (see `services.priority_of`);
    the queue reads open cases by priority through a partial index.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    target_type = models.CharField(max_length=10, choices=TargetType.choices)
    target_id = models.UUIDField()
    # The user a decision would affect (seller, sender, the reported user).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="moderation_cases",
    )
    # The listing concerned (listing targets, disputes), for evidence and exposure.
    listing_id = models.UUIDField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=CaseSource.choices)
    sources = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    fraud_score = models.FloatField(null=True, blank=True)
    severity = models.FloatField(default=0.5)
    confidence = models.FloatField(default=0.5)
    exposure = models.FloatField(default=1.0)
    priority = models.FloatField(default=0.0)
    reporter_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="claimed_cases",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Facts gathered by automatic flags (matching photos, rule hits, ...).
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id"],
                condition=models.Q(status__in=[s.value for s in QUEUE_STATUSES]),
                name="moderation_one_open_case_per_target",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in CaseStatus]),
                name="moderation_case_status_valid",
            ),
        ]
        indexes = [
            # The queue: open cases, highest priority first.
            models.Index(
                fields=["-priority", "created_at"],
                name="moderation_queue",
                condition=models.Q(status__in=[s.value for s in QUEUE_STATUSES]),
            ),
            models.Index(fields=["target_type", "target_id"], name="moderation_case_target"),
            models.Index(fields=["subject", "-created_at"], name="moderation_case_subject"),
            models.Index(fields=["status", "sla_due_at"], name="moderation_case_sla"),
        ]
        permissions = [("moderate_case", "Can work the moderation queue")]

    def __str__(self) -> str:
        return f"{self.target_type}:{self.target_id} ({self.status})"

    @property
    def is_in_queue(self) -> bool:
        return self.status in QUEUE_STATUSES


class Report(models.Model):
    """A user's report. The same user reporting the same target again (while
    its case is open) updates their report instead of adding one."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderation_reports"
    )
    target_type = models.CharField(max_length=10, choices=TargetType.choices)
    target_id = models.UUIDField()
    reason = models.CharField(max_length=20, choices=ReportReason.choices)
    details = models.TextField(blank=True, max_length=5000)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    times_reported = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "reporter"], name="moderation_one_report_per_reporter_and_case"
            )
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.reason} on {self.target_type}:{self.target_id}"


class Decision(models.Model):
    """What was decided on a case, by whom (null moderator = automated)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(max_length=10, choices=Action.choices)
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="moderation_decisions",
    )
    automated = models.BooleanField(default=False)
    rule = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True, max_length=5000)
    refund_minor = models.BigIntegerField(null=True, blank=True)
    # Set when this decision answers an appeal.
    appeal = models.OneToOneField(
        "Appeal", null=True, blank=True, on_delete=models.PROTECT, related_name="outcome"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["action", "created_at"], name="moderation_decision_kind")]

    def __str__(self) -> str:
        return f"{self.action} on {self.case_id}"


class AppealStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a moderator"
    UPHELD = "upheld", "Decision upheld"
    OVERTURNED = "overturned", "Decision changed"


class Appeal(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="appeals")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="appeals")
    appellant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderation_appeals"
    )
    statement = models.TextField(max_length=5000)
    status = models.CharField(
        max_length=10, choices=AppealStatus.choices, default=AppealStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "appellant"], name="moderation_one_appeal_per_decision"
            )
        ]

    def __str__(self) -> str:
        return f"appeal {self.id} ({self.status})"


class Suspension(models.Model):
    """A suspended account; lifted (not deleted) when an appeal succeeds."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="suspensions"
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="suspensions")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(lifted_at__isnull=True),
                name="moderation_one_active_suspension",
            )
        ]

    def __str__(self) -> str:
        return f"suspension of {self.user_id}"


class PhotoHash(models.Model):
    """The perceptual hash (64-bit pHash, stored as a signed bigint) of one
    listing photo, to find the same picture under different sellers."""

    photo_id = models.UUIDField(primary_key=True)
    listing_id = models.UUIDField(db_index=True)
    seller_id = models.UUIDField(db_index=True)
    phash = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.photo_id}: {self.phash & 0xFFFFFFFFFFFFFFFF:016x}"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit log entry."""


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only.")


class AuditLog(models.Model):
    """Who did what to which target, why, and the state before and after.

    Append-only three times over: `save` refuses updates, `delete` and the
    queryset's bulk update/delete refuse, and a database trigger (migration
    0002) raises on UPDATE or DELETE even from raw SQL.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Plain ids, no foreign keys: deleting a user must never touch the log.
    actor_id = models.UUIDField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    automated = models.BooleanField(default=False)
    action = models.CharField(max_length=40)
    case_id = models.UUIDField(null=True, blank=True, db_index=True)
    target_type = models.CharField(max_length=10, blank=True)
    target_id = models.UUIDField(null=True, blank=True)
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="moderation_audit_tgt")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username or 'system'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The audit log is append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only.")
