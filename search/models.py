from django.conf import settings
from django.db import models

from marketplace.ids import uuid7


class SavedSearch(models.Model):
    """A search a user keeps, optionally with alerts for new matches."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=200, blank=True)
    # The validated filters (see search.params.SearchParams.filters).
    query = models.JSONField(default=dict)
    # A stable fingerprint of `query`: saving the same search twice keeps one.
    fingerprint = models.CharField(max_length=64)
    alert = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Listings published after this have not been looked at for alerts yet.
    checked_until = models.DateTimeField()
    last_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="saved_search_once")
        ]
        indexes = [
            models.Index(
                fields=["checked_until"],
                name="saved_search_alert_due",
                condition=models.Q(alert=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.query)
