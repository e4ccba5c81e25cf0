"""External verification services behind small interfaces, chosen by settings
(SMS_PROVIDER, IDENTITY_PROVIDER: dotted paths). The sandboxes need no network:
SandboxSms keeps sent messages in memory, SandboxIdentity approves every
document except the magic number 'reject'. A real provider implements the
same method and is plugged in by setting the variable."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, text: str) -> None: ...


@dataclass
class IdentityDecision:
    approved: bool
    reference: str
    reason: str = ""


class IdentityProvider(Protocol):
    name: str

    def verify(
        self, *, full_name: str, document_type: str, document_number: str, country: str
    ) -> IdentityDecision: ...


class SandboxSms:
    """Delivers nothing; `SandboxSms.outbox` holds {"to", "text"} for tests and demos."""

    name = "sandbox"
    outbox: ClassVar[list[dict[str, str]]] = []

    def send(self, *, to: str, text: str) -> None:
        SandboxSms.outbox.append({"to": to, "text": text})
        logger.info("sandbox SMS to %s", to)  # the redacting log filter masks the number


class SandboxIdentity:
    """Approves any document except document_number 'reject' (case-insensitive)."""

    name = "sandbox"

    def verify(
        self, *, full_name: str, document_type: str, document_number: str, country: str
    ) -> IdentityDecision:
        import uuid

        reference = f"sbx_{uuid.uuid4().hex[:16]}"
        if document_number.strip().lower() == "reject":
            return IdentityDecision(False, reference, "The document could not be verified.")
        return IdentityDecision(True, reference)


def sms_provider() -> Any:
    return import_string(settings.SMS_PROVIDER)()


def identity_provider() -> Any:
    return import_string(settings.IDENTITY_PROVIDER)()
