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
        indexes = [models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent")]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
