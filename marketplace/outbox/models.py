from django.db import models

from marketplace.ids import uuid7


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change that caused it."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when every subscribed handler has run for this event.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set when the event was last handed to the broker; lets the dispatcher
    # skip rows that were just enqueued and are probably being worked on.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_pending_idx",
                condition=models.Q(delivered_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.id}"


class OutboxDelivery(models.Model):
    """Proof that one handler processed one event: makes redelivery a no-op."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="outbox_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_id}"
