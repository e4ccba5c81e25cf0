from __future__ import annotations

from celery import shared_task

from trust import escrow


@shared_task
def run_order_timers() -> dict[str, int]:
    """Unpaid expiry, ship deadline, auto-release, silent disputes (each re-checks under lock)."""
    return escrow.run_timers()


@shared_task
def reveal_reviews() -> dict[str, int]:
    """Reveal reviews whose window closed, record seller penalties, refresh
    reputation rows whose counts moved (each step re-checks under lock)."""
    from trust import reputation

    return reputation.run_reputation_timers()
