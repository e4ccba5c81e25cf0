"""Field-level encryption of personal data at rest (Fernet from `cryptography`).

The keys come from `settings.FIELD_ENCRYPTION_KEYS` (env `FIELD_ENCRYPTION_KEY`,
comma-separated Fernet keys; the first encrypts, all decrypt, so a key can be
rotated by putting the new one first). Production refuses to start without it;
development and tests derive a key from SECRET_KEY (see settings.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "fernet:"  # marks ciphertext so a plaintext legacy value is recognisable


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        return value  # written before encryption was enabled
    try:
        return fernet().decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # wrong key: fail loudly rather than show garbage
        raise ValueError("Encrypted field cannot be decrypted with the configured keys.") from exc


class EncryptedTextField(models.TextField):
    """A text column stored as Fernet ciphertext; Python sees plaintext.

    Ciphertext is randomised, so the column cannot be filtered or indexed by
    value (look up by another column). The empty string is stored as is.
    """

    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
