from __future__ import annotations

from celery import shared_task

from trust import escrow


@shared_task
def run_order_timers() -> dict[str, int]:
    """Unpaid expiry, ship deadline, auto-release, silent disputes (each re-checks under lock)."""
    return escrow.run_timers()
