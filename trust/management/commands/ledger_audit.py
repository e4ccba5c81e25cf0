"""`python manage.py ledger_audit`: verify every ledger invariant; exit 1 on a breach."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from trust import ledger


class Command(BaseCommand):
    help = "Check that the ledger balances, caches match lines, nothing is negative."

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger.audit()
        self.stdout.write(f"{report.entries} entries, {report.lines} lines checked.")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Ledger OK: every invariant holds."))
            return
        for breach in report.breaches:
            self.stderr.write(f"BREACH: {breach}")
        sys.exit(1)
