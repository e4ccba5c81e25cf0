"""What accounts announces, and what it listens to.

- `accounts.user_registered` {"user_id"}: a new account; accounts itself
  listens and sends the e-mail verification message (through Celery).
- `accounts.data_export_requested` {"export_id"}: accounts builds the ZIP (the
  outbox makes it survive a broker outage; building is idempotent).
"""

from __future__ import annotations

from typing import Any

USER_REGISTERED = "accounts.user_registered"
DATA_EXPORT_REQUESTED = "accounts.data_export_requested"


def on_user_registered(payload: dict[str, Any]) -> None:
    from marketplace.accounts import services

    services.email_verification_send(user_id=payload["user_id"])


def on_data_export_requested(payload: dict[str, Any]) -> None:
    from marketplace.accounts import privacy

    privacy.data_export_build(export_id=payload["export_id"])


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(USER_REGISTERED, on_user_registered, name="accounts.send_verification_email")
    subscribe(DATA_EXPORT_REQUESTED, on_data_export_requested, name="accounts.build_data_export")
