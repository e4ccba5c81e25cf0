from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from marketplace.ids import uuid7


class User(AbstractUser):
    """A member of the marketplace: buyer and seller are roles, not account types.

    The primary key is a UUIDv7, so it is safe to expose in URLs and the API.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    email = models.EmailField("email address")
    display_name = models.CharField(max_length=80, blank=True)
    avatar = models.ImageField(upload_to="avatars/%Y/%m/", blank=True)
    city = models.CharField(max_length=100, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    # BCP 47 codes such as "en" or "zh-Hans", in the user's order of preference.
    languages = models.JSONField(default=list, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                condition=~models.Q(email=""),
                violation_error_message="An account with this e-mail already exists.",
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def public_name(self) -> str:
        return self.display_name or self.username
