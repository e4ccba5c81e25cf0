"""A mail backend for outage tests: fails the next N sends, then behaves like
Django's locmem backend (messages land in django.core.mail.outbox)."""

from __future__ import annotations

import smtplib
import threading

from django.core.mail.backends.locmem import EmailBackend


class FlakyBackend(EmailBackend):
    failures_left = 0
    attempts = 0
    _lock = threading.Lock()

    @classmethod
    def fail_next(cls, times: int) -> None:
        with cls._lock:
            cls.failures_left, cls.attempts = times, 0

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        with FlakyBackend._lock:
            FlakyBackend.attempts += 1
            if FlakyBackend.failures_left > 0:
                FlakyBackend.failures_left -= 1
                raise smtplib.SMTPServerDisconnected("mail server went away")
        return super().send_messages(email_messages)
