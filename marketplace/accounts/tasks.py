"""Celery tasks of accounts: thin, take ids, safe to run twice.
(The data export runs as an outbox event: events.on_data_export_requested.)"""

from __future__ import annotations

from celery import shared_task

from marketplace.accounts import privacy


@shared_task(name="marketplace.accounts.tasks.anonymise_due_accounts")
def anonymise_due_accounts() -> int:
    return privacy.accounts_anonymise_due()


@shared_task(name="marketplace.accounts.tasks.purge_data_exports")
def purge_data_exports() -> int:
    return privacy.data_exports_purge()
