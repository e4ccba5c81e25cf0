from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from marketplace.accounts.crypto import EncryptedTextField
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
    # Personal data encrypted at rest (see crypto.py); verified phone only.
    phone = EncryptedTextField(blank=True, default="")
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    # Where payouts go (JSON text: e.g. {"method": "bank", "iban": ...}), encrypted.
    payout_details = EncryptedTextField(blank=True, default="")
    # Account deletion: scheduled by the user, carried out by a beat task after
    # the grace period (undoable until then); deleted_at marks an anonymised row.
    deletion_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

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

    @property
    def phone_verified(self) -> bool:
        return self.phone_verified_at is not None

    @property
    def identity_verified(self) -> bool:
        return self.identity_verified_at is not None


class SessionKind(models.TextChoices):
    WEB = "web", "Web session"
    API = "api", "API token"


class UserSession(models.Model):
    """One logged-in device: a web session or an API token.

    API tokens are stored only as a SHA-256 hash; web sessions point at
    Django's session key. Ending a session deletes the Django session or
    revokes the token, and closes its websockets.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions"
    )
    kind = models.CharField(max_length=3, choices=SessionKind.choices)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    device_id = models.CharField(max_length=64, blank=True)
    device_label = models.CharField(max_length=80, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    place = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    # Last time this session re-proved who it is (password or TOTP): sensitive
    # changes need it within STEP_UP_MINUTES.
    stepped_up_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "device_id"], name="accounts_session_device_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.device_label}"

    @property
    def active(self) -> bool:
        return self.ended_at is None


class TotpDevice(models.Model):
    """A user's authenticator app (TOTP, RFC 6238). Confirmed once a code was checked."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp"
    )
    secret = EncryptedTextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is never accepted twice (replay).
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"totp for {self.user_id}"


class RecoveryCode(models.Model):
    """A one-time 2FA recovery code, stored as a keyed hash (HMAC-SHA256)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_recovery_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class PhoneVerification(models.Model):
    """An SMS code sent to a phone number; hashed, expiring, attempts counted."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_verifications"
    )
    phone = EncryptedTextField()
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"phone check {self.id}"


class IdentityStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class IdentityVerification(models.Model):
    """A check of an identity document by the provider; details encrypted (JSON)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_checks"
    )
    provider = models.CharField(max_length=40)
    provider_ref = models.CharField(max_length=100, blank=True)
    details = EncryptedTextField()
    status = models.CharField(
        max_length=10, choices=IdentityStatus.choices, default=IdentityStatus.PENDING
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"identity check {self.id} ({self.status})"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DataExport(models.Model):
    """A ZIP of everything the platform holds about a user, built by Celery."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"
