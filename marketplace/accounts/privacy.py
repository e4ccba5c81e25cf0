"""Data rights: export everything held about a user, and delete (anonymise)
an account after a grace period.

The kernel imports no app, so apps contribute through two registries filled
from their AppConfig.ready():

- `register_data_exporter(name, fn)`: fn(user) -> ExportPart (JSON-able data,
  plus files in default storage to copy into the ZIP). Only the user's own
  data: the export test proves another user's data is absent.
- `register_anonymiser(name, fn)`: fn(user) called inside the anonymising
  transaction, before the user row is scrubbed. It must keep other parties'
  records (orders, reviews, ledger) intact: they show 'deleted user'.
- `register_deletion_check(name, fn)`: fn(user) -> list of reasons the
  account cannot be deleted yet (e.g. open orders); scheduling is refused
  with 409 and a due deletion waits until they are gone.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import (
    DataExport,
    ExportStatus,
    IdentityVerification,
    PhoneVerification,
    RecoveryCode,
    TotpDevice,
    User,
    UserSession,
)
from marketplace.errors import InvalidState, NotFound

logger = logging.getLogger(__name__)

EXPORT_LINK_SALT = "accounts.data-export-link"
DELETED_NAME = "deleted user"


@dataclass
class ExportPart:
    data: Any
    # (path inside the ZIP, name in default storage)
    files: list[tuple[str, str]] = field(default_factory=list)


Exporter = Callable[[User], ExportPart]
Anonymiser = Callable[[User], None]

_exporters: dict[str, Exporter] = {}
_anonymisers: dict[str, Anonymiser] = {}
_deletion_checks: dict[str, Callable[[User], list[str]]] = {}


def register_data_exporter(name: str, exporter: Exporter) -> None:
    """Add a section `<name>.json` (and its files) to every data export."""
    _exporters[name] = exporter


def register_anonymiser(name: str, anonymiser: Anonymiser) -> None:
    _anonymisers[name] = anonymiser


def register_deletion_check(name: str, check: Callable[[User], list[str]]) -> None:
    _deletion_checks[name] = check


def deletion_blockers(user: User) -> list[str]:
    return [reason for _, check in sorted(_deletion_checks.items()) for reason in check(user)]


def registered_exporters() -> list[str]:
    return ["profile", *sorted(_exporters)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _profile(user: User) -> ExportPart:
    """What accounts itself holds: profile, verification, sessions, notices."""
    from marketplace.accounts.selectors import payout_details_masked, verification_levels
    from marketplace.notifications.models import Notification

    files = (
        [(f"profile/{user.avatar.name.rsplit('/', 1)[-1]}", user.avatar.name)]
        if (user.avatar)
        else []
    )
    return ExportPart(
        {
            "id": str(user.id),
            "username": user.username,
            "email": user.email,
            "email_verified_at": _iso(user.email_verified_at),
            "display_name": user.display_name,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "city": user.city,
            "bio": user.bio,
            "languages": user.languages,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "phone": user.phone,
            "phone_verified_at": _iso(user.phone_verified_at),
            "identity_verified_at": _iso(user.identity_verified_at),
            "identity_checks": [
                {
                    "status": c.status,
                    "provider": c.provider,
                    "details": json.loads(c.details or "{}"),
                    "created_at": _iso(c.created_at),
                }
                for c in IdentityVerification.objects.filter(user=user).order_by("created_at")
            ],
            "verification": verification_levels(user=user),
            "payout_details": payout_details_masked(user=user),
            "two_factor_enabled": TotpDevice.objects.filter(
                user=user, confirmed_at__isnull=False
            ).exists(),
            "sessions": [
                {
                    "kind": s.kind,
                    "device": s.device_label,
                    "ip": s.ip,
                    "place": s.place,
                    "created_at": _iso(s.created_at),
                    "last_seen_at": _iso(s.last_seen_at),
                    "ended_at": _iso(s.ended_at),
                }
                for s in UserSession.objects.filter(user=user).order_by("created_at")
            ],
            "notifications": [
                {"kind": n.kind, "payload": n.payload, "created_at": _iso(n.created_at)}
                for n in Notification.objects.filter(recipient=user).order_by("created_at")
            ],
        },
        files,
    )


# --- export -----------------------------------------------------------------------------------


def data_export_request(*, user: User) -> tuple[DataExport, bool]:
    """Start an export, or answer the one under way (or finished and still
    downloadable). Returns (export, started_now). The job is an outbox event:
    it runs after commit and survives a broker outage."""
    from marketplace.accounts.events import DATA_EXPORT_REQUESTED
    from marketplace.outbox.services import publish

    link_age = timedelta(seconds=settings.DATA_EXPORT_LINK_MAX_AGE)
    with transaction.atomic():
        User.objects.select_for_update().filter(id=user.id).first()  # one request at a time
        latest = DataExport.objects.filter(user=user).order_by("-created_at").first()
        if latest is not None and (
            latest.status in (ExportStatus.PENDING, ExportStatus.RUNNING)
            or (
                latest.status == ExportStatus.DONE
                and latest.finished_at
                and latest.finished_at > timezone.now() - link_age
            )
        ):
            return latest, False
        export = DataExport.objects.create(user=user)
        publish(topic=DATA_EXPORT_REQUESTED, payload={"export_id": str(export.id)})
    return export, True


def _progress(export: DataExport, value: int) -> None:
    DataExport.objects.filter(id=export.id).update(progress=value)


def data_export_build(*, export_id: Any) -> DataExport | None:
    """Build the ZIP (idempotent: a finished export is left alone), store it
    in default storage and e-mail a signed, expiring link."""
    with transaction.atomic():
        export = (
            DataExport.objects.select_for_update().select_related("user").filter(id=export_id)
        ).first()
        if export is None or export.status == ExportStatus.DONE:
            return export
        export.status = ExportStatus.RUNNING
        export.progress = 1
        export.save(update_fields=["status", "progress"])
    user = export.user
    try:
        buffer = io.BytesIO()
        sections: list[tuple[str, Exporter]] = [("profile", _profile), *sorted(_exporters.items())]
        files: list[tuple[str, str]] = []
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for index, (name, exporter) in enumerate(sections, start=1):
                part = exporter(user)
                archive.writestr(
                    f"{name}.json", json.dumps(part.data, ensure_ascii=False, indent=2, default=str)
                )
                files.extend(part.files)
                _progress(export, 5 + 60 * index // len(sections))
            for index, (arcname, storage_name) in enumerate(files, start=1):
                try:
                    with default_storage.open(storage_name, "rb") as source:
                        archive.writestr(f"files/{arcname}", source.read())
                except (FileNotFoundError, OSError):
                    logger.warning("export %s: file %s is missing", export.id, storage_name)
                _progress(export, 65 + 30 * index // len(files))
            archive.writestr(
                "README.txt",
                "Everything the marketplace holds about your account, one JSON file per "
                "area, with your photos under files/. Generated "
                f"{timezone.now().isoformat()}.\n",
            )
        buffer.seek(0)
        stored = default_storage.save(f"exports/{user.id}/{export.id}.zip", File(buffer))
    except Exception as exc:
        DataExport.objects.filter(id=export.id).update(
            status=ExportStatus.FAILED, error=str(exc)[:300]
        )
        raise
    export.file_name = stored
    export.size_bytes = buffer.getbuffer().nbytes
    export.status = ExportStatus.DONE
    export.progress = 100
    export.finished_at = timezone.now()
    export.save(update_fields=["file_name", "size_bytes", "status", "progress", "finished_at"])
    _send_link(export)
    return export


def export_link(export: DataExport) -> str:
    token = signing.dumps({"e": str(export.id)}, salt=EXPORT_LINK_SALT)
    return settings.SITE_URL.rstrip("/") + reverse("me-export-download") + f"?token={token}"


def _send_link(export: DataExport) -> None:
    user = export.user
    if not user.email:
        return
    days = settings.DATA_EXPORT_LINK_MAX_AGE // 86400 or 1
    send_mail(
        subject="Your data export is ready / 您的数据导出已就绪",
        message=(
            f"Hello {user.public_name},\n\nThe copy of your data is ready. Download it within "
            f"{days} days from:\n{export_link(export)}\n\n"
            "If you did not ask for this, change your password.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )


def data_export_open(*, token: str) -> DataExport:
    """The finished export a signed link points at; NotFound when the link is
    bad or expired (the two look the same)."""
    try:
        data = signing.loads(
            token or "", salt=EXPORT_LINK_SALT, max_age=settings.DATA_EXPORT_LINK_MAX_AGE
        )
    except signing.BadSignature:
        raise NotFound("This download link is not valid or has expired.") from None
    export = DataExport.objects.filter(
        id=data.get("e"), status=ExportStatus.DONE, user__deleted_at__isnull=True
    ).first()
    if export is None or not export.file_name:
        raise NotFound("This download link is not valid or has expired.")
    return export


# --- deletion ------------------------------------------------------------------------------------


def account_deletion_schedule(*, user: User, session: Any) -> User:
    """Schedule anonymisation after ACCOUNT_DELETION_GRACE_DAYS (step-up
    required). Undo with account_deletion_cancel until then."""
    from marketplace.accounts.security import step_up_require

    step_up_require(session=session)
    blockers = deletion_blockers(user)
    if blockers:
        raise InvalidState(
            "Finish these first: " + "; ".join(blockers), state="blocked", blockers=blockers
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(id=user.id)
        if locked.deleted_at is not None:
            raise InvalidState("This account is already deleted.", state="deleted")
        if locked.deletion_due_at is None:
            locked.deletion_due_at = timezone.now() + timedelta(
                days=settings.ACCOUNT_DELETION_GRACE_DAYS
            )
            locked.save(update_fields=["deletion_due_at"])
    return locked


def account_deletion_cancel(*, user: User) -> User:
    with transaction.atomic():
        locked = User.objects.select_for_update().get(id=user.id)
        if locked.deleted_at is not None:
            raise InvalidState("This account is already deleted.", state="deleted")
        if locked.deletion_due_at is None:
            raise InvalidState("No deletion is scheduled.", state="active")
        locked.deletion_due_at = None
        locked.save(update_fields=["deletion_due_at"])
    return locked


def account_anonymise(*, user_id: Any) -> bool:
    """Scrub a user's personal data, keeping the row (orders, reviews, ledger
    entries point at it and stay intact: they show 'deleted user').
    Idempotent: an anonymised user is left alone. Returns whether it ran."""
    from marketplace.accounts.security import _kill

    with transaction.atomic():
        user = User.objects.select_for_update().filter(id=user_id).first()
        if user is None or user.deleted_at is not None:
            return False
        if deletion_blockers(user):  # e.g. an order opened during the grace period
            logger.info("deletion of %s waits: %s", user.id, deletion_blockers(user))
            return False
        for _name, anonymiser in sorted(_anonymisers.items()):
            anonymiser(user)
        for session in UserSession.objects.filter(user=user, ended_at__isnull=True):
            session.ended_at = timezone.now()
            session.save(update_fields=["ended_at"])
            _kill(session)
        from rest_framework.authtoken.models import Token

        from marketplace.notifications.models import Notification

        Token.objects.filter(user=user).delete()
        Notification.objects.filter(recipient=user).delete()
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        PhoneVerification.objects.filter(user=user).delete()
        IdentityVerification.objects.filter(user=user).delete()
        exports = list(DataExport.objects.filter(user=user).exclude(file_name=""))
        DataExport.objects.filter(user=user).delete()
        avatar = user.avatar.name if user.avatar else ""

        user.username = f"deleted-{user.id.hex[:20]}"
        user.email = ""
        user.first_name = user.last_name = user.bio = user.city = ""
        user.display_name = DELETED_NAME
        user.languages = []
        user.avatar = ""
        user.phone = ""
        user.payout_details = ""
        user.email_verified_at = user.phone_verified_at = user.identity_verified_at = None
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = user.is_superuser = False
        user.deletion_due_at = None
        user.deleted_at = timezone.now()
        user.save()
        user.groups.clear()

        names = [e.file_name for e in exports] + ([avatar] if avatar else [])
        transaction.on_commit(lambda: _delete_files(names))
    return True


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def accounts_anonymise_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Anonymise every account whose grace period is over (the beat task)."""
    now = now or timezone.now()
    due = list(
        User.objects.filter(deletion_due_at__lte=now, deleted_at__isnull=True)
        .order_by("deletion_due_at")
        .values_list("id", flat=True)[:limit]
    )
    return sum(account_anonymise(user_id=user_id) for user_id in due)


def data_exports_purge(*, now: datetime | None = None) -> int:
    """Delete export files (and rows) whose download link has expired."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.DATA_EXPORT_LINK_MAX_AGE)
    stale = list(DataExport.objects.filter(created_at__lt=cutoff))
    _delete_files([e.file_name for e in stale if e.file_name])
    DataExport.objects.filter(id__in=[e.id for e in stale]).delete()
    return len(stale)
