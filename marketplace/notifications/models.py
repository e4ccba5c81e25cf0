from django.conf import settings
from django.db import models

from marketplace.ids import uuid7


class Notification(models.Model):
    """Something a user should learn about (a price drop, an offer, ...).

    The in-app record is the source of truth; e-mail and live push are
    deliveries of it added later. `dedupe_key` makes `notify` idempotent: the
    same key for the same recipient is stored once, so an event delivered
    twice never notifies twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50)
    payload = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    # Burst group ("conversation:<id>"): at most one e-mail per group and
    # NOTIFICATIONS_EMAIL_GROUP_WINDOW; the in-app record is always kept.
    group = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="notifications_dedupe_once",
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent"),
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="notif_recipient_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Frequency(models.TextChoices):
    IMMEDIATELY = "immediately", "immediately"
    DAILY = "daily", "daily digest"
    NEVER = "never", "never"


class NotificationPreference(models.Model):
    """How a user wants e-mails of one kind; no row means the kind's default
    (marketplace.notifications.kinds). In-app notifications are always kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=50)
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notif_pref_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}={self.frequency}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    SUPPRESSED = "suppressed"  # a burst: another e-mail of its group went out recently
    SKIPPED = "skipped"  # read already, preference changed, or no address
    FAILED = "failed"  # the mail server kept failing past the retry limit


class EmailDelivery(models.Model):
    """One e-mail (a single notification or a digest). The unique `key`
    ("notification:<id>", "digest:<user>:<date>") makes sending idempotent:
    the task locks this row, sends only while it is pending, and sets
    `sent_at` after the mail server accepted the message."""

    SINGLE = "single"
    DIGEST = "digest"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    key = models.CharField(max_length=200, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_emails"
    )
    kind = models.CharField(max_length=10, choices=[(SINGLE, SINGLE), (DIGEST, DIGEST)])
    notifications = models.ManyToManyField(Notification, related_name="email_deliveries")
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="notif_email_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class EmailThrottle(models.Model):
    """When the last e-mail of a (recipient, group) burst went out; its row
    lock serialises the senders of one group so a burst yields one e-mail."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    group = models.CharField(max_length=200)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "group"], name="notif_throttle_once")
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.group}"
