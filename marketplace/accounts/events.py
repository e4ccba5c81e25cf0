"""What accounts announces, and what it listens to.

- `accounts.user_registered` {"user_id"}: a new account; accounts itself
  listens and sends the e-mail verification message (through Celery).
"""

from __future__ import annotations

from typing import Any

USER_REGISTERED = "accounts.user_registered"


def on_user_registered(payload: dict[str, Any]) -> None:
    from marketplace.accounts import services

    services.email_verification_send(user_id=payload["user_id"])


def register() -> None:
    from marketplace.outbox.services import subscribe

    subscribe(USER_REGISTERED, on_user_registered, name="accounts.send_verification_email")
